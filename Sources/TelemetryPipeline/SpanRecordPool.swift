import Atomics
import CPipelineSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The storage of one span while it is recorded and queued: a reused block holding the span's
/// ``SpanData`` and room for ``SpanRecord/inlineAttributeCapacity`` attributes, so that starting
/// a span, setting its first attributes and queueing it allocate nothing.
///
/// A `SpanRecord` is a handle (one pointer) to a block taken from the pipeline's
/// ``SpanRecordPool``. Exactly one owner uses it at a time: the producer's `Span` while it is
/// live, then the span ring, then the pipeline worker, which moves the data out with
/// ``takeData()`` and hands the block back to the pool. Because only the handle travels through
/// the ring, a span is written once, in place, and never copied between start and export; and the
/// worker, not the producer, allocates the exported attribute array (so the producer never takes
/// the allocator lock that the freeing thread holds).
///
/// Block layout: `[SpanData][inline count: Int][owns scope: Int][Attribute × inlineAttributeCapacity]`.
/// While the block is in the pool its data and attributes are deinitialized. Inline attributes
/// come first in the span's order, then `data.attributes`.
///
/// The scope: a span started by a tracer holds its scope **unretained** (the pipeline keeps the
/// scopes of its tracers alive, ``Pipeline/keepScopeAlive(_:)``), because a retain per span on
/// the producer and a release per span where batches are freed made the two threads fight over
/// the scope's reference count. `data.scope` is given the reference without a retain, and the
/// worker adds the missing retain when it moves the data out (``takeData(scopeRetains:)``, one
/// `swift_retain_n` per run of spans of one scope), or ``deinitializeData()`` when it is discarded.
@usableFromInline
package struct SpanRecord: @unchecked Sendable, BitwiseCopyable {
    /// Attributes stored in the block itself; more go to `data.attributes`.
    @inlinable package static var inlineAttributeCapacity: Int { 8 }

    // Computed (not stored) so that they fold to constants instead of going through a lazy global.
    @inlinable static var countOffset: Int { align(MemoryLayout<SpanData>.size, to: MemoryLayout<Int>.alignment) }
    @inlinable static var ownsScopeOffset: Int { countOffset + MemoryLayout<Int>.size }
    @inlinable static var attributesOffset: Int {
        align(ownsScopeOffset + MemoryLayout<Int>.size, to: MemoryLayout<Attribute>.alignment)
    }
    static var byteCount: Int { attributesOffset + inlineAttributeCapacity * MemoryLayout<Attribute>.stride }

    @inlinable static func align(_ offset: Int, to alignment: Int) -> Int { (offset + alignment - 1) & ~(alignment - 1) }

    @usableFromInline let base: UnsafeMutableRawPointer

    @usableFromInline init(base: UnsafeMutableRawPointer) { self.base = base }

    /// Allocates a block and binds its regions (its data is uninitialized).
    static func allocateBlock() -> SpanRecord {
        // `malloc` itself: Swift's allocate(byteCount:alignment:) goes through posix_memalign for
        // every alignment (about 200 instructions more per block); malloc's 16 bytes suffice.
        guard let base = malloc(byteCount) else { fatalError("out of memory allocating a span block") }
        base.bindMemory(to: SpanData.self, capacity: 1)
        (base + countOffset).bindMemory(to: Int.self, capacity: 2).initialize(repeating: 0, count: 2)
        (base + attributesOffset).bindMemory(to: Attribute.self, capacity: inlineAttributeCapacity)
        return SpanRecord(base: base)
    }

    /// Lines of the block a span with a few attributes writes: the data, the count and scope
    /// flag, and the first four inline attributes.
    static var hotByteCount: Int { attributesOffset + 4 * MemoryLayout<Attribute>.stride }

    /// Asks the cache for the block's hot lines, to be written (the next span's block) or read
    /// (the next block the worker moves out). Only a hint: the block may be taken by another
    /// thread meanwhile, or even freed (a prefetch never faults).
    func prefetch(forWriting: Bool) {
        var offset = 0
        while offset < Self.hotByteCount {
            if forWriting { otlp_prefetch_for_writing(base + offset) } else { otlp_prefetch_for_reading(base + offset) }
            offset += 64
        }
    }

    /// Frees a block whose data is deinitialized.
    func deallocateBlock() { free(base) }

    /// The span's data (its `attributes` hold only those past the inline ones).
    @inlinable package var data: UnsafeMutablePointer<SpanData> { base.assumingMemoryBound(to: SpanData.self) }

    @inlinable var inlineCount: UnsafeMutablePointer<Int> { (base + Self.countOffset).assumingMemoryBound(to: Int.self) }
    /// 1 when `data.scope` holds a retain of its own, 0 when it is unretained.
    @inlinable var ownsScope: UnsafeMutablePointer<Int> { (base + Self.ownsScopeOffset).assumingMemoryBound(to: Int.self) }
    @inlinable var inlineAttributes: UnsafeMutablePointer<Attribute> {
        (base + Self.attributesOffset).assumingMemoryBound(to: Attribute.self)
    }

    /// Initializes the data of a new span (the block must be uninitialized). `scope` must be
    /// kept alive by the pipeline (``Pipeline/keepScopeAlive(_:)``): the record does not retain it.
    @inlinable
    func initialize(name: String, context: SpanContext, parentSpanID: SpanID?, kind: SpanKind,
                    startTimeUnixNano: UInt64, scope: KeptAliveScope) {
        // `takeRetainedValue` of an unretained reference: the data holds the scope without a
        // retain of its own (added when the data leaves the block: ``takeData(scopeRetains:)``).
        let borrowed = InstrumentationScope(storage: scope.reference.takeRetainedValue())
        data.initialize(to: SpanData(
            name: name, context: context, parentSpanID: parentSpanID, kind: kind,
            startTimeUnixNano: startTimeUnixNano, scope: borrowed))
        inlineCount.pointee = 0
        ownsScope.pointee = 0
    }

    /// Initializes the block from a finished span (its attributes stay in one array; the scope
    /// keeps its own retain).
    func initialize(with span: consuming SpanData) {
        data.initialize(to: span)
        inlineCount.pointee = 0
        ownsScope.pointee = 1
    }

    /// Gives `data.scope` a retain of its own if it has none (before the data leaves the block).
    private func retainScopeIfBorrowed() {
        guard ownsScope.pointee == 0 else { return }
        _ = Unmanaged.passUnretained(data.pointee.scope.storage).retain()
        ownsScope.pointee = 1
    }

    /// How many attributes the span has.
    package var attributeCount: Int { inlineCount.pointee + data.pointee.attributes.count }

    /// The span's attributes, in order.
    package var attributes: [Attribute] {
        let inline = UnsafeBufferPointer(start: inlineAttributes, count: inlineCount.pointee)
        return Array(inline) + data.pointee.attributes
    }

    /// Sets `key` to `value`, replacing an attribute with the same key, within `limits` (values
    /// are cut to the length limit). Returns `false` when it was dropped by the count limit.
    ///
    /// `key` and `value` are taken owned (`consuming`): the caller's values (often literals, which
    /// cost nothing to own) move into the block, with no retain of the key and no copy of the value.
    @inlinable
    package func setAttribute(_ key: consuming String, _ value: consuming AttributeValue, limits: AttributeLimits) -> Bool {
        if let lengthLimit = limits.attributeValueLengthLimit, let cut = value.truncated(to: lengthLimit) {
            value = cut
        }
        return setAttribute(key, value, countLimit: limits.attributeCountLimit)
    }

    @inlinable
    func setAttribute(_ key: consuming String, _ value: consuming AttributeValue, countLimit: Int) -> Bool {
        let count = inlineCount.pointee
        let attributes = inlineAttributes
        // Keys of different UTF-8 length cannot be equal; for native strings the length is O(1).
        let keyLength = key.utf8.count
        for index in 0..<count where attributes[index].key.utf8.count == keyLength && attributes[index].key == key {
            attributes[index].value = value
            return true
        }
        if !data.pointee.attributes.isEmpty || count == Self.inlineAttributeCapacity {
            return data.pointee.attributes.setAttribute(key, value, countLimit: countLimit - count)
        }
        guard count < countLimit else { return false }
        (attributes + count).initialize(to: Attribute(key, value))
        inlineCount.pointee = count + 1
        return true
    }

    /// Removes every attribute (the dropped count is left as it is).
    package func removeAllAttributes() {
        inlineAttributes.deinitialize(count: inlineCount.pointee)
        inlineCount.pointee = 0
        data.pointee.attributes.removeAll()
    }

    /// Moves the span's data out with all its attributes in one array, leaving the block's data
    /// deinitialized (ready to go back to the pool).
    package func takeData() -> SpanData {
        var retains = ScopeRetains()
        let data = takeData(scopeRetains: &retains)
        retains.apply()
        return data
    }

    /// ``takeData()``, except that a borrowed scope's retain is added to `scopeRetains` (which
    /// must be applied before the data leaves the caller) instead of made here.
    ///
    /// Writes only the line holding `data.attributes` (the count and scope flag are set again by
    /// `initialize`): the producer that takes the block next then finds most of its lines
    /// shared, not modified in this thread's cache. (Moving the data into a local and setting its
    /// attributes there made the compiler copy and destroy the whole span.)
    package func takeData(scopeRetains: inout ScopeRetains) -> SpanData {
        let count = inlineCount.pointee
        if ownsScope.pointee == 0 {
            // The scope's object pointer, read as bits from the block (no reference counting).
            scopeRetains.add((base + Self.scopeOffset).load(as: UnsafeMutableRawPointer.self))
        }
        if count > 0 {
            // Built with the specialized `append`: `Array(unsafeUninitializedCapacity:)` went
            // through unspecialized code that looked up array metadata and copied the span.
            var all: [Attribute] = []
            all.reserveCapacity(count + data.pointee.attributes.count)
            let inline = inlineAttributes
            for index in 0..<count { all.append((inline + index).move()) }
            if !data.pointee.attributes.isEmpty { all.append(contentsOf: data.pointee.attributes) }
            data.pointee.attributes = all
        }
        return data.move()
    }

    /// Where `data.scope` (whose one stored property is its storage reference) sits in the block.
    static let scopeOffset: Int = {
        guard let offset = MemoryLayout<SpanData>.offset(of: \.scope),
              MemoryLayout<InstrumentationScope>.size == MemoryLayout<UnsafeRawPointer>.size else {
            fatalError("SpanData.scope is not a stored reference")
        }
        return offset
    }()

    /// Deinitializes the block's data and attributes (the span is discarded).
    func deinitializeData() {
        retainScopeIfBorrowed()
        inlineAttributes.deinitialize(count: inlineCount.pointee)
        inlineCount.pointee = 0
        data.deinitialize(count: 1)
    }
}

/// Retains owed to borrowed scopes of spans moved out of their blocks, added up so that a run
/// of spans of one scope costs one atomic update of its reference count (``apply()``), not one
/// per span: the threads freeing exported batches release the same count, and updating it per
/// span made the worker and those threads contend for its cache line.
package struct ScopeRetains {
    private var object: UnsafeMutableRawPointer?
    private var count: UInt32 = 0

    package init() {}

    /// Owes one retain of `object`.
    mutating func add(_ object: UnsafeMutableRawPointer) {
        if object != self.object || count == .max { apply() }
        self.object = object
        count += 1
    }

    /// Makes every owed retain.
    package mutating func apply() {
        if let object, count > 0 { otlp_retain_n(object, count) }
        object = nil
        count = 0
    }
}

/// A scope the pipeline keeps alive (``Pipeline/keepScopeAlive(_:)``), as an unretained
/// reference: handing it to ``Pipeline/makeSpanRecord(name:context:parentSpanID:kind:startTimeUnixNano:scope:)``
/// costs no retain (passing the `InstrumentationScope` value made the compiler retain and release it).
@usableFromInline
package struct KeptAliveScope: @unchecked Sendable {
    @usableFromInline let reference: Unmanaged<InstrumentationScope.Storage>

    @usableFromInline init(reference: Unmanaged<InstrumentationScope.Storage>) { self.reference = reference }
}

/// Reused ``SpanRecord`` blocks, shared by all producers and the worker without locks.
///
/// The free blocks sit in a bounded multi-producer / multi-consumer queue (Dmitry Vyukov's
/// algorithm, as in ``MPSCRingBuffer`` but with a compare-and-swap on the consumer side too):
/// producers take blocks, the worker (and producers discarding a span) give them back. When the
/// queue is empty a new block is allocated; when it is full a returned block is freed, so the pool
/// holds at most `capacity` idle blocks and grows only while more spans are live or queued.
@usableFromInline
package final class SpanRecordPool: @unchecked Sendable {
    /// `[enqueue position | dequeue position | blocks allocated | blocks freed]`, each on its own
    /// padded line.
    private let header: UnsafeMutableRawPointer
    private let sequences: UnsafeMutablePointer<AtomicIntStorage>
    /// The idle blocks' addresses, as atomic words: a take also peeks at the next slot (to
    /// prefetch its block), which can race with that slot being refilled.
    private let blocks: UnsafeMutablePointer<AtomicIntStorage>
    private let mask: Int
    /// Number of idle blocks the pool keeps (a power of two).
    package let capacity: Int

    private static var linePadding: Int { 128 }

    package init(minimumCapacity: Int) {
        var capacity = 2
        while capacity < minimumCapacity { capacity <<= 1 }
        self.capacity = capacity
        mask = capacity - 1
        header = UnsafeMutableRawPointer.allocate(byteCount: 4 * Self.linePadding, alignment: Self.linePadding)
        for index in 0..<4 {
            (header + index * Self.linePadding).bindMemory(to: AtomicIntStorage.self, capacity: 1)
                .initialize(to: AtomicIntStorage(0))
        }
        sequences = UnsafeMutablePointer<AtomicIntStorage>.allocate(capacity: capacity)
        for index in 0..<capacity { (sequences + index).initialize(to: AtomicIntStorage(index)) }
        blocks = UnsafeMutablePointer<AtomicIntStorage>.allocate(capacity: capacity)
        for index in 0..<capacity { (blocks + index).initialize(to: AtomicIntStorage(0)) }
    }

    deinit {
        while let block = dequeue() { SpanRecord(base: block).deallocateBlock() }
        sequences.deinitialize(count: capacity)
        sequences.deallocate()
        blocks.deinitialize(count: capacity)
        blocks.deallocate()
        header.deallocate()
    }

    private var enqueuePosition: UnsafeAtomic<Int> { UnsafeAtomic(at: header.assumingMemoryBound(to: AtomicIntStorage.self)) }
    private var dequeuePosition: UnsafeAtomic<Int> {
        UnsafeAtomic(at: (header + Self.linePadding).assumingMemoryBound(to: AtomicIntStorage.self))
    }
    private var allocations: UnsafeAtomic<Int> {
        UnsafeAtomic(at: (header + 2 * Self.linePadding).assumingMemoryBound(to: AtomicIntStorage.self))
    }
    private var frees: UnsafeAtomic<Int> {
        UnsafeAtomic(at: (header + 3 * Self.linePadding).assumingMemoryBound(to: AtomicIntStorage.self))
    }
    private func sequence(_ slot: Int) -> UnsafeAtomic<Int> { UnsafeAtomic(at: sequences + slot) }
    private func block(_ slot: Int) -> UnsafeAtomic<Int> { UnsafeAtomic(at: blocks + slot) }

    /// How many blocks were ever allocated (idle, in use and freed ones).
    package var allocatedCount: Int { allocations.load(ordering: .relaxed) }  // Relaxed: a statistic.
    /// How many blocks were freed because the pool already held `capacity` idle ones.
    package var freedCount: Int { frees.load(ordering: .relaxed) }  // Relaxed: a statistic.
    /// How many blocks are idle in the pool (exact when no take or give-back is in progress).
    package var idleCount: Int {
        // Relaxed: a statistic read.
        enqueuePosition.load(ordering: .relaxed) &- dequeuePosition.load(ordering: .relaxed)
    }

    /// A block with uninitialized data: an idle one, or a new one when none is idle.
    @usableFromInline
    package func take() -> SpanRecord {
        if let block = dequeue(prefetchingNext: true) { return SpanRecord(base: block) }
        allocations.wrappingIncrement(ordering: .relaxed)  // Relaxed: a statistic.
        return SpanRecord.allocateBlock()
    }

    /// Gives back a block whose data was moved out or deinitialized.
    package func giveBack(_ record: SpanRecord) {
        if !enqueue(record.base) {
            frees.wrappingIncrement(ordering: .relaxed)  // Relaxed: a statistic.
            record.deallocateBlock()
        }
    }

    /// Deinitializes a record's data and gives its block back (a span that is not exported).
    @usableFromInline
    package func discard(_ record: SpanRecord) {
        record.deinitializeData()
        giveBack(record)
    }

    private func enqueue(_ block: UnsafeMutableRawPointer) -> Bool {
        // Relaxed: a guess at the next free position; the slot's sequence and the CAS decide.
        var position = enqueuePosition.load(ordering: .relaxed)
        while true {
            let slot = position & mask
            // Acquiring: pairs with the releasing store of the dequeuer that emptied this slot.
            let difference = sequence(slot).load(ordering: .acquiring) &- position
            if difference == 0 {
                // Relaxed: arbitrates between enqueuers only; the releasing store below publishes.
                let (claimed, current) = enqueuePosition.weakCompareExchange(
                    expected: position, desired: position &+ 1, ordering: .relaxed)
                if claimed {
                    // Relaxed: published by the releasing sequence store below.
                    self.block(slot).store(Int(bitPattern: block), ordering: .relaxed)
                    // Releasing: the block pointer (and every write to the block before it was
                    // given back) happens-before the dequeuer's acquiring load.
                    sequence(slot).store(position &+ 1, ordering: .releasing)
                    return true
                }
                position = current
            } else if difference < 0 {
                return false  // full
            } else {
                position = enqueuePosition.load(ordering: .relaxed)  // Relaxed: as above.
            }
        }
    }

    /// Takes the oldest idle block. With `prefetchingNext`, also asks the cache for the block
    /// the next take will get (the span after this one writes it, so its lines, last read by the
    /// worker on another core, arrive while this span is recorded).
    private func dequeue(prefetchingNext: Bool = false) -> UnsafeMutableRawPointer? {
        // Relaxed: a guess; the slot's sequence and the CAS decide.
        var position = dequeuePosition.load(ordering: .relaxed)
        while true {
            let slot = position & mask
            // Acquiring: pairs with the enqueuer's releasing store, so the block and its contents
            // as last written by the thread that gave it back are visible.
            let difference = sequence(slot).load(ordering: .acquiring) &- (position &+ 1)
            if difference == 0 {
                // Relaxed: arbitrates between dequeuers; the slot was published by the acquire above.
                let (claimed, current) = dequeuePosition.weakCompareExchange(
                    expected: position, desired: position &+ 1, ordering: .relaxed)
                if claimed {
                    // Relaxed: the acquiring sequence load above ordered the enqueuer's store.
                    let block = UnsafeMutableRawPointer(bitPattern: self.block(slot).load(ordering: .relaxed))!
                    // Releasing: our read of the slot happens-before an enqueuer's next write to it.
                    sequence(slot).store(position &+ capacity, ordering: .releasing)
                    if prefetchingNext {
                        let next = (position &+ 1) & mask
                        // Acquiring: as above; the next slot's block pointer is read only once
                        // its enqueuer published it.
                        // (Relaxed: only a hint; the slot may even be refilled meanwhile.)
                        if sequence(next).load(ordering: .acquiring) == position &+ 2,
                           let upcoming = UnsafeMutableRawPointer(bitPattern: self.block(next).load(ordering: .relaxed)) {
                            SpanRecord(base: upcoming).prefetch(forWriting: true)
                        }
                    }
                    return block
                }
                position = current
            } else if difference < 0 {
                return nil  // empty
            } else {
                position = dequeuePosition.load(ordering: .relaxed)  // Relaxed: as above.
            }
        }
    }
}
