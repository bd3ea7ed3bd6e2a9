import Atomics
import Dispatch

/// The pipeline's single consumer. All its state is touched only on the worker thread.
final class PipelineWorker: @unchecked Sendable {
    let pipeline: Pipeline
    let configuration: PipelineConfiguration

    private var pendingSpans: [SpanData] = []
    private var pendingSpansSince: UInt64 = 0
    private var pendingLogs: [LogRecordData] = []
    private var pendingLogsSince: UInt64 = 0
    private var instruments: [InstrumentAggregation] = []
    private var nextMetricCollection: UInt64
    private var nextDropReport: UInt64
    private var reportedDrops: [Int] = [0, 0, 0]
    private var reportedUnknownInstrument = false

    init(pipeline: Pipeline) {
        self.pipeline = pipeline
        self.configuration = pipeline.configuration
        let now = monotonicNanos()
        nextMetricCollection = now &+ configuration.metrics.exportInterval.nanoseconds
        nextDropReport = now &+ configuration.dropReportInterval.nanoseconds
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
            worked = drainSpans(flushing: false) || worked
            worked = drainLogs(flushing: false) || worked
            worked = drainMeasurements(maxCount: 4096) || worked
            let now = monotonicNanos()
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
        if !pendingSpans.isEmpty {
            wait = min(wait, (pendingSpansSince &+ configuration.traces.scheduledDelay.nanoseconds) &- min(now, pendingSpansSince &+ configuration.traces.scheduledDelay.nanoseconds))
        }
        if !pendingLogs.isEmpty {
            wait = min(wait, (pendingLogsSince &+ configuration.logs.scheduledDelay.nanoseconds) &- min(now, pendingLogsSince &+ configuration.logs.scheduledDelay.nanoseconds))
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

    private func hasWorkReady() -> Bool {
        if pipeline.hasCommands { return true }
        if pipeline.spanRing.count > pipeline.spanWakeMask, !pipeline.spanLane.isSaturated { return true }
        if pipeline.logRing.count > pipeline.logWakeMask, !pipeline.logLane.isSaturated { return true }
        if pipeline.measurementRing.count > pipeline.measurementWakeMask { return true }
        return false
    }

    // MARK: Spans and logs

    /// Moves spans from the ring into the pending batch, cutting full batches while the lane has
    /// room. `flushing` drains everything queued when it started and cuts a final partial batch.
    @discardableResult
    private func drainSpans(flushing: Bool) -> Bool {
        let batchSize = configuration.traces.maxExportBatchSize
        var remaining = flushing ? pipeline.spanRing.count : Int.max
        var worked = false
        while true {
            if pendingSpans.count >= batchSize {
                if !flushing && pipeline.spanLane.isSaturated { return worked }
                cutSpanBatch()
                worked = true
            }
            let room = min(batchSize - pendingSpans.count, remaining)
            if room <= 0 { break }
            let wasEmpty = pendingSpans.isEmpty
            let moved = moveSpans(maxCount: room)
            if moved == 0 { break }
            if wasEmpty { pendingSpansSince = monotonicNanos() }
            remaining -= moved
            worked = true
        }
        if flushing && !pendingSpans.isEmpty { cutSpanBatch() }
        return worked
    }

    /// Pops up to `maxCount` records from `ring` onto the end of `pending`. The array is taken
    /// out of the worker's stored property for the loop, so each record moves from the ring into
    /// it: appending to the property from inside a drain closure made the optimizer copy every
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

    /// Pops up to `maxCount` span records, moving each one's data onto the end of the pending
    /// batch and giving its block back to the pool.
    private func moveSpans(maxCount: Int) -> Int {
        var spans: [SpanData] = []
        swap(&spans, &pendingSpans)
        defer { swap(&spans, &pendingSpans) }
        let ring = pipeline.spanRing
        let pool = pipeline.spanRecords
        var moved = 0
        var scopeRetains = ScopeRetains()
        while moved < maxCount, let record = ring.pop() {
            // The block after the next one comes into the cache while these two are moved out.
            ring.published(ahead: 1)?.prefetch(forWriting: false)
            spans.append(record.takeData(scopeRetains: &scopeRetains))
            pool.giveBack(record)
            moved += 1
        }
        scopeRetains.apply()  // before the spans can leave this thread
        return moved
    }

    private func cutSpanBatch() {
        let spans = pendingSpans
        pendingSpans = []
        pendingSpans.reserveCapacity(min(configuration.traces.maxExportBatchSize, 1024))
        pipeline.spanLane.send(SpanBatch(resource: pipeline.resource, spans: spans), items: spans.count)
    }

    @discardableResult
    private func drainLogs(flushing: Bool) -> Bool {
        let batchSize = configuration.logs.maxExportBatchSize
        var remaining = flushing ? pipeline.logRing.count : Int.max
        var worked = false
        while true {
            if pendingLogs.count >= batchSize {
                if !flushing && pipeline.logLane.isSaturated { return worked }
                cutLogBatch()
                worked = true
            }
            let room = min(batchSize - pendingLogs.count, remaining)
            if room <= 0 { break }
            let wasEmpty = pendingLogs.isEmpty
            let moved = Self.move(maxCount: room, from: pipeline.logRing, into: &pendingLogs)
            if moved == 0 { break }
            if wasEmpty { pendingLogsSince = monotonicNanos() }
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
        let added = pipeline.registeredInstruments(from: instruments.count)
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
        for (id, sum) in pipeline.takeAccumulatedSums() where Int(id) < instruments.count {
            instruments[Int(id)].record(sum, attributes: [])
        }
        // Attribute-free explicit-bucket histogram records, bucketed on the producers' side.
        for (id, taken) in pipeline.takeAccumulatedHistograms() where Int(id) < instruments.count {
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
        collectMetrics()
        nextMetricCollection = monotonicNanos() &+ configuration.metrics.exportInterval.nanoseconds
    }

    // MARK: Self-observability

    private func reportDrops() {
        for (index, signal) in TelemetrySignal.allCases.enumerated() {
            let statistics = pipeline.statistics(signal)
            let dropped = statistics.dropped
            if dropped > reportedDrops[index] {
                configuration.diagnostics(
                    "dropped \(dropped - reportedDrops[index]) \(signal) because the buffer was full "
                        + "(accepted \(statistics.accepted), dropped \(dropped), exported \(statistics.exported), failed \(statistics.failed) in total)")
                reportedDrops[index] = dropped
            }
        }
    }
}
