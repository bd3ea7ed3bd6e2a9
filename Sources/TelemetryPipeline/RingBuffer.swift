import Atomics

/// The storage of one atomic `Int`, spelled through `UnsafeAtomic` so that it is swift-atomics'
/// representation and not the Synchronization module's.
public typealias AtomicIntStorage = UnsafeAtomic<Int>.Storage

/// A bounded, lock-free, multi-producer / single-consumer ring buffer.
///
/// The algorithm is Dmitry Vyukov's bounded queue: every slot carries a sequence number that tells
/// producers and the consumer whose turn it is, so a push is one compare-and-swap on the tail index
/// plus one release store, and a pop is one acquire load plus one release store. Nothing is
/// allocated and no lock is taken per push. When the buffer is full, ``push(_:)`` fails at once
/// and increments ``droppedCount``.
///
/// - The capacity is rounded up to a power of two, so slot indices are a mask, not a division.
/// - The tail index (written by producers), the consumer's published head and the drop counter each
///   live on their own 128-byte line, so producers and the consumer do not false-share.
/// - Any number of threads may call ``push(_:)`` concurrently. ``pop()`` and ``drain(maxCount:_:)``
///   must only ever be called by one thread at a time (the pipeline's worker).
///
/// All raw slot arithmetic lives in this type; no pointer escapes it.
public final class MPSCRingBuffer<Element>: @unchecked Sendable {
    /// Bytes reserved per hot index, enough to keep two of them off one cache line (and off
    /// adjacent-line prefetch pairs).
    @usableFromInline static var linePadding: Int { 128 }

    /// `[tail | head | dropped]`, each on its own padded line.
    @usableFromInline let header: UnsafeMutableRawPointer
    /// Per-slot sequence numbers (Vyukov). `sequence == position` → free for the producer that
    /// claims `position`; `sequence == position + 1` → holds the element pushed at `position`.
    @usableFromInline let sequences: UnsafeMutablePointer<AtomicIntStorage>
    /// Element storage; slot `i` is initialized exactly while `sequences[i] == position + 1`.
    @usableFromInline let elements: UnsafeMutablePointer<Element>
    /// Number of slots (a power of two).
    public let capacity: Int
    @usableFromInline let mask: Int
    /// The consumer's next position. Touched only by the single consumer.
    @exclusivity(unchecked) @usableFromInline var consumerPosition: Int = 0

    /// Creates a ring with at least `minimumCapacity` slots (rounded up to a power of two, at least 2).
    public init(minimumCapacity: Int) {
        precondition(minimumCapacity > 0, "ring capacity must be positive")
        var capacity = 2
        while capacity < minimumCapacity { capacity <<= 1 }
        self.capacity = capacity
        self.mask = capacity - 1
        let padding = Self.linePadding
        header = UnsafeMutableRawPointer.allocate(byteCount: 3 * padding, alignment: padding)
        for index in 0..<3 {
            (header + index * padding).bindMemory(to: AtomicIntStorage.self, capacity: 1)
                .initialize(to: AtomicIntStorage(0))
        }
        sequences = UnsafeMutablePointer<AtomicIntStorage>.allocate(capacity: capacity)
        for index in 0..<capacity {
            (sequences + index).initialize(to: AtomicIntStorage(index))
        }
        elements = UnsafeMutablePointer<Element>.allocate(capacity: capacity)
    }

    deinit {
        // Release whatever was pushed but never popped, exactly once.
        while pop() != nil {}
        sequences.deinitialize(count: capacity)
        sequences.deallocate()
        elements.deallocate()
        header.deallocate()
    }

    @inlinable @inline(__always)
    var tail: UnsafeAtomic<Int> {
        UnsafeAtomic(at: header.assumingMemoryBound(to: AtomicIntStorage.self))
    }

    @inlinable @inline(__always)
    var publishedHead: UnsafeAtomic<Int> {
        UnsafeAtomic(at: (header + Self.linePadding).assumingMemoryBound(to: AtomicIntStorage.self))
    }

    @inlinable @inline(__always)
    var drops: UnsafeAtomic<Int> {
        UnsafeAtomic(at: (header + 2 * Self.linePadding).assumingMemoryBound(to: AtomicIntStorage.self))
    }

    @inlinable @inline(__always)
    func sequence(_ slot: Int) -> UnsafeAtomic<Int> {
        UnsafeAtomic(at: sequences + slot)
    }

    /// Pushes `element`, or drops it (and counts the drop) when the ring is full.
    ///
    /// Lock-free and wait-free in the absence of contention; never blocks, never allocates.
    /// - Returns: the element's position (its ordinal among all successful pushes, from 0),
    ///   or `nil` when the ring was full and the element was dropped.
    @inlinable
    @discardableResult
    public func push(_ element: consuming Element) -> Int? {
        push(element, countingDrop: true)
    }

    /// Pushes `element` when there is room, without counting a drop when there is none (for a
    /// producer that waits for room and tries again; ``countDrop()`` when it gives up).
    @inlinable
    public func tryPush(_ element: consuming Element) -> Int? {
        push(element, countingDrop: false)
    }

    /// Counts one element dropped by a producer that gave up waiting for room.
    @inlinable
    public func countDrop() {
        // Relaxed: a statistic; no other memory depends on it.
        drops.wrappingIncrement(ordering: .relaxed)
    }

    @inlinable @inline(__always)
    func push(_ element: consuming Element, countingDrop: Bool) -> Int? {
        // Relaxed: the tail is only a guess at the next free position; the per-slot sequence
        // (acquire below) and the compare-exchange decide who owns a slot.
        var position = tail.load(ordering: .relaxed)
        while true {
            let slot = position & mask
            // Acquiring: pairs with the consumer's releasing store when it freed this slot, so our
            // write into the slot cannot race with its earlier move out of it.
            let sequence = sequence(slot).load(ordering: .acquiring)
            let difference = sequence &- position
            if difference == 0 {
                // Relaxed: the compare-exchange only arbitrates between producers; the element's
                // visibility is published by the releasing sequence store below.
                let (claimed, current) = tail.weakCompareExchange(
                    expected: position, desired: position &+ 1, ordering: .relaxed)
                if claimed {
                    (elements + slot).initialize(to: element)
                    // Releasing: makes the element's initialization visible to the consumer's
                    // acquiring load of this sequence.
                    self.sequence(slot).store(position &+ 1, ordering: .releasing)
                    return position
                }
                position = current
            } else if difference < 0 {
                // The slot still holds the element from one lap ago: the ring is full.
                if countingDrop { countDrop() }
                return nil
            } else {
                // Another producer claimed this position; catch up. Relaxed as above.
                position = tail.load(ordering: .relaxed)
            }
        }
    }

    /// Removes and returns the oldest element, or `nil` when the ring is empty.
    /// Only one thread may consume at a time.
    @inlinable
    public func pop() -> Element? {
        let position = consumerPosition
        let slot = position & mask
        // Acquiring: pairs with the producer's releasing store, so the element it wrote is visible.
        let sequence = sequence(slot).load(ordering: .acquiring)
        guard sequence == position &+ 1 else { return nil }
        let element = (elements + slot).move()
        // Releasing: our move out of the slot happens-before a producer's next write into it
        // (it loads this sequence with acquiring ordering).
        self.sequence(slot).store(position &+ capacity, ordering: .releasing)
        consumerPosition = position &+ 1
        // Relaxed: only read for the approximate `count`; nothing else is published through it.
        publishedHead.store(position &+ 1, ordering: .relaxed)
        return element
    }

    /// Pops up to `maxCount` elements in order, handing each to `body`. Returns how many it popped.
    /// Only one thread may consume at a time.
    @inlinable
    @discardableResult
    public func drain(maxCount: Int = .max, _ body: (consuming Element) throws -> Void) rethrows -> Int {
        var count = 0
        while count < maxCount, let element = pop() {
            count += 1
            try body(element)
        }
        return count
    }

    /// Total number of successful pushes since creation (monotonic).
    public var acceptedCount: Int {
        // Relaxed: a statistic read; every successful push advanced the tail exactly once.
        tail.load(ordering: .relaxed)
    }

    /// Total number of pushes that failed because the ring was full (monotonic).
    public var droppedCount: Int {
        // Relaxed: a statistic read.
        drops.load(ordering: .relaxed)
    }

    /// Approximate number of queued elements (exact when no push or pop is in progress).
    public var count: Int {
        // Relaxed: an estimate used for wake-up decisions; the consumer re-checks slots anyway.
        let head = publishedHead.load(ordering: .relaxed)
        let tail = tail.load(ordering: .relaxed)
        return max(0, min(capacity, tail &- head))
    }
}
