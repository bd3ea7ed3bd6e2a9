import OTLPSync
import Atomics
import Dispatch
import TelemetryCore

/// The pipeline's single consumer. All its state is touched only on the worker thread.
final class PipelineWorker: @unchecked Sendable {
    let pipeline: Pipeline
    let configuration: PipelineConfiguration
    /// Scheduling time (``PipelineConfiguration/schedulingClock``).
    let clock: any SchedulingClock

    /// Span records moved out of the ring, still in their blocks (batches carry the blocks).
    private var pendingSpans: [SpanRecord] = []
    private var pendingSpansSince: UInt64 = 0
    private var pendingLogs: [LogRecordData] = []
    private var pendingLogsSince: UInt64 = 0
    /// When the worker first saw spans (log records) waiting in their ring, fewer than a wake
    /// interval's worth, that it has not moved yet (nil: the ring was empty when last looked at).
    private var spansWaitingSince: UInt64?
    private var logsWaitingSince: UInt64?
    private var instruments: [InstrumentAggregation] = []
    private var nextMetricCollection: UInt64
    private var nextDropReport: UInt64
    private var reportedDrops: [Int] = [0, 0, 0]
    private var reportedUnknownInstrument = false

    init(pipeline: Pipeline) {
        self.pipeline = pipeline
        self.configuration = pipeline.configuration
        self.clock = pipeline.configuration.schedulingClock
        let now = clock.nowNanoseconds()
        nextMetricCollection = now &+ configuration.metrics.exportInterval.nanoseconds
        nextDropReport = now &+ configuration.dropReportInterval.nanoseconds
    }

    deinit {
        // Records moved out of the ring but never cut into a batch (no flush before the end).
        for record in pendingSpans { pipeline.spanRecords.discard(record) }
    }

    func run() {
        while true {
            let commands = pipeline.takeCommands()
            var worked = false
            for command in commands {
                switch command {
                case .flush(let ticket):
                    flushEverything()
                    pipeline.spanLane.continuation.yield(.flush(ticket))
                    pipeline.metricLane.continuation.yield(.flush(ticket))
                    pipeline.logLane.continuation.yield(.flush(ticket))
                case .shutdown(let ticket):
                    flushEverything()
                    pipeline.spanLane.continuation.yield(.shutdown(ticket))
                    pipeline.metricLane.continuation.yield(.shutdown(ticket))
                    pipeline.logLane.continuation.yield(.shutdown(ticket))
                    pipeline.spanLane.continuation.finish()
                    pipeline.metricLane.continuation.finish()
                    pipeline.logLane.continuation.finish()
                    reportDrops()
                    return
                }
            }
            var now = clock.nowNanoseconds()
            switch spansDue(now: now) {
            case .no: break
            case .wakeInterval: worked = drainSpans(flushing: false, everything: false) || worked
            case .delay: worked = drainSpans(flushing: false, everything: true) || worked
            }
            switch logsDue(now: now) {
            case .no: break
            case .wakeInterval: worked = drainLogs(flushing: false, everything: false) || worked
            case .delay: worked = drainLogs(flushing: false, everything: true) || worked
            }
            worked = drainMeasurements(maxCount: 4096) || worked
            if worked { pipeline.signalRoomAvailable() }
            now = clock.nowNanoseconds()
            if !pendingSpans.isEmpty, now &- pendingSpansSince >= configuration.traces.scheduledDelay.nanoseconds,
               !pipeline.spanLane.isSaturated {
                cutSpanBatch()
                worked = true
            }
            if !pendingLogs.isEmpty, now &- pendingLogsSince >= configuration.logs.scheduledDelay.nanoseconds,
               !pipeline.logLane.isSaturated {
                cutLogBatch()
                worked = true
            }
            if now >= nextMetricCollection {
                drainMeasurements(maxCount: .max)
                collectMetrics()
                nextMetricCollection = now &+ configuration.metrics.exportInterval.nanoseconds
                worked = true
            }
            if now >= nextDropReport {
                reportDrops()
                nextDropReport = now &+ configuration.dropReportInterval.nanoseconds
            }
            if !worked { park(now: now) }
        }
    }

    // MARK: Sleeping

    private func park(now: UInt64) {
        var wait = configuration.idlePollInterval.nanoseconds
        // The oldest span (log record) waiting, in its ring or the pending batch, is due after
        // the scheduled delay. A saturated lane wakes us itself when an export finishes (waking
        // for a batch it cannot take would spin).
        if !pipeline.spanLane.isSaturated {
            wait = min(wait, Self.wait(now: now, waitingSince: spansWaitingSince, pendingSince: pendingSpans.isEmpty ? nil : pendingSpansSince,
                                       delay: configuration.traces.scheduledDelay.nanoseconds))
        }
        if !pipeline.logLane.isSaturated {
            wait = min(wait, Self.wait(now: now, waitingSince: logsWaitingSince, pendingSince: pendingLogs.isEmpty ? nil : pendingLogsSince,
                                       delay: configuration.logs.scheduledDelay.nanoseconds))
        }
        wait = min(wait, nextMetricCollection > now ? nextMetricCollection - now : 0)
        wait = min(wait, nextDropReport > now ? nextDropReport - now : 0)
        if wait == 0 { return }
        // Sequentially consistent store + fence: pairs with the producers' fence in
        // `wakeWorkerIfSleeping` so that a push racing this park is either seen by the re-check
        // below or sees the flag and signals.
        pipeline.workerSleeping.store(true, ordering: AtomicStoreOrdering.sequentiallyConsistent)
        atomicMemoryFence(ordering: AtomicUpdateOrdering.sequentiallyConsistent)
        if hasWorkReady() {
            pipeline.workerSleeping.store(false, ordering: .relaxed)
            return
        }
        _ = pipeline.wakeSemaphore.wait(timeout: .now() + .nanoseconds(Int(min(wait, UInt64(Int.max)))))
        // Relaxed: whether a producer or the timeout woke us, we re-check everything anyway.
        pipeline.workerSleeping.store(false, ordering: .relaxed)
    }

    /// Nanoseconds until the oldest of the waiting records is due (`.max` when none waits).
    private static func wait(now: UInt64, waitingSince: UInt64?, pendingSince: UInt64?, delay: UInt64) -> UInt64 {
        let oldest = min(waitingSince ?? .max, pendingSince ?? .max)
        guard oldest != .max else { return .max }
        let due = oldest &+ delay
        return due &- min(now, due)
    }

    private func hasWorkReady() -> Bool {
        if pipeline.hasCommands { return true }
        if pipeline.spanRing.count > pipeline.spanWakeMask, !pipeline.spanLane.isSaturated { return true }
        if pipeline.logRing.count > pipeline.logWakeMask, !pipeline.logLane.isSaturated { return true }
        if pipeline.measurementRing.count > pipeline.measurementWakeMask { return true }
        return false
    }

    // MARK: Spans and logs

    /// Why records are to be moved out of a ring now.
    private enum Due {
        /// Not yet: fewer than a wake interval's worth are queued and none has waited long.
        case no
        /// A wake interval's worth (the batch size, at most half the ring) is queued: move whole
        /// intervals and leave the rest.
        case wakeInterval
        /// The oldest waiting record, in the ring or the pending batch, has waited the scheduled
        /// delay: move everything.
        case delay
    }

    /// Whether to move spans out of the ring now.
    ///
    /// Moving whatever is there on every pass would make a worker that keeps up chase the
    /// producers' head: it would read each ring slot, and give each block back to the pool, right
    /// behind a producer writing the same cache lines, so every span would move lines between the
    /// cores several more times. Taken a wake interval at a time, the lines it reads were finished
    /// with long before.
    private func spansDue(now: UInt64) -> Due {
        Self.due(queued: pipeline.spanRing.count, wakeMask: pipeline.spanWakeMask, now: now,
                 waitingSince: &spansWaitingSince, pendingSince: pendingSpans.isEmpty ? nil : pendingSpansSince,
                 delay: configuration.traces.scheduledDelay.nanoseconds)
    }

    /// ``spansDue(now:)`` for log records.
    private func logsDue(now: UInt64) -> Due {
        Self.due(queued: pipeline.logRing.count, wakeMask: pipeline.logWakeMask, now: now,
                 waitingSince: &logsWaitingSince, pendingSince: pendingLogs.isEmpty ? nil : pendingLogsSince,
                 delay: configuration.logs.scheduledDelay.nanoseconds)
    }

    private static func due(queued: Int, wakeMask: Int, now: UInt64, waitingSince: inout UInt64?,
                            pendingSince: UInt64?, delay: UInt64) -> Due {
        if queued == 0 {
            waitingSince = nil
            return .no
        }
        let since = waitingSince ?? now
        waitingSince = since
        if now &- min(since, pendingSince ?? .max) >= delay { return .delay }
        return queued > wakeMask ? .wakeInterval : .no
    }

    /// Moves spans from the ring into the pending batch, cutting full batches while the lane has
    /// room. `flushing` drains everything queued when it started and cuts a final partial batch.
    /// `everything` (or `flushing`) moves all that is queued; otherwise whole wake intervals are
    /// moved and fewer are left in the ring (``spansDue(now:)``).
    @discardableResult
    private func drainSpans(flushing: Bool, everything: Bool = true) -> Bool {
        let batchSize = configuration.traces.maxExportBatchSize
        var remaining = flushing ? pipeline.spanRing.count : Int.max
        var worked = false
        defer { spansWaitingSince = waitingSince(afterDrainOf: pipeline.spanRing.count, worked: worked, was: spansWaitingSince) }
        while true {
            if pendingSpans.count >= batchSize {
                if !flushing && pipeline.spanLane.isSaturated { return worked }
                cutSpanBatch()
                worked = true
            }
            if !flushing && !everything && pipeline.spanRing.count <= pipeline.spanWakeMask { break }
            let room = min(batchSize - pendingSpans.count, remaining)
            if room <= 0 { break }
            let wasEmpty = pendingSpans.isEmpty
            let moved = moveSpans(maxCount: room)
            if moved == 0 { break }
            if wasEmpty { pendingSpansSince = spansWaitingSince ?? clock.nowNanoseconds() }
            remaining -= moved
            worked = true
        }
        if flushing && !pendingSpans.isEmpty { cutSpanBatch() }
        return worked
    }

    /// When the records left in a ring after a drain count as waiting from: those left by a drain
    /// that moved some arrived during it or were fewer than a wake interval, so their wait starts
    /// now (keeping the old time would make every later pass due by delay, chasing the head).
    private func waitingSince(afterDrainOf queued: Int, worked: Bool, was: UInt64?) -> UInt64? {
        if queued == 0 { return nil }
        return worked ? clock.nowNanoseconds() : was
    }

    /// Pops up to `maxCount` records from `ring` onto the end of `pending`. The array is taken
    /// out of the worker's stored property for the loop, so each record moves from the ring into
    /// it: appending to the property from inside a drain closure makes the optimizer copy every
    /// record (retaining its strings and arrays) and destroy the original.
    private static func move<Record>(maxCount: Int, from ring: MPSCRingBuffer<Record>, into pending: inout [Record]) -> Int {
        var records: [Record] = []
        swap(&records, &pending)
        defer { swap(&records, &pending) }
        var moved = 0
        while moved < maxCount, let record = ring.pop() {
            records.append(record)
            moved += 1
        }
        return moved
    }

    /// Pops up to `maxCount` span records onto the end of the pending batch. Only the handles
    /// move: the spans stay in their blocks until the batch is released (``SpanRecordList``).
    private func moveSpans(maxCount: Int) -> Int {
        Self.move(maxCount: maxCount, from: pipeline.spanRing, into: &pendingSpans)
    }

    private func cutSpanBatch() {
        let records = pendingSpans
        pendingSpans = []
        pendingSpans.reserveCapacity(min(configuration.traces.maxExportBatchSize, 1024))
        let list = SpanRecordList(records: records, pool: pipeline.spanRecords)
        pipeline.spanLane.send(SpanBatch(resource: pipeline.resource, pooled: list), items: records.count)
    }

    /// ``drainSpans(flushing:everything:)`` for log records.
    @discardableResult
    private func drainLogs(flushing: Bool, everything: Bool = true) -> Bool {
        let batchSize = configuration.logs.maxExportBatchSize
        var remaining = flushing ? pipeline.logRing.count : Int.max
        var worked = false
        defer { logsWaitingSince = waitingSince(afterDrainOf: pipeline.logRing.count, worked: worked, was: logsWaitingSince) }
        while true {
            if pendingLogs.count >= batchSize {
                if !flushing && pipeline.logLane.isSaturated { return worked }
                cutLogBatch()
                worked = true
            }
            if !flushing && !everything && pipeline.logRing.count <= pipeline.logWakeMask { break }
            let room = min(batchSize - pendingLogs.count, remaining)
            if room <= 0 { break }
            let wasEmpty = pendingLogs.isEmpty
            let moved = Self.move(maxCount: room, from: pipeline.logRing, into: &pendingLogs)
            if moved == 0 { break }
            if wasEmpty { pendingLogsSince = logsWaitingSince ?? clock.nowNanoseconds() }
            remaining -= moved
            worked = true
        }
        if flushing && !pendingLogs.isEmpty { cutLogBatch() }
        return worked
    }

    private func cutLogBatch() {
        let records = pendingLogs
        pendingLogs = []
        pipeline.logLane.send(LogBatch(resource: pipeline.resource, records: records), items: records.count)
    }

    // MARK: Metrics

    private func refreshInstruments() {
        let added = pipeline.instruments.registeredInstruments(from: instruments.count)
        let now = configuration.clock.nowUnixNano()
        for (descriptor, callback) in added {
            instruments.append(InstrumentAggregation(
                descriptor: descriptor, temporality: configuration.metrics.temporality,
                cardinalityLimit: configuration.metrics.cardinalityLimit, callback: callback, startTimeUnixNano: now))
        }
    }

    @discardableResult
    private func drainMeasurements(maxCount: Int) -> Bool {
        let moved = pipeline.measurementRing.drain(maxCount: maxCount) { measurement in
            let index = Int(measurement.instrument)
            // An instrument is in the registry before its id is handed out, so one refresh always
            // finds it. Refresh for every unknown id, not once per drain: producers keep creating
            // instruments while a drain runs.
            if index >= instruments.count { refreshInstruments() }
            guard index < instruments.count else {
                // Only a caller inventing ids gets here; say so once instead of stopping the worker.
                if !reportedUnknownInstrument {
                    reportedUnknownInstrument = true
                    configuration.diagnostics("ignored measurements for instrument id \(index), which was never registered")
                }
                return
            }
            instruments[index].record(measurement.value, attributes: measurement.attributes)
        }
        return moved > 0
    }

    private func collectMetrics() {
        refreshInstruments()
        // Attribute-free (up-down) counter measurements summed on the producers' side.
        for (id, sum) in pipeline.instruments.takeAccumulatedSums() where Int(id) < instruments.count {
            instruments[Int(id)].record(sum, attributes: [])
        }
        // Attribute-free explicit-bucket histogram records, bucketed on the producers' side.
        for (id, taken) in pipeline.instruments.takeAccumulatedHistograms() where Int(id) < instruments.count {
            instruments[Int(id)].merge(taken)
        }
        let now = configuration.clock.nowUnixNano()
        let metrics = instruments.compactMap { $0.collect(now: now) }
        guard !metrics.isEmpty else { return }
        let batch = MetricBatch(resource: pipeline.resource, metrics: metrics)
        pipeline.metricLane.send(batch, items: batch.pointCount)
    }

    // MARK: Flush

    private func flushEverything() {
        drainSpans(flushing: true)
        drainLogs(flushing: true)
        drainMeasurements(maxCount: pipeline.measurementRing.count)
        pipeline.signalRoomAvailable()
        collectMetrics()
        nextMetricCollection = clock.nowNanoseconds() &+ configuration.metrics.exportInterval.nanoseconds
    }

    // MARK: Self-observability

    private func reportDrops() {
        for (index, signal) in TelemetrySignal.allCases.enumerated() {
            let statistics = pipeline.statistics(signal)
            let dropped = statistics.dropped
            if dropped > reportedDrops[index] {
                configuration.diagnostics(
                    "dropped \(dropped - reportedDrops[index]) \(signal.itemsName) because the buffer was full "
                        + "(accepted \(statistics.accepted), dropped \(dropped), exported \(statistics.exported), failed \(statistics.failed) in total)")
                reportedDrops[index] = dropped
            }
        }
    }
}
