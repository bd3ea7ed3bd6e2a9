public import Atomics
import OTLPSync
public import TelemetryCore

// The signal queues' producer side: lock-free pushes into the rings, counted drops, the optional
// wait for room, and waking the worker.
extension Pipeline {
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
}
