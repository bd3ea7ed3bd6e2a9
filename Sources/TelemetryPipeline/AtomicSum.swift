import TelemetryCore
public import Atomics

#if canImport(Glibc)
public import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The lock-free running sum of a counter's or up-down counter's measurements that carry no
/// attributes: `add` is two atomic updates on the producer (no ring push, so never dropped), and
/// the pipeline worker takes the sum at each collection into the instrument's empty-attribute
/// stream. Measurements with attributes still go through the ring.
///
/// ## Stripes
/// Threads adding to one counter would contend for one cache line (unstriped, an add took 12 ns on
/// one thread and 206 ns each on two). So the sum is striped: one cache line per stripe, a power of two
/// of them (four per processor, at least 8, at most 64). Each thread adds to the stripe of its own
/// index, which it takes round-robin on its first add to any counter (see ``ThreadStripe``), so
/// the first threads that add (up to the stripe count) land on different stripes, whichever of
/// them run at once. The worker's ``take()`` adds the stripes up.
public final class AtomicSum: @unchecked Sendable {
    /// Per stripe, in this order: the sum (`Int64` sums, or a `Double` sum's bit pattern), then
    /// the number of measurements added to it in total (self-observability: they count as
    /// accepted). Eight 8-byte slots per stripe: one 64-byte cache line each.
    @usableFromInline let slots: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
    /// Stripe count − 1 (the count is a power of two).
    @usableFromInline let stripeMask: Int
    /// `total` over all stripes at the last ``take()``. Touched only by the pipeline worker
    /// (hence `@unchecked`).
    private var takenTotal: UInt64 = 0
    public let isDouble: Bool

    @inlinable static var slotsPerStripe: Int { 8 }

    init(isDouble: Bool, stripes: Int = AtomicSum.defaultStripeCount) {
        self.isDouble = isDouble
        let count = ThreadStripe.stripeCount(requested: stripes, minimum: 2)
        stripeMask = count - 1
        let slotCount = count * Self.slotsPerStripe
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: slotCount * MemoryLayout<UnsafeAtomic<UInt64>.Storage>.stride, alignment: 64)
        slots = raw.bindMemory(to: UnsafeAtomic<UInt64>.Storage.self, capacity: slotCount)
        for slot in 0..<slotCount { (slots + slot).initialize(to: .init(0)) }
    }

    deinit {
        slots.deinitialize(count: (stripeMask + 1) * Self.slotsPerStripe)
        UnsafeMutableRawPointer(slots).deallocate()
    }

    /// Four per online processor, the default number of stripes before rounding (threads outnumber
    /// processors; which of them run at once is up to the scheduler).
    static var defaultStripeCount: Int { Swift.max(8, 4 * Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// The stripes, as the producers' hot path uses them: a plain value, so an add retains and
    /// releases no shared object (threads adding to one counter would otherwise contend for this
    /// object's reference count: 83 ns per add on two threads instead of 19).
    public var stripes: Stripes { Stripes(slots: slots, stripeMask: stripeMask) }

    /// Adds an integer measurement. Wait-free.
    @inlinable
    public func add(_ value: Int64) { stripes.add(value) }

    /// Adds a floating-point measurement. Lock-free (a compare-exchange loop on the bit pattern).
    @inlinable
    public func add(_ value: Double) { stripes.add(value) }

    /// The stripes of an ``AtomicSum``, without a reference to it: valid while the sum lives (the
    /// pipeline keeps every sum for its own lifetime, and instruments hold the pipeline).
    public struct Stripes: @unchecked Sendable {
        // @unchecked: the pointer is only used for atomic operations.
        @usableFromInline let slots: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
        @usableFromInline let stripeMask: Int

        @usableFromInline
        init(slots: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>, stripeMask: Int) {
            self.slots = slots
            self.stripeMask = stripeMask
        }

        /// This thread's stripe: its sum atomic, then its count atomic.
        @inlinable
        func stripe() -> UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage> {
            slots + (ThreadStripe.current & stripeMask) &* AtomicSum.slotsPerStripe
        }

        /// Adds an integer measurement. Wait-free.
        @inlinable
        public func add(_ value: Int64) {
            // Relaxed throughout: the sum is only read by the worker's `take`, which is ordered
            // after every add that happened-before a flush by the flush command's lock; nothing
            // else is published through these counters.
            let stripe = stripe()
            UnsafeAtomic<UInt64>(at: stripe).wrappingIncrement(by: UInt64(bitPattern: value), ordering: .relaxed)
            UnsafeAtomic<UInt64>(at: stripe + 1).wrappingIncrement(ordering: .relaxed)
        }

        /// Adds a floating-point measurement. Lock-free (a compare-exchange loop on the bit pattern).
        @inlinable
        public func add(_ value: Double) {
            // Relaxed as in the integer `add`; the compare-exchange makes concurrent adds exact.
            let stripe = stripe()
            let bits = UnsafeAtomic<UInt64>(at: stripe)
            var current = bits.load(ordering: .relaxed)
            while true {
                let next = (Double(bitPattern: current) + value).bitPattern
                let (exchanged, original) = bits.weakCompareExchange(expected: current, desired: next, ordering: .relaxed)
                if exchanged { break }
                current = original
            }
            UnsafeAtomic<UInt64>(at: stripe + 1).wrappingIncrement(ordering: .relaxed)
        }
    }

    /// The sum added since the last call, or `nil` when nothing was added. Worker only.
    func take() -> MetricNumber? {
        // Relaxed: see `add`. An add racing this call lands in this take or the next one (its
        // count may be seen one take later than its value: that take then adds zero).
        let count = addedTotal
        guard count != takenTotal else { return nil }
        takenTotal = count
        var integer: UInt64 = 0
        var double = 0.0
        for stripe in 0...stripeMask {
            let taken = UnsafeAtomic<UInt64>(at: slots + stripe * Self.slotsPerStripe).exchange(0, ordering: .relaxed)
            if isDouble { double += Double(bitPattern: taken) } else { integer &+= taken }
        }
        return isDouble ? .double(double) : .int(Int64(bitPattern: integer))
    }

    /// Measurements added over all stripes.
    private var addedTotal: UInt64 {
        var total: UInt64 = 0
        for stripe in 0...stripeMask {
            total &+= UnsafeAtomic<UInt64>(at: slots + stripe * Self.slotsPerStripe + 1).load(ordering: .relaxed)
        }
        return total
    }

    /// Measurements added in total.
    var addedCount: Int { Int(truncatingIfNeeded: addedTotal) }
}

/// A small per-thread index, taken round-robin on a thread's first request, so that threads
/// adding to the same instrument use different stripes of it (``AtomicSum``).
public enum ThreadStripe {
    /// The stripe count for `requested` stripes: a power of two, at least `minimum`, at most 64.
    static func stripeCount(requested: Int, minimum: Int) -> Int {
        var count = minimum
        while count < requested && count < 64 { count *= 2 }
        return count
    }

    /// The thread-specific data key holding index + 1 (0: not assigned yet).
    @usableFromInline static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    /// The next index to hand out. Relaxed: indices only need to be spread, not ordered.
    @usableFromInline static let next = ManagedAtomic<Int>(0)

    /// This thread's index (any non-negative number; users mask it).
    @inlinable
    public static var current: Int {
        let key = key
        if let stored = pthread_getspecific(key) { return Int(bitPattern: stored) &- 1 }
        return assign(key)
    }

    @usableFromInline
    static func assign(_ key: pthread_key_t) -> Int {
        let index = next.loadThenWrappingIncrement(ordering: .relaxed) & Int(Int32.max)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: index &+ 1))
        return index
    }
}
