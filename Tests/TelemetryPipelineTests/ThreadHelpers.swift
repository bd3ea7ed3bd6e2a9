import Atomics
import Foundation

/// Multiplier for stress-test iteration counts: `OTLP_STRESS_SCALE=20 swift test ...` runs 20× longer.
let stressScale: Int = {
    if let text = ProcessInfo.processInfo.environment["OTLP_STRESS_SCALE"], let value = Int(text), value > 0 {
        return value
    }
    return 1
}()

/// Runs `body(index)` on `count` fresh OS threads (not the cooperative pool: producers may spin)
/// and returns when all have finished.
func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let done = DispatchSemaphore(value: 0)
    for index in 0..<count {
        let thread = Thread {
            body(index)
            done.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    for _ in 0..<count { done.wait() }
}

/// Live/destroyed counts for one test (tests run in parallel, so each has its own).
final class LifetimeCounters: Sendable {
    let live = ManagedAtomic<Int>(0)
    let destroyed = ManagedAtomic<Int>(0)
}

/// An object that counts its live instances, to prove a container neither leaks nor double-frees.
final class LifetimeTracked: Sendable {
    let counters: LifetimeCounters
    let value: Int
    init(_ value: Int, _ counters: LifetimeCounters) {
        self.value = value
        self.counters = counters
        counters.live.wrappingIncrement(ordering: .relaxed)
    }
    deinit {
        counters.live.wrappingDecrement(ordering: .relaxed)
        counters.destroyed.wrappingIncrement(ordering: .relaxed)
    }
}

/// ``runOnThreads(_:_:)`` without blocking a Swift-concurrency pool thread while the threads run
/// (a blocked pool starves other tests' export tasks on a 2-core machine).
func runOnThreadsAsync(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        Thread {
            runOnThreads(count, body)
            continuation.resume()
        }.start()
    }
}

/// Runs a blocking `body` on a fresh thread and awaits it, keeping the concurrency pool free.
func offPool<Result: Sendable>(_ body: @escaping @Sendable () -> Result) async -> Result {
    await withCheckedContinuation { (continuation: CheckedContinuation<Result, Never>) in
        Thread { continuation.resume(returning: body()) }.start()
    }
}

