/// A bounded, lock-free, multi-producer / single-consumer ring buffer.
///
/// A ``BoundedSequencedQueue`` (Dmitry Vyukov's bounded queue) consumed by one thread: a push is
/// one compare-and-swap on the tail index plus one release store, and a pop is one acquire load
/// plus one release store. Nothing is allocated and no lock is taken per push. When the buffer is
/// full, ``push(_:)`` fails at once and increments ``droppedCount``.
///
/// - The capacity is rounded up to a power of two, so slot indices are a mask, not a division.
/// - The tail index (written by producers), the consumer's head and the drop counter each live on
///   their own 128-byte line, so producers and the consumer do not false-share.
/// - Any number of threads may call ``push(_:)`` concurrently. ``pop()`` and ``drain(maxCount:_:)``
///   must only ever be called by one thread at a time (the pipeline's worker).
public final class MPSCRingBuffer<Element>: @unchecked Sendable {
    @usableFromInline let queue: BoundedSequencedQueue<MovedElementSlots<Element>>

    /// Creates a ring with at least `minimumCapacity` slots (rounded up to a power of two, at least 2).
    public init(minimumCapacity: Int) {
        queue = BoundedSequencedQueue(minimumCapacity: minimumCapacity)
    }

    deinit {
        // Releases whatever was pushed but never popped, exactly once.
        queue.deallocate()
    }

    /// Number of slots (a power of two).
    @inlinable
    public var capacity: Int { queue.capacity }

    /// Pushes `element`, or drops it (and counts the drop) when the ring is full.
    ///
    /// Lock-free and wait-free in the absence of contention; never blocks, never allocates.
    /// - Returns: the element's position (its ordinal among all successful pushes, from 0),
    ///   or `nil` when the ring was full and the element was dropped.
    @inlinable
    @discardableResult
    public func push(_ element: consuming Element) -> Int? {
        queue.enqueue(element, countingDrop: true)
    }

    /// Pushes `element` when there is room, without counting a drop when there is none (for a
    /// producer that waits for room and tries again; ``countDrop()`` when it gives up).
    @inlinable
    public func tryPush(_ element: consuming Element) -> Int? {
        queue.enqueue(element, countingDrop: false)
    }

    /// Counts one element dropped by a producer that gave up waiting for room.
    @inlinable
    public func countDrop() {
        queue.countDrop()
    }

    /// Removes and returns the oldest element, or `nil` when the ring is empty.
    /// Only one thread may consume at a time.
    @inlinable
    public func pop() -> Element? {
        queue.dequeueSingleConsumer()
    }

    /// Pops up to `maxCount` elements in order, handing each to `body`. Returns how many it popped.
    /// Only one thread may consume at a time.
    @inlinable
    @discardableResult
    public func drain(maxCount: Int = .max, _ body: (consuming Element) throws -> Void) rethrows -> Int {
        try queue.drainSingleConsumer(maxCount: maxCount, body)
    }

    /// Total number of successful pushes since creation (monotonic).
    public var acceptedCount: Int { queue.enqueuedCount }

    /// Total number of pushes that failed because the ring was full (monotonic).
    public var droppedCount: Int { queue.droppedCount }

    /// Approximate number of queued elements (exact when no push or pop is in progress).
    public var count: Int { queue.count }
}
