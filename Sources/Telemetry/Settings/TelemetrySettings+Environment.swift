// Loading TelemetrySettings from the standard OTEL_* environment variables.

public import Foundation
public import OTLPExporter

extension TelemetrySettings {
    /// Reads settings from the OpenTelemetry environment variables, starting from `base`:
    ///
    /// - exporters: `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`, `OTEL_LOGS_EXPORTER`
    ///   (`otlp` — the specification's default — or `none`; "Exporter Selection" in
    ///   sdk-environment-variables.md), each OTLP exporter configured from
    ///   `OTEL_EXPORTER_OTLP_*` (see ``OTLPEnvironmentConfiguration``); `OTEL_SDK_DISABLED=true`
    ///   turns every exporter off;
    /// - `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` (`service.name`, `service.version`,
    ///   `deployment.environment.name` or `deployment.environment`);
    /// - `OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`
    ///   (only when set: `lowmemory` maps to delta);
    /// - `OTEL_SDK_DISABLED` (``sdkDisabled``), every other `OTEL_RESOURCE_ATTRIBUTES` key
    ///   (``resourceAttributes``), `OTEL_TRACES_SAMPLER`/`_ARG` (``sampler``), `OTEL_BSP_*`
    ///   (``spanProcessor``), `OTEL_BLRP_*` (``logProcessor``), `OTEL_METRIC_EXPORT_TIMEOUT`
    ///   (``metricExportTimeout``), the attribute, span and log record limits (``spanLimits``,
    ///   ``logRecordLimits``) and `OTEL_PROPAGATORS` (``propagators``).
    ///
    /// Each of these replaces `base`'s value only when its variable is set.
    ///
    /// Settings with no standard variable (namespace, span attributes, tracestate, prompt logging,
    /// runtime metrics) keep `base`'s values. Every invalid variable gives one warning naming it
    /// and the value used instead; in strict mode the first one is thrown instead.
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        base: TelemetrySettings = TelemetrySettings(),
        mode: TelemetrySettingsMode = .lenient
    ) throws(TelemetrySettingsError) -> LoadedTelemetrySettings {
        let otlp = OTLPEnvironmentConfiguration(environment: environment)
        var problems = SettingsProblems(mode: mode)
        for warning in otlp.warnings {
            try problems.report(.invalidValue, warning.variable, "\(warning.reason); using \(warning.fallback)")
        }
        var settings = base
        func isSet(_ name: String) -> Bool {
            !(environment[name]?.trimmingCharacters(in: .whitespaces).isEmpty ?? true)
        }

        if isSet("OTEL_SERVICE_NAME") || otlp.resourceAttributes["service.name"] != nil && isSet("OTEL_RESOURCE_ATTRIBUTES") {
            settings.serviceName = otlp.serviceName
        }
        if let version = otlp.resourceAttributes["service.version"] { settings.serviceVersion = version }
        if let env = otlp.resourceAttributes["deployment.environment.name"] ?? otlp.resourceAttributes["deployment.environment"] {
            settings.environment = env
        }
        if isSet("OTEL_METRIC_EXPORT_INTERVAL") { settings.metricExportInterval = otlp.metricExportInterval }
        if isSet("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE") {
            settings.metricsTemporality = otlp.metricsTemporalityPreference == .cumulative ? .cumulative : .delta
        }
        if isSet("OTEL_SDK_DISABLED") { settings.sdkDisabled = otlp.sdkDisabled }
        for (key, value) in otlp.resourceAttributes where !Self.resourceKeysOfOwnSettings.contains(key) {
            settings.resourceAttributes[key] = value
        }
        if isSet("OTEL_TRACES_SAMPLER") { settings.sampler = Sampler(otlp.sampler) }
        if isSet("OTEL_METRIC_EXPORT_TIMEOUT") { settings.metricExportTimeout = otlp.metricExportTimeout }
        settings.spanProcessor = Self.overriding(settings.spanProcessor, with: otlp.spanProcessor, prefix: "OTEL_BSP", isSet: isSet)
        settings.logProcessor = Self.overriding(settings.logProcessor, with: otlp.logProcessor, prefix: "OTEL_BLRP", isSet: isSet)
        if settings.spanProcessor.maxExportBatchSize > settings.spanProcessor.maxQueueSize {
            settings.spanProcessor.maxExportBatchSize = settings.spanProcessor.maxQueueSize
        }
        if settings.logProcessor.maxExportBatchSize > settings.logProcessor.maxQueueSize {
            settings.logProcessor.maxExportBatchSize = settings.logProcessor.maxQueueSize
        }
        let general = ["OTEL_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"]
        if (general + ["OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_SPAN_EVENT_COUNT_LIMIT",
            "OTEL_SPAN_LINK_COUNT_LIMIT", "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT"]).contains(where: isSet) {
            settings.spanLimits = otlp.spanLimits
        }
        if (general + ["OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT"]).contains(where: isSet) {
            settings.logRecordLimits = otlp.logRecordLimits
        }
        if isSet("OTEL_PROPAGATORS") { settings.propagators = otlp.propagators }

        for (variable, signal) in [("OTEL_LOGS_EXPORTER", TelemetrySignal.logs), ("OTEL_TRACES_EXPORTER", .traces), ("OTEL_METRICS_EXPORTER", .metrics)] {
            var exporter: TelemetryExporter = .otlp(otlp.exporter(for: signal))
            if let raw = environment[variable]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty {
                let names = raw.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                if names == ["none"] {
                    exporter = .none
                } else if names == ["otlp"] {
                    exporter = .otlp(otlp.exporter(for: signal))
                } else {
                    try problems.report(
                        .invalidValue, variable,
                        "\"\(raw)\" is not supported (otlp or none); using none")
                    exporter = .none
                }
            }
            if otlp.sdkDisabled { exporter = .none }
            switch signal {
            case .logs: settings.logExporter = exporter
            case .traces: settings.traceExporter = exporter
            case .metrics: settings.metricsExporter = exporter
            }
        }
        return LoadedTelemetrySettings(settings: settings, warnings: problems.warnings)
    }

    /// Resource keys that have settings of their own (``serviceName``, ``serviceVersion``,
    /// ``environment``).
    package static let resourceKeysOfOwnSettings: Set<String> = [
        "service.name", "service.version", "deployment.environment.name", "deployment.environment",
    ]

    /// `base` with each field whose `<prefix>_*` variable is set taken from `parsed`.
    static func overriding(
        _ base: OTLPBatchProcessorConfiguration, with parsed: OTLPBatchProcessorConfiguration, prefix: String,
        isSet: (String) -> Bool
    ) -> OTLPBatchProcessorConfiguration {
        var result = base
        if isSet(prefix + "_SCHEDULE_DELAY") { result.scheduleDelay = parsed.scheduleDelay }
        if isSet(prefix + "_EXPORT_TIMEOUT") { result.exportTimeout = parsed.exportTimeout }
        if isSet(prefix + "_MAX_QUEUE_SIZE") { result.maxQueueSize = parsed.maxQueueSize }
        if isSet(prefix + "_MAX_EXPORT_BATCH_SIZE") { result.maxExportBatchSize = parsed.maxExportBatchSize }
        return result
    }
}

extension Sampler {
    /// The sampler an `OTEL_TRACES_SAMPLER` value names.
    public init(_ configuration: OTLPSamplerConfiguration) {
        switch configuration {
        case .alwaysOn: self = .alwaysOn
        case .alwaysOff: self = .alwaysOff
        case .traceIDRatio(let ratio): self = .traceIDRatio(ratio)
        case .parentBasedAlwaysOn: self = .parentBased(root: .alwaysOn)
        case .parentBasedAlwaysOff: self = .parentBased(root: .alwaysOff)
        case .parentBasedTraceIDRatio(let ratio): self = .parentBased(root: .traceIDRatio(ratio))
        }
    }
}
