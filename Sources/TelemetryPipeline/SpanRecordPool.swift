public import TelemetryCore
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
/// live, then the span ring, then the pipeline worker, which moves the handle into a batch
/// (``SpanRecordList``); the exporters read the span in its block, and releasing the batch hands
/// the block back to the pool. Because only the handle travels, a span is written once, in
/// place, and never copied between start and export, and the worker allocates nothing per span.
///
/// Block layout: `[SpanData][inline count: Int][owns scope: Int][holds data: Int][inline key lengths: UInt64][Attribute × inlineAttributeCapacity]`.
/// Inline attributes come first in the span's order, then `data.attributes`.
///
/// A block in the pool holds no data ("holds data" is 0): whoever gives a block back clears it
/// first (``clearData()``): the thread releasing an exported batch, or the producer dropping a
/// span. (Leaving the clearing to the producer that takes the block next would make every span
/// pay for the last one's on the producer's thread.)
///
/// The scope: a span started by a tracer holds its scope **unretained** (the pipeline keeps the
/// scopes of its tracers alive, ``Pipeline/keepScopeAlive(_:)``, and its pool keeps them alive
/// for blocks and batches that outlive it), because a retain per span on the producer and a
/// release per span where batches are freed would make the threads fight over the scope's
/// reference count. `data.scope` is given the reference without a retain; ``clearData()`` leaves it
/// unreleased, and a copy of the data (``SpanRecordList/spans(in:)``) retains it as usual.
@usableFromInline
package struct SpanRecord: @unchecked Sendable, BitwiseCopyable {
    /// Attributes stored in the block itself; more go to `data.attributes`.
    @inlinable package static var inlineAttributeCapacity: Int { 8 }

    // Computed (not stored) so that they fold to constants instead of going through a lazy global.
    @inlinable static var countOffset: Int { align(MemoryLayout<SpanData>.size, to: MemoryLayout<Int>.alignment) }
    @inlinable static var ownsScopeOffset: Int { countOffset + MemoryLayout<Int>.size }
    @inlinable static var holdsDataOffset: Int { ownsScopeOffset + MemoryLayout<Int>.size }
    @inlinable static var keyLengthsOffset: Int { holdsDataOffset + MemoryLayout<Int>.size }
    @inlinable static var attributesOffset: Int {
        align(keyLengthsOffset + MemoryLayout<UInt64>.size, to: MemoryLayout<Attribute>.alignment)
    }
    static var byteCount: Int { attributesOffset + inlineAttributeCapacity * MemoryLayout<Attribute>.stride }

    @inlinable static func align(_ offset: Int, to alignment: Int) -> Int { (offset + alignment - 1) & ~(alignment - 1) }

    @usableFromInline let base: UnsafeMutableRawPointer

    @usableFromInline init(base: UnsafeMutableRawPointer) { self.base = base }

    /// Allocates a block and binds its regions (its data is uninitialized).
    static func allocateBlock() -> SpanRecord {
        // Aligned to a cache line, so that a span with a few attributes writes 6 lines, not 7.
        // (Blocks are allocated only while the pool has none idle.)
        var allocated: UnsafeMutableRawPointer?
        guard posix_memalign(&allocated, 64, byteCount) == 0, let base = allocated else {
            fatalError("out of memory allocating a span block")
        }
        base.bindMemory(to: SpanData.self, capacity: 1)
        (base + countOffset).bindMemory(to: Int.self, capacity: 4).initialize(repeating: 0, count: 4)
        (base + attributesOffset).bindMemory(to: Attribute.self, capacity: inlineAttributeCapacity)
        return SpanRecord(base: base)
    }

    /// Lines of the block a span with a few attributes writes: the data, the count and scope
    /// flag, and the first four inline attributes.
    static var hotByteCount: Int { attributesOffset + 4 * MemoryLayout<Attribute>.stride }

    /// Asks the cache for the block's hot lines, to be written (the next span's block, or a
    /// released batch's block a few places ahead of the one being cleared). Only a hint: the
    /// block may be taken by another thread meanwhile, or even freed (a prefetch never faults).
    func prefetchForWriting() {
        var offset = 0
        while offset < Self.hotByteCount {
            otlp_prefetch_for_writing(base + offset)
            offset += 64
        }
    }

    /// Asks the cache for the block's hot lines, to be read soon (an encoder reading ahead).
    func prefetchForReading() {
        var offset = 0
        while offset < Self.hotByteCount {
            otlp_prefetch_for_reading(base + offset)
            offset += 64
        }
    }

    /// Frees a block, deinitializing the data it still holds.
    func deallocateBlock() {
        clearData()
        free(base)
    }

    /// The span's data (its `attributes` hold only those past the inline ones).
    @inlinable var data: UnsafeMutablePointer<SpanData> { base.assumingMemoryBound(to: SpanData.self) }

    @inlinable var inlineCount: UnsafeMutablePointer<Int> { (base + Self.countOffset).assumingMemoryBound(to: Int.self) }
    /// 1 when `data.scope` holds a retain of its own, 0 when it is unretained.
    @inlinable var ownsScope: UnsafeMutablePointer<Int> { (base + Self.ownsScopeOffset).assumingMemoryBound(to: Int.self) }
    /// 1 while `data` and the inline attributes are initialized (a live, queued or exported span,
    /// or the last span of a block back in the pool), 0 when they are not.
    @inlinable var holdsData: UnsafeMutablePointer<Int> { (base + Self.holdsDataOffset).assumingMemoryBound(to: Int.self) }
    /// Bit `n % 64` is set when an inline attribute's key is `n` UTF-8 bytes long: a key whose
    /// bit is clear cannot equal any inline key, so setting it skips the search for one. All
    /// bits are set once `data.attributes` holds any attribute, so that no key is appended
    /// unchecked (``canAppendUnchecked(keyLengthBit:room:)``) before or beside those.
    @inlinable var inlineKeyLengths: UnsafeMutablePointer<UInt64> {
        (base + Self.keyLengthsOffset).assumingMemoryBound(to: UInt64.self)
    }
    @inlinable var inlineAttributes: UnsafeMutablePointer<Attribute> {
        (base + Self.attributesOffset).assumingMemoryBound(to: Attribute.self)
    }

    /// Initializes the data of a new span (the block must hold none: ``clearData()``). `scope` must be
    /// kept alive by the pipeline (``Pipeline/keepScopeAlive(_:)``): the record does not retain it.
    @inlinable
    func initialize(name: String, context: SpanContext, parentSpanID: SpanID?, kind: SpanKind,
                    startTimeUnixNano: UInt64, scope: KeptAliveScope) {
        // `takeRetainedValue` of an unretained reference: the data holds the scope without a
        // retain of its own (``clearData()`` does not release it).
        let borrowed = InstrumentationScope(storage: scope.reference.takeRetainedValue())
        data.initialize(to: SpanData(
            name: name, context: context, parentSpanID: parentSpanID, kind: kind,
            startTimeUnixNano: startTimeUnixNano, scope: borrowed))
        inlineCount.pointee = 0
        ownsScope.pointee = 0
        holdsData.pointee = 1
        inlineKeyLengths.pointee = 0
    }

    /// Initializes the block from a finished span (its attributes stay in one array; the scope
    /// keeps its own retain).
    func initialize(with span: consuming SpanData) {
        data.initialize(to: span)
        inlineCount.pointee = 0
        ownsScope.pointee = 1
        holdsData.pointee = 1
        // All bits set: its attributes are in `data.attributes`, so no append is unchecked.
        inlineKeyLengths.pointee = data.pointee.attributes.isEmpty ? 0 : ~0
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
    @inlinable @inline(__always)
    package func setAttribute(_ key: consuming String, _ value: consuming AttributeValue, limits: AttributeLimits) -> Bool {
        if let lengthLimit = limits.attributeValueLengthLimit, let cut = value.truncated(to: lengthLimit) {
            value = cut
        }
        return setAttribute(key, value, countLimit: limits.attributeCountLimit)
    }

    @inlinable @inline(__always)
    func setAttribute(_ key: consuming String, _ value: consuming AttributeValue, countLimit: Int) -> Bool {
        let count = inlineCount.pointee
        let attributes = inlineAttributes
        // Keys of different UTF-8 length cannot be equal; for native strings the length is O(1).
        let keyLength = key.utf8.count
        let lengthBit: UInt64 = 1 &<< UInt64(truncatingIfNeeded: keyLength & 63)
        let keyLengths = inlineKeyLengths.pointee
        if keyLengths & lengthBit != 0 {
            for index in 0..<count where attributes[index].key.utf8.count == keyLength && attributes[index].key == key {
                attributes[index].value = value
                return true
            }
        }
        if !data.pointee.attributes.isEmpty || count == Self.inlineAttributeCapacity {
            // All bits set: from now on every set searches and goes through this check.
            inlineKeyLengths.pointee = ~0
            return data.pointee.attributes.setAttribute(key, value, countLimit: countLimit - count)
        }
        guard count < countLimit else { return false }
        (attributes + count).initialize(to: Attribute(key, value))
        inlineCount.pointee = count + 1
        inlineKeyLengths.pointee = keyLengths | lengthBit
        return true
    }

    /// The bit of ``inlineKeyLengths`` for a key of this UTF-8 length.
    @inlinable @inline(__always)
    package static func keyLengthBit(_ key: borrowing String) -> UInt64 {
        1 &<< UInt64(truncatingIfNeeded: key.utf8.count & 63)
    }

    /// Whether a key with `keyLengthBit` can be appended with no check: fewer than `room`
    /// inline attributes, no inline key of its length, and no attribute past the inline ones
    /// (their bits are all set then).
    @inlinable @inline(__always)
    package func canAppendUnchecked(keyLengthBit: UInt64, room: Int) -> Bool {
        inlineCount.pointee < room && inlineKeyLengths.pointee & keyLengthBit == 0
    }

    /// Appends an inline attribute after ``canAppendUnchecked(keyLengthBit:room:)`` said yes.
    @inlinable @inline(__always)
    package func appendUnchecked(_ key: consuming String, _ value: consuming AttributeValue, keyLengthBit: UInt64) {
        let count = inlineCount.pointee
        (inlineAttributes + count).initialize(to: Attribute(key, value))
        inlineCount.pointee = count &+ 1
        inlineKeyLengths.pointee |= keyLengthBit
    }

    /// Removes every attribute (the dropped count is left as it is).
    package func removeAllAttributes() {
        inlineAttributes.deinitialize(count: inlineCount.pointee)
        inlineCount.pointee = 0
        inlineKeyLengths.pointee = 0
        data.pointee.attributes.removeAll()
    }

    /// Deinitializes the data and inline attributes the block still holds, if any. A borrowed
    /// scope is left as it is: releasing it would need a retain first, and both would update
    /// the scope's reference count, which every thread recording or releasing spans shares.
    @inlinable
    func clearData() {
        guard holdsData.pointee != 0 else { return }
        clearHeldData()
    }

    @usableFromInline
    func clearHeldData() {
        // One attribute at a time: deinitializing the range goes through the runtime's generic
        // array destroy, a value-witness call per attribute.
        let attributes = inlineAttributes
        for index in 0..<inlineCount.pointee { (attributes + index).deinitialize(count: 1) }
        inlineCount.pointee = 0
        if ownsScope.pointee != 0 {
            data.deinitialize(count: 1)
        } else {
            SpanDataFields.deinitializeAllButScope(data)
        }
        holdsData.pointee = 0
    }
}

/// A scope the pipeline keeps alive (``Pipeline/keepScopeAlive(_:)``), as an unretained
/// reference: handing it to ``Pipeline/makeSpanRecord(name:context:parentSpanID:kind:startTimeUnixNano:scope:)``
/// costs no retain (passing the `InstrumentationScope` value makes the compiler retain and release it).
@usableFromInline
package struct KeptAliveScope: @unchecked Sendable {
    @usableFromInline let reference: Unmanaged<InstrumentationScope.Storage>

    @usableFromInline init(reference: Unmanaged<InstrumentationScope.Storage>) { self.reference = reference }
}

/// Reused ``SpanRecord`` blocks, shared by all producers and the exporters' threads without locks.
///
/// The free blocks sit in a ``BoundedSequencedQueue`` used from many threads on both sides (the
/// same queue as ``MPSCRingBuffer``'s, with its compare-and-swap dequeue): producers take blocks;
/// the threads releasing exported batches (and producers discarding a span) give them back. When
/// the queue is empty a new block is allocated; when it is full a returned block is freed, so the
/// pool holds at most `capacity` idle blocks and grows only while more spans are live, queued or
/// in batches being exported.
@usableFromInline
package final class SpanRecordPool: @unchecked Sendable {
    /// The idle blocks' addresses, as atomic words: a take also peeks at a later slot (to
    /// prefetch its block), which can race with that slot being refilled. A give-back to a full
    /// queue counts a drop there: ``freedCount``.
    private let blocks: BoundedSequencedQueue<AtomicPointerSlots>
    /// Blocks allocated, on a padded line of its own (it is written only while none is idle).
    private let allocations: UnsafeMutableRawPointer
    /// Keeps alive the scopes that span records borrow (the pipeline's kept scopes): idle
    /// blocks and exported batches may hold them after the pipeline is gone.
    private let scopeKeeper: AnyObject?

    package init(minimumCapacity: Int, scopeKeeper: AnyObject? = nil) {
        self.scopeKeeper = scopeKeeper
        blocks = BoundedSequencedQueue(minimumCapacity: minimumCapacity)
        let padding = BoundedSequencedQueue<AtomicPointerSlots>.linePadding
        allocations = UnsafeMutableRawPointer.allocate(byteCount: padding, alignment: padding)
        allocations.bindMemory(to: AtomicIntStorage.self, capacity: 1).initialize(to: AtomicIntStorage(0))
    }

    deinit {
        while let taken = blocks.dequeueMultiConsumer() { SpanRecord(base: taken.element).deallocateBlock() }
        blocks.deallocate()
        allocations.deallocate()
    }

    private var allocationCount: UnsafeAtomic<Int> {
        UnsafeAtomic(at: allocations.assumingMemoryBound(to: AtomicIntStorage.self))
    }

    /// Number of idle blocks the pool keeps (a power of two).
    package var capacity: Int { blocks.capacity }
    /// How many blocks were ever allocated (idle, in use and freed ones).
    package var allocatedCount: Int { allocationCount.load(ordering: .relaxed) }  // Relaxed: a statistic.
    /// How many blocks were freed because the pool already held `capacity` idle ones.
    package var freedCount: Int { blocks.droppedCount }
    /// How many blocks are idle in the pool (exact when no take or give-back is in progress).
    package var idleCount: Int { blocks.count }

    /// A block with uninitialized data: an idle one, or a new one when none is idle.
    @usableFromInline
    package func take() -> SpanRecord {
        if let taken = blocks.dequeueMultiConsumer() {
            // Asks the cache for the block the take after next will get: a span after this one
            // writes it, so its lines, last written by the thread that released it, on another
            // core, arrive while two spans are recorded (one span's time is not always enough
            // for the transfer).
            if let upcoming = blocks.peek(at: taken.position &+ 2) {
                SpanRecord(base: upcoming).prefetchForWriting()
            }
            return SpanRecord(base: taken.element)
        }
        allocationCount.wrappingIncrement(ordering: .relaxed)  // Relaxed: a statistic.
        return SpanRecord.allocateBlock()
    }

    /// Gives back a block whose data is cleared (``SpanRecord/clearData()``).
    package func giveBack(_ record: SpanRecord) {
        // Full: the drop is counted (``freedCount``) and the block freed.
        if blocks.enqueue(record.base, countingDrop: true) == nil {
            record.deallocateBlock()
        }
    }

    /// Clears a record's data and gives its block back (a span that is not exported).
    @usableFromInline
    package func discard(_ record: SpanRecord) {
        record.clearData()
        giveBack(record)
    }
}

/// The span records of a batch cut by the pipeline, still in their blocks: the worker moves
/// only the handles out of the ring (no copy, no attribute array per span), exporters read the
/// spans in place (``span(at:)``, ``inlineAttributes(at:)``) or copy them out (``spans(in:)``),
/// and when the last copy of the batch is released the blocks' data is cleared and the blocks
/// go back to their pool, on the releasing thread.
///
/// Read-only once made, so concurrent exporters may read it. The pool keeps the scopes the
/// records borrow alive.
package final class SpanRecordList: PooledSpans, @unchecked Sendable {
    private let records: [SpanRecord]
    private let pool: SpanRecordPool
    /// Read passes finished (``finishedReading()``). Reference counting already orders every
    /// reader's accesses before the deinit that clears the blocks and gives them back, but the
    /// runtime that does it is not instrumented, so ThreadSanitizer cannot see that ordering
    /// when the last reference is dropped on another thread than the reads: each read pass
    /// ends with a releasing add here and the deinit begins with an acquiring load, the same
    /// ordering in a form it sees. One atomic add per pass over a batch, not per span.
    private let readPasses = ManagedAtomic<Int>(0)

    package init(records: [SpanRecord], pool: SpanRecordPool) {
        self.records = records
        self.pool = pool
    }

    deinit {
        // Acquiring: pairs with the readers' releasing adds (see `readPasses`).
        _ = readPasses.load(ordering: .acquiring)
        // The blocks were last written by the producers, on other cores: clearing them one after
        // the other waited for each block's lines in turn. Asking for the blocks a few places
        // ahead lets those transfers overlap.
        let ahead = 4
        // One reference to the pool for the whole loop: reading `self.pool` for each block
        // retained and released the pool every time, and the pool's reference count shares a
        // cache line with the fields every producer reads to take a block, so each give-back
        // took that line away from the producers.
        let pool = pool
        for index in records.indices {
            if index &+ ahead < records.count { records[index &+ ahead].prefetchForWriting() }
            let record = records[index]
            record.clearData()
            pool.giveBack(record)
        }
    }

    /// How many spans the list holds.
    package var count: Int { records.count }

    /// Ends a pass of in-place reads (``span(at:)``, ``inlineAttributes(at:)``), see `readPasses`.
    package func finishedReading() {
        // Releasing: the pass's reads happen-before the deinit's acquiring load.
        readPasses.wrappingIncrement(ordering: .releasing)
    }

    /// Asks the cache for the block of the span at `index` (an encoder reading ahead).
    package func prefetch(at index: Int) { records[index].prefetchForReading() }

    /// The span at `index`, in place (its `attributes` hold only those past the inline ones:
    /// ``inlineAttributes(at:)`` come first). Valid while the list is alive.
    package func span(at index: Int) -> SpanView { SpanView(unsafeSpan: records[index].data) }

    /// The first attributes of the span at `index`, stored in its block. Valid while the list is alive.
    package func inlineAttributes(at index: Int) -> UnsafeBufferPointer<Attribute> {
        let record = records[index]
        return UnsafeBufferPointer(start: record.inlineAttributes, count: record.inlineCount.pointee)
    }

    /// Copies of the spans in `range`, each with all its attributes in one array.
    package func spans(in range: Range<Int>) -> [SpanData] {
        var spans: [SpanData] = []
        spans.reserveCapacity(range.count)
        for index in range {
            let record = records[index]
            var span = record.data.pointee  // a copy: it retains what it refers to, scope included
            if record.inlineCount.pointee > 0 { span.attributes = record.attributes }
            spans.append(span)
        }
        finishedReading()
        return spans
    }
}

/// Deinitializes a ``SpanData`` in place field by field, to leave out its scope.
enum SpanDataFields {
    /// The names of `SpanData`'s stored properties, in order: a test compares them with the
    /// type's, so that a new field cannot be left out of ``deinitializeAllButScope(_:)``.
    static let names = ["name", "context", "parentSpanID", "kind", "startTimeUnixNano", "endTimeUnixNano", "attributes",
                        "droppedAttributesCount", "events", "droppedEventsCount", "links", "droppedLinksCount", "status", "scope"]

    private struct Offsets {
        let name, context, attributes, events, links, status: Int
    }

    private static let offsets: Offsets = {
        func offset<Field>(_ field: KeyPath<SpanData, Field>) -> Int {
            guard let offset = MemoryLayout<SpanData>.offset(of: field) else { fatalError("SpanData field without storage") }
            return offset
        }
        return Offsets(name: offset(\.name), context: offset(\.context), attributes: offset(\.attributes),
                       events: offset(\.events), links: offset(\.links), status: offset(\.status))
    }()

    /// Deinitializes every field of `span` that holds references except `scope`, which is left
    /// unreleased. The other fields (ids, kind, times, counts) are trivial.
    static func deinitializeAllButScope(_ span: UnsafeMutablePointer<SpanData>) {
        let base = UnsafeMutableRawPointer(span)
        let offsets = offsets
        (base + offsets.name).assumingMemoryBound(to: String.self).deinitialize(count: 1)
        (base + offsets.context).assumingMemoryBound(to: SpanContext.self).deinitialize(count: 1)
        deinitializeUnlessEmptyStorage((base + offsets.attributes).assumingMemoryBound(to: [Attribute].self))
        deinitializeUnlessEmptyStorage((base + offsets.events).assumingMemoryBound(to: [SpanEvent].self))
        deinitializeUnlessEmptyStorage((base + offsets.links).assumingMemoryBound(to: [SpanLink].self))
        (base + offsets.status).assumingMemoryBound(to: SpanStatus.self).deinitialize(count: 1)
    }

    /// Deinitializes an array unless it has no storage of its own (capacity 0: the shared empty
    /// storage, which releasing leaves as it is), as most spans' overflow attributes, events and
    /// links: that skips three release calls per span.
    @inline(__always)
    private static func deinitializeUnlessEmptyStorage<Element>(_ array: UnsafeMutablePointer<[Element]>) {
        if array.pointee.capacity != 0 { array.deinitialize(count: 1) }
    }

    /// Whether the fields left out of ``deinitializeAllButScope(_:)`` (besides `scope`) need no
    /// deinitialization.
    static var skippedFieldsAreTrivial: Bool {
        _isPOD(SpanID?.self) && _isPOD(SpanKind.self) && _isPOD(UInt64.self) && _isPOD(UInt32.self)
    }
}
