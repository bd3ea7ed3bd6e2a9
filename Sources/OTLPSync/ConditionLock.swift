#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic nanoseconds (`CLOCK_MONOTONIC`): the time base of the library's timers and deadlines.
@inline(__always)
public func monotonicNanos() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
}

extension Duration {
    /// The duration in whole nanoseconds, negative durations as zero.
    public var clampedNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole &+ UInt64(attoseconds / 1_000_000_000)
    }
}

extension ContinuousClock.Instant {
    /// This instant on the ``monotonicNanos()`` time base (past instants map to now or earlier).
    public var monotonicNanos: UInt64 {
        let now = ContinuousClock.now
        let base = OTLPSync.monotonicNanos()
        if self <= now { return base &- min(base, (now - self).clampedNanoseconds) }
        let ahead = (self - now).clampedNanoseconds
        return base > UInt64.max - ahead ? .max : base &+ ahead
    }
}

/// A pthread mutex with a condition variable whose timed waits use `CLOCK_MONOTONIC`.
///
/// pthread primitives rather than `Synchronization.Mutex`: ThreadSanitizer intercepts them, so
/// the `--sanitize=thread` runs see the happens-before edges they create.
public final class ConditionLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init failed")
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        precondition(pthread_cond_init(condition, &attributes) == 0, "pthread_cond_init failed")
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deinitialize(count: 1)
        condition.deallocate()
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }

    /// Runs `body` holding the lock.
    public func withLock<Result>(_ body: () throws -> Result) rethrows -> Result {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Wakes one waiter. Call holding the lock, after changing what waiters check.
    public func signal() { pthread_cond_signal(condition) }
    /// Wakes every waiter. Call holding the lock, after changing what waiters check.
    public func broadcast() { pthread_cond_broadcast(condition) }

    /// Waits for a signal (holding the lock; spurious wake-ups happen: re-check in a loop).
    public func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits for a signal or until `deadline` (``monotonicNanos()``), holding the lock.
    public func wait(untilMonotonic deadline: UInt64) {
        let clamped = min(deadline, UInt64(Int.max) / 2)
        var time = timespec(tv_sec: Int(clamped / 1_000_000_000), tv_nsec: Int(clamped % 1_000_000_000))
        _ = pthread_cond_timedwait(condition, mutex, &time)
    }
}

/// A one-shot signal a plain thread can wait for with a deadline (flush and shutdown from
/// synchronous code).
public final class OneShotSignal: @unchecked Sendable {
    private let lock = ConditionLock()
    private var signalled = false

    public init() {}

    /// Sets the signal and wakes every waiter. Later calls do nothing.
    public func signal() {
        lock.withLock {
            signalled = true
            lock.broadcast()
        }
    }

    /// Whether the signal was set before `deadline` (``monotonicNanos()``).
    public func wait(untilMonotonic deadline: UInt64) -> Bool {
        lock.withLock {
            while !signalled {
                if monotonicNanos() >= deadline { return false }
                lock.wait(untilMonotonic: deadline)
            }
            return true
        }
    }
}
