// The clock the exporters' retry loops read and sleep on, injected so tests are deterministic.
import OTLPSync
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Time as the exporters see it: a monotonic reading for backoff and give-up decisions, a wall
/// clock for `Retry-After` HTTP dates, and a sleep.
public protocol OTLPExportClock: Sendable {
    /// Monotonic time since an arbitrary origin.
    func now() -> Duration
    /// Wall-clock time as seconds since 1970-01-01 UTC (only used to interpret HTTP dates).
    func secondsSince1970() -> Double
    /// Suspends for `duration`. Throws `CancellationError` when the task is cancelled.
    func sleep(for duration: Duration) async throws
}

/// The real clock: `ContinuousClock` for time, `clock_gettime(CLOCK_REALTIME)` for the wall
/// clock, and sleeps woken by a timer on the library's export threads (``ExportExecutor``), so a
/// retry back-off ends on time even while the cooperative pool is busy.
public struct OTLPSystemClock: OTLPExportClock {
    private let origin = ContinuousClock.now

    public init() {}

    public func now() -> Duration { ContinuousClock.now - origin }

    public func secondsSince1970() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    public func sleep(for duration: Duration) async throws {
        guard duration > .zero else { return }
        try await ExportExecutor.shared.sleep(for: duration)
    }
}

/// A virtual clock for tests: `sleep` returns at once after advancing the time by the requested
/// duration, and every sleep is recorded, so retry schedules can be checked without waiting.
public final class OTLPVirtualClock: OTLPExportClock {
    private struct State {
        var now: Duration = .zero
        var wall: Double
        var sleeps: [Duration] = []
    }
    private let state: LockedValue<State>

    /// A clock at monotonic time zero and wall time `wallClockStart` (seconds since 1970).
    public init(wallClockStart: Double = 1_700_000_000) {
        state = LockedValue(State(wall: wallClockStart))
    }

    public func now() -> Duration { state.withLock { $0.now } }

    public func secondsSince1970() -> Double { state.withLock { $0.wall + $0.now.seconds } }

    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        state.withLock {
            $0.sleeps.append(duration)
            if duration > .zero { $0.now += duration }
        }
    }

    /// Moves time forward without a sleep (e.g. to model an attempt that took a while).
    public func advance(by duration: Duration) { state.withLock { $0.now += duration } }

    /// Every duration passed to `sleep`, in order.
    public var sleeps: [Duration] { state.withLock { $0.sleeps } }
}

/// The source of the jitter factor in `[0, 1)`; injected so tests can fix it.
public protocol OTLPRandomSource: Sendable {
    /// A uniformly distributed value in `[0, 1)`.
    func nextUnit() -> Double
}

/// The system random number generator.
public struct OTLPSystemRandom: OTLPRandomSource {
    public init() {}
    public func nextUnit() -> Double { Double.random(in: 0..<1) }
}

/// Always returns the same value: for tests.
public struct OTLPFixedRandom: OTLPRandomSource {
    public let value: Double
    public init(_ value: Double) { self.value = value }
    public func nextUnit() -> Double { value }
}
