import Atomics

/// The lock-free running sum of a counter's or up-down counter's measurements that carry no
/// attributes: `add` is one atomic update on the producer (no ring push, so never dropped), and
/// the pipeline worker takes the sum at each collection into the instrument's empty-attribute
/// stream. Measurements with attributes still go through the ring.
///
/// Two atomic read-modify-writes per add (the sum, then the count); under contention from several
/// threads on one instrument they share its cache lines.
public final class AtomicSum: @unchecked Sendable {
    /// `Int64` sums, or a `Double` sum's bit pattern.
    @usableFromInline let bits = ManagedAtomic<UInt64>(0)
    /// Measurements added in total (self-observability: they count as accepted).
    @usableFromInline let total = ManagedAtomic<Int>(0)
    /// `total` at the last ``take()``. Touched only by the pipeline worker (hence `@unchecked`).
    private var takenTotal = 0
    public let isDouble: Bool

    init(isDouble: Bool) { self.isDouble = isDouble }

    /// Adds an integer measurement. Wait-free.
    @inlinable
    public func add(_ value: Int64) {
        // Relaxed throughout: the sum is only read by the worker's `take`, which is ordered after
        // every add that happened-before a flush by the flush command's lock; nothing else is
        // published through these counters.
        bits.wrappingIncrement(by: UInt64(bitPattern: value), ordering: .relaxed)
        total.wrappingIncrement(ordering: .relaxed)
    }

    /// Adds a floating-point measurement. Lock-free (a compare-exchange loop on the bit pattern).
    @inlinable
    public func add(_ value: Double) {
        // Relaxed as in the integer `add`; the compare-exchange makes concurrent adds exact.
        var current = bits.load(ordering: .relaxed)
        while true {
            let next = (Double(bitPattern: current) + value).bitPattern
            let (exchanged, original) = bits.weakCompareExchange(
                expected: current, desired: next, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
        total.wrappingIncrement(ordering: .relaxed)
    }

    /// The sum added since the last call, or `nil` when nothing was added. Worker only.
    func take() -> MetricNumber? {
        // Relaxed: see `add`. An add racing this call lands in this take or the next one (its
        // count may be seen one take later than its value: that take then adds zero).
        let count = total.load(ordering: .relaxed)
        guard count != takenTotal else { return nil }
        takenTotal = count
        let taken = bits.exchange(0, ordering: .relaxed)
        return isDouble ? .double(Double(bitPattern: taken)) : .int(Int64(bitPattern: taken))
    }

    /// Measurements added in total.
    var addedCount: Int { total.load(ordering: .relaxed) }
}
