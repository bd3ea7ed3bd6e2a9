/// Spans kept where the pipeline recorded them (its pooled span blocks), as a batch cut by the
/// pipeline carries them. The pipeline's own type conforms; exporters that encode in place ask
/// ``SpanBatch/pooledSpans`` for it.
package protocol PooledSpans: Sendable {
    /// How many spans the storage holds.
    var count: Int { get }
    /// Copies of the spans at `range`.
    func spans(in range: Range<Int>) -> [SpanData]
}

/// A batch of finished spans for one resource, as handed to ``SpanExporter``s.
///
/// A batch cut by the pipeline keeps its spans where they were recorded, in their pooled blocks:
/// the pipeline's worker moves only a handle per span, the OTLP exporters encode the spans in
/// place, and the blocks go back to the pool when the batch is released. Reading ``spans`` copies
/// them out of the blocks into an array (read ``count`` for how many). An exporter that keeps a
/// batch past its export keeps its blocks out of the pool: keep a copy of ``spans`` instead (as
/// `InMemorySpanExporter` does).
public struct SpanBatch: Sendable {
    public var resource: Resource

    enum Storage: Sendable {
        case spans([SpanData])
        case pooled(any PooledSpans)
    }
    var storage: Storage

    /// The spans, in the order they finished (per producer thread). Reading it from a batch cut
    /// by the pipeline copies the spans out of their blocks; setting it replaces the storage.
    public var spans: [SpanData] {
        get {
            switch storage {
            case .spans(let spans): return spans
            case .pooled(let pooled): return pooled.spans(in: 0..<pooled.count)
            }
        }
        set { storage = .spans(newValue) }
    }

    /// How many spans the batch holds (without copying them).
    public var count: Int {
        switch storage {
        case .spans(let spans): return spans.count
        case .pooled(let pooled): return pooled.count
        }
    }

    public init(resource: Resource, spans: [SpanData]) {
        self.resource = resource
        self.storage = .spans(spans)
    }

    /// A batch of spans read in place from the pipeline's storage.
    package init(resource: Resource, pooled: any PooledSpans) {
        self.resource = resource
        self.storage = .pooled(pooled)
    }

    /// The pipeline's storage of the spans (nil for a batch of ``spans``).
    package var pooledSpans: (any PooledSpans)? {
        if case .pooled(let pooled) = storage { return pooled }
        return nil
    }
}

/// A collection of metrics for one resource, as handed to ``MetricExporter``s.
public struct MetricBatch: Sendable {
    public var resource: Resource
    public var metrics: [MetricData]

    public init(resource: Resource, metrics: [MetricData]) {
        self.resource = resource
        self.metrics = metrics
    }

    /// Total number of data points in the batch.
    public var pointCount: Int {
        metrics.reduce(0) { total, metric in
            switch metric.points {
            case .sum(_, _, let points), .gauge(let points): return total + points.count
            case .histogram(_, let points): return total + points.count
            case .exponentialHistogram(_, let points): return total + points.count
            }
        }
    }
}

/// A batch of log records for one resource, as handed to ``LogExporter``s.
public struct LogBatch: Sendable {
    public var resource: Resource
    public var records: [LogRecordData]

    public init(resource: Resource, records: [LogRecordData]) {
        self.resource = resource
        self.records = records
    }
}

/// Receives batches of finished spans from the pipeline.
///
/// The pipeline never calls ``export(_:)`` of one exporter concurrently unless
/// ``PipelineConfiguration/Batching/maxConcurrentExports`` is above 1. A thrown error counts the
/// batch's spans as failed.
public protocol SpanExporter: Sendable {
    func export(_ batch: SpanBatch) async throws
    /// Completes when everything handed to ``export(_:)`` so far is delivered. Default: nothing to do.
    func forceFlush() async throws
    /// Releases resources; no export follows. Default: nothing to do. The pipeline calls it from
    /// a cancelled task when a shutdown passed its deadline: the exports still running are then
    /// abandoned (their items already counted as failed) and should end as soon as they can.
    func shutdown() async
}

/// Receives collected metrics from the pipeline. See ``SpanExporter`` for the calling rules.
public protocol MetricExporter: Sendable {
    func export(_ batch: MetricBatch) async throws
    func forceFlush() async throws
    func shutdown() async
}

/// Receives batches of log records from the pipeline. See ``SpanExporter`` for the calling rules.
public protocol LogExporter: Sendable {
    func export(_ batch: LogBatch) async throws
    func forceFlush() async throws
    func shutdown() async
}

extension SpanExporter {
    public func forceFlush() async throws {}
    public func shutdown() async {}
}

extension MetricExporter {
    public func forceFlush() async throws {}
    public func shutdown() async {}
}

extension LogExporter {
    public func forceFlush() async throws {}
    public func shutdown() async {}
}

/// An error from the telemetry SDK.
public struct TelemetryError: Error, CustomStringConvertible, Sendable {
    /// What went wrong; extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// `forceFlush` or `shutdown` did not complete before its deadline.
        public static let timedOut = Code("timedOut")
        /// The provider or pipeline was already shut down.
        public static let alreadyShutDown = Code("alreadyShutDown")
        /// A synchronous `forceFlush` or `shutdown` was called inside a Swift concurrency task,
        /// where waiting would block a thread of the cooperative pool: the work was started and
        /// not waited for (await the async variant instead).
        public static let wouldBlock = Code("wouldBlock")
        public var description: String { name }
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?

    public init(code: Code, message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        var text = "\(code): \(message)"
        if let cause { text += " (cause: \(cause))" }
        return text
    }
}
