// The closed loops the benchmarks time calls with, for any client: a fixed number of calls in
// flight until a total has completed, through a completion-handler API or an async one.
import Dispatch
import Synchronization

/// Issues `total` operations keeping `inFlight` outstanding; `operation` calls its argument when
/// done, with whether the operation ended OK.
public final class ClosedLoop: @unchecked Sendable {
    private struct State { var issued = 0; var completed = 0; var failures = 0 }
    private let state = Mutex(State())
    private let done = DispatchSemaphore(value: 0)
    private let total: Int
    private let operation: @Sendable (@escaping @Sendable (Bool) -> Void) -> Void

    public init(total: Int, operation: @escaping @Sendable (@escaping @Sendable (Bool) -> Void) -> Void) {
        self.total = total
        self.operation = operation
    }

    /// Runs the loop to the end, blocking the calling thread; how many operations did not end OK.
    public func run(inFlight: Int) -> Int {
        for _ in 0..<min(inFlight, total) { issue() }
        done.wait()
        return state.withLock { $0.failures }
    }

    private func issue() {
        let go = state.withLock { state -> Bool in
            guard state.issued < total else { return false }
            state.issued += 1
            return true
        }
        guard go else { return }
        operation { [self] ok in
            let finished = state.withLock { state -> Bool in
                state.completed += 1
                if !ok { state.failures += 1 }
                return state.completed == total
            }
            if finished { done.signal() } else { issue() }
        }
    }
}

/// `count` calls from `inFlight` tasks, each making its share one after the other; the failures.
public func runClosedLoop(_ count: Int, inFlight: Int, _ call: @escaping @Sendable () async -> Bool) async -> Int {
    await withTaskGroup(of: Int.self) { group in
        for worker in 0..<inFlight {
            let share = count / inFlight + (worker < count % inFlight ? 1 : 0)
            group.addTask {
                var failures = 0
                for _ in 0..<share where !(await call()) { failures += 1 }
                return failures
            }
        }
        return await group.reduce(0, +)
    }
}
