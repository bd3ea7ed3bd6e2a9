public import TelemetryCore
public import Atomics
import OTLPSync
import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif


/// The one batching pipeline shared by traces, metrics and logs.
///
/// Producers (any thread) call ``recordSpan(_:)``, ``recordLog(_:)`` and ``recordMeasurement(_:)``:
/// each is one lock-free ring push (full → counted drop), never a lock, never a wait. One worker
/// thread drains the rings, cuts batches (max size or max delay), aggregates measurements and
/// collects metrics every interval, and hands batches to each signal's export lane.
public final class Pipeline: @unchecked Sendable {
    public let resource: Resource
    public let configuration: PipelineConfiguration

    /// Queued spans: handles of pooled records (one pointer per slot), see ``SpanRecord``.
    @usableFromInline let spanRing: MPSCRingBuffer<SpanRecord>
    /// The reused blocks spans are recorded in.
    @usableFromInline package let spanRecords: SpanRecordPool
    @usableFromInline let logRing: MPSCRingBuffer<LogRecordData>
    @usableFromInline let measurementRing: MPSCRingBuffer<Measurement>
    /// Push positions at which a producer checks whether the worker sleeps (a power of two − 1).
    @usableFromInline let spanWakeMask: Int
    @usableFromInline let logWakeMask: Int
    @usableFromInline let measurementWakeMask: Int

    /// An `UnsafeAtomic` (storage freed in `deinit`), not a `ManagedAtomic` object: the producers'
    /// check is a plain load through a pointer, with no retain and release of a shared atomic
    /// object (which made threads adding to one counter bounce that object's reference count).
    @usableFromInline let shutDownFlag = UnsafeAtomic<Bool>.create(false)
    @usableFromInline let droppedAfterShutdown: [ManagedAtomic<Int>] = [ManagedAtomic(0), ManagedAtomic(0), ManagedAtomic(0)]

    /// Nanoseconds a producer waits for room in a full queue; 0: it drops at once.
    @usableFromInline let backpressureWait: UInt64
    /// Producers waiting for room (``PipelineConfiguration/Backpressure/wait(maxWait:)``), and
    /// the condition they wait on, which the worker broadcasts after moving items out.
    let waitingProducers = ManagedAtomic<Int>(0)
    let roomAvailable = ConditionLock()

    /// Set by the worker just before it parks; a producer that sees it clears it and signals.
    let workerSleeping = ManagedAtomic<Bool>(false)
    let wakeSemaphore = DispatchSemaphore(value: 0)

    let spanLane: ExportLane<SpanBatch>
    let metricLane: ExportLane<MetricBatch>
    let logLane: ExportLane<LogBatch>

    enum Command {
        case flush(FlushTicket)
        case shutdown(FlushTicket)
    }
    private let commands = LockedValue<[Command]>([])
    private let shutdownTicket = LockedValue<FlushTicket?>(nil)
    /// Shutdown calls still waiting, and whether one gave up and abandoned the exports.
    private let shutdownWaiters = LockedValue((waiting: 0, abandoned: false))

    /// Instruments registered so far, and their attribute-free accumulators.
    let instruments = InstrumentRegistry()
    /// Scopes span records refer to unretained (``keepScopeAlive(_:)``).
    /// One storage per distinct scope (by name, version and attributes): asking for the same
    /// tracer again, e.g. per request, reuses it instead of keeping one more for good.
    let keptScopes = LockedValue<[InstrumentationScope: InstrumentationScope.Storage]>([:])
    private let workerDone = DispatchSemaphore(value: 0)

    /// Creates the pipeline and starts its worker thread.
    public init(
        resource: Resource, configuration: PipelineConfiguration = PipelineConfiguration(),
        spanExporters: [any SpanExporter] = [], metricExporters: [any MetricExporter] = [],
        logExporters: [any LogExporter] = []
    ) {
        self.resource = resource
        self.configuration = configuration
        if case .wait(let maxWait) = configuration.backpressure {
            backpressureWait = max(1, maxWait.clampedNanoseconds)
        } else {
            backpressureWait = 0
        }
        spanRing = MPSCRingBuffer(minimumCapacity: configuration.traces.maxQueueSize)
        // Idle blocks kept: eight export batches (at least 4096), not the whole queue. The pool
        // hands blocks out in the order they came back, so every idle block is touched once per
        // round: keeping a burst's worth (up to 65,536 blocks of 512 bytes) would start each span
        // on a block long gone from the caches. But exported batches hold their blocks until they
        // are released, so in a steady stream a wake interval in the ring, the pending batch and
        // the lanes' batches are out at once, and the idle count swings by a batch as each is
        // released: a smaller cap (two batches) frees and allocates again about one block in
        // sixty. Not capped by the queue either: with the spec-default queue of 2048, a cap of
        // 2048 is below what a steady stream holds out at once, so blocks would be freed on the
        // exporters' threads and allocated again by producers. Blocks past the cap are freed.
        spanRecords = SpanRecordPool(
            minimumCapacity: max(1 << 12, 8 * configuration.traces.maxExportBatchSize),
            scopeKeeper: keptScopes)
        logRing = MPSCRingBuffer(minimumCapacity: configuration.logs.maxQueueSize)
        measurementRing = MPSCRingBuffer(minimumCapacity: configuration.metrics.measurementQueueSize)
        func wakeMask(batch: Int, capacity: Int) -> Int {
            var interval = 1
            while interval * 2 <= max(1, min(batch, capacity / 2)) { interval *= 2 }
            return interval - 1
        }
        spanWakeMask = wakeMask(batch: configuration.traces.maxExportBatchSize, capacity: spanRing.capacity)
        logWakeMask = wakeMask(batch: configuration.logs.maxExportBatchSize, capacity: logRing.capacity)
        measurementWakeMask = wakeMask(batch: measurementRing.capacity / 4, capacity: measurementRing.capacity)
        let diagnostics = configuration.diagnostics
        let semaphore = wakeSemaphore
        let sleeping = workerSleeping
        let progress: @Sendable () -> Void = {
            // A lane finished an export: a worker holding back a full batch may continue.
            if sleeping.load(ordering: .relaxed), sleeping.exchange(false, ordering: .acquiringAndReleasing) {
                semaphore.signal()
            }
        }
        spanLane = ExportLane(name: "span", exporters: spanExporters.map(AnyBatchExporter.init),
                              maxConcurrentExports: configuration.traces.maxConcurrentExports,
                              diagnostics: diagnostics, onProgress: progress)
        metricLane = ExportLane(name: "metric", exporters: metricExporters.map(AnyBatchExporter.init),
                                maxConcurrentExports: 1, diagnostics: diagnostics, onProgress: progress)
        logLane = ExportLane(name: "log", exporters: logExporters.map(AnyBatchExporter.init),
                             maxConcurrentExports: configuration.logs.maxConcurrentExports,
                             diagnostics: diagnostics, onProgress: progress)
        if let manual = configuration.schedulingClock as? ManualSchedulingClock {
            manual.onAdvance { [weak self] in self?.wakeWorker() }
        }
        let worker = PipelineWorker(pipeline: self)
        let thread = Thread { worker.run() }
        thread.name = "otlp-pipeline"  // Linux keeps 15 bytes of a thread name
        thread.start()
    }

    deinit {
        // The worker holds `self` strongly until shutdown, so deinit only runs after it; every
        // producer holds `self` too, so none can be reading the flag.
        shutDownFlag.destroy()
        // Spans pushed after the worker's final drain: their records go back before the pool goes.
        while let record = spanRing.pop() { spanRecords.discard(record) }
    }

    // MARK: Instruments

    /// Registers an instrument (idempotent for an identical descriptor) and returns its id.
    /// Observable instruments pass their callback, run on the worker at every collection.
    public func registerInstrument(_ descriptor: InstrumentDescriptor,
                                   callback: (@Sendable (ObservationRecorder) -> Void)? = nil) -> UInt32 {
        instruments.register(descriptor, callback: callback)
    }

    /// The lock-free sum for the attribute-free measurements of counter or up-down counter `id`
    /// (one per instrument, made on first request). `nil` for other kinds.
    public func sumAccumulator(for id: UInt32) -> AtomicSum? { instruments.sumAccumulator(for: id) }

    /// The lock-free histogram for the attribute-free records of histogram `id` when it has
    /// explicit buckets (one per instrument, made on first request). `nil` for other kinds and for
    /// base-2 exponential histograms, whose records all go through the ring.
    public func histogramAccumulator(for id: UInt32) -> AtomicHistogram? { instruments.histogramAccumulator(for: id) }

    /// Counts a measurement recorded after shutdown (ignored).
    @inlinable
    public func countMeasurementAfterShutdown() {
        droppedAfterShutdown[1].wrappingIncrement(ordering: .relaxed)  // Relaxed: statistic.
    }

    // MARK: Flush and shutdown

    /// Exports everything recorded before this call (and collects metrics), then waits for the
    /// exporters' own flush. Throws ``TelemetryError/Code/timedOut`` past `deadline`.
    ///
    /// The work and the deadline run on the library's threads (the pipeline's worker and
    /// ``ExportExecutor``), so this completes even while the cooperative pool is busy.
    public func forceFlush(deadline: ContinuousClock.Instant) async throws {
        let ticket = queueFlush()
        guard await ticket.wait(until: deadline) else {
            throw TelemetryError(code: .timedOut, message: "forceFlush did not complete before its deadline")
        }
    }

    /// ``forceFlush(deadline:)`` for synchronous code: blocks the calling thread until the flush
    /// is done or `timeout` has passed. Do not call it from a task (it would block a thread of
    /// the cooperative pool); use the async variant there.
    public func forceFlushSynchronously(timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        guard queueFlush().waitBlocking(until: deadline) else {
            throw TelemetryError(code: .timedOut, message: "forceFlush did not complete before its deadline")
        }
    }

    /// Exports everything recorded so far, shuts the exporters down and stops the worker.
    /// Idempotent: later calls wait for the first shutdown. Recording afterwards is a counted no-op.
    /// Throws ``TelemetryError/Code/timedOut`` past `deadline`. When the last shutdown still
    /// waiting passes its deadline, every item not exported yet is counted as failed in
    /// ``statistics(_:)`` and the exports still queued, in flight or waiting to retry are
    /// abandoned: the exporters are shut down from a cancelled task (the OTLP exporters close
    /// their connections at once), so nothing is sent afterwards. A shutdown called after that
    /// throws at once unless the first one had completed.
    public func shutdown(deadline: ContinuousClock.Instant) async throws {
        let ticket = queueShutdown()
        let done: Bool
        if enterShutdownWait() {
            done = await ticket.wait(until: .now)
        } else {
            done = leaveShutdownWait(done: await ticket.wait(until: deadline))
        }
        guard done else {
            throw TelemetryError(code: .timedOut, message: "shutdown did not complete before its deadline")
        }
    }

    /// ``shutdown(deadline:)`` for synchronous code: blocks the calling thread until shutdown is
    /// done or `timeout` has passed. Do not call it from a task; use the async variant there.
    public func shutdownSynchronously(timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        let ticket = queueShutdown()
        let done: Bool
        if enterShutdownWait() {
            done = ticket.waitBlocking(until: .now)
        } else {
            done = leaveShutdownWait(done: ticket.waitBlocking(until: deadline))
        }
        guard done else {
            throw TelemetryError(code: .timedOut, message: "shutdown did not complete before its deadline")
        }
    }

    /// Counts a shutdown waiter in; `true` when the exports were abandoned already (the caller
    /// then only looks whether the shutdown had completed).
    private func enterShutdownWait() -> Bool {
        shutdownWaiters.withLock { waiters in
            if waiters.abandoned { return true }
            waiters.waiting += 1
            return false
        }
    }

    /// Counts a shutdown waiter out and passes `done` through; the last one to give up at its
    /// deadline abandons the exports (a waiter with a later deadline keeps them going).
    private func leaveShutdownWait(done: Bool) -> Bool {
        let abandon = shutdownWaiters.withLock { waiters -> Bool in
            waiters.waiting -= 1
            guard !done, waiters.waiting == 0, !waiters.abandoned else { return false }
            waiters.abandoned = true
            return true
        }
        if abandon {
            // What the lanes still hold is counted as failed and dropped.
            spanLane.abandon()
            metricLane.abandon()
            logLane.abandon()
        }
        return done
    }

    private func queueFlush() -> FlushTicket {
        // Under the shutdown lock, so a flush is either queued before the shutdown command (and
        // processed before the worker stops) or waits for the shutdown, which exports everything.
        let ticket = shutdownTicket.withLock { shutdown -> FlushTicket in
            if let shutdown { return shutdown }
            let ticket = FlushTicket(lanes: 3)
            commands.withLock { $0.append(.flush(ticket)) }
            return ticket
        }
        wakeWorker()
        return ticket
    }

    private func queueShutdown() -> FlushTicket {
        let ticket = shutdownTicket.withLock { current -> FlushTicket in
            if let current { return current }
            let ticket = FlushTicket(lanes: 3)
            current = ticket
            // Relaxed: producers only need to see it eventually; the worker sees the command.
            shutDownFlag.store(true, ordering: .relaxed)
            commands.withLock { $0.append(.shutdown(ticket)) }
            return ticket
        }
        wakeWorker()
        return ticket
    }

    private func wakeWorker() {
        // Always signal for commands (rare); an extra permit only costs one spurious wake-up.
        wakeSemaphore.signal()
    }

    func takeCommands() -> [Command] {
        commands.withLock { pending in
            defer { pending.removeAll() }
            return pending
        }
    }

    var hasCommands: Bool { commands.withLock { !$0.isEmpty } }

    // MARK: Statistics

    /// Self-observability counters of `signal`.
    public func statistics(_ signal: TelemetrySignal) -> SignalStatistics {
        switch signal {
        case .traces:
            return SignalStatistics(
                accepted: spanRing.acceptedCount, dropped: spanRing.droppedCount,
                droppedAfterShutdown: droppedAfterShutdown[0].load(ordering: .relaxed),
                exported: spanLane.exported, failed: spanLane.failed)
        case .metrics:
            return SignalStatistics(
                accepted: measurementRing.acceptedCount + instruments.accumulatedMeasurementCount, dropped: measurementRing.droppedCount,
                droppedAfterShutdown: droppedAfterShutdown[1].load(ordering: .relaxed),
                exported: metricLane.exported, failed: metricLane.failed)
        case .logs:
            return SignalStatistics(
                accepted: logRing.acceptedCount, dropped: logRing.droppedCount,
                droppedAfterShutdown: droppedAfterShutdown[2].load(ordering: .relaxed),
                exported: logLane.exported, failed: logLane.failed)
        }
    }
}
