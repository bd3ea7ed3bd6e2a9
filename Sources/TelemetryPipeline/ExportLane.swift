import Atomics
import OTLPSync
import TelemetryCore

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
    let maxPendingBatches: Int
    private let task: LockedValue<Task<Void, Never>?> = LockedValue(nil)
    private let exporters: [AnyBatchExporter<Batch>]

    /// Items handed to the lane and their outcomes. Under a lock (taken once per batch, never per
    /// item) so that abandoning the lane counts every outstanding item exactly once.
    struct Tally: Sendable {
        var sent = 0
        var exported = 0
        var failed = 0
        /// Set by ``abandon()``: outstanding items were counted as failed; exports finishing
        /// afterwards are not counted again.
        var abandoned = false
    }
    private let tally = LockedValue(Tally())

    /// Items in batches every exporter accepted.
    var exported: Int { tally.withLock { $0.exported } }
    /// Items in batches an exporter failed, and, once abandoned, every item not exported by then.
    var failed: Int { tally.withLock { $0.failed } }

    init(name: String, exporters: [AnyBatchExporter<Batch>], maxConcurrentExports: Int,
         diagnostics: @escaping @Sendable (String) -> Void, onProgress: @escaping @Sendable () -> Void) {
        let (stream, continuation) = AsyncStream<Command>.makeStream()
        self.continuation = continuation
        self.maxPendingBatches = maxConcurrentExports + 1
        self.exporters = exporters
        let pendingBatches = self.pendingBatches
        let tally = self.tally
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
                tally.withLock { tally in
                    guard !tally.abandoned else { return }
                    if ok { tally.exported += items } else { tally.failed += items }
                }
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
        let abandoned = tally.withLock { tally -> Bool in
            if tally.abandoned { tally.failed += items } else { tally.sent += items }
            return tally.abandoned
        }
        if !abandoned { continuation.yield(.export(batch, items: items)) }
    }

    /// Gives up on everything the lane still holds (a shutdown past its deadline): counts every
    /// item not exported yet as failed, cancels the lane (queued batches are never sent, a retry
    /// waiting for its back-off ends) and shuts the exporters down from a cancelled task, which
    /// tells the OTLP exporters to close their connections at once instead of letting requests
    /// in flight finish. Idempotent.
    func abandon() {
        let first = tally.withLock { tally -> Bool in
            guard !tally.abandoned else { return false }
            tally.abandoned = true
            tally.failed += tally.sent - tally.exported - tally.failed
            return true
        }
        guard first else { return }
        task.withLock { $0 }?.cancel()
        let exporters = self.exporters
        Task.detached(executorPreference: ExportExecutor.shared) {
            withUnsafeCurrentTask { $0?.cancel() }
            for exporter in exporters { await exporter.shutdown() }
        }
    }
}

extension Duration {
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        return UInt64(max(0, seconds)) &* 1_000_000_000 &+ UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}
