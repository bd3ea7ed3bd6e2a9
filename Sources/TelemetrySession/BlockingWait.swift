// Synchronous flush and shutdown for callers outside Swift concurrency.

import Dispatch
import OTLPSync
import Telemetry

/// Runs an async flush or shutdown for a synchronous caller: on a plain thread it waits (a
/// semaphore, at most the timeout); inside a Swift concurrency task it never waits, since that
/// would block a thread of the cooperative pool the work itself may need.
enum BlockingWait {
    enum Outcome {
        /// The work ended, with its error if it threw.
        case finished((any Error)?)
        /// The timeout passed first (the work goes on, bounded by its own deadline).
        case timedOut
        /// Called inside a task: the work was started and not waited for.
        case insideTask
    }

    static func run(timeout: Duration, _ work: @escaping @Sendable () async throws -> Void) -> Outcome {
        let result = LockedValue<Result<Void, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            let outcome: Result<Void, any Error>
            do { try await work(); outcome = .success(()) } catch { outcome = .failure(error) }
            result.withLock { $0 = outcome }
            done.signal()
        }
        if withUnsafeCurrentTask(body: { $0 != nil }) { return .insideTask }
        let (seconds, attoseconds) = max(timeout, .zero).components
        let nanoseconds = Int(clamping: seconds).multipliedReportingOverflow(by: 1_000_000_000)
        let total = nanoseconds.overflow ? Int.max : nanoseconds.partialValue &+ Int(attoseconds / 1_000_000_000)
        guard done.wait(timeout: .now() + .nanoseconds(total)) == .success else { return .timedOut }
        switch result.withLock({ $0 }) {
        case .failure(let error)?: return .finished(error)
        case .success?, nil: return .finished(nil)
        }
    }
}
