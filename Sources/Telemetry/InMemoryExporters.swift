import Foundation
import TelemetryCore
import TelemetryPipeline

/// Keeps exported spans in memory, for tests.
public final class InMemorySpanExporter: SpanExporter, @unchecked Sendable {
    private let lock = NSLock()
    private var storedBatches: [SpanBatch] = []
    private var flushes = 0
    private var shutDown = false

    public init() {}

    public func export(_ batch: SpanBatch) async throws {
        // Copied out of the pipeline's blocks now, so the blocks go back to its pool.
        let stored = SpanBatch(resource: batch.resource, spans: batch.spans)
        lock.withLock { storedBatches.append(stored) }
    }

    public func forceFlush() async throws { lock.withLock { flushes += 1 } }
    public func shutdown() async { lock.withLock { shutDown = true } }

    /// Every batch exported so far.
    public var batches: [SpanBatch] { lock.withLock { storedBatches } }
    /// Every span exported so far, in export order.
    public var spans: [SpanData] { lock.withLock { storedBatches.flatMap(\.spans) } }
    public var forceFlushCount: Int { lock.withLock { flushes } }
    public var isShutDown: Bool { lock.withLock { shutDown } }
    /// Forgets everything exported so far.
    public func reset() { lock.withLock { storedBatches.removeAll() } }
}

/// Keeps exported metrics in memory, for tests.
public final class InMemoryMetricExporter: MetricExporter, @unchecked Sendable {
    private let lock = NSLock()
    private var storedBatches: [MetricBatch] = []
    private var flushes = 0
    private var shutDown = false

    public init() {}

    public func export(_ batch: MetricBatch) async throws {
        lock.withLock { storedBatches.append(batch) }
    }

    public func forceFlush() async throws { lock.withLock { flushes += 1 } }
    public func shutdown() async { lock.withLock { shutDown = true } }

    /// Every collection exported so far.
    public var batches: [MetricBatch] { lock.withLock { storedBatches } }
    /// Every metric exported so far, in export order.
    public var metrics: [MetricData] { lock.withLock { storedBatches.flatMap(\.metrics) } }
    /// The metrics of the latest collection.
    public var lastCollection: [MetricData] { lock.withLock { storedBatches.last?.metrics ?? [] } }
    public var forceFlushCount: Int { lock.withLock { flushes } }
    public var isShutDown: Bool { lock.withLock { shutDown } }
    public func reset() { lock.withLock { storedBatches.removeAll() } }
}

/// Keeps exported log records in memory, for tests.
public final class InMemoryLogExporter: LogExporter, @unchecked Sendable {
    private let lock = NSLock()
    private var storedBatches: [LogBatch] = []
    private var flushes = 0
    private var shutDown = false

    public init() {}

    public func export(_ batch: LogBatch) async throws {
        lock.withLock { storedBatches.append(batch) }
    }

    public func forceFlush() async throws { lock.withLock { flushes += 1 } }
    public func shutdown() async { lock.withLock { shutDown = true } }

    public var batches: [LogBatch] { lock.withLock { storedBatches } }
    /// Every record exported so far, in export order.
    public var records: [LogRecordData] { lock.withLock { storedBatches.flatMap(\.records) } }
    public var forceFlushCount: Int { lock.withLock { flushes } }
    public var isShutDown: Bool { lock.withLock { shutDown } }
    public func reset() { lock.withLock { storedBatches.removeAll() } }
}
