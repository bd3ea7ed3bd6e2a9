import OTLPSync

/// The monotonic time the pipeline's worker schedules by: batch delays, the metric export
/// interval and drop reports. Injected (``PipelineConfiguration/schedulingClock``) so tests can
/// drive a ``ManualSchedulingClock`` instead of sleeping.
public protocol SchedulingClock: Sendable {
    /// Monotonic nanoseconds since an arbitrary origin.
    func nowNanoseconds() -> UInt64
}

/// `CLOCK_MONOTONIC`.
public struct SystemSchedulingClock: SchedulingClock {
    public init() {}
    public func nowNanoseconds() -> UInt64 { monotonicNanos() }
}

/// A clock that moves only when told to: a batch delay or metric interval passes when the test
/// advances the clock past it, however fast or slow the machine is. Advancing wakes the workers
/// of the pipelines using the clock, so what became due is handled at once.
public final class ManualSchedulingClock: SchedulingClock {
    private struct State {
        var now: UInt64
        var observers: [@Sendable () -> Void] = []
    }
    private let state: LockedValue<State>

    /// A clock reading `start` nanoseconds.
    public init(start: UInt64 = 1_000_000_000) {
        state = LockedValue(State(now: start))
    }

    public func nowNanoseconds() -> UInt64 { state.withLock { $0.now } }

    /// Moves the clock forward by `duration` and wakes the pipelines that use it.
    public func advance(by duration: Duration) {
        let observers = state.withLock { state in
            state.now &+= duration.clampedNanoseconds
            return state.observers
        }
        for observer in observers { observer() }
    }

    /// Calls `observer` after every ``advance(by:)`` (a pipeline wakes its worker).
    package func onAdvance(_ observer: @escaping @Sendable () -> Void) {
        state.withLock { $0.observers.append(observer) }
    }
}
