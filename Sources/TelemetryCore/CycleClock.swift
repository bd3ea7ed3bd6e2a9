public import Atomics
public import CPipelineSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The real-time clock read through the CPU's cycle counter: Unix nanoseconds extrapolated from
/// the last anchor (a pair of system-clock and counter readings) at the measured rate.
///
/// Why: every span reads the clock twice, and `clock_gettime` (a vDSO call) orders its counter
/// read with a fence that waits for every store and load in flight — about a sixth of the
/// producer's time in a span. Here a read is the counter, four loads and a multiply.
///
/// How it stays right:
/// - It is used only where the kernel itself keeps time with the counter (current clocksource
///   `tsc`) and the CPU reports an invariant counter; elsewhere ``nowUnixNano()`` is
///   `clock_gettime(CLOCK_REALTIME)`.
/// - Until the rate is measured (the first ``calibrationNanos``), reads are the system clock.
/// - Every ``anchorIntervalNanos`` a read re-anchors: it reads the system clock, measures the
///   rate over the last interval, and continues from the extrapolated time (no jump) at a rate
///   corrected to meet the system clock by the end of the next interval, so drift and NTP
///   slewing are followed within microseconds. A gap of more than ``stepLimitNanos`` (the system
///   clock was stepped, or the machine slept) resets the anchor to the system clock.
/// - Anchors live in two slots of atomic words: the one writer (the first reader due to
///   re-anchor) fills the inactive slot and then switches, so readers never wait for it and never
///   use a torn anchor.
public final class CycleClock: @unchecked Sendable {
    /// The process's clock (``systemNowUnixNano()`` reads it).
    public static let shared = CycleClock()

    /// Whether this machine's cycle counter can keep the real-time clock (see the type's notes).
    public static let isCycleCounterUsable: Bool = {
        guard otlp_cycle_counter_is_invariant() == 1, otlp_cycle_counter_read() != 0 else { return false }
        #if os(Linux)
        // The kernel decided whether the counter is stable and synchronized across cores.
        guard let file = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r") else {
            return false
        }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 32)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return false }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.hasPrefix("tsc")
        #else
        return false
        #endif
    }()

    /// How long the first rate measurement takes (reads are the system clock until then).
    public let calibrationNanos: UInt64
    /// How often a read re-anchors to the system clock.
    public let anchorIntervalNanos: UInt64
    /// A larger difference between extrapolated and system time resets the anchor.
    public let stepLimitNanos: UInt64
    /// Whether the counter is used (else every read is the system clock).
    public let usesCycleCounter: Bool
    /// The system clock anchored to (`clock_gettime(CLOCK_REALTIME)`, or a test's clock).
    private let systemClock: @Sendable () -> UInt64

    /// The clock's state, each an atomic word: `[writer flag | active slot | slot 0 | slot 1 |
    /// interval start cycles | interval start nanos]`, where a slot is `[version | base cycles |
    /// base nanos | scale | next anchor (cycles)]` and `scale` is nanoseconds per cycle × 2³²
    /// (0 until calibrated). Readers use the active slot; the one writer (who holds the flag)
    /// fills the other slot and then makes it active, so a reader never waits for a writer and
    /// retries only if it stalled for two whole anchor intervals (the slot's version changed).
    /// The interval start is the system-clock pair the current rate measurement began at.
    @usableFromInline let words: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
    @usableFromInline static var wordCount: Int { 14 }

    /// Creates a clock. The defaults suit production; tests shorten the intervals and may give
    /// their own system clock or turn the counter off.
    public init(calibrationNanos: UInt64 = 10_000_000, anchorIntervalNanos: UInt64 = 1_000_000_000,
                stepLimitNanos: UInt64 = 1_000_000, usesCycleCounter: Bool = CycleClock.isCycleCounterUsable,
                systemClock: @escaping @Sendable () -> UInt64 = realTimeClockNanos) {
        self.calibrationNanos = calibrationNanos
        self.anchorIntervalNanos = max(anchorIntervalNanos, calibrationNanos)
        self.stepLimitNanos = stepLimitNanos
        self.usesCycleCounter = usesCycleCounter
        self.systemClock = systemClock
        words = UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>.allocate(capacity: Self.wordCount)
        for index in 0..<Self.wordCount { (words + index).initialize(to: UnsafeAtomic<UInt64>.Storage(0)) }
    }

    deinit {
        words.deinitialize(count: Self.wordCount)
        words.deallocate()
    }

    @usableFromInline func word(_ index: Int) -> UnsafeAtomic<UInt64> { UnsafeAtomic(at: words + index) }
    @inlinable var writerFlag: UnsafeAtomic<UInt64> { word(0) }
    @inlinable var activeSlot: UnsafeAtomic<UInt64> { word(1) }
    /// Word `field` (0 version, 1 base cycles, 2 base nanos, 3 scale, 4 next anchor) of `slot`.
    @inlinable func slotWord(_ slot: UInt64, _ field: Int) -> UnsafeAtomic<UInt64> { word(2 + Int(slot & 1) * 5 + field) }
    var startCycles: UnsafeAtomic<UInt64> { word(12) }
    var startNanos: UnsafeAtomic<UInt64> { word(13) }

    /// An anchor as read from a slot.
    @usableFromInline
    struct Anchor {
        @usableFromInline var baseCycles: UInt64
        @usableFromInline var baseNanos: UInt64
        @usableFromInline var scale: UInt64
        @usableFromInline var nextAnchor: UInt64

        @inlinable init(baseCycles: UInt64, baseNanos: UInt64, scale: UInt64, nextAnchor: UInt64) {
            self.baseCycles = baseCycles
            self.baseNanos = baseNanos
            self.scale = scale
            self.nextAnchor = nextAnchor
        }

        /// The time at `cycles` (the base time for a counter read just behind the base, as on a
        /// core whose counter lags by a few cycles).
        @inlinable func nanos(at cycles: UInt64) -> UInt64 {
            cycles < baseCycles ? baseNanos : baseNanos &+ CycleClock.nanos(cycles &- baseCycles, scale: scale)
        }
    }

    /// The anchor words of `slot`, each loaded relaxed (callers order them: a version check, or
    /// the writer flag).
    @inlinable
    func loadAnchor(_ slot: UInt64) -> Anchor {
        Anchor(baseCycles: slotWord(slot, 1).load(ordering: .relaxed), baseNanos: slotWord(slot, 2).load(ordering: .relaxed),
               scale: slotWord(slot, 3).load(ordering: .relaxed), nextAnchor: slotWord(slot, 4).load(ordering: .relaxed))
    }

    /// Nanoseconds since the Unix epoch.
    @inlinable
    public func nowUnixNano() -> UInt64 {
        while true {
            // Acquiring: pairs with the writer's releasing store of the active slot, so the slot's
            // words are at least as new as that store.
            let slot = activeSlot.load(ordering: .acquiring)
            // Acquiring: as above, for the slot's own version.
            let version = slotWord(slot, 0).load(ordering: .acquiring)
            // Relaxed: the version check below tells whether they belong together.
            let anchor = loadAnchor(slot)
            // Acquiring fence: the loads above happen before the version is read again.
            atomicMemoryFence(ordering: .acquiring)
            let cycles = otlp_cycle_counter_read()
            // Relaxed: ordered after the loads by the fence. A changed version means this slot was
            // rewritten while we read it (we stalled two anchor intervals): read again.
            guard version & 1 == 0, slotWord(slot, 0).load(ordering: .relaxed) == version else { continue }
            guard anchor.scale != 0, cycles &- anchor.baseCycles < anchor.nextAnchor &- anchor.baseCycles else {
                return slowNow(anchor: anchor, cycles: cycles)
            }
            return anchor.nanos(at: cycles)
        }
    }

    /// `cycles` × `scale` / 2³² without overflow.
    @inlinable
    static func nanos(_ cycles: UInt64, scale: UInt64) -> UInt64 {
        let product = cycles.multipliedFullWidth(by: scale)
        return product.high << 32 | product.low >> 32
    }

    /// Uncalibrated, due for a re-anchor, or not using the counter. The first thread to get here
    /// writes the next anchor; the others read on (the system clock while uncalibrated, else the
    /// current anchor a little past its interval).
    @usableFromInline
    func slowNow(anchor current: Anchor, cycles: UInt64) -> UInt64 {
        guard usesCycleCounter else { return systemClock() }
        // Acquiring: the words the previous writer stored (published by its releasing store of
        // the flag) are visible to us.
        guard writerFlag.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged else {
            return current.scale == 0 ? systemClock() : current.nanos(at: cycles)
        }
        // The anchor as of now: another writer may have published a new one since our read.
        // Relaxed: the flag's acquiring exchange ordered the last writer's stores before us, and
        // no one else writes while we hold it.
        let slot = activeSlot.load(ordering: .relaxed)
        let anchor = loadAnchor(slot)
        guard let (now, system) = Self.readPair(systemClock),
              anchor.scale == 0 || now &- anchor.baseCycles >= anchor.nextAnchor &- anchor.baseCycles else {
            // Not due any more, or no clean pair of readings (we were preempted between them):
            // keep the anchor; a later read tries again.
            writerFlag.store(0, ordering: .releasing)  // Releasing: as at the end.
            let cycles = otlp_cycle_counter_read()
            return anchor.scale == 0 ? systemClock() : anchor.nanos(at: cycles)
        }
        // Relaxed: only the writer touches the interval start (ordered by the flag).
        let intervalCycles = startCycles.load(ordering: .relaxed)
        let intervalNanos = startNanos.load(ordering: .relaxed)
        var result = system
        var next: Anchor?
        if intervalCycles == 0 || now <= intervalCycles || system <= intervalNanos {
            // First read, or the counter or the system clock went back: measure the rate afresh.
            next = Anchor(baseCycles: now, baseNanos: system, scale: 0, nextAnchor: now)
        } else if let measured = Self.scale(nanos: system - intervalNanos, cycles: now - intervalCycles) {
            let cyclesPerInterval = Self.cycles(anchorIntervalNanos, scale: measured)
            if anchor.scale == 0 {
                if system - intervalNanos >= calibrationNanos {
                    next = Anchor(baseCycles: now, baseNanos: system, scale: measured, nextAnchor: now &+ cyclesPerInterval)
                }
            } else {
                let extrapolated = anchor.nanos(at: now)
                let error = extrapolated > system ? extrapolated - system : system - extrapolated
                if error > stepLimitNanos || error >= anchorIntervalNanos / 2 {
                    // The system clock was stepped (or the machine slept): follow it, at the rate
                    // we had (the rate measured across the step is the step, not the counter's).
                    next = Anchor(baseCycles: now, baseNanos: system, scale: anchor.scale,
                                  nextAnchor: now &+ Self.cycles(anchorIntervalNanos, scale: anchor.scale))
                } else {
                    // Go on from the extrapolated time (no jump), at the rate that meets the system
                    // clock at the end of the next interval.
                    let target = extrapolated > system ? anchorIntervalNanos - error : anchorIntervalNanos + error
                    let corrected = Self.scale(nanos: target, cycles: cyclesPerInterval) ?? measured
                    next = Anchor(baseCycles: now, baseNanos: extrapolated, scale: corrected, nextAnchor: now &+ cyclesPerInterval)
                    result = extrapolated
                }
            }
        } else {
            next = Anchor(baseCycles: now, baseNanos: system, scale: 0, nextAnchor: now)
        }
        if let next {
            // The next rate measurement starts here. Relaxed: ordered by the flag.
            startCycles.store(now, ordering: .relaxed)
            startNanos.store(system, ordering: .relaxed)
            publish(next, replacing: slot)
        }
        // Releasing: our words happen-before the next writer's acquiring exchange.
        writerFlag.store(0, ordering: .releasing)
        return result
    }

    /// A system-clock reading and the counter at the same moment: the counter is read before and
    /// after the clock, and a pair is used only if they are close (a thread preempted between
    /// the two reads would otherwise anchor to a clock reading milliseconds away from its counter
    /// reading). `nil` after five tries.
    static func readPair(_ systemClock: () -> UInt64) -> (cycles: UInt64, system: UInt64)? {
        for _ in 0..<5 {
            let before = otlp_cycle_counter_read()
            let system = systemClock()
            let after = otlp_cycle_counter_read()
            // 2^14 cycles: 1.6-16 µs for counters of 1-10 GHz (a clock_gettime takes well under
            // 1 µs); the pair's error is at most half of it.
            if after >= before, after - before < 1 << 14 { return (before &+ (after - before) / 2, system) }
        }
        return nil
    }

    /// Writes `anchor` into the slot that is not active and makes it the active one.
    private func publish(_ anchor: Anchor, replacing active: UInt64) {
        let slot = active &+ 1
        let version = slotWord(slot, 0).load(ordering: .relaxed)  // Relaxed: only the writer stores it.
        // Relaxed, then a releasing fence: a reader that sees any word below also sees the odd
        // version (and retries).
        slotWord(slot, 0).store(version &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        slotWord(slot, 1).store(anchor.baseCycles, ordering: .relaxed)
        slotWord(slot, 2).store(anchor.baseNanos, ordering: .relaxed)
        slotWord(slot, 3).store(anchor.scale, ordering: .relaxed)
        slotWord(slot, 4).store(anchor.nextAnchor, ordering: .relaxed)
        // Releasing: the words happen-before a reader's acquiring load of the even version.
        slotWord(slot, 0).store(version &+ 2, ordering: .releasing)
        // Releasing: the slot's words happen-before a reader's acquiring load of the active slot.
        activeSlot.store(slot & 1, ordering: .releasing)
    }

    /// Nanoseconds per cycle × 2³², when plausible (a counter between 10 MHz and 100 GHz).
    static func scale(nanos: UInt64, cycles: UInt64) -> UInt64? {
        // The quotient of nanos × 2³² by cycles fits in 64 bits when nanos / cycles < 2³².
        guard cycles > 0, nanos >> 32 < cycles else { return nil }
        let scale = cycles.dividingFullWidth((high: nanos >> 32, low: nanos << 32)).quotient
        guard scale >= (1 << 32) / 100, scale <= (1 << 32) * 100 else { return nil }
        return scale
    }

    /// How many cycles `nanos` nanoseconds take at `scale`.
    static func cycles(_ nanos: UInt64, scale: UInt64) -> UInt64 {
        // nanos × 2³² / scale; scale ≥ 2³²/100 keeps the quotient in 64 bits for any interval
        // below 2³² × (2³²/100) ns.
        scale.dividingFullWidth((high: nanos >> 32, low: nanos << 32)).quotient
    }
}

/// Nanoseconds since the Unix epoch from `clock_gettime(CLOCK_REALTIME)`.
public func realTimeClockNanos() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
}
