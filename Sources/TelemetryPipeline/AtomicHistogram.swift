import Atomics

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The lock-free explicit-bucket histogram of a histogram instrument's records that carry no
/// attributes: `record` is a handful of atomic updates on the producer (no ring push, so never
/// dropped; no lock, no allocation), and the pipeline worker takes the buckets at each collection
/// into the instrument's empty-attribute stream. Records with attributes, and base-2 exponential
/// histograms, still go through the ring.
///
/// ## Consistency: hot and cold shards
/// A record updates several atomics (its bucket, the sum, min, max), so a collection reading them
/// while records land could see a record's bucket but not its sum. As in the Prometheus Go client's
/// histogram, there are two shards of those atomics; `countAndHotIndex` holds the number of records
/// begun in its low 63 bits and the index of the *hot* shard (the one records go to) in its top bit.
///
/// - A producer increments `countAndHotIndex` (one fetch-add: it learns the hot shard and counts
///   itself begun at once), updates that shard's bucket, sum, min and max, then increments the
///   shard's `completed` count. Producers never wait.
/// - The worker (``take()``) flips the top bit with one fetch-add: records whose increment came
///   before the flip (in the atomic's modification order) went to the now *cold* shard, later ones
///   go to the other. Every record begun since the previous flip went to the cold shard, which the
///   previous take left empty, so the count the flip returns, less the count at the previous flip,
///   is the number of records in it. The worker waits (worker only) until the shard's `completed`
///   count reaches that number, then reads and resets the shard; the next flip hands it back to
///   producers. (When no record began since the previous flip, a take returns `nil` without
///   flipping.)
///
/// ## Memory ordering
/// - Producer fetch-add on `countAndHotIndex`: *acquiring*. Every flip is a releasing RMW on the
///   same atomic, and producer increments are RMWs too, so a producer that sees a flip (or any
///   later value) synchronizes with it: the worker's reset of a shard, sequenced before the flip
///   that makes it hot again, happens-before the producer's updates to it. Without this a reset
///   store could be ordered after a new record's increment and erase it.
/// - Producer bucket, sum, min, max updates: *relaxed*; they are published by the next step.
/// - Producer increment of the shard's `completed`: *releasing*. The worker's *acquiring* load that
///   reads the final count reads the last value of an RMW chain that each producer's releasing
///   increment heads, so it synchronizes with every one of them: all their bucket, sum, min and max
///   updates happen-before the worker reads the shard.
/// - Worker flip: *acquiring and releasing* (the release publishes the previous take's resets, see
///   above; the acquire is not needed for the argument).
/// - The worker's reads and resets of the cold shard: *relaxed*; ordered by the two pairs above.
///
/// A producer preempted between its two increments delays the worker (not other producers) until
/// it runs again. Sums of one collection are added in the order the records' compare-exchanges
/// won, then added to the stream's sum once: bit-identical to the ring path for a single thread
/// and one collection; across threads or collections the `Double` sum may round differently (as
/// any reordering of floating-point additions does). Counts, buckets, min and max are exact.
public final class AtomicHistogram: @unchecked Sendable {
    /// The atomics of one shard, in this order, then one bucket count per bucket.
    /// (Computed, not stored, so inlined producers don't go through a lazy global's initializer.)
    @inlinable static var completedSlot: Int { 0 }
    @inlinable static var sumSlot: Int { 1 }
    @inlinable static var minSlot: Int { 2 }
    @inlinable static var maxSlot: Int { 3 }
    @inlinable static var firstBucketSlot: Int { 4 }
    /// Top bit: the hot shard. Low 63 bits: records begun in total.
    static var hotBit: UInt64 { 1 << 63 }

    @usableFromInline let countAndHotIndex = ManagedAtomic<UInt64>(0)
    /// Two shards of `shardStride` atomics each, each shard on its own cache lines.
    @usableFromInline let slots: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
    /// Atomics per shard (a multiple of 8, so shards don't share a 64-byte cache line).
    @usableFromInline let shardStride: Int
    /// The bucket bounds (ascending), copied out of the array so the producer reads them without
    /// retaining anything.
    @usableFromInline let boundsBase: UnsafeMutablePointer<Double>
    @usableFromInline let boundsCount: Int
    /// The bucket bounds, as the worker exports them.
    public let bounds: [Double]
    /// Records begun at the last flip. Touched only by the pipeline worker (hence `@unchecked`).
    private var begunAtLastTake: UInt64 = 0

    init(bounds: [Double]) {
        self.bounds = bounds
        boundsCount = bounds.count
        boundsBase = UnsafeMutablePointer<Double>.allocate(capacity: Swift.max(1, bounds.count))
        boundsBase.initialize(from: bounds, count: bounds.count)
        let used = Self.firstBucketSlot + bounds.count + 1
        shardStride = (used + 7) / 8 * 8
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: 2 * shardStride * MemoryLayout<UnsafeAtomic<UInt64>.Storage>.stride, alignment: 64)
        slots = raw.bindMemory(to: UnsafeAtomic<UInt64>.Storage.self, capacity: 2 * shardStride)
        for shard in 0..<2 {
            for slot in 0..<shardStride {
                (slots + shard * shardStride + slot).initialize(to: .init(Self.initialValue(slot: slot)))
            }
        }
    }

    deinit {
        slots.deinitialize(count: 2 * shardStride)
        UnsafeMutableRawPointer(slots).deallocate()
        boundsBase.deinitialize(count: boundsCount)
        boundsBase.deallocate()
    }

    /// An empty shard's value of `slot`: min starts at +∞ and max at −∞ (as in the worker's
    /// histogram state), everything else at zero.
    static func initialValue(slot: Int) -> UInt64 {
        switch slot {
        case minSlot: Double.infinity.bitPattern
        case maxSlot: (-Double.infinity).bitPattern
        default: 0
        }
    }

    @inlinable
    func atomic(shard: Int, slot: Int) -> UnsafeAtomic<UInt64> {
        UnsafeAtomic(at: slots + (shard &* shardStride &+ slot))
    }

    /// The bucket of `value`: bucket i holds (bounds[i-1], bounds[i]], so it is the index of the
    /// first bound >= `value` (`bounds.count` past the last bound). Shared with the worker's
    /// histogram state, so both paths bucket identically.
    @inlinable
    static func bucketIndex(of value: Double, in bounds: UnsafeBufferPointer<Double>) -> Int {
        var low = 0
        var high = bounds.count
        while low < high {
            let mid = (low &+ high) / 2
            if bounds[mid] < value { low = mid &+ 1 } else { high = mid }
        }
        return low
    }

    /// Records `value`. Lock-free, allocation-free, never waits for the worker. Values the worker's
    /// histograms ignore (negative, NaN, ±∞) are ignored here too, and not counted.
    @inlinable
    public func record(_ value: Double) {
        // The ring path's rules: `InstrumentAggregation.record` drops negatives and NaN (`value >= 0`
        // is false for both; −0 is kept), `ExplicitHistogramState.record` drops non-finite values.
        guard value >= 0, value.isFinite else { return }
        let bucket = Self.bucketIndex(of: value, in: UnsafeBufferPointer(start: boundsBase, count: boundsCount))
        // Acquiring: synchronizes with the worker's flip that made this shard hot, so its reset of
        // the shard happens-before the updates below (see the type's documentation).
        let begun = countAndHotIndex.loadThenWrappingIncrement(ordering: .acquiring)
        let shard = Int(truncatingIfNeeded: begun >> 63)
        // Relaxed: the bucket, sum, min and max are published to the worker by the releasing
        // increment of `completed` below.
        atomic(shard: shard, slot: Self.firstBucketSlot &+ bucket).wrappingIncrement(ordering: .relaxed)
        Self.update(atomic(shard: shard, slot: Self.sumSlot)) { $0 + value }
        Self.update(atomic(shard: shard, slot: Self.minSlot)) { Swift.min($0, value) }
        Self.update(atomic(shard: shard, slot: Self.maxSlot)) { Swift.max($0, value) }
        // Releasing: publishes this record's updates to the worker's acquiring load in `take`.
        atomic(shard: shard, slot: Self.completedSlot).wrappingIncrement(ordering: .releasing)
    }

    /// Replaces the `Double` in `cell` by `next(old)` with a compare-exchange loop (lock-free).
    /// Relaxed: see `record`. Skips the write when the value would not change (min and max, mostly).
    @inlinable
    static func update(_ cell: UnsafeAtomic<UInt64>, _ next: (Double) -> Double) {
        var current = cell.load(ordering: .relaxed)
        while true {
            let desired = next(Double(bitPattern: current)).bitPattern
            if desired == current { return }
            let (exchanged, original) = cell.weakCompareExchange(
                expected: current, desired: desired, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// What the records since the last take added up to.
    struct Taken: Equatable {
        var bucketCounts: [UInt64]
        var count: UInt64
        var sum: Double
        var min: Double
        var max: Double
    }

    /// The records since the last call, or `nil` when there were none. Worker only: waits (spins,
    /// then sleeps 20 µs at a time) for records that began before the flip to complete.
    func take() -> Taken? {
        // Relaxed pre-check: no record began since the last take, so no flip is needed. A record
        // beginning right after this load goes to the hot shard and into the next take.
        guard countAndHotIndex.load(ordering: .relaxed) & ~Self.hotBit != begunAtLastTake else { return nil }
        // Acquiring and releasing: the release publishes the previous take's reset of the shard
        // this flip makes hot (see the type's documentation).
        let before = countAndHotIndex.loadThenWrappingIncrement(by: Self.hotBit, ordering: .acquiringAndReleasing)
        let begun = before & ~Self.hotBit
        let cold = Int(truncatingIfNeeded: before >> 63)
        // Every record begun since the previous flip went to `cold`, which that take left empty.
        let expected = begun &- begunAtLastTake
        begunAtLastTake = begun
        let completed = atomic(shard: cold, slot: Self.completedSlot)
        var spins = 0
        // Acquiring: synchronizes with every producer's releasing increment of `completed`, so all
        // of their updates of the shard are visible below.
        while completed.load(ordering: .acquiring) != expected {
            // A record takes nanoseconds, so spin first; a producer still unfinished after that
            // was most likely preempted mid-record: sleep briefly to give it the core (a yield
            // often does not on Linux, when the producer is not next in the run queue).
            spins += 1
            if spins > 64 { usleep(20) }
        }
        // Relaxed reads-and-resets: no producer touches the cold shard until the next flip, which
        // publishes the resets (releasing) to them.
        let bucketCounts = (0...boundsCount).map {
            atomic(shard: cold, slot: Self.firstBucketSlot + $0).exchange(0, ordering: .relaxed)
        }
        let taken = Taken(
            bucketCounts: bucketCounts, count: expected,
            sum: Double(bitPattern: atomic(shard: cold, slot: Self.sumSlot).exchange(0, ordering: .relaxed)),
            min: Double(bitPattern: atomic(shard: cold, slot: Self.minSlot).exchange(
                Self.initialValue(slot: Self.minSlot), ordering: .relaxed)),
            max: Double(bitPattern: atomic(shard: cold, slot: Self.maxSlot).exchange(
                Self.initialValue(slot: Self.maxSlot), ordering: .relaxed)))
        completed.store(0, ordering: .relaxed)
        return taken
    }

    /// Records begun in total (self-observability: they count as accepted).
    var recordedCount: Int {
        // Relaxed: a statistic.
        Int(truncatingIfNeeded: countAndHotIndex.load(ordering: .relaxed) & ~Self.hotBit)
    }
}
