// Loading TelemetrySettings from a TOML `[otel]` table in codex's config shape:
//
//   [otel]
//   environment = "staging"               # default "dev"
//   exporter = "none"                     # logs: none | otlp-grpc | otlp-http | in-memory, or a table:
//   [otel.exporter.otlp-http]             # (same for trace_exporter and metrics_exporter)
//   endpoint = "https://otel.example.com/v1/logs"
//   protocol = "binary"                   # binary | json
//   headers = { "x-api-key" = "secret" }
//   tls = { ca-certificate = "ca.pem", client-certificate = "c.pem", client-private-key = "k.pem" }
//   log_user_prompt = false
//   [otel.span_attributes]
//   "example.trace_attr" = "enabled"
//   [otel.tracestate.example]
//   alpha = "one"
//
// Swift-side additions (optional): service_name, service_version, namespace,
// metric_export_interval_ms, metrics_temporality (delta | cumulative), runtime_metrics, and the
// OpenTelemetry SDK settings the OTEL_* variables also set:
//
//   sdk_disabled = false
//   sampler = "parentbased_traceidratio"  # always_on | always_off | traceidratio | parentbased_*
//   sampler_arg = 0.25
//   metric_export_timeout_ms = 30000
//   propagators = ["tracecontext", "baggage"]
//   [otel.resource_attributes]
//   "host.name" = "box-1"
//   [otel.span_processor]                 # and [otel.log_processor]
//   schedule_delay_ms = 5000
//   export_timeout_ms = 30000
//   max_queue_size = 2048
//   max_export_batch_size = 512
//   [otel.span_limits]                    # attribute_count, attribute_value_length, event_count,
//   attribute_count = 128                 # link_count, event_attribute_count, link_attribute_count
//   [otel.log_record_limits]              # attribute_count, attribute_value_length
//   attribute_value_length = 4096

import Foundation
import OTLPExporter
import TOMLKit

/// Collects problems: lenient mode records warnings, strict mode throws the first one.
struct SettingsProblems {
    let mode: TelemetrySettingsMode
    var warnings: [TelemetrySettingsWarning] = []

    mutating func report(_ code: TelemetrySettingsError.Code, _ key: String, _ reason: String) throws(TelemetrySettingsError) {
        switch mode {
        case .strict: throw TelemetrySettingsError(code: code, key: key, reason: reason)
        case .lenient: warnings.append(TelemetrySettingsWarning(key: key, reason: reason))
        }
    }
}

extension TelemetrySettings {
    /// Reads settings from TOML text with an `[otel]` table (see the file header for the shape),
    /// starting from `base`. A document without `[otel]` gives `base` unchanged.
    ///
    /// - Parameters:
    ///   - baseDirectory: relative TLS file paths are resolved against it (the config file's
    ///     directory); `nil` keeps them as written.
    ///   - mode: ``TelemetrySettingsMode/lenient`` skips each invalid entry with a warning naming
    ///     its key and why; ``TelemetrySettingsMode/strict`` throws for the first one.
    /// - Throws: ``TelemetrySettingsError`` in strict mode, or when the text is not TOML in
    ///   either mode (`.syntax`, with line and column).
    public static func load(
        toml text: String,
        base: TelemetrySettings = TelemetrySettings(),
        baseDirectory: String? = nil,
        mode: TelemetrySettingsMode = .lenient
    ) throws(TelemetrySettingsError) -> LoadedTelemetrySettings {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw TelemetrySettingsError(
                code: .syntax, key: "<file>",
                reason: "\(error.description) at line \(error.source.begin.line), column \(error.source.begin.column)")
        } catch {
            throw TelemetrySettingsError(code: .syntax, key: "<file>", reason: "\(error)")
        }
        var problems = SettingsProblems(mode: mode)
        var settings = base
        try TOMLSettingsReader(baseDirectory: baseDirectory).read(root: root, into: &settings, problems: &problems)
        return LoadedTelemetrySettings(settings: settings, warnings: problems.warnings)
    }

    /// Reads settings from a TOML file; relative TLS paths are resolved against its directory.
    /// - Throws: ``TelemetrySettingsError`` (`.unreadableFile`) when the file cannot be read as
    ///   UTF-8, and as ``load(toml:base:baseDirectory:mode:)``.
    public static func load(
        tomlFile path: String,
        base: TelemetrySettings = TelemetrySettings(),
        mode: TelemetrySettingsMode = .lenient
    ) throws(TelemetrySettingsError) -> LoadedTelemetrySettings {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw TelemetrySettingsError(code: .unreadableFile, key: path, reason: "cannot read the file: \(error.localizedDescription)")
        }
        let directory = (path as NSString).deletingLastPathComponent
        return try load(toml: text, base: base, baseDirectory: directory.isEmpty ? "." : directory, mode: mode)
    }
}

struct TOMLSettingsReader {
    let baseDirectory: String?

    static let knownKeys: Set<String> = [
        "environment", "exporter", "trace_exporter", "metrics_exporter", "log_user_prompt", "span_attributes",
        "tracestate", "service_name", "service_version", "namespace", "metric_export_interval_ms",
        "metrics_temporality", "runtime_metrics", "sdk_disabled", "sampler", "sampler_arg", "metric_export_timeout_ms",
        "propagators", "resource_attributes", "span_processor", "log_processor", "span_limits", "log_record_limits",
    ]

    func read(root: TOMLTable, into settings: inout TelemetrySettings, problems: inout SettingsProblems) throws(TelemetrySettingsError) {
        guard let otelValue = root["otel"] else { return }
        guard let otel = otelValue.table else {
            try problems.report(.wrongType, "otel", "expected a table, found \(otelValue.type)")
            return
        }
        for key in otel.keys.sorted() where !Self.knownKeys.contains(key) {
            try problems.report(.unknownKey, "otel.\(key)", "unknown key")
        }

        if let v = try string(otel, "environment", problems: &problems) {
            if v.isEmpty {
                try problems.report(.invalidValue, "otel.environment", "empty string; keeping \"\(settings.environment)\"")
            } else {
                settings.environment = v
            }
        }
        if let v = try string(otel, "service_name", problems: &problems) {
            if v.isEmpty {
                try problems.report(.invalidValue, "otel.service_name", "empty string; keeping \"\(settings.serviceName)\"")
            } else {
                settings.serviceName = v
            }
        }
        if let v = try string(otel, "service_version", problems: &problems) { settings.serviceVersion = v }
        if let v = try string(otel, "namespace", problems: &problems) {
            if let reason = TelemetrySettings.namespaceProblem(v) {
                try problems.report(.invalidValue, "otel.namespace", "\(reason); keeping \"\(settings.namespace)\"")
            } else {
                settings.namespace = v
            }
        }
        if let v = try bool(otel, "log_user_prompt", problems: &problems) { settings.logUserPrompts = v }
        if let v = try bool(otel, "runtime_metrics", problems: &problems) { settings.runtimeMetrics = v }
        if let value = otel["metric_export_interval_ms"] {
            if let ms = value.int, ms > 0 {
                settings.metricExportInterval = .milliseconds(ms)
            } else {
                try problems.report(
                    value.int == nil ? .wrongType : .invalidValue, "otel.metric_export_interval_ms",
                    "expected a positive integer (milliseconds), found \(value.debugDescription)")
            }
        }
        if let v = try string(otel, "metrics_temporality", problems: &problems) {
            if let t = AggregationTemporality(rawValue: v) {
                settings.metricsTemporality = t
            } else {
                try problems.report(.invalidValue, "otel.metrics_temporality", "expected delta or cumulative, found \"\(v)\"")
            }
        }

        try readSDKSettings(otel, into: &settings, problems: &problems)

        for (key, signal) in [("exporter", TelemetrySignal.logs), ("trace_exporter", .traces), ("metrics_exporter", .metrics)] {
            guard let value = otel[key] else { continue }
            if let exporter = try exporter(value, path: "otel.\(key)", signal: signal, problems: &problems) {
                switch signal {
                case .logs: settings.logExporter = exporter
                case .traces: settings.traceExporter = exporter
                case .metrics: settings.metricsExporter = exporter
                }
            }
        }

        if let value = otel["span_attributes"] {
            if let table = value.table {
                var attributes = settings.spanAttributes
                for key in table.keys.sorted() {
                    let path = "otel.span_attributes.\(quoted(key))"
                    guard let item = table[key] else { continue }
                    if key.isEmpty {
                        try problems.report(.invalidValue, path, "empty attribute key")
                    } else if let s = item.string {
                        attributes[key] = s
                    } else {
                        try problems.report(.wrongType, path, "expected a string, found \(item.type)")
                    }
                }
                settings.spanAttributes = attributes
            } else {
                try problems.report(.wrongType, "otel.span_attributes", "expected a table, found \(value.type)")
            }
        }

        if let value = otel["tracestate"] {
            if let table = value.table {
                var raw: [String: [String: String]] = [:]
                for member in table.keys.sorted() {
                    let path = "otel.tracestate.\(quoted(member))"
                    guard let item = table[member] else { continue }
                    guard let fields = item.table else {
                        try problems.report(.wrongType, path, "expected a table of fields, found \(item.type) (opaque member values are not supported)")
                        continue
                    }
                    var memberFields: [String: String] = [:]
                    var typeError = false
                    for field in fields.keys.sorted() {
                        guard let fieldValue = fields[field] else { continue }
                        if let s = fieldValue.string {
                            memberFields[field] = s
                        } else {
                            try problems.report(.wrongType, "\(path).\(quoted(field))", "expected a string, found \(fieldValue.type); member skipped")
                            typeError = true
                        }
                    }
                    if !typeError { raw[member] = memberFields }
                }
                let (valid, errors) = ConfiguredTraceState.validating(raw)
                for error in errors {
                    try problems.report(.invalidValue, "otel.tracestate", "\(error.reason); member skipped")
                }
                // Merge over the base's configured members (TOML wins per member).
                var merged: [String: [String: String]] = [:]
                for member in settings.tracestate.members {
                    merged[member.key] = Dictionary(uniqueKeysWithValues: member.fields.map { ($0.name, $0.value) })
                }
                for member in valid.members {
                    merged[member.key] = Dictionary(uniqueKeysWithValues: member.fields.map { ($0.name, $0.value) })
                }
                settings.tracestate = ConfiguredTraceState.validating(merged).0
            } else {
                try problems.report(.wrongType, "otel.tracestate", "expected a table of members, found \(value.type)")
            }
        }
    }

    /// The OpenTelemetry SDK settings (sampler, batch processors, limits, propagators, resource).
    func readSDKSettings(
        _ otel: TOMLTable, into settings: inout TelemetrySettings, problems: inout SettingsProblems
    ) throws(TelemetrySettingsError) {
        if let v = try bool(otel, "sdk_disabled", problems: &problems) { settings.sdkDisabled = v }
        if let ms = try integer(otel, "metric_export_timeout_ms", path: "otel", minimum: 1, problems: &problems) {
            settings.metricExportTimeout = .milliseconds(ms)
        }
        if let name = try string(otel, "sampler", problems: &problems) {
            var argument: Double?
            if let value = otel["sampler_arg"] {
                if let number = value.double ?? value.int.map(Double.init), (0...1).contains(number) {
                    argument = number
                } else {
                    try problems.report(.invalidValue, "otel.sampler_arg", "expected a number in [0, 1], found \(value.debugDescription); using 1.0")
                }
            }
            let ratio = argument ?? 1.0
            switch name.lowercased() {
            case "always_on": settings.sampler = .alwaysOn
            case "always_off": settings.sampler = .alwaysOff
            case "traceidratio": settings.sampler = .traceIDRatio(ratio)
            case "parentbased_always_on": settings.sampler = .parentBased(root: .alwaysOn)
            case "parentbased_always_off": settings.sampler = .parentBased(root: .alwaysOff)
            case "parentbased_traceidratio": settings.sampler = .parentBased(root: .traceIDRatio(ratio))
            default:
                try problems.report(.invalidValue, "otel.sampler", "unknown sampler \"\(name)\" (always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio); sampler unchanged")
            }
        }
        if let value = otel["propagators"] {
            if let array = value.array {
                var propagators: [OTLPPropagator] = []
                for item in array {
                    if let name = item.string?.lowercased(), let propagator = OTLPPropagator(rawValue: name) {
                        if !propagators.contains(propagator) { propagators.append(propagator) }
                    } else if item.string?.lowercased() != "none" {
                        try problems.report(.invalidValue, "otel.propagators", "unsupported propagator \(item.debugDescription) (tracecontext, baggage, none); skipped")
                    }
                }
                settings.propagators = propagators
            } else {
                try problems.report(.wrongType, "otel.propagators", "expected an array of strings, found \(value.type)")
            }
        }
        if let value = otel["resource_attributes"] {
            if let table = value.table {
                for key in table.keys.sorted() {
                    guard let item = table[key] else { continue }
                    if let text = item.string, !key.isEmpty {
                        settings.resourceAttributes[key] = text
                    } else {
                        try problems.report(.wrongType, "otel.resource_attributes.\(quoted(key))", "expected a string under a non-empty key, found \(item.type)")
                    }
                }
            } else {
                try problems.report(.wrongType, "otel.resource_attributes", "expected a table, found \(value.type)")
            }
        }
        for (key, isSpans) in [("span_processor", true), ("log_processor", false)] {
            guard let table = try subtable(otel, key, problems: &problems) else { continue }
            var processor = isSpans ? settings.spanProcessor : settings.logProcessor
            let path = "otel.\(key)"
            if let ms = try integer(table, "schedule_delay_ms", path: path, minimum: 0, problems: &problems) { processor.scheduleDelay = .milliseconds(ms) }
            if let ms = try integer(table, "export_timeout_ms", path: path, minimum: 1, problems: &problems) { processor.exportTimeout = .milliseconds(ms) }
            if let n = try integer(table, "max_queue_size", path: path, minimum: 1, problems: &problems) { processor.maxQueueSize = n }
            if let n = try integer(table, "max_export_batch_size", path: path, minimum: 1, problems: &problems) { processor.maxExportBatchSize = n }
            if processor.maxExportBatchSize > processor.maxQueueSize, table["max_export_batch_size"] != nil {
                try problems.report(.invalidValue, "\(path).max_export_batch_size", "larger than max_queue_size \(processor.maxQueueSize); using \(processor.maxQueueSize)")
                processor.maxExportBatchSize = processor.maxQueueSize
            }
            processor.maxExportBatchSize = min(processor.maxExportBatchSize, processor.maxQueueSize)
            for unknown in table.keys.sorted() where !["schedule_delay_ms", "export_timeout_ms", "max_queue_size", "max_export_batch_size"].contains(unknown) {
                try problems.report(.unknownKey, "\(path).\(unknown)", "unknown key")
            }
            if isSpans { settings.spanProcessor = processor } else { settings.logProcessor = processor }
        }
        for (key, isSpans) in [("span_limits", true), ("log_record_limits", false)] {
            guard let table = try subtable(otel, key, problems: &problems) else { continue }
            var limits = isSpans ? settings.spanLimits : settings.logRecordLimits
            let path = "otel.\(key)"
            var known = ["attribute_count", "attribute_value_length"]
            if let n = try integer(table, "attribute_count", path: path, minimum: 0, problems: &problems) { limits.attributeCountLimit = n }
            if let n = try integer(table, "attribute_value_length", path: path, minimum: 0, problems: &problems) { limits.attributeValueLengthLimit = n }
            if isSpans {
                known += ["event_count", "link_count", "event_attribute_count", "link_attribute_count"]
                if let n = try integer(table, "event_count", path: path, minimum: 0, problems: &problems) { limits.eventCountLimit = n }
                if let n = try integer(table, "link_count", path: path, minimum: 0, problems: &problems) { limits.linkCountLimit = n }
                if let n = try integer(table, "event_attribute_count", path: path, minimum: 0, problems: &problems) { limits.eventAttributeCountLimit = n }
                if let n = try integer(table, "link_attribute_count", path: path, minimum: 0, problems: &problems) { limits.linkAttributeCountLimit = n }
            }
            for unknown in table.keys.sorted() where !known.contains(unknown) {
                try problems.report(.unknownKey, "\(path).\(unknown)", "unknown key")
            }
            if isSpans { settings.spanLimits = limits } else { settings.logRecordLimits = limits }
        }
    }

    func subtable(_ table: TOMLTable, _ key: String, problems: inout SettingsProblems) throws(TelemetrySettingsError) -> TOMLTable? {
        guard let value = table[key] else { return nil }
        if let sub = value.table { return sub }
        try problems.report(.wrongType, "otel.\(key)", "expected a table, found \(value.type)")
        return nil
    }

    /// An integer ≥ `minimum`; anything else is reported (and `nil`, keeping the previous value).
    func integer(
        _ table: TOMLTable, _ key: String, path: String, minimum: Int, problems: inout SettingsProblems
    ) throws(TelemetrySettingsError) -> Int? {
        guard let value = table[key] else { return nil }
        if let n = value.int, n >= minimum { return n }
        try problems.report(
            value.int == nil ? .wrongType : .invalidValue, "\(path).\(key)",
            "expected an integer ≥ \(minimum), found \(value.debugDescription)")
        return nil
    }

    func quoted(_ key: String) -> String {
        key.utf8.allSatisfy { MetricNameRules.isNameByte($0) && $0 != UInt8(ascii: ".") } ? key : "\"\(key)\""
    }

    func string(_ table: TOMLTable, _ key: String, problems: inout SettingsProblems) throws(TelemetrySettingsError) -> String? {
        guard let value = table[key] else { return nil }
        if let s = value.string { return s }
        try problems.report(.wrongType, "otel.\(key)", "expected a string, found \(value.type)")
        return nil
    }

    func bool(_ table: TOMLTable, _ key: String, problems: inout SettingsProblems) throws(TelemetrySettingsError) -> Bool? {
        guard let value = table[key] else { return nil }
        if let b = value.bool { return b }
        try problems.report(.wrongType, "otel.\(key)", "expected true or false, found \(value.type)")
        return nil
    }

    /// `"none" | "otlp-grpc" | "otlp-http" | "in-memory"` or a one-key table `{ otlp-grpc = {…} }` /
    /// `{ otlp-http = {…} }`. Returns nil (keeping the previous exporter) when invalid.
    func exporter(
        _ value: TOMLValueConvertible, path: String, signal: TelemetrySignal, problems: inout SettingsProblems
    ) throws(TelemetrySettingsError) -> TelemetryExporter? {
        if let name = value.string {
            switch name {
            case "none": return TelemetryExporter.none
            case "in-memory", "in_memory": return .inMemory
            case "otlp-grpc":
                return .otlp(OTLPExporterConfiguration(signal: signal, protocol: .grpc))
            case "otlp-http":
                return .otlp(OTLPExporterConfiguration(signal: signal, protocol: .httpProtobuf))
            default:
                try problems.report(.invalidValue, path, "unknown exporter \"\(name)\" (none, otlp-grpc, otlp-http, in-memory); exporter unchanged")
                return nil
            }
        }
        guard let table = value.table else {
            try problems.report(.wrongType, path, "expected a string or a table, found \(value.type)")
            return nil
        }
        let kinds = table.keys
        guard kinds.count == 1, let kind = kinds.first else {
            try problems.report(.invalidValue, path, "expected exactly one of otlp-grpc, otlp-http, found \(kinds.sorted())")
            return nil
        }
        let kindPath = "\(path).\(kind)"
        guard kind == "otlp-grpc" || kind == "otlp-http" else {
            if kind == "none" || kind == "in-memory" { return kind == "none" ? TelemetryExporter.none : .inMemory }
            try problems.report(.invalidValue, kindPath, "unknown exporter kind (otlp-grpc, otlp-http); exporter unchanged")
            return nil
        }
        guard let body = table[kind]?.table else {
            try problems.report(.wrongType, kindPath, "expected a table with endpoint, headers, tls")
            return nil
        }
        let isHTTP = kind == "otlp-http"
        var allowed: Set<String> = ["endpoint", "headers", "tls", "timeout_ms", "compression"]
        if isHTTP { allowed.insert("protocol") }
        var failed = false
        for key in body.keys.sorted() where !allowed.contains(key) {
            try problems.report(.unknownKey, "\(kindPath).\(key)", "unknown key")
        }

        var proto: OTLPProtocol = isHTTP ? .httpProtobuf : .grpc
        if isHTTP, let p = body["protocol"] {
            switch p.string {
            case "binary": proto = .httpProtobuf
            case "json": proto = .httpJSON
            default:
                try problems.report(.invalidValue, "\(kindPath).protocol", "expected \"binary\" or \"json\", found \(p.debugDescription); using binary")
            }
        }
        var configuration = OTLPExporterConfiguration(signal: signal, protocol: proto)
        if let e = body["endpoint"] {
            if let endpoint = e.string {
                var endpointProblem: String?
                do throws(OTLPConfigurationError) {
                    let parsed = try OTLPEndpoint(parsing: endpoint)
                    if isHTTP && parsed.scheme == nil { endpointProblem = "OTLP/HTTP needs an http:// or https:// URL" }
                } catch {
                    endpointProblem = error.message
                }
                if let endpointProblem {
                    try problems.report(.invalidValue, "\(kindPath).endpoint", "\(endpointProblem); exporter skipped")
                    failed = true
                } else {
                    configuration.endpoint = endpoint
                }
            } else {
                try problems.report(.wrongType, "\(kindPath).endpoint", "expected a string, found \(e.type); exporter skipped")
                failed = true
            }
        }
        if let h = body["headers"] {
            if let headers = h.table {
                for name in headers.keys.sorted() {
                    let headerPath = "\(kindPath).headers.\(quoted(name))"
                    guard let item = headers[name] else { continue }
                    guard let text = item.string else {
                        try problems.report(.wrongType, headerPath, "expected a string, found \(item.type); header skipped")
                        continue
                    }
                    if let reason = headerProblem(name: name, value: text) {
                        try problems.report(.invalidValue, headerPath, "\(reason); header skipped")
                        continue
                    }
                    configuration.headers[name.lowercased()] = text
                }
            } else {
                try problems.report(.wrongType, "\(kindPath).headers", "expected a table, found \(h.type)")
            }
        }
        if let t = body["timeout_ms"] {
            if let ms = t.int, ms > 0 {
                configuration.timeout = .milliseconds(ms)
            } else {
                try problems.report(.invalidValue, "\(kindPath).timeout_ms", "expected a positive integer, found \(t.debugDescription); using 10000")
            }
        }
        if let c = body["compression"] {
            if let s = c.string, let compression = OTLPCompression(rawValue: s) {
                configuration.compression = compression
            } else {
                try problems.report(.invalidValue, "\(kindPath).compression", "expected \"none\" or \"gzip\", found \(c.debugDescription); using none")
            }
        }
        if let t = body["tls"] {
            if let tls = t.table {
                if let parsed = try self.tls(tls, path: "\(kindPath).tls", problems: &problems) {
                    configuration.tls = parsed
                } else {
                    failed = true
                }
            } else {
                try problems.report(.wrongType, "\(kindPath).tls", "expected a table, found \(t.type); exporter skipped")
                failed = true
            }
        }
        return failed ? nil : .otlp(configuration)
    }

    func tls(_ table: TOMLTable, path: String, problems: inout SettingsProblems) throws(TelemetrySettingsError) -> OTLPTLSConfiguration? {
        var paths: [String: String] = [:]
        let names = ["ca-certificate", "client-certificate", "client-private-key"]
        for key in table.keys.sorted() {
            let canonical = key.replacingOccurrences(of: "_", with: "-")
            guard names.contains(canonical) else {
                if canonical == "insecure" { continue }
                try problems.report(.unknownKey, "\(path).\(key)", "unknown key")
                continue
            }
            guard let value = table[key]?.string, !value.isEmpty else {
                try problems.report(.wrongType, "\(path).\(key)", "expected a non-empty path string; exporter skipped")
                return nil
            }
            paths[canonical] = resolve(value)
        }
        var insecure = false
        if let i = table["insecure"] {
            if let b = i.bool { insecure = b } else {
                try problems.report(.wrongType, "\(path).insecure", "expected true or false; using false")
            }
        }
        do throws(OTLPConfigurationError) {
            return try OTLPTLSConfiguration(
                caCertificateFile: paths["ca-certificate"], clientCertificateFile: paths["client-certificate"],
                clientKeyFile: paths["client-private-key"], insecure: insecure)
        } catch {
            try problems.report(.invalidValue, path, "\(error.message); exporter skipped")
            return nil
        }
    }

    func resolve(_ path: String) -> String {
        guard let baseDirectory, !path.hasPrefix("/") else { return path }
        return baseDirectory.hasSuffix("/") ? baseDirectory + path : baseDirectory + "/" + path
    }

    func headerProblem(name: String, value: String) -> String? {
        let config = OTLPExporterConfiguration(signal: .logs, headers: [name: value])
        do throws(OTLPConfigurationError) {
            try config.validate()
            return nil
        } catch {
            return error.message
        }
    }
}
