/// Reuse of repeated string and byte-string values within one decode.
///
/// Telemetry repeats itself: every span of a batch carries the same attribute keys, most carry
/// the same trace id, many the same route or server address. Without help each occurrence costs a
/// UTF-8 validation, a heap allocation and a copy (for strings longer than 15 bytes, which Swift
/// cannot store inline). The table keeps, in a small direct-mapped cache, a value decoded for a
/// given content hash (one that recurs: see ``StringSlot``) together with where its bytes lie in
/// the input; an equal run
/// of input bytes later on returns the same `String` (or `[UInt8]`) — one retain, no allocation,
/// no validation (the bytes are identical to ones already validated).
///
/// Likewise a packed run of doubles equal to the previous one (a histogram's bounds) reuses its
/// array, a small message of the one type generated as reusable (OTLP's `KeyValue`: the same
/// attribute on many spans) equal in bytes to an earlier one is a copy of it, and so is a whole
/// run of such messages (the same attribute set on many points: one array for all of them).
///
/// The result is indistinguishable from decoding every value afresh (Swift strings and arrays are
/// values); only storage is shared. The cache is bounded (fixed slot counts, allocated once per
/// decode of inputs of at least ``minimumInputCount`` bytes), its pointers refer only into the
/// input being decoded, and it is freed when that decode ends. Turn it off with
/// ``ProtoDecodingOptions/reusesRepeatedValues``.
@usableFromInline
struct ProtoInternTable {
    /// A slot of the direct-mapped caches (strings, byte strings, messages) holds the value kept
    /// for the `count` bytes at `start` (`count` 0: none yet), and the place of the last bytes
    /// that mapped to the slot, were seen once and are not kept (`pendingCount` 0: none). A value
    /// is kept when first seen if its slot is empty, else when seen a second time while still
    /// pending: one-off values (a URL, a span id, a sequence number) then cost no copy into the
    /// table and do not evict values that recur.
    @usableFromInline
    struct StringSlot {
        @usableFromInline var start: UnsafeRawPointer?
        @usableFromInline var count: Int
        @usableFromInline var string: String
        @usableFromInline var pendingStart: UnsafeRawPointer?
        @usableFromInline var pendingCount: Int
        @inlinable init() { start = nil; count = 0; string = ""; pendingStart = nil; pendingCount = 0 }
    }

    /// Like ``StringSlot``.
    @usableFromInline
    struct BytesSlot {
        @usableFromInline var start: UnsafeRawPointer?
        @usableFromInline var count: Int
        @usableFromInline var bytes: [UInt8]
        @usableFromInline var pendingStart: UnsafeRawPointer?
        @usableFromInline var pendingCount: Int
        @inlinable init() { start = nil; count = 0; bytes = []; pendingStart = nil; pendingCount = 0 }
    }

    /// Inputs shorter than this are decoded without a table (not worth its allocation).
    @usableFromInline static let minimumInputCount = 2048
    /// Shorter strings are created afresh (cheaper than a look-up).
    @usableFromInline static let minimumStringCount = 8
    /// Largest encoded message reused by ``ProtoReader/readRepeatedReusableMessage(tag:into:)``.
    @usableFromInline static let maximumMessageCount = 256
    @usableFromInline static let messageSlotBits = 8
    @usableFromInline static let maximumStringCount = 4096
    @usableFromInline static let minimumBytesCount = 8
    @usableFromInline static let maximumBytesCount = 64
    @usableFromInline static let stringSlotBits = 8
    @usableFromInline static let shortStringSlotBits = 6
    @usableFromInline static let bytesSlotBits = 6

    /// A string of 1 to 7 bytes, found by `key`: its bytes and byte count in one word (0: unused).
    @usableFromInline
    struct ShortStringSlot {
        @usableFromInline var key: UInt64
        @usableFromInline var string: String
        @inlinable init() { key = 0; string = "" }
    }

    @usableFromInline
    struct DoublesSlot {
        @usableFromInline var start: UnsafeRawPointer?
        @usableFromInline var count: Int
        @usableFromInline var doubles: [Double]
        @inlinable init() { start = nil; count = 0; doubles = [] }
    }

    @usableFromInline let strings: UnsafeMutablePointer<StringSlot>
    @usableFromInline let byteStrings: UnsafeMutablePointer<BytesSlot>
    /// The last packed run of doubles (one slot).
    @usableFromInline let lastDoubles: UnsafeMutablePointer<DoublesSlot>
    /// Strings of 1 to 7 bytes (see ``shortString(_:)``).
    @usableFromInline let shortStrings: UnsafeMutablePointer<ShortStringSlot>
    /// Slots for one reusable message type, created on first use.
    @usableFromInline let messages: UnsafeMutablePointer<MessageCache>

    /// Like ``StringSlot``; `depth` is the depth at which the kept message was decoded.
    @usableFromInline
    struct MessageSlot<M: ProtoMessage> {
        @usableFromInline var start: UnsafeRawPointer?
        @usableFromInline var count: Int
        @usableFromInline var depth: Int
        @usableFromInline var message: M
        @usableFromInline var pendingStart: UnsafeRawPointer?
        @usableFromInline var pendingCount: Int
        @inlinable init() { start = nil; count = 0; depth = -1; message = M(); pendingStart = nil; pendingCount = 0 }
    }

    /// Where the reusable message slots are, for which type, and how to free them.
    @usableFromInline
    struct MessageCache {
        @usableFromInline var type: ObjectIdentifier?
        @usableFromInline var slots: UnsafeMutableRawPointer?
        /// Slots for whole runs of the reusable type (see ``ProtoReader/readRepeatedReusableMessage(tag:into:)``).
        @usableFromInline var runs: UnsafeMutableRawPointer?
        @usableFromInline var free: ((UnsafeMutableRawPointer, UnsafeMutableRawPointer) -> Void)?
        /// Run look-ups so far that found an equal earlier run, and that did not.
        @usableFromInline var runHits: Int
        @usableFromInline var runMisses: Int
        @inlinable init() { type = nil; slots = nil; runs = nil; free = nil; runHits = 0; runMisses = 0 }
    }

    /// A run of consecutive elements of a repeated field of the reusable type, decoded earlier.
    @usableFromInline
    struct RunSlot<M: ProtoMessage> {
        @usableFromInline var start: UnsafeRawPointer?
        @usableFromInline var count: Int
        @usableFromInline var depth: Int
        @usableFromInline var elements: [M]
        @inlinable init() { start = nil; count = 0; depth = -1; elements = [] }
    }

    @usableFromInline static let runSlotBits = 8
    /// Largest run (in bytes, from the first element's length prefix to the end of the last
    /// element) looked up as a whole.
    @usableFromInline static let maximumRunCount = 4096
    /// Run look-ups stop for the rest of an input once this many have missed with fewer than one
    /// hit per 8 misses: an input whose runs never repeat pays for at most this many.
    @usableFromInline static let runMissAllowance = 256

    /// Whether whole runs are still looked up in this input (see ``runMissAllowance``).
    @inlinable
    var looksUpRuns: Bool {
        let cache = messages.pointee
        return cache.runMisses < Self.runMissAllowance || cache.runHits &* 8 >= cache.runMisses
    }

    /// The run slots for `M`; only after ``messageSlots(_:)`` returned slots for `M`.
    @inlinable
    func runSlots<M: ProtoMessage>(_ type: M.Type) -> UnsafeMutablePointer<RunSlot<M>> {
        messages.pointee.runs!.assumingMemoryBound(to: RunSlot<M>.self)
    }

    /// The message slots for `M`: created for the first reusable type asked for; `nil` for any
    /// other type (one type per decode: in OTLP, `KeyValue`).
    @inlinable
    func messageSlots<M: ProtoMessage>(_ type: M.Type) -> UnsafeMutablePointer<MessageSlot<M>>? {
        if let known = messages.pointee.type {
            guard known == ObjectIdentifier(M.self) else { return nil }
            return messages.pointee.slots!.assumingMemoryBound(to: MessageSlot<M>.self)
        }
        return createMessageSlots(type)
    }

    // Inlinable so that the slots are set up and torn down by code specialized for `M`.
    @inlinable
    func createMessageSlots<M: ProtoMessage>(_ type: M.Type) -> UnsafeMutablePointer<MessageSlot<M>> {
        let count = 1 << Self.messageSlotBits
        let slots = UnsafeMutablePointer<MessageSlot<M>>.allocate(capacity: count)
        // Slot by slot: `initialize(repeating:)` copies through a value witness call per slot.
        for i in 0..<count { (slots + i).initialize(to: MessageSlot<M>()) }
        let runCount = 1 << Self.runSlotBits
        let runs = UnsafeMutablePointer<RunSlot<M>>.allocate(capacity: runCount)
        for i in 0..<runCount { (runs + i).initialize(to: RunSlot<M>()) }
        messages.pointee.type = ObjectIdentifier(M.self)
        messages.pointee.slots = UnsafeMutableRawPointer(slots)
        messages.pointee.runs = UnsafeMutableRawPointer(runs)
        messages.pointee.free = { rawSlots, rawRuns in
            let typed = rawSlots.assumingMemoryBound(to: MessageSlot<M>.self)
            typed.deinitialize(count: count)
            typed.deallocate()
            let typedRuns = rawRuns.assumingMemoryBound(to: RunSlot<M>.self)
            typedRuns.deinitialize(count: runCount)
            typedRuns.deallocate()
        }
        return slots
    }

    /// Allocates an empty table; release it with ``deallocate()``.
    @usableFromInline
    static func allocate() -> ProtoInternTable {
        let strings = UnsafeMutablePointer<StringSlot>.allocate(capacity: 1 << stringSlotBits)
        strings.initialize(repeating: StringSlot(), count: 1 << stringSlotBits)
        let byteStrings = UnsafeMutablePointer<BytesSlot>.allocate(capacity: 1 << bytesSlotBits)
        byteStrings.initialize(repeating: BytesSlot(), count: 1 << bytesSlotBits)
        let lastDoubles = UnsafeMutablePointer<DoublesSlot>.allocate(capacity: 1)
        lastDoubles.initialize(to: DoublesSlot())
        let shortStrings = UnsafeMutablePointer<ShortStringSlot>.allocate(capacity: 1 << shortStringSlotBits)
        shortStrings.initialize(repeating: ShortStringSlot(), count: 1 << shortStringSlotBits)
        let messages = UnsafeMutablePointer<MessageCache>.allocate(capacity: 1)
        messages.initialize(to: MessageCache())
        return ProtoInternTable(strings: strings, byteStrings: byteStrings, lastDoubles: lastDoubles, shortStrings: shortStrings,
                                messages: messages)
    }

    @usableFromInline
    init(strings: UnsafeMutablePointer<StringSlot>, byteStrings: UnsafeMutablePointer<BytesSlot>,
         lastDoubles: UnsafeMutablePointer<DoublesSlot>, shortStrings: UnsafeMutablePointer<ShortStringSlot>,
         messages: UnsafeMutablePointer<MessageCache>) {
        self.strings = strings
        self.byteStrings = byteStrings
        self.lastDoubles = lastDoubles
        self.shortStrings = shortStrings
        self.messages = messages
    }

    /// Releases the values held and the table's storage.
    @usableFromInline
    func deallocate() {
        strings.deinitialize(count: 1 << Self.stringSlotBits)
        strings.deallocate()
        byteStrings.deinitialize(count: 1 << Self.bytesSlotBits)
        byteStrings.deallocate()
        lastDoubles.deinitialize(count: 1)
        lastDoubles.deallocate()
        shortStrings.deinitialize(count: 1 << Self.shortStringSlotBits)
        shortStrings.deallocate()
        if let slots = messages.pointee.slots, let runs = messages.pointee.runs, let free = messages.pointee.free { free(slots, runs) }
        messages.deinitialize(count: 1)
        messages.deallocate()
    }

    /// The doubles of a packed run (`bytes`: a non-zero multiple of 8, little-endian): the array
    /// of the previous run if its bytes were equal, or a new one.
    @inlinable
    func doubles(_ bytes: UnsafeRawBufferPointer) -> [Double] {
        let p = bytes.baseAddress!
        let count = bytes.count
        if lastDoubles.pointee.count == count, let start = lastDoubles.pointee.start, Self.equal(start, p, count) {
            return lastDoubles.pointee.doubles
        }
        let array = Self.makeArray(p, count: count / 8, of: Double.self)
        lastDoubles.pointee.start = p
        lastDoubles.pointee.count = count
        lastDoubles.pointee.doubles = array
        return array
    }

    /// Hash of `count` (≥ 8) bytes at `p`, from three 8-byte words (start, middle, end).
    @inlinable @inline(__always)
    static func hash(_ p: UnsafeRawPointer, _ count: Int) -> UInt64 {
        let a = p.loadUnaligned(as: UInt64.self)
        let b = p.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self)
        let c = p.loadUnaligned(fromByteOffset: (count &>> 1) &- 4, as: UInt64.self)
        var h = a ^ (b &<< 23 | b &>> 41) ^ (c &<< 47 | c &>> 17) ^ UInt64(truncatingIfNeeded: count)
        h = h &* 0x9E37_79B9_7F4A_7C15
        return h ^ (h &>> 29)
    }

    /// Whether the `count` (≥ 8) bytes at `a` and `b` are equal (32 bytes per step, one branch each).
    @inlinable @inline(__always)
    static func equal(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        if a == b { return true }
        @inline(__always) func word(_ p: UnsafeRawPointer, _ i: Int) -> UInt64 { p.loadUnaligned(fromByteOffset: i, as: UInt64.self) }
        var i = 0
        while i &+ 32 <= count {
            let d = (word(a, i) ^ word(b, i)) | (word(a, i &+ 8) ^ word(b, i &+ 8))
                | (word(a, i &+ 16) ^ word(b, i &+ 16)) | (word(a, i &+ 24) ^ word(b, i &+ 24))
            if d != 0 { return false }
            i &+= 32
        }
        while i &+ 8 < count {
            if word(a, i) != word(b, i) { return false }
            i &+= 8
        }
        return word(a, count &- 8) == word(b, count &- 8)
    }

    /// A new `String` from UTF-8 bytes, validated once by the standard library; `nil` if invalid.
    ///
    /// `String._tryFromUTF8` is the standard library's public (ABI-stable) validate-and-create
    /// entry point that `String(validating:as:)` ends in; that initializer itself reaches it
    /// through an unspecialized generic (`_validate(_:as:)`) whose runtime metadata lookups cost
    /// more than the validation (about a quarter of a traces decode, measured with perf).
    @inlinable @inline(__always)
    static func makeString(_ bytes: UnsafeRawBufferPointer) -> String? {
        String._tryFromUTF8(bytes.assumingMemoryBound(to: UInt8.self))
    }

    /// A new `[UInt8]` of exactly `bytes.count` elements (one allocation).
    @inlinable @inline(__always)
    static func makeBytes(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        makeArray(bytes.baseAddress!, count: bytes.count, of: UInt8.self)
    }

    /// A new array of the `count` values of the fixed-width type `T` (little-endian on the wire,
    /// as on every platform Swift runs on little-endian) stored, possibly unaligned, at `p`: one
    /// allocation and one copy.
    ///
    /// Built with `append(contentsOf:)`, which is specialized for `T` in the caller, rather than
    /// `Array(unsafeUninitializedCapacity:initializingWith:)` or `Array(repeating:count:)`: those
    /// allocate through the standard library's unspecialized
    /// `_allocateBufferUninitialized(minimumCapacity:)`, whose run-time generic metadata look-up
    /// costs several hundred instructions per array (callgrind: ≈ 15 % of a metrics decode).
    @inlinable @inline(__always)
    static func makeArray<T: BitwiseCopyable>(_ p: UnsafeRawPointer, count: Int, of type: T.Type = T.self) -> [T] {
        var array: [T] = []
        array.append(contentsOf: ProtoUnalignedRun<T>(base: p, count: count))
        return array
    }

    /// The string for `bytes` (at least ``minimumStringCount`` of them): the one decoded earlier
    /// from equal bytes and kept (see ``StringSlot``), or a new one; `nil` if the bytes are not
    /// valid UTF-8.
    @inlinable @inline(__always)
    func string(_ bytes: UnsafeRawBufferPointer) -> String? {
        let p = bytes.baseAddress!
        let count = bytes.count
        let slot = strings + Int(truncatingIfNeeded: Self.hash(p, count) &>> UInt64(64 &- Self.stringSlotBits))
        if slot.pointee.count == count, let start = slot.pointee.start, Self.equal(start, p, count) {
            return slot.pointee.string
        }
        guard let string = Self.makeString(bytes) else { return nil }
        if slot.pointee.count == 0 || Self.isPending(p, count, slot.pointee.pendingStart, slot.pointee.pendingCount) {
            slot.pointee.start = p
            slot.pointee.count = count
            slot.pointee.string = string
            slot.pointee.pendingCount = 0
        } else {
            slot.pointee.pendingStart = p
            slot.pointee.pendingCount = count
        }
        return string
    }

    /// The string for `bytes` (1 to 7 of them, the last byte of at least 8 readable ones): the
    /// one decoded earlier from equal bytes, or a new one (then kept); `nil` if the bytes are not
    /// valid UTF-8. The look-up key is the bytes and their count in one word, so a match is
    /// exact with one comparison (an event name such as `message` costs no validation again).
    @inlinable @inline(__always)
    func shortString(_ bytes: UnsafeRawBufferPointer) -> String? {
        let p = bytes.baseAddress!
        let count = bytes.count
        // Little-endian: the string's bytes are the top `count` bytes of the word that ends with them.
        let word = UInt64(littleEndian: (p + (count &- 8)).loadUnaligned(as: UInt64.self))
        let key = word &>> UInt64(truncatingIfNeeded: (8 &- count) &* 8) | UInt64(truncatingIfNeeded: count) &<< 56
        let slot = shortStrings + Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) &>> UInt64(64 &- Self.shortStringSlotBits))
        if slot.pointee.key == key { return slot.pointee.string }
        guard let string = Self.makeString(bytes) else { return nil }
        slot.pointee.key = key
        slot.pointee.string = string
        return string
    }

    /// Whether the `count` (≥ 8) bytes at `p` equal a slot's pending bytes.
    @inlinable @inline(__always)
    static func isPending(_ p: UnsafeRawPointer, _ count: Int, _ pendingStart: UnsafeRawPointer?, _ pendingCount: Int) -> Bool {
        guard pendingCount == count, let pendingStart else { return false }
        return equal(pendingStart, p, count)
    }

    /// The byte array for `bytes` (8 to 64 of them): the one decoded earlier from equal bytes and
    /// kept (see ``StringSlot``), or a new one.
    @inlinable @inline(__always)
    func bytes(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        let p = bytes.baseAddress!
        let count = bytes.count
        let slot = byteStrings + Int(truncatingIfNeeded: Self.hash(p, count) &>> UInt64(64 &- Self.bytesSlotBits))
        if slot.pointee.count == count, let start = slot.pointee.start, Self.equal(start, p, count) {
            return slot.pointee.bytes
        }
        let array = Self.makeBytes(bytes)
        if slot.pointee.count == 0 || Self.isPending(p, count, slot.pointee.pendingStart, slot.pointee.pendingCount) {
            slot.pointee.start = p
            slot.pointee.count = count
            slot.pointee.bytes = array
            slot.pointee.pendingCount = 0
        } else {
            slot.pointee.pendingStart = p
            slot.pointee.pendingCount = count
        }
        return array
    }
}

/// `count` values of a fixed-width type stored (possibly unaligned) at `base`, as a sequence that
/// `Array.append(contentsOf:)` copies with one `memcpy` (its `_copyContents(initializing:)`).
@usableFromInline
struct ProtoUnalignedRun<T: BitwiseCopyable>: Sequence {
    @usableFromInline let base: UnsafeRawPointer
    @usableFromInline let count: Int

    @inlinable init(base: UnsafeRawPointer, count: Int) {
        precondition(count >= 0)
        self.base = base
        self.count = count
    }

    @usableFromInline
    struct Iterator: IteratorProtocol {
        @usableFromInline var position: UnsafeRawPointer
        @usableFromInline var left: Int
        @inlinable init(position: UnsafeRawPointer, left: Int) { self.position = position; self.left = left }
        @inlinable mutating func next() -> T? {
            if left == 0 { return nil }
            let value = position.loadUnaligned(as: T.self)
            position += MemoryLayout<T>.stride
            left &-= 1
            return value
        }
    }

    @inlinable var underestimatedCount: Int { count }

    @inlinable func makeIterator() -> Iterator { Iterator(position: base, left: count) }

    @inlinable
    func _copyContents(initializing buffer: UnsafeMutableBufferPointer<T>) -> (Iterator, Int) {
        let n = Swift.min(count, buffer.count)
        if n > 0 {
            UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: base, byteCount: n &* MemoryLayout<T>.stride)
        }
        return (Iterator(position: base + n &* MemoryLayout<T>.stride, left: count &- n), n)
    }
}
