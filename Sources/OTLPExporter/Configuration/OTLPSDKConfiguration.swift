// SDK-level settings that come with the exporter environment: sampler, batch processors,
// metric reader interval, temporality preference, resource.
//
// Defaults: OpenTelemetry specification, "Environment Variable Specification"
// (specification/configuration/sdk-environment-variables.md), sections "General SDK Configuration",
// "Batch Span Processor", "Batch LogRecord Processor", "Periodic exporting MetricReader", and
// the OTLP metrics exporter spec (specification/metrics/sdk_exporters/otlp.md) for the
// temporality preference.

/// The trace sampler (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`). Default:
/// ``parentBasedAlwaysOn`` ("General SDK Configuration").
public enum OTLPSamplerConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// `always_on`: sample every trace.
    case alwaysOn
    /// `always_off`: sample nothing.
    case alwaysOff
    /// `traceidratio`: sample this fraction (0…1) of traces, by trace id.
    case traceIDRatio(Double)
    /// `parentbased_always_on`: follow the parent's decision; roots are sampled.
    case parentBasedAlwaysOn
    /// `parentbased_always_off`: follow the parent's decision; roots are not sampled.
    case parentBasedAlwaysOff
    /// `parentbased_traceidratio`: follow the parent's decision; roots sampled by ratio.
    case parentBasedTraceIDRatio(Double)

    /// The spec's default sampler.
    public static let `default` = OTLPSamplerConfiguration.parentBasedAlwaysOn

    /// The environment-variable spelling, with the ratio for the ratio samplers.
    public var description: String {
        switch self {
        case .alwaysOn: "always_on"
        case .alwaysOff: "always_off"
        case .traceIDRatio(let r): "traceidratio (\(r))"
        case .parentBasedAlwaysOn: "parentbased_always_on"
        case .parentBasedAlwaysOff: "parentbased_always_off"
        case .parentBasedTraceIDRatio(let r): "parentbased_traceidratio (\(r))"
        }
    }
}

/// Settings of a batch processor (spans: `OTEL_BSP_*`, log records: `OTEL_BLRP_*`).
public struct OTLPBatchProcessorConfiguration: Sendable, Hashable {
    /// Longest wait between two exports. Spans 5000 ms, logs 1000 ms.
    public var scheduleDelay: Duration
    /// Longest time one export may take. 30000 ms for both.
    public var exportTimeout: Duration
    /// Items buffered before new ones are dropped. 2048 for both.
    public var maxQueueSize: Int
    /// Most items in one export; never more than ``maxQueueSize``. 512 for both.
    public var maxExportBatchSize: Int

    public init(scheduleDelay: Duration, exportTimeout: Duration, maxQueueSize: Int, maxExportBatchSize: Int) {
        self.scheduleDelay = scheduleDelay
        self.exportTimeout = exportTimeout
        self.maxQueueSize = maxQueueSize
        self.maxExportBatchSize = maxExportBatchSize
    }

    /// The spec's batch span processor defaults ("Batch Span Processor").
    public static let spanDefaults = OTLPBatchProcessorConfiguration(
        scheduleDelay: .milliseconds(5000), exportTimeout: .milliseconds(30000),
        maxQueueSize: 2048, maxExportBatchSize: 512
    )
    /// The spec's batch log record processor defaults ("Batch LogRecord Processor").
    public static let logDefaults = OTLPBatchProcessorConfiguration(
        scheduleDelay: .milliseconds(1000), exportTimeout: .milliseconds(30000),
        maxQueueSize: 2048, maxExportBatchSize: 512
    )
}

/// Aggregation temporality the OTLP metrics exporter asks for
/// (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`, default `cumulative`; OTLP metrics
/// exporter spec, "Additional Environment Variable Configuration").
public enum OTLPTemporalityPreference: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Cumulative for every instrument kind.
    case cumulative
    /// Delta for counters, async counters and histograms; cumulative for up-down counters.
    case delta
    /// Delta for synchronous counters and histograms; cumulative for the rest.
    case lowMemory = "lowmemory"

    public var description: String { rawValue }
}

/// A context propagator named by `OTEL_PROPAGATORS` ("General SDK Configuration"; default
/// `tracecontext,baggage`). Other known values (`b3`, `b3multi`, `jaeger`, `xray`, `ottrace`) are
/// not supported and are warned about.
public enum OTLPPropagator: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// W3C Trace Context: the `traceparent` and `tracestate` headers.
    case traceContext = "tracecontext"
    /// W3C Baggage: the `baggage` header.
    case baggage

    /// The specification's default: `tracecontext,baggage`.
    public static let defaults: [OTLPPropagator] = [.traceContext, .baggage]

    public var description: String { rawValue }
}
