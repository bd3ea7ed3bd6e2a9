// Loading TelemetrySettings from the standard OTEL_* environment variables.

import Foundation
import OTLPExporter

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
    ///   (only when set: `lowmemory` maps to delta).
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

        for (variable, signal) in [("OTEL_LOGS_EXPORTER", OTLPSignal.logs), ("OTEL_TRACES_EXPORTER", .traces), ("OTEL_METRICS_EXPORTER", .metrics)] {
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
}
