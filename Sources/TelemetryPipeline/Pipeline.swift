import Atomics
import OTLPSync
import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The telemetry signals.
public enum TelemetrySignal: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case traces, metrics, logs
    public var description: String {
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
    /// Receives the SDK's own warnings (drop reports, exporter failures). Default: standard error.
    public var diagnostics: @Sendable (String) -> Void = { message in
        var line = "swift-otlp: \(message)\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }

    public init() {}
}

/// Waits for a flush or shutdown to pass through every export lane. Several callers may wait on
/// one ticket (a `forceFlush` or a second `shutdown` during a shutdown waits on the shutdown's),
/// each with its own deadline.
final class FlushTicket: Sendable {
    private struct State {
        var remaining: Int
        var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
        var timers: [Int: ExportExecutor.Timer] = [:]
        var blockedWaiters: [OneShotSignal] = []
        var nextWaiter = 0
        /// Every lane is done.
        var finished = false
    }
    private let state: LockedValue<State>

    init(lanes: Int) { state = LockedValue(State(remaining: lanes)) }

    func laneDone() {
        let (waiters, timers, blocked) = state.withLock { state -> ([CheckedContinuation<Bool, Never>], [ExportExecutor.Timer], [OneShotSignal]) in
            state.remaining -= 1
            guard state.remaining == 0, !state.finished else { return ([], [], []) }
            state.finished = true
            defer {
                state.waiters = [:]
                state.timers = [:]
                state.blockedWaiters = []
            }
            return (Array(state.waiters.values), Array(state.timers.values), state.blockedWaiters)
        }
        for timer in timers { ExportExecutor.shared.cancel(timer) }
        for waiter in waiters { waiter.resume(returning: true) }
        for signal in blocked { signal.signal() }
    }

    private func timeOut(_ id: Int) {
        let waiter = state.withLock { state in
            state.timers[id] = nil
            return state.waiters.removeValue(forKey: id)
        }
        waiter?.resume(returning: false)
    }

    /// `true` when every lane finished before `deadline`. The deadline is kept by a timer on
    /// the library's export threads, so it passes even while the cooperative pool is busy.
    func wait(until deadline: ContinuousClock.Instant) async -> Bool {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        let deadlineNanos = deadline.monotonicNanos
        return await withCheckedContinuation { continuation in
            let immediate = state.withLock { state -> Bool? in
                if state.finished { return true }
                if monotonicNanos() >= deadlineNanos { return false }
                state.waiters[id] = continuation
                return nil
            }
            if let immediate {
                continuation.resume(returning: immediate)
                return
            }
            // The timer only fires past the deadline; if every lane finished first, it finds no
            // waiter. It is cancelled when the lanes finish (or left to fire as a no-op).
            let timer = ExportExecutor.shared.schedule(atMonotonic: deadlineNanos) { [self] in self.timeOut(id) }
            state.withLock { state in
                if state.finished { return }
                state.timers[id] = timer
            }
        }
    }

    /// ``wait(until:)`` for a plain thread: blocks it (never call it from a task).
    func waitBlocking(until deadline: ContinuousClock.Instant) -> Bool {
        let signal = OneShotSignal()
        let registered = state.withLock { state -> Bool in
            if state.finished { return false }
            state.blockedWaiters.append(signal)
            return true
        }
        if !registered { return true }
        return signal.wait(untilMonotonic: deadline.monotonicNanos)
    }
}

/// One signal's exporters behind a serial (or bounded-concurrency) export task.
final class ExportLane<Batch: Sendable>: Sendable {
    enum Command: Sendable {
        case export(Batch, items: Int)
        case flush(FlushTicket)
        case shutdown(FlushTicket)
    }

    let continuation: AsyncStream<Command>.Continuation
    /// Export batches queued or in flight; the worker stops draining this signal's ring at the limit.
    let pendingBatches = ManagedAtomic<Int>(0)
    let exported = ManagedAtomic<Int>(0)
    let failed = ManagedAtomic<Int>(0)
    let maxPendingBatches: Int
    private let task: LockedValue<Task<Void, Never>?> = LockedValue(nil)

    init(name: String, exporters: [AnyBatchExporter<Batch>], maxConcurrentExports: Int,
         diagnostics: @escaping @Sendable (String) -> Void, onProgress: @escaping @Sendable () -> Void) {
        let (stream, continuation) = AsyncStream<Command>.makeStream()
        self.continuation = continuation
        self.maxPendingBatches = maxConcurrentExports + 1
        let pendingBatches = self.pendingBatches
        let exported = self.exported
        let failed = self.failed
        let maxConcurrent = maxConcurrentExports
        // On the library's export threads: exports, their retries and the flush and shutdown
        // commands never wait for a thread of the cooperative pool.
        let task = Task.detached(executorPreference: ExportExecutor.shared) {
            @Sendable func runExport(_ batch: Batch, items: Int) async {
                var ok = true
                for exporter in exporters {
                    do {
                        try await exporter.export(batch)
                    } catch {
                        ok = false
                        diagnostics("\(name) exporter failed: \(error)")
                    }
                }
                // Relaxed: statistics.
                (ok ? exported : failed).wrappingIncrement(by: items, ordering: .relaxed)
                // Releasing: the worker's acquiring read of the pending count sees the lane's progress.
                pendingBatches.wrappingDecrement(ordering: .releasing)
                onProgress()
            }
            await withTaskGroup(of: Void.self) { group in
                var inFlight = 0
                for await command in stream {
                    switch command {
                    case .export(let batch, let items):
                        if inFlight >= maxConcurrent {
                            await group.next()
                            inFlight -= 1
                        }
                        group.addTask { await runExport(batch, items: items) }
                        inFlight += 1
                    case .flush(let ticket):
                        await group.waitForAll()
                        inFlight = 0
                        for exporter in exporters {
                            do { try await exporter.forceFlush() } catch { diagnostics("\(name) exporter flush failed: \(error)") }
                        }
                        ticket.laneDone()
                    case .shutdown(let ticket):
                        await group.waitForAll()
                        inFlight = 0
                        for exporter in exporters {
                            do { try await exporter.forceFlush() } catch { diagnostics("\(name) exporter flush failed: \(error)") }
                            await exporter.shutdown()
                        }
                        ticket.laneDone()
                        return
                    }
                }
            }
        }
        self.task.withLock { $0 = task }
    }

    var isSaturated: Bool {
        // Acquiring: pairs with the lane's releasing decrement.
        pendingBatches.load(ordering: .acquiring) >= maxPendingBatches
    }

    func send(_ batch: Batch, items: Int) {
        // Relaxed: the count is only compared against a limit by this same worker thread and
        // decremented (releasing) by the lane.
        pendingBatches.wrappingIncrement(ordering: .relaxed)
        continuation.yield(.export(batch, items: items))
    }
}

extension Duration {
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        return UInt64(max(0, seconds)) &* 1_000_000_000 &+ UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}

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

    /// Instruments registered so far; the worker picks up new ones each loop.
    private struct Registry {
        var descriptors: [(InstrumentDescriptor, (@Sendable (ObservationRecorder) -> Void)?)] = []
        var ids: [InstrumentDescriptor: UInt32] = [:]
        /// The attribute-free sums of (up-down) counters, by instrument id.
        var accumulators: [UInt32: AtomicSum] = [:]
        /// The same, in registration order, for the statistics.
        var allAccumulators: [AtomicSum] = []
        /// The attribute-free histograms of explicit-bucket histograms, by instrument id.
        var histograms: [UInt32: AtomicHistogram] = [:]
        /// The same, in registration order, for the statistics.
        var allHistograms: [AtomicHistogram] = []
    }
    private let registry = LockedValue(Registry())
    /// Scopes span records refer to unretained (``keepScopeAlive(_:)``).
    /// One storage per distinct scope (by name, version and attributes): asking for the same
    /// tracer again, e.g. per request, reuses it instead of keeping one more for good.
    private let keptScopes = LockedValue<[InstrumentationScope: InstrumentationScope.Storage]>([:])
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
        // round: keeping a burst's worth (up to 65,536 blocks of 512 bytes) made each span start
        // on a block long gone from the caches. But exported batches hold their blocks until
        // they are released, so in a steady stream a wake interval in the ring, the pending
        // batch and the lane's batches are out at once, and the idle count swings by a batch as
        // each is released: a cap of two batches freed and allocated again about one block in
        // sixty (32 k of 2 M spans). Not capped by the queue: with the spec-default queue of
        // 2048, a cap of 2048 is below what a steady stream holds out at once, so blocks would
        // be freed on the exporters' threads and allocated again by producers (not measured).
        // Blocks past the cap are freed.
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
        let worker = PipelineWorker(pipeline: self)
        let thread = Thread { worker.run() }
        thread.name = "swift-otlp pipeline"
        thread.start()
    }

    deinit {
        // The worker holds `self` strongly until shutdown, so deinit only runs after it; every
        // producer holds `self` too, so none can be reading the flag.
        shutDownFlag.destroy()
        // Spans pushed after the worker's final drain: their records go back before the pool goes.
        while let record = spanRing.pop() { spanRecords.discard(record) }
    }

    // MARK: Producer side (lock-free)

    /// Whether ``shutdown(deadline:)`` has begun; records after it are counted and ignored.
    @inlinable
    public var isShutDown: Bool {
        // Relaxed: a late producer racing shutdown may still push; the final drain takes it or
        // (if it lands after the final drain) it is never exported — the same outcome as recording
        // just after shutdown.
        shutDownFlag.load(ordering: .relaxed)
    }

    /// Queues a finished span. Lock-free; drops (and counts) when the ring is full.
    public func recordSpan(_ span: consuming SpanData) {
        if isShutDown {
            droppedAfterShutdown[0].wrappingIncrement(ordering: .relaxed)  // Relaxed: statistic.
            return
        }
        let record = spanRecords.take()
        record.initialize(with: span)
        submitSpanRecord(record)
    }

    /// A pooled record for a span being recorded (see ``SpanRecord``). `scope` must have been
    /// passed to ``keepScopeAlive(_:)``.
    @inlinable
    package func makeSpanRecord(name: String, context: SpanContext, parentSpanID: SpanID?, kind: SpanKind,
                                startTimeUnixNano: UInt64, scope: KeptAliveScope) -> SpanRecord {
        let record = spanRecords.take()
        record.initialize(name: name, context: context, parentSpanID: parentSpanID, kind: kind,
                          startTimeUnixNano: startTimeUnixNano, scope: scope)
        return record
    }

    /// Keeps `scope` alive as long as the pipeline, so span records can refer to it without a
    /// retain per span (tracers call this once). Scopes are few: one per tracer.
    /// Returns the kept scope equal to `scope` (the first one kept, so equal tracers share one
    /// storage) and its unretained reference.
    package func keepScopeAlive(_ scope: InstrumentationScope) -> (scope: InstrumentationScope, reference: KeptAliveScope) {
        let storage = keptScopes.withLock { kept -> InstrumentationScope.Storage in
            if let existing = kept[scope] { return existing }
            kept[scope] = scope.storage
            return scope.storage
        }
        return (InstrumentationScope(storage: storage), KeptAliveScope(reference: Unmanaged.passUnretained(storage)))
    }

    /// How many distinct scopes span records may refer to (for tests).
    package var keptScopeCount: Int { keptScopes.withLock { $0.count } }

    /// Queues a finished span's record (the pipeline owns it from here). Lock-free; a full ring
    /// or a shut-down pipeline drops and counts it, and its block goes back to the pool.
    @inlinable @inline(__always)
    package func submitSpanRecord(_ record: SpanRecord) {
        if isShutDown {
            droppedAfterShutdown[0].wrappingIncrement(ordering: .relaxed)  // Relaxed: statistic.
            spanRecords.discard(record)
            return
        }
        if backpressureWait != 0 {
            guard let position = spanRing.tryPush(record) ?? pushWaitingForRoom(record, into: spanRing) else {
                spanRecords.discard(record)
                return
            }
            if position & spanWakeMask == spanWakeMask { wakeWorkerIfSleeping() }
            return
        }
        guard let position = spanRing.push(record) else {
            spanRecords.discard(record)
            return
        }
        if position & spanWakeMask == spanWakeMask { wakeWorkerIfSleeping() }
    }

    /// The slow path of a producer under ``PipelineConfiguration/Backpressure/wait(maxWait:)``:
    /// the queue was full. Waits for the worker to make room (it broadcasts ``roomAvailable``
    /// after moving items out; the wait is also cut at 1 ms, so a missed broadcast costs at most
    /// that), then pushes, or counts a drop once `backpressureWait` has passed.
    @usableFromInline
    func pushWaitingForRoom<Element>(_ element: Element, into ring: MPSCRingBuffer<Element>) -> Int? {
        let deadline = monotonicNanos() &+ backpressureWait
        // Sequentially consistent: the worker's check of the count after moving items must see
        // us, or we see the room it made in the retry below (Dekker, as with the sleeping flag).
        waitingProducers.wrappingIncrement(ordering: .sequentiallyConsistent)
        defer { waitingProducers.wrappingDecrement(ordering: .relaxed) }
        while true {
            if let position = ring.tryPush(element) { return position }
            wakeWorkerIfSleeping()
            let now = monotonicNanos()
            if now >= deadline || isShutDown {
                ring.countDrop()
                return nil
            }
            roomAvailable.withLock {
                roomAvailable.wait(untilMonotonic: min(deadline, now &+ 1_000_000))
            }
        }
    }

    /// Wakes producers waiting for room, if any (the worker, after moving items out of a ring).
    func signalRoomAvailable() {
        // Sequentially consistent: pairs with the producers' increment (see pushWaitingForRoom).
        if waitingProducers.load(ordering: .sequentiallyConsistent) > 0 {
            roomAvailable.withLock { roomAvailable.broadcast() }
        }
    }

    /// Queues a log record. Lock-free; drops (and counts) when the ring is full.
    @inlinable
    public func recordLog(_ record: consuming LogRecordData) {
        if isShutDown {
            droppedAfterShutdown[2].wrappingIncrement(ordering: .relaxed)  // Relaxed: statistic.
            return
        }
        if backpressureWait != 0 {
            if let position = logRing.tryPush(copy record) ?? pushWaitingForRoom(record, into: logRing),
               position & logWakeMask == logWakeMask {
                wakeWorkerIfSleeping()
            }
            return
        }
        if let position = logRing.push(record), position & logWakeMask == logWakeMask {
            wakeWorkerIfSleeping()
        }
    }

    /// Queues a synchronous measurement for aggregation. Lock-free; drops (and counts) when full.
    @inlinable
    public func recordMeasurement(_ measurement: consuming Measurement) {
        if isShutDown {
            droppedAfterShutdown[1].wrappingIncrement(ordering: .relaxed)  // Relaxed: statistic.
            return
        }
        if backpressureWait != 0 {
            if let position = measurementRing.tryPush(copy measurement) ?? pushWaitingForRoom(measurement, into: measurementRing),
               position & measurementWakeMask == measurementWakeMask {
                wakeWorkerIfSleeping()
            }
            return
        }
        if let position = measurementRing.push(measurement), position & measurementWakeMask == measurementWakeMask {
            wakeWorkerIfSleeping()
        }
    }

    /// Slow path, taken once per wake interval of pushes: wake the worker if it is parked.
    @usableFromInline
    func wakeWorkerIfSleeping() {
        // Sequentially consistent fence: orders our push (tail CAS) before the load of the
        // sleeping flag, pairing with the worker's fence between setting the flag and re-checking
        // the rings (Dekker): either we see the flag, or the worker sees our item.
        atomicMemoryFence(ordering: AtomicUpdateOrdering.sequentiallyConsistent)
        // Relaxed pre-check avoids a read-modify-write on the common "awake" path; the exchange
        // makes only one producer signal per sleep.
        if workerSleeping.load(ordering: .relaxed), workerSleeping.exchange(false, ordering: .acquiringAndReleasing) {
            wakeSemaphore.signal()
        }
    }

    // MARK: Instruments

    /// Registers an instrument (idempotent for an identical descriptor) and returns its id.
    /// Observable instruments pass their callback, run on the worker at every collection.
    public func registerInstrument(_ descriptor: InstrumentDescriptor,
                                   callback: (@Sendable (ObservationRecorder) -> Void)? = nil) -> UInt32 {
        registry.withLock { registry in
            if callback == nil, let id = registry.ids[descriptor] { return id }
            let id = UInt32(registry.descriptors.count)
            registry.descriptors.append((descriptor, callback))
            if callback == nil { registry.ids[descriptor] = id }
            return id
        }
    }

    func registeredInstruments(from index: Int) -> [(InstrumentDescriptor, (@Sendable (ObservationRecorder) -> Void)?)] {
        registry.withLock { Array($0.descriptors.dropFirst(index)) }
    }

    /// The lock-free sum for the attribute-free measurements of counter or up-down counter `id`
    /// (one per instrument, made on first request). `nil` for other kinds.
    public func sumAccumulator(for id: UInt32) -> AtomicSum? {
        registry.withLock { registry in
            guard Int(id) < registry.descriptors.count else { return nil }
            let descriptor = registry.descriptors[Int(id)].0
            guard descriptor.kind == .counter || descriptor.kind == .upDownCounter else { return nil }
            if let existing = registry.accumulators[id] { return existing }
            let accumulator = AtomicSum(isDouble: descriptor.isDouble)
            registry.accumulators[id] = accumulator
            registry.allAccumulators.append(accumulator)
            return accumulator
        }
    }

    /// Takes every accumulator's sum since the last call. Worker only.
    func takeAccumulatedSums() -> [(UInt32, MetricNumber)] {
        let accumulators = registry.withLock { $0.accumulators }
        return accumulators.compactMap { id, accumulator in accumulator.take().map { (id, $0) } }
    }

    /// The lock-free histogram for the attribute-free records of histogram `id` when it has
    /// explicit buckets (one per instrument, made on first request). `nil` for other kinds and for
    /// base-2 exponential histograms, whose records all go through the ring.
    public func histogramAccumulator(for id: UInt32) -> AtomicHistogram? {
        registry.withLock { registry in
            guard Int(id) < registry.descriptors.count else { return nil }
            let descriptor = registry.descriptors[Int(id)].0
            guard descriptor.kind == .histogram, case .explicitBuckets(let bounds) = descriptor.histogramAggregation
            else { return nil }
            if let existing = registry.histograms[id] { return existing }
            let histogram = AtomicHistogram(bounds: bounds)
            registry.histograms[id] = histogram
            registry.allHistograms.append(histogram)
            return histogram
        }
    }

    /// Takes every accumulated histogram's records since the last call. Worker only.
    func takeAccumulatedHistograms() -> [(UInt32, AtomicHistogram.Taken)] {
        let histograms = registry.withLock { $0.histograms }
        return histograms.compactMap { id, histogram in histogram.take().map { (id, $0) } }
    }

    /// Measurements counted by the accumulators (accepted without a ring push).
    private var accumulatedMeasurementCount: Int {
        registry.withLock { registry in
            registry.allAccumulators.reduce(0) { $0 + $1.addedCount }
                + registry.allHistograms.reduce(0) { $0 + $1.recordedCount }
        }
    }

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
    /// Throws ``TelemetryError/Code/timedOut`` past `deadline`.
    public func shutdown(deadline: ContinuousClock.Instant) async throws {
        let ticket = queueShutdown()
        guard await ticket.wait(until: deadline) else {
            throw TelemetryError(code: .timedOut, message: "shutdown did not complete before its deadline")
        }
    }

    /// ``shutdown(deadline:)`` for synchronous code: blocks the calling thread until shutdown is
    /// done or `timeout` has passed. Do not call it from a task; use the async variant there.
    public func shutdownSynchronously(timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        guard queueShutdown().waitBlocking(until: deadline) else {
            throw TelemetryError(code: .timedOut, message: "shutdown did not complete before its deadline")
        }
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
                exported: spanLane.exported.load(ordering: .relaxed), failed: spanLane.failed.load(ordering: .relaxed))
        case .metrics:
            return SignalStatistics(
                accepted: measurementRing.acceptedCount + accumulatedMeasurementCount, dropped: measurementRing.droppedCount,
                droppedAfterShutdown: droppedAfterShutdown[1].load(ordering: .relaxed),
                exported: metricLane.exported.load(ordering: .relaxed), failed: metricLane.failed.load(ordering: .relaxed))
        case .logs:
            return SignalStatistics(
                accepted: logRing.acceptedCount, dropped: logRing.droppedCount,
                droppedAfterShutdown: droppedAfterShutdown[2].load(ordering: .relaxed),
                exported: logLane.exported.load(ordering: .relaxed), failed: logLane.failed.load(ordering: .relaxed))
        }
    }
}
