public import Atomics

/// The storage of one atomic `Int`, spelled through `UnsafeAtomic` so that it is swift-atomics'
/// representation and not the Synchronization module's.
public typealias AtomicIntStorage = UnsafeAtomic<Int>.Storage

/// A bounded, lock-free queue: Dmitry Vyukov's algorithm, the one implementation behind the signal
/// rings (``MPSCRingBuffer``: many producers, the worker as the only consumer) and the span block
/// free list (``SpanRecordPool``: many threads on both sides).
///
/// Every slot carries a sequence number that says whose turn it is: `sequence == position` → free
/// for the producer that claims `position`; `sequence == position + 1` → holds the element
/// enqueued at `position`; a consumer that empties it stores `position + capacity`, the next lap's
/// free value. So an enqueue is one compare-and-swap on the tail plus one release store, a
/// single-consumer dequeue is one acquire load plus one release store (no compare-and-swap), and a
/// multi-consumer dequeue adds one compare-and-swap on the head. Nothing is allocated and no lock is
/// taken per operation.
///
/// - The capacity is rounded up to a power of two, so slot indices are a mask, not a division.
/// - The tail (written by producers), the head (written by consumers) and the drop counter each
///   live on their own 128-byte line, so producers and consumers do not false-share.
/// - Any number of threads may enqueue. Dequeue either with the `SingleConsumer` methods, from one
///   thread at a time, or with ``dequeueMultiConsumer()`` from any number: never both on one queue
///   while it is shared.
///
/// All raw slot and sequence arithmetic lives in this type; no pointer escapes it. `Slots` says
/// how an element is stored (moved in and out, or as an atomic word that may be peeked at).
///
/// A handle (pointers, stored in place in its owner): the owner calls ``deallocate()`` once, in
/// its deinit. Not a `~Copyable` struct with a deinit: the Swift 6.3 runtime treats a generic
/// noncopyable struct whose fields are all trivial as trivially destroyed when it goes through
/// the struct's metadata, and skips its deinit (https://github.com/swiftlang/swift/pull/89686).
@usableFromInline
struct BoundedSequencedQueue<Slots: SequencedQueueSlots> {
    @usableFromInline typealias Element = Slots.Element

    /// Bytes reserved per hot index, enough to keep two of them off one cache line (and off
    /// adjacent-line prefetch pairs).
    @inlinable static var linePadding: Int { 128 }

    /// `[tail | head | dropped]`, each on its own padded line.
    @usableFromInline let header: UnsafeMutableRawPointer
    /// Per-slot sequence numbers (see the type's comment).
    @usableFromInline let sequences: UnsafeMutablePointer<AtomicIntStorage>
    /// Slot `i` holds an element exactly while `sequences[i] == position + 1`.
    @usableFromInline let slots: Slots
    /// Number of slots minus one (the number of slots is a power of two).
    @usableFromInline let mask: Int

    /// Creates a queue with at least `minimumCapacity` slots (rounded up to a power of two, at least 2).
    init(minimumCapacity: Int) {
        precondition(minimumCapacity > 0, "queue capacity must be positive")
        var capacity = 2
        while capacity < minimumCapacity { capacity <<= 1 }
        mask = capacity - 1
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
        slots = Slots(capacity: capacity)
    }

    /// Releases whatever was enqueued but never dequeued, exactly once, and frees the queue. No
    /// other thread may use it any more (so the single-consumer path is right whoever consumed).
    func deallocate() {
        while dequeueSingleConsumer() != nil {}
        slots.deallocate(capacity: capacity)
        sequences.deinitialize(count: capacity)
        sequences.deallocate()
        header.deallocate()
    }

    /// Number of slots (a power of two).
    @inlinable @inline(__always)
    var capacity: Int { mask &+ 1 }

    @inlinable @inline(__always)
    var tail: UnsafeAtomic<Int> {
        UnsafeAtomic(at: header.assumingMemoryBound(to: AtomicIntStorage.self))
    }

    @inlinable @inline(__always)
    var head: UnsafeAtomic<Int> {
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

    // MARK: Producers (any number of threads)

    /// Enqueues `element`, or refuses it when the queue is full (counting a drop if `countingDrop`).
    ///
    /// Lock-free and wait-free in the absence of contention; never blocks, never allocates.
    /// - Returns: the element's position (its ordinal among all successful enqueues, from 0), or
    ///   `nil` when the queue was full and the element was dropped.
    @inlinable @inline(__always)
    @discardableResult
    func enqueue(_ element: consuming Element, countingDrop: Bool) -> Int? {
        // Relaxed: the tail is only a guess at the next free position; the per-slot sequence
        // (acquire below) and the compare-exchange decide who owns a slot.
        var position = tail.load(ordering: .relaxed)
        while true {
            let slot = position & mask
            // Acquiring: pairs with the consumer's releasing store when it emptied this slot, so
            // our write into the slot cannot race with its earlier move out of it.
            let difference = sequence(slot).load(ordering: .acquiring) &- position
            if difference == 0 {
                // Relaxed: the compare-exchange only arbitrates between producers; the element's
                // visibility is published by the releasing sequence store below.
                let (claimed, current) = tail.weakCompareExchange(
                    expected: position, desired: position &+ 1, ordering: .relaxed)
                if claimed {
                    slots.initialize(slot, to: element)
                    // Releasing: makes the element's initialization (and every write the producer
                    // made to what it points to) visible to the consumer's acquiring load.
                    sequence(slot).store(position &+ 1, ordering: .releasing)
                    return position
                }
                position = current
            } else if difference < 0 {
                // The slot still holds the element from one lap ago: the queue is full.
                if countingDrop { countDrop() }
                return nil
            } else {
                // Another producer claimed this position; catch up. Relaxed as above.
                position = tail.load(ordering: .relaxed)
            }
        }
    }

    /// Counts one element dropped by a producer (one that gave up waiting for room).
    @inlinable @inline(__always)
    func countDrop() {
        // Relaxed: a statistic; no other memory depends on it.
        drops.wrappingIncrement(ordering: .relaxed)
    }

    // MARK: One consumer

    /// Removes and returns the oldest element, or `nil` when the queue is empty. Only one thread
    /// may consume at a time, and none through ``dequeueMultiConsumer()``.
    @inlinable @inline(__always)
    func dequeueSingleConsumer() -> Element? {
        // Relaxed: only this consumer writes the head, so it reads back its own last store.
        let position = head.load(ordering: .relaxed)
        let slot = position & mask
        // Acquiring: pairs with the producer's releasing store, so the element it wrote is visible.
        guard sequence(slot).load(ordering: .acquiring) == position &+ 1 else { return nil }
        let element = slots.move(slot)
        // Releasing: our move out of the slot happens-before a producer's next write into it
        // (it loads this sequence with acquiring ordering).
        sequence(slot).store(position &+ capacity, ordering: .releasing)
        // Relaxed: besides this consumer, only ``count`` reads the head, as an estimate; nothing
        // is published through it.
        head.store(position &+ 1, ordering: .relaxed)
        return element
    }

    /// Dequeues up to `maxCount` elements in order, handing each to `body`. Returns how many it
    /// dequeued. Only one thread may consume at a time.
    @inlinable @inline(__always)
    @discardableResult
    func drainSingleConsumer(maxCount: Int, _ body: (consuming Element) throws -> Void) rethrows -> Int {
        var count = 0
        while count < maxCount, let element = dequeueSingleConsumer() {
            count += 1
            try body(element)
        }
        return count
    }

    // MARK: Any number of consumers

    /// Removes the oldest element with its position, or returns `nil` when the queue is empty.
    /// Any number of threads may call it at once (and none the `SingleConsumer` methods).
    @inlinable @inline(__always)
    func dequeueMultiConsumer() -> (element: Element, position: Int)? {
        // Relaxed: a guess at the oldest position; the slot's sequence and the CAS decide.
        var position = head.load(ordering: .relaxed)
        while true {
            let slot = position & mask
            // Acquiring: pairs with the producer's releasing store, so the element (and what it
            // points to, as last written by the thread that enqueued it) is visible.
            let difference = sequence(slot).load(ordering: .acquiring) &- (position &+ 1)
            if difference == 0 {
                // Relaxed: arbitrates between consumers only; the slot was published by the
                // acquire above.
                let (claimed, current) = head.weakCompareExchange(
                    expected: position, desired: position &+ 1, ordering: .relaxed)
                if claimed {
                    let element = slots.move(slot)
                    // Releasing: our read of the slot happens-before a producer's next write to it.
                    sequence(slot).store(position &+ capacity, ordering: .releasing)
                    return (element, position)
                }
                position = current
            } else if difference < 0 {
                return nil  // empty
            } else {
                // Another consumer took this position; catch up. Relaxed as above.
                position = head.load(ordering: .relaxed)
            }
        }
    }

    // MARK: Statistics

    /// Total number of successful enqueues since creation (monotonic).
    @inlinable
    var enqueuedCount: Int {
        // Relaxed: a statistic read; every successful enqueue advanced the tail exactly once.
        tail.load(ordering: .relaxed)
    }

    /// Total number of drops counted (monotonic).
    @inlinable
    var droppedCount: Int {
        // Relaxed: a statistic read.
        drops.load(ordering: .relaxed)
    }

    /// Approximate number of queued elements (exact when no enqueue or dequeue is in progress).
    @inlinable
    var count: Int {
        // Relaxed: an estimate (wake-up decisions, statistics); consumers re-check slots anyway.
        let head = head.load(ordering: .relaxed)
        let tail = tail.load(ordering: .relaxed)
        return max(0, min(capacity, tail &- head))
    }
}

extension BoundedSequencedQueue where Slots: PeekableSequencedQueueSlots {
    /// The element enqueued at `position` if it is still queued, without dequeuing it: a hint
    /// only (a prefetch), since another consumer may take it, and a producer refill its slot,
    /// before the caller uses it.
    @inlinable @inline(__always)
    func peek(at position: Int) -> Element? {
        let slot = position & mask
        // Acquiring: pairs with the producer's releasing store, so the element read below is the
        // one enqueued at `position` (or a later lap's: the slot's read is atomic, never torn).
        guard sequence(slot).load(ordering: .acquiring) == position &+ 1 else { return nil }
        return slots.peek(slot)
    }
}

/// How a ``BoundedSequencedQueue`` stores its elements. The queue's sequence numbers order each
/// slot's accesses: `initialize` happens-before the releasing store that publishes the slot, and
/// `move` follows the acquiring load that saw it published, so a slot is never written and read
/// at once.
@usableFromInline
protocol SequencedQueueSlots {
    associatedtype Element
    /// Allocates `capacity` empty slots.
    init(capacity: Int)
    /// Frees the slots, all empty.
    func deallocate(capacity: Int)
    /// Stores `element` into an empty slot a producer claimed.
    func initialize(_ slot: Int, to element: consuming Element)
    /// Takes the element out of a full slot a consumer claimed, leaving it empty.
    func move(_ slot: Int) -> Element
}

/// Slots whose element may be read while a producer of a later lap writes it (atomic words), so
/// that a consumer may look at an element it has not claimed (``BoundedSequencedQueue/peek(at:)``).
@usableFromInline
protocol PeekableSequencedQueueSlots: SequencedQueueSlots {
    /// The element in `slot`, read atomically, or `nil` if the slot was never written.
    func peek(_ slot: Int) -> Element?
}

/// Slots of any element type, moved in and out (the signal rings).
@usableFromInline
struct MovedElementSlots<Element>: SequencedQueueSlots {
    @usableFromInline let elements: UnsafeMutablePointer<Element>

    @usableFromInline
    init(capacity: Int) { elements = UnsafeMutablePointer<Element>.allocate(capacity: capacity) }

    @usableFromInline
    func deallocate(capacity: Int) { elements.deallocate() }

    @inlinable @inline(__always)
    func initialize(_ slot: Int, to element: consuming Element) { (elements + slot).initialize(to: element) }

    @inlinable @inline(__always)
    func move(_ slot: Int) -> Element { (elements + slot).move() }
}

/// Slots of raw pointers stored as atomic words (the span block free list), so a consumer can
/// peek at the block a later take will get.
@usableFromInline
struct AtomicPointerSlots: PeekableSequencedQueueSlots {
    @usableFromInline let words: UnsafeMutablePointer<AtomicIntStorage>

    @usableFromInline
    init(capacity: Int) {
        words = UnsafeMutablePointer<AtomicIntStorage>.allocate(capacity: capacity)
        for index in 0..<capacity { (words + index).initialize(to: AtomicIntStorage(0)) }
    }

    @usableFromInline
    func deallocate(capacity: Int) {
        words.deinitialize(count: capacity)
        words.deallocate()
    }

    @inlinable @inline(__always)
    func initialize(_ slot: Int, to element: consuming UnsafeMutableRawPointer) {
        // Relaxed: published by the queue's releasing sequence store.
        UnsafeAtomic<Int>(at: words + slot).store(Int(bitPattern: element), ordering: .relaxed)
    }

    @inlinable @inline(__always)
    func move(_ slot: Int) -> UnsafeMutableRawPointer {
        // Relaxed: the queue's acquiring sequence load ordered the producer's store before this.
        UnsafeMutableRawPointer(bitPattern: UnsafeAtomic<Int>(at: words + slot).load(ordering: .relaxed))!
    }

    @inlinable @inline(__always)
    func peek(_ slot: Int) -> UnsafeMutableRawPointer? {
        // Relaxed: ordered by the caller's acquiring sequence load; the value is only a hint.
        UnsafeMutableRawPointer(bitPattern: UnsafeAtomic<Int>(at: words + slot).load(ordering: .relaxed))
    }
}
