// Loading the exporter and SDK configuration from the standard OTEL_* environment variables.
//
// Rules: OpenTelemetry specification, "OpenTelemetry Protocol Exporter" (protocol/exporter.md)
// and "Environment Variable Specification" (configuration/sdk-environment-variables.md):
// - an empty value is the same as an unset one ("Parsing empty value");
// - a value that cannot be parsed is ignored with a warning, and the default is used
//   ("Configuration Types": "SHOULD generate a warning and gracefully ignore the setting");
// - a per-signal variable (`OTEL_EXPORTER_OTLP_TRACES_*`) takes precedence over the shared one;
// - the shared endpoint over OTLP/HTTP gets `v1/<signal>` appended; a per-signal endpoint is
//   used as is ("Endpoint URLs for OTLP/HTTP");
// - header values are percent-decoded ("Specifying headers via environment variables").

public import Foundation
public import TelemetryCore
import TelemetryPipeline

/// A problem with one environment variable (or configuration key), reported instead of failing:
/// names the variable, says why the value was rejected, and what is used instead.
///
/// ``description`` never repeats the value of a `*_HEADERS` variable, since those usually hold
/// credentials.
public struct OTLPConfigurationWarning: Sendable, Hashable, CustomStringConvertible {
    /// The environment variable (or configuration key) concerned.
    public var variable: String
    /// The rejected value (for header variables, the rejected entry keys only).
    public var value: String
    /// Why the value was rejected.
    public var reason: String
    /// What is used instead (the default, or the value of a less specific variable).
    public var fallback: String

    public init(variable: String, value: String, reason: String, fallback: String) {
        self.variable = variable
        self.value = value
        self.reason = reason
        self.fallback = fallback
    }

    public var description: String {
        "\(variable)=\"\(value)\" is invalid (\(reason)); using \(fallback)"
    }
}

/// Everything the standard `OTEL_*` environment variables configure for the exporters and the
/// SDK, with the warnings produced while reading them.
///
/// ```swift
/// let config = OTLPEnvironmentConfiguration()          // reads the process environment
/// for warning in config.warnings { logger.warning("\(warning)") }
/// ```
public struct OTLPEnvironmentConfiguration: Sendable, Hashable {
    /// Trace exporter (`OTEL_EXPORTER_OTLP_[TRACES_]*`).
    public var traces: OTLPExporterConfiguration
    /// Metric exporter (`OTEL_EXPORTER_OTLP_[METRICS_]*`).
    public var metrics: OTLPExporterConfiguration
    /// Log exporter (`OTEL_EXPORTER_OTLP_[LOGS_]*`).
    public var logs: OTLPExporterConfiguration
    /// `service.name`: `OTEL_SERVICE_NAME`, else `service.name` from `OTEL_RESOURCE_ATTRIBUTES`,
    /// else `unknown_service:<process name>` (resource semantic conventions, "service.name").
    public var serviceName: String
    /// `OTEL_RESOURCE_ATTRIBUTES`, percent-decoded; includes `service.name` = ``serviceName``.
    public var resourceAttributes: [String: String]
    /// `OTEL_SDK_DISABLED` (default `false`): when `true` the SDK records and exports nothing.
    public var sdkDisabled: Bool
    /// `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
    public var sampler: OTLPSamplerConfiguration
    /// `OTEL_BSP_*`.
    public var spanProcessor: OTLPBatchProcessorConfiguration
    /// `OTEL_BLRP_*`.
    public var logProcessor: OTLPBatchProcessorConfiguration
    /// `OTEL_METRIC_EXPORT_INTERVAL` (default 60000 ms).
    public var metricExportInterval: Duration
    /// `OTEL_METRIC_EXPORT_TIMEOUT` (default 30000 ms).
    public var metricExportTimeout: Duration
    /// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` (default cumulative).
    public var metricsTemporalityPreference: OTLPTemporalityPreference
    /// Span limits: `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`,
    /// `OTEL_SPAN_EVENT_COUNT_LIMIT`, `OTEL_SPAN_LINK_COUNT_LIMIT`, `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`,
    /// `OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`, each falling back to `OTEL_ATTRIBUTE_COUNT_LIMIT` /
    /// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` ("Attribute Limits", "Span Limits").
    public var spanLimits: AttributeLimits
    /// Log record limits: `OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT`,
    /// `OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT`, with the same fallbacks ("LogRecord Limits").
    public var logRecordLimits: AttributeLimits
    /// `OTEL_PROPAGATORS` (default `tracecontext,baggage`): the supported ones named, in order.
    public var propagators: [OTLPPropagator]
    /// One warning per rejected variable, in a stable order, for the caller to log.
    public var warnings: [OTLPConfigurationWarning]

    /// The spec's default metric export interval: 60 s.
    public static let defaultMetricExportInterval: Duration = .milliseconds(60000)
    /// The spec's default metric export timeout: 30 s.
    public static let defaultMetricExportTimeout: Duration = .milliseconds(30000)

    /// Reads the configuration from `environment` (default: this process's environment).
    /// Never throws: every invalid value becomes one entry of ``warnings`` and its default is used.
    /// - Parameter processName: used in the fallback service name `unknown_service:<processName>`.
    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        processName: String = ProcessInfo.processInfo.processName
    ) {
        var reader = EnvironmentReader(environment: environment)
        traces = reader.exporter(for: .traces)
        metrics = reader.exporter(for: .metrics)
        logs = reader.exporter(for: .logs)

        var attributes = reader.resourceAttributes()
        let fallbackName = processName.isEmpty ? "unknown_service" : "unknown_service:\(processName)"
        serviceName = reader.string("OTEL_SERVICE_NAME") ?? attributes["service.name"] ?? fallbackName
        attributes["service.name"] = serviceName
        resourceAttributes = attributes

        sdkDisabled = reader.bool("OTEL_SDK_DISABLED")
        sampler = reader.sampler()
        spanProcessor = reader.batchProcessor(prefix: "OTEL_BSP", defaults: .spanDefaults)
        logProcessor = reader.batchProcessor(prefix: "OTEL_BLRP", defaults: .logDefaults)
        metricExportInterval = reader.milliseconds(
            "OTEL_METRIC_EXPORT_INTERVAL", default: Self.defaultMetricExportInterval, allowZero: false)
        metricExportTimeout = reader.milliseconds(
            "OTEL_METRIC_EXPORT_TIMEOUT", default: Self.defaultMetricExportTimeout, allowZero: false)
        metricsTemporalityPreference = reader.enumeration(
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", default: OTLPTemporalityPreference.cumulative)
        (spanLimits, logRecordLimits) = reader.limits()
        propagators = reader.propagators()
        warnings = reader.warnings
    }

    /// The exporter configuration of `signal`.
    public func exporter(for signal: TelemetrySignal) -> OTLPExporterConfiguration {
        switch signal {
        case .traces: traces
        case .metrics: metrics
        case .logs: logs
        }
    }
}

extension OTLPExporterConfiguration {
    /// Reads one signal's exporter configuration from `environment`; the warnings go to `warnings`
    /// (one per rejected variable).
    public static func fromEnvironment(
        signal: TelemetrySignal,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        warnings: inout [OTLPConfigurationWarning]
    ) -> OTLPExporterConfiguration {
        var reader = EnvironmentReader(environment: environment)
        let configuration = reader.exporter(for: signal)
        warnings.append(contentsOf: reader.warnings)
        return configuration
    }
}

/// Parsing helpers: each variable is parsed once and warned about at most once.
struct EnvironmentReader {
    let environment: [String: String]
    private(set) var warnings: [OTLPConfigurationWarning] = []
    private var warned: Set<String> = []

    init(environment: [String: String]) {
        self.environment = environment
    }

    mutating func warn(_ variable: String, value: String, reason: String, fallback: String) {
        guard warned.insert(variable).inserted else { return }
        warnings.append(OTLPConfigurationWarning(variable: variable, value: value, reason: reason, fallback: fallback))
    }

    /// The trimmed value, `nil` when unset or empty (the spec treats both alike).
    func string(_ name: String) -> String? {
        guard let raw = environment[name] else { return nil }
        let trimmed = raw.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// Spec "Boolean": `true` (any case) is true; unset, empty and `false` are false; anything
    /// else is false with a warning.
    mutating func bool(_ name: String) -> Bool {
        guard let value = string(name) else { return false }
        switch value.lowercased() {
        case "true": return true
        case "false": return false
        default:
            warn(name, value: value, reason: "not 'true' or 'false'", fallback: "the default false")
            return false
        }
    }

    mutating func integer(_ name: String, default defaultValue: Int, minimum: Int) -> Int {
        guard let value = string(name) else { return defaultValue }
        guard let number = Int(value), number >= minimum else {
            warn(name, value: value, reason: "not an integer ≥ \(minimum)", fallback: "the default \(defaultValue)")
            return defaultValue
        }
        return number
    }

    /// A duration in integer milliseconds.
    mutating func milliseconds(_ name: String, default defaultValue: Duration, allowZero: Bool) -> Duration {
        guard let value = string(name) else { return defaultValue }
        let minimum = allowZero ? 0 : 1
        guard let number = Int(value), number >= minimum else {
            let what = allowZero ? "a non-negative" : "a positive"
            warn(name, value: value, reason: "not \(what) integer number of milliseconds",
                fallback: "the default \(Self.describe(defaultValue))")
            return defaultValue
        }
        return .milliseconds(number)
    }

    mutating func enumeration<E: RawRepresentable & CaseIterable>(_ name: String, default defaultValue: E) -> E
    where E.RawValue == String {
        guard let value = string(name) else { return defaultValue }
        if let parsed = E(rawValue: value.lowercased()) { return parsed }
        let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
        warn(name, value: value, reason: "not one of \(allowed)", fallback: "the default \(defaultValue.rawValue)")
        return defaultValue
    }

    static func describe(_ duration: Duration) -> String {
        let ms = Int((duration.seconds * 1000).rounded())
        return "\(ms) ms"
    }

    // MARK: Exporter

    mutating func exporter(for signal: TelemetrySignal) -> OTLPExporterConfiguration {
        let shared = "OTEL_EXPORTER_OTLP_"
        let specific = "OTEL_EXPORTER_OTLP_\(signal.environmentInfix)_"

        // Protocol: per-signal, else shared, else the spec's default.
        let sharedProtocol: OTLPProtocol = enumeration(shared + "PROTOCOL", default: OTLPExporterConfiguration.defaultProtocol)
        let proto: OTLPProtocol = enumeration(specific + "PROTOCOL", default: sharedProtocol)

        let endpoint = endpoint(signal: signal, protocol: proto, shared: shared + "ENDPOINT", specific: specific + "ENDPOINT")

        let sharedTimeout = milliseconds(shared + "TIMEOUT", default: OTLPExporterConfiguration.defaultTimeout, allowZero: false)
        let timeout = milliseconds(specific + "TIMEOUT", default: sharedTimeout, allowZero: false)

        let sharedCompression: OTLPCompression = enumeration(shared + "COMPRESSION", default: .none)
        let compression: OTLPCompression = enumeration(specific + "COMPRESSION", default: sharedCompression)

        let headers: [String: String]
        if string(specific + "HEADERS") != nil {
            headers = self.headers(specific + "HEADERS")
        } else {
            headers = self.headers(shared + "HEADERS")
        }

        let sharedInsecure = bool(shared + "INSECURE")
        let insecure = string(specific + "INSECURE") != nil ? bool(specific + "INSECURE") : sharedInsecure

        let ca = string(specific + "CERTIFICATE") ?? string(shared + "CERTIFICATE")
        let certificateVariable = string(specific + "CLIENT_CERTIFICATE") != nil ? specific + "CLIENT_CERTIFICATE" : shared + "CLIENT_CERTIFICATE"
        let keyVariable = string(specific + "CLIENT_KEY") != nil ? specific + "CLIENT_KEY" : shared + "CLIENT_KEY"
        var identity: OTLPTLSConfiguration.ClientIdentity?
        switch (string(certificateVariable), string(keyVariable)) {
        case let (certificate?, key?):
            identity = .init(certificateFile: certificate, privateKeyFile: key)
        case (let certificate?, nil):
            warn(certificateVariable, value: certificate, reason: "a client certificate needs its key (\(keyVariable) is not set)",
                fallback: "no client certificate")
        case (nil, let key?):
            warn(keyVariable, value: key, reason: "a client key needs its certificate (\(certificateVariable) is not set)",
                fallback: "no client certificate")
        case (nil, nil):
            identity = nil
        }

        return OTLPExporterConfiguration(
            signal: signal,
            protocol: proto,
            endpoint: endpoint,
            headers: headers,
            timeout: timeout,
            compression: compression,
            tls: OTLPTLSConfiguration(caCertificateFile: ca, clientIdentity: identity, insecure: insecure)
        )
    }

    /// Endpoint resolution ("Endpoint URLs for OTLP/HTTP"): a per-signal endpoint is used as is;
    /// the shared endpoint gets `v1/<signal>` appended for OTLP/HTTP; else the default.
    mutating func endpoint(signal: TelemetrySignal, protocol proto: OTLPProtocol, shared: String, specific: String) -> String {
        let defaultEndpoint = OTLPExporterConfiguration.defaultEndpoint(for: proto, signal: signal)

        func problem(_ value: String) -> String? {
            do throws(OTLPConfigurationError) {
                let parsed = try OTLPEndpoint(parsing: value)
                if proto.isHTTP && parsed.scheme == nil { return "OTLP/HTTP needs an http:// or https:// URL" }
                return nil
            } catch {
                return error.message
            }
        }

        var fromShared = defaultEndpoint
        var sharedSource = "the default \(defaultEndpoint)"
        if let base = string(shared) {
            if let reason = problem(base) {
                warn(shared, value: base, reason: reason, fallback: "the default \(defaultEndpoint)")
            } else if proto.isHTTP {
                fromShared = Self.appendSignalPath(base: base, signal: signal)
                sharedSource = "\(fromShared) from \(shared)"
            } else {
                fromShared = base
                sharedSource = "\(base) from \(shared)"
            }
        }
        if let value = string(specific) {
            if let reason = problem(value) {
                warn(specific, value: value, reason: reason, fallback: sharedSource)
                return fromShared
            }
            return value
        }
        return fromShared
    }

    /// `base` + `v1/<signal>`, with exactly one `/` between them; a query string is dropped.
    static func appendSignalPath(base: String, signal: TelemetrySignal) -> String {
        var url = base
        if let query = url.firstIndex(of: "?") { url = String(url[..<query]) }
        if !url.hasSuffix("/") { url += "/" }
        return url + signal.httpPath
    }

    /// `key1=value1,key2=value2` with percent-decoded values; keys are lower-cased HTTP tokens.
    /// Invalid entries are skipped; one warning lists them (by key only: values may be secrets).
    mutating func headers(_ name: String) -> [String: String] {
        guard let value = string(name) else { return [:] }
        var result: [String: String] = [:]
        var rejected: [String] = []
        for entry in value.split(separator: ",", omittingEmptySubsequences: false) {
            let item = entry.trimmingCharacters(in: .whitespaces)
            if item.isEmpty { continue }
            guard let equals = item.firstIndex(of: "=") else {
                rejected.append("entry without '='")
                continue
            }
            let key = item[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let rawValue = item[item.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if let reason = HeaderRules.nameProblem(key) {
                rejected.append("'\(key)': \(reason)")
                continue
            }
            guard let decoded = PercentDecoding.decode(rawValue) else {
                rejected.append("'\(key)': invalid percent-encoding")
                continue
            }
            if let reason = HeaderRules.valueProblem(decoded) {
                rejected.append("'\(key)': \(reason)")
                continue
            }
            result[key] = decoded
        }
        if !rejected.isEmpty {
            let kept = result.keys.sorted()
            warn(name, value: "<\(rejected.count) entr\(rejected.count == 1 ? "y" : "ies") hidden>",
                reason: rejected.joined(separator: "; "),
                fallback: kept.isEmpty ? "no headers" : "the valid entries (\(kept.joined(separator: ", ")))")
        }
        return result
    }

    // MARK: SDK

    /// `OTEL_RESOURCE_ATTRIBUTES`: on any decoding error the whole value is discarded (resource
    /// SDK spec, "Specifying resource information via an environment variable").
    mutating func resourceAttributes() -> [String: String] {
        let name = "OTEL_RESOURCE_ATTRIBUTES"
        guard let value = string(name) else { return [:] }
        var result: [String: String] = [:]
        for entry in value.split(separator: ",", omittingEmptySubsequences: false) {
            let item = entry.trimmingCharacters(in: .whitespaces)
            if item.isEmpty { continue }
            guard let equals = item.firstIndex(of: "=") else {
                warn(name, value: value, reason: "entry '\(item)' has no '='", fallback: "no resource attributes from it")
                return [:]
            }
            let key = item[..<equals].trimmingCharacters(in: .whitespaces)
            let rawValue = item[item.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty else {
                warn(name, value: value, reason: "an entry has an empty key", fallback: "no resource attributes from it")
                return [:]
            }
            guard let decoded = PercentDecoding.decode(rawValue) else {
                warn(name, value: value, reason: "invalid percent-encoding in the value of '\(key)'",
                    fallback: "no resource attributes from it")
                return [:]
            }
            result[key] = decoded
        }
        return result
    }

    mutating func sampler() -> OTLPSamplerConfiguration {
        let name = "OTEL_TRACES_SAMPLER"
        let argName = "OTEL_TRACES_SAMPLER_ARG"
        let kind = string(name)?.lowercased()
        func ratio() -> Double {
            guard let text = string(argName) else { return 1.0 }
            guard let r = Double(text), r.isFinite, (0...1).contains(r) else {
                warn(argName, value: text, reason: "not a number in [0, 1]", fallback: "the default 1.0")
                return 1.0
            }
            return r
        }
        switch kind {
        case nil: return .default
        case "always_on": return .alwaysOn
        case "always_off": return .alwaysOff
        case "traceidratio": return .traceIDRatio(ratio())
        case "parentbased_always_on": return .parentBasedAlwaysOn
        case "parentbased_always_off": return .parentBasedAlwaysOff
        case "parentbased_traceidratio": return .parentBasedTraceIDRatio(ratio())
        default:
            warn(name, value: string(name) ?? "",
                reason: "unknown or unsupported sampler (supported: always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio)",
                fallback: "the default parentbased_always_on")
            return .default
        }
    }

    /// The attribute, span and log record limits; a specific variable wins over the general one.
    mutating func limits() -> (spans: AttributeLimits, logs: AttributeLimits) {
        let defaults = AttributeLimits()
        let count = integer("OTEL_ATTRIBUTE_COUNT_LIMIT", default: defaults.attributeCountLimit, minimum: 0)
        let length = optionalInteger("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", default: nil)
        let spans = AttributeLimits(
            attributeCountLimit: integer("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", default: count, minimum: 0),
            attributeValueLengthLimit: optionalInteger("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", default: length),
            eventCountLimit: integer("OTEL_SPAN_EVENT_COUNT_LIMIT", default: defaults.eventCountLimit, minimum: 0),
            linkCountLimit: integer("OTEL_SPAN_LINK_COUNT_LIMIT", default: defaults.linkCountLimit, minimum: 0),
            // Events and links follow the general limit, not the span attribute limit.
            eventAttributeCountLimit: integer("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", default: count, minimum: 0),
            linkAttributeCountLimit: integer("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", default: count, minimum: 0))
        let logs = AttributeLimits(
            attributeCountLimit: integer("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", default: count, minimum: 0),
            attributeValueLengthLimit: optionalInteger("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", default: length))
        return (spans, logs)
    }

    /// A non-negative integer, or `defaultValue` (nil: no limit) when unset or invalid.
    mutating func optionalInteger(_ name: String, default defaultValue: Int?) -> Int? {
        guard let value = string(name) else { return defaultValue }
        guard let number = Int(value), number >= 0 else {
            warn(name, value: value, reason: "not an integer ≥ 0",
                fallback: defaultValue.map { "\($0)" } ?? "no limit")
            return defaultValue
        }
        return number
    }

    /// `OTEL_PROPAGATORS`: a comma-separated list; unsupported names are skipped with one warning,
    /// `none` alone means no propagation.
    mutating func propagators() -> [OTLPPropagator] {
        let name = "OTEL_PROPAGATORS"
        guard let value = string(name) else { return OTLPPropagator.defaults }
        var result: [OTLPPropagator] = []
        var unsupported: [String] = []
        for item in value.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) where !item.isEmpty {
            if item == "none" { continue }
            if let propagator = OTLPPropagator(rawValue: item) {
                if !result.contains(propagator) { result.append(propagator) }
            } else {
                unsupported.append(item)
            }
        }
        if !unsupported.isEmpty {
            let kept = result.map(\.rawValue).joined(separator: ",")
            warn(name, value: value, reason: "unsupported propagator(s) \(unsupported.joined(separator: ", ")) (supported: tracecontext, baggage, none)",
                fallback: kept.isEmpty ? "none" : kept)
        }
        return result
    }

    mutating func batchProcessor(prefix: String, defaults: OTLPBatchProcessorConfiguration) -> OTLPBatchProcessorConfiguration {
        var result = defaults
        result.scheduleDelay = milliseconds(prefix + "_SCHEDULE_DELAY", default: defaults.scheduleDelay, allowZero: true)
        result.exportTimeout = milliseconds(prefix + "_EXPORT_TIMEOUT", default: defaults.exportTimeout, allowZero: false)
        result.maxQueueSize = integer(prefix + "_MAX_QUEUE_SIZE", default: defaults.maxQueueSize, minimum: 1)
        let batchName = prefix + "_MAX_EXPORT_BATCH_SIZE"
        let batch = integer(batchName, default: defaults.maxExportBatchSize, minimum: 1)
        if batch > result.maxQueueSize {
            // Spec: "Must be less than or equal to OTEL_BSP_MAX_QUEUE_SIZE".
            let source = string(batchName) != nil ? "\(batch)" : "\(batch) (default)"
            warn(batchName, value: source, reason: "larger than \(prefix)_MAX_QUEUE_SIZE \(result.maxQueueSize)",
                fallback: "\(result.maxQueueSize)")
            result.maxExportBatchSize = result.maxQueueSize
        } else {
            result.maxExportBatchSize = batch
        }
        return result
    }
}

/// Strict percent-decoding (RFC 3986 §2.1): `%` must be followed by two hex digits and the
/// decoded bytes must be UTF-8.
enum PercentDecoding {
    static func decode(_ text: String) -> String? {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
