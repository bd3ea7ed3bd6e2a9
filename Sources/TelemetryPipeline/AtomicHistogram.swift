import TelemetryCore
public import Atomics

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

    /// The producers' view of this histogram: plain pointers (the atomics, the bucket bounds copied
    /// out of the array) and strides, so a record retains and releases no shared object (threads
    /// recording into one histogram would otherwise contend for this object's reference count).
    /// The histogram owns the memory it points to.
    public let recorder: Recorder
    /// Stripes of one control cache line (`countAndHotIndex` in its first slot) and two shards,
    /// `stripeStride` atomics each, in one 64-byte-aligned block. A thread records into the stripe
    /// of its ``ThreadStripe`` index, so threads recording at once mostly touch different cache
    /// lines; ``take()`` flips and takes each stripe as described above and adds them up (each
    /// stripe's part is whole records, so the sum is too).
    var slots: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage> { recorder.slots }
    /// Atomics per shard (a multiple of 8, so shards don't share a 64-byte cache line).
    var shardStride: Int { recorder.shardStride }
    /// Atomics per stripe: 8 (the control line) + 2 shards.
    var stripeStride: Int { recorder.stripeStride }
    /// Stripe count − 1 (the count is a power of two).
    var stripeMask: Int { recorder.stripeMask }
    var boundsCount: Int { recorder.boundsCount }
    /// The bucket bounds, as the worker exports them.
    public let bounds: [Double]
    /// Per stripe, records begun at its last flip. Touched only by the pipeline worker (hence
    /// `@unchecked`).
    private var begunAtLastTake: [UInt64]

    init(bounds: [Double], stripes: Int = AtomicSum.defaultStripeCount) {
        self.bounds = bounds
        let boundsBase = UnsafeMutablePointer<Double>.allocate(capacity: Swift.max(1, bounds.count))
        boundsBase.initialize(from: bounds, count: bounds.count)
        let used = Self.firstBucketSlot + bounds.count + 1
        let shardStride = (used + 7) / 8 * 8
        let stripeStride = 8 + 2 * shardStride
        let count = ThreadStripe.stripeCount(requested: stripes, minimum: 1)
        begunAtLastTake = Array(repeating: 0, count: count)
        let slotCount = count * stripeStride
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: slotCount * MemoryLayout<UnsafeAtomic<UInt64>.Storage>.stride, alignment: 64)
        let slots = raw.bindMemory(to: UnsafeAtomic<UInt64>.Storage.self, capacity: slotCount)
        for stripe in 0..<count {
            for slot in 0..<8 { (slots + stripe * stripeStride + slot).initialize(to: .init(0)) }
            for shard in 0..<2 {
                for slot in 0..<shardStride {
                    (slots + stripe * stripeStride + 8 + shard * shardStride + slot)
                        .initialize(to: .init(Self.initialValue(slot: slot)))
                }
            }
        }
        recorder = Recorder(slots: slots, shardStride: shardStride, stripeStride: stripeStride, stripeMask: count - 1,
                            boundsBase: boundsBase, boundsCount: bounds.count)
    }

    deinit {
        slots.deinitialize(count: (stripeMask + 1) * stripeStride)
        UnsafeMutableRawPointer(slots).deallocate()
        recorder.boundsBase.deinitialize(count: boundsCount)
        recorder.boundsBase.deallocate()
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

    /// Stripe `stripe`'s `countAndHotIndex`.
    func control(stripe: Int) -> UnsafeAtomic<UInt64> { UnsafeAtomic(at: slots + stripe * stripeStride) }

    /// Slot `slot` of shard `shard` of stripe `stripe`.
    func atomic(stripe: Int, shard: Int, slot: Int) -> UnsafeAtomic<UInt64> {
        UnsafeAtomic(at: slots + (stripe &* stripeStride &+ 8 &+ shard &* shardStride &+ slot))
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
    public func record(_ value: Double) { recorder.record(value) }


    /// The atomics and bounds of an ``AtomicHistogram``, without a reference to it: valid while
    /// the histogram lives (the pipeline keeps every one for its own lifetime, and instruments
    /// hold the pipeline).
    public struct Recorder: @unchecked Sendable {
        // @unchecked: the atomics are only used atomically; the bounds are immutable.
        @usableFromInline let slots: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
        @usableFromInline let shardStride: Int
        @usableFromInline let stripeStride: Int
        @usableFromInline let stripeMask: Int
        @usableFromInline let boundsBase: UnsafeMutablePointer<Double>
        @usableFromInline let boundsCount: Int

        @usableFromInline
        init(slots: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>, shardStride: Int, stripeStride: Int,
             stripeMask: Int, boundsBase: UnsafeMutablePointer<Double>, boundsCount: Int) {
            self.slots = slots
            self.shardStride = shardStride
            self.stripeStride = stripeStride
            self.stripeMask = stripeMask
            self.boundsBase = boundsBase
            self.boundsCount = boundsCount
        }

        /// Records `value` (see ``AtomicHistogram/record(_:)``).
        @inlinable
        public func record(_ value: Double) {
            // The ring path's rules: `InstrumentAggregation.record` drops negatives and NaN (`value >= 0`
            // is false for both; −0 is kept), `ExplicitHistogramState.record` drops non-finite values.
            guard value >= 0, value.isFinite else { return }
            let bucket = AtomicHistogram.bucketIndex(of: value, in: UnsafeBufferPointer(start: boundsBase, count: boundsCount))
            // Acquiring: synchronizes with the worker's flip that made this shard hot, so its reset of
            // the shard happens-before the updates below (see the type's documentation).
            let stripe = slots + ((ThreadStripe.current & stripeMask) &* stripeStride)
            let begun = UnsafeAtomic<UInt64>(at: stripe).loadThenWrappingIncrement(ordering: .acquiring)
            let shardBase = stripe + (8 &+ Int(truncatingIfNeeded: begun >> 63) &* shardStride)
            @inline(__always) func atomic(slot: Int) -> UnsafeAtomic<UInt64> { UnsafeAtomic(at: shardBase + slot) }
            // Relaxed: the bucket, sum, min and max are published to the worker by the releasing
            // increment of `completed` below.
            atomic(slot: AtomicHistogram.firstBucketSlot &+ bucket).wrappingIncrement(ordering: .relaxed)
            AtomicHistogram.update(atomic(slot: AtomicHistogram.sumSlot)) { $0 + value }
            AtomicHistogram.update(atomic(slot: AtomicHistogram.minSlot)) { Swift.min($0, value) }
            AtomicHistogram.update(atomic(slot: AtomicHistogram.maxSlot)) { Swift.max($0, value) }
            // Releasing: publishes this record's updates to the worker's acquiring load in `take`.
            atomic(slot: AtomicHistogram.completedSlot).wrappingIncrement(ordering: .releasing)
        }
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
    /// then sleeps 20 µs at a time) for records that began before a flip to complete.
    func take() -> Taken? {
        var total: Taken?
        for stripe in 0...stripeMask {
            guard let part = take(stripe: stripe) else { continue }
            guard var sum = total else {
                total = part  // the first part as it is: one thread's records sum as on the ring
                continue
            }
            for index in sum.bucketCounts.indices { sum.bucketCounts[index] &+= part.bucketCounts[index] }
            sum.count &+= part.count
            sum.sum += part.sum
            sum.min = Swift.min(sum.min, part.min)
            sum.max = Swift.max(sum.max, part.max)
            total = sum
        }
        return total
    }

    /// ``take()`` of one stripe.
    private func take(stripe: Int) -> Taken? {
        let countAndHotIndex = control(stripe: stripe)
        // Relaxed pre-check: no record began since the last take, so no flip is needed. A record
        // beginning right after this load goes to the hot shard and into the next take.
        guard countAndHotIndex.load(ordering: .relaxed) & ~Self.hotBit != begunAtLastTake[stripe] else { return nil }
        // Acquiring and releasing: the release publishes the previous take's reset of the shard
        // this flip makes hot (see the type's documentation).
        let before = countAndHotIndex.loadThenWrappingIncrement(by: Self.hotBit, ordering: .acquiringAndReleasing)
        let begun = before & ~Self.hotBit
        let cold = Int(truncatingIfNeeded: before >> 63)
        // Every record begun since the previous flip went to `cold`, which that take left empty.
        let expected = begun &- begunAtLastTake[stripe]
        begunAtLastTake[stripe] = begun
        let completed = atomic(stripe: stripe, shard: cold, slot: Self.completedSlot)
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
            atomic(stripe: stripe, shard: cold, slot: Self.firstBucketSlot + $0).exchange(0, ordering: .relaxed)
        }
        let taken = Taken(
            bucketCounts: bucketCounts, count: expected,
            sum: Double(bitPattern: atomic(stripe: stripe, shard: cold, slot: Self.sumSlot).exchange(0, ordering: .relaxed)),
            min: Double(bitPattern: atomic(stripe: stripe, shard: cold, slot: Self.minSlot).exchange(
                Self.initialValue(slot: Self.minSlot), ordering: .relaxed)),
            max: Double(bitPattern: atomic(stripe: stripe, shard: cold, slot: Self.maxSlot).exchange(
                Self.initialValue(slot: Self.maxSlot), ordering: .relaxed)))
        completed.store(0, ordering: .relaxed)
        return taken
    }

    /// Records begun in total (self-observability: they count as accepted).
    var recordedCount: Int {
        // Relaxed: a statistic.
        (0...stripeMask).reduce(0) { $0 + Int(truncatingIfNeeded: control(stripe: $1).load(ordering: .relaxed) & ~Self.hotBit) }
    }
}
