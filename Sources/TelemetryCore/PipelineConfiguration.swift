#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The telemetry signals. The raw values are OTLP's names (`traces`, `metrics`, `logs`), as in
/// HTTP paths and environment variables.
public enum TelemetrySignal: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case traces, metrics, logs

    public var description: String { rawValue }

    /// What the pipeline queues for the signal: `spans`, `measurements`, `log records`.
    public var itemsName: String {
        switch self {
        case .traces: return "spans"
        case .metrics: return "measurements"
        case .logs: return "log records"
        }
    }
}

/// Self-observability counters of one signal (all monotonic since the pipeline started).
public struct SignalStatistics: Sendable, Hashable {
    /// Items the producers queued (spans, measurements, log records).
    public var accepted: Int
    /// Items dropped because the ring buffer was full.
    public var dropped: Int
    /// Items recorded after shutdown (ignored).
    public var droppedAfterShutdown: Int
    /// Items in batches every exporter accepted (for metrics: data points).
    public var exported: Int
    /// Items in batches an exporter failed (for metrics: data points).
    public var failed: Int

    public init(accepted: Int, dropped: Int, droppedAfterShutdown: Int, exported: Int, failed: Int) {
        self.accepted = accepted
        self.dropped = dropped
        self.droppedAfterShutdown = droppedAfterShutdown
        self.exported = exported
        self.failed = failed
    }
}

/// Pipeline settings. Defaults follow the OpenTelemetry specification's batch processors
/// (https://opentelemetry.io/docs/specs/otel/trace/sdk/#batching-processor,
/// https://opentelemetry.io/docs/specs/otel/logs/sdk/#batching-processor) and periodic metric reader
/// (https://opentelemetry.io/docs/specs/otel/metrics/sdk/#periodic-exporting-metricreader).
public struct PipelineConfiguration: Sendable {
    /// Batching of one signal.
    public struct Batching: Sendable {
        /// Ring capacity (rounded up to a power of two). Spec default 2048.
        public var maxQueueSize: Int
        /// Largest batch handed to exporters. Spec default 512.
        public var maxExportBatchSize: Int
        /// Longest time an item waits in a partial batch. Spec: 5 s for spans, 1 s for logs.
        public var scheduledDelay: Duration
        /// Exports of this signal allowed in flight at once. Default 1 (none concurrent).
        public var maxConcurrentExports: Int

        public init(maxQueueSize: Int = 2048, maxExportBatchSize: Int = 512, scheduledDelay: Duration, maxConcurrentExports: Int = 1) {
            self.maxQueueSize = maxQueueSize
            self.maxExportBatchSize = max(1, min(maxExportBatchSize, maxQueueSize))
            self.scheduledDelay = scheduledDelay
            self.maxConcurrentExports = max(1, maxConcurrentExports)
        }
    }

    /// Metric collection.
    public struct Metrics: Sendable {
        /// Ring capacity for synchronous measurements (rounded up to a power of two).
        public var measurementQueueSize: Int
        /// Collection and export interval. Spec default 60 s.
        public var exportInterval: Duration
        /// Default temporality for all instruments. Default cumulative (the spec's default for OTLP).
        public var temporality: AggregationTemporality
        /// Streams per instrument, including the overflow stream. Spec default 2000.
        public var cardinalityLimit: Int

        public init(measurementQueueSize: Int = 16384, exportInterval: Duration = .seconds(60),
                    temporality: AggregationTemporality = .cumulative, cardinalityLimit: Int = 2000) {
            self.measurementQueueSize = measurementQueueSize
            self.exportInterval = exportInterval
            self.temporality = temporality
            self.cardinalityLimit = cardinalityLimit
        }
    }

    /// What a producer does when a signal's queue is full.
    public enum Backpressure: Sendable, Hashable {
        /// Drop the item and count it (``SignalStatistics/dropped``): producers never wait. The
        /// default, as the specification's batch processors do.
        case drop
        /// Wait for room, at most `maxWait`, then drop and count. The producer waits on a
        /// condition variable the worker signals as it moves items out of the queue, so a
        /// producer faster than the export path is paced to it instead of losing items.
        case wait(maxWait: Duration)
    }

    public var traces = Batching(scheduledDelay: .seconds(5))
    public var logs = Batching(scheduledDelay: .seconds(1))
    public var metrics = Metrics()
    /// What producers do when a queue is full. Default ``Backpressure/drop``.
    public var backpressure: Backpressure = .drop
    /// How often drops are reported through ``diagnostics`` (only when something was dropped).
    public var dropReportInterval: Duration = .seconds(60)
    /// Longest idle sleep of the worker between checks (it is also woken by producers).
    public var idlePollInterval: Duration = .milliseconds(100)
    /// Source of timestamps (records and metric points).
    public var clock: any TelemetryClock = SystemClock()
    /// Monotonic time for scheduling: batch delays, the metric export interval, drop reports.
    /// Tests pass a ``ManualSchedulingClock``.
    public var schedulingClock: any SchedulingClock = SystemSchedulingClock()
    /// Receives the SDK's own warnings (drop reports, exporter failures). Default: standard error.
    public var diagnostics: @Sendable (String) -> Void = { message in
        var line = "swift-otlp: \(message)\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }

    public init() {}
}
