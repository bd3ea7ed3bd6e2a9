/// Protobuf wire types.
public enum ProtoWireType {
    public static let varint: UInt32 = 0
    public static let fixed64: UInt32 = 1
    public static let lengthDelimited: UInt32 = 2
    public static let startGroup: UInt32 = 3
    public static let endGroup: UInt32 = 4
    public static let fixed32: UInt32 = 5
}

/// A bounds-checked cursor over binary protobuf input.
///
/// Every read checks the remaining bytes first and throws ``ProtoDecodingError`` on malformed
/// input; lengths are checked against the enclosing message before anything is allocated.
/// The saved end of an enclosing message (see ``ProtoReader/pushLimit()``).
public struct ProtoLimit {
    @usableFromInline let end: UnsafeRawPointer
    @inlinable init(end: UnsafeRawPointer) { self.end = end }
}

public struct ProtoReader {
    @usableFromInline var position: UnsafeRawPointer
    @usableFromInline var end: UnsafeRawPointer
    @usableFromInline let start: UnsafeRawPointer
    @usableFromInline var depth: Int
    @usableFromInline let maxDepth: Int
    /// Recently decoded strings and short byte strings, or `nil` (see ``ProtoInternTable``).
    @usableFromInline var intern: ProtoInternTable?

    @inlinable
    public init(_ buffer: UnsafeRawBufferPointer, options: ProtoDecodingOptions = .init()) {
        // An empty buffer may have no base address: use a dummy non-null pointer with count 0.
        let base = buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 0x10)!
        start = base
        position = base
        end = base + buffer.count
        depth = 0
        maxDepth = options.maxDepth
        intern = nil
    }

    /// A reader that reuses the strings and short byte strings held by `intern` (which must stay
    /// allocated, and hold only pointers into `buffer`, while the reader is used).
    @inlinable
    init(_ buffer: UnsafeRawBufferPointer, options: ProtoDecodingOptions = .init(), intern: ProtoInternTable) {
        self.init(buffer, options: options)
        self.intern = intern
    }

    @inlinable
    var offset: Int { position - start }

    @inlinable
    func error(_ code: ProtoDecodingError.Code, _ message: String) -> ProtoDecodingError {
        ProtoDecodingError(code, offset: offset, message)
    }

    /// Checks that the whole input was consumed (called after the top-level merge).
    @inlinable
    func finish() throws(ProtoDecodingError) {
        if position != end { throw error(.truncated, "trailing bytes after message") }
    }

    /// Reads the next tag, or returns `nil` at the end of the current message.
    @inlinable @inline(__always)
    public mutating func nextTag() throws(ProtoDecodingError) -> UInt32? {
        if position == end { return nil }
        let first = position.load(as: UInt8.self)
        let tag: UInt32
        if first < 0x80 {
            position += 1
            tag = UInt32(first)
        } else {
            tag = try readTagSlow()
        }
        if tag &>> 3 == 0 { throw error(.invalidFieldNumber, "field number 0") }
        let wireType = tag & 7
        if wireType > 5 { throw error(.invalidWireType, "wire type \(wireType) for field \(tag >> 3)") }
        return tag
    }

    /// A tag of two or more bytes (not inlined into every merge loop): two-byte tags (fields 16
    /// to 2047, such as a span's `flags`) without the general varint loop.
    @usableFromInline
    mutating func readTagSlow() throws(ProtoDecodingError) -> UInt32 {
        if end - position >= 2 {
            let second = position.load(fromByteOffset: 1, as: UInt8.self)
            if second < 0x80 {
                let tag = UInt32(position.load(as: UInt8.self) & 0x7F) | UInt32(second) &<< 7
                position += 2
                return tag
            }
        }
        let value = try readVarintSlow()
        guard value <= UInt64(UInt32.max) else {
            throw error(.invalidFieldNumber, "tag value \(value) is out of range")
        }
        return UInt32(value)
    }

    @inlinable @inline(__always)
    public mutating func readVarint() throws(ProtoDecodingError) -> UInt64 {
        if position != end {
            let first = UInt64(position.load(as: UInt8.self))
            if first < 0x80 {
                position += 1
                return first
            }
            // Two-byte varints (lengths of nested messages up to 16 KiB, integers up to 16383)
            // without a call.
            if end - position >= 2 {
                let second = UInt64(position.load(fromByteOffset: 1, as: UInt8.self))
                if second < 0x80 {
                    position += 2
                    return first & 0x7F | second &<< 7
                }
            }
        }
        return try readVarintSlow()
    }

    @usableFromInline
    mutating func readVarintSlow() throws(ProtoDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var p = position
        while true {
            if p == end {
                throw error(.truncated, "input ends inside a varint")
            }
            let byte = p.load(as: UInt8.self)
            p += 1
            // Like the reference (upb), bits beyond 64 in the 10th byte are dropped, not an error.
            result |= UInt64(byte & 0x7F) &<< shift
            if byte < 0x80 { break }
            shift += 7
            if shift > 63 {
                throw error(.overlongVarint, "varint longer than 10 bytes")
            }
        }
        position = p
        return result
    }

    @inlinable @inline(__always)
    public mutating func readInt32() throws(ProtoDecodingError) -> Int32 { Int32(truncatingIfNeeded: try readVarint()) }
    @inlinable @inline(__always)
    public mutating func readInt64() throws(ProtoDecodingError) -> Int64 { Int64(bitPattern: try readVarint()) }
    @inlinable @inline(__always)
    public mutating func readUInt32() throws(ProtoDecodingError) -> UInt32 { UInt32(truncatingIfNeeded: try readVarint()) }
    @inlinable @inline(__always)
    public mutating func readUInt64() throws(ProtoDecodingError) -> UInt64 { try readVarint() }
    @inlinable @inline(__always)
    public mutating func readSInt32() throws(ProtoDecodingError) -> Int32 { ProtoZigZag.decode32(UInt32(truncatingIfNeeded: try readVarint())) }
    @inlinable @inline(__always)
    public mutating func readSInt64() throws(ProtoDecodingError) -> Int64 { ProtoZigZag.decode64(try readVarint()) }
    @inlinable @inline(__always)
    public mutating func readBool() throws(ProtoDecodingError) -> Bool { try readVarint() != 0 }

    @inlinable @inline(__always)
    public mutating func readFixed32() throws(ProtoDecodingError) -> UInt32 {
        guard end - position >= 4 else { throw error(.truncated, "input ends inside a fixed32") }
        let value = position.loadUnaligned(as: UInt32.self)
        position += 4
        return UInt32(littleEndian: value)
    }

    @inlinable @inline(__always)
    public mutating func readFixed64() throws(ProtoDecodingError) -> UInt64 {
        guard end - position >= 8 else { throw error(.truncated, "input ends inside a fixed64") }
        let value = position.loadUnaligned(as: UInt64.self)
        position += 8
        return UInt64(littleEndian: value)
    }

    @inlinable @inline(__always)
    public mutating func readSFixed32() throws(ProtoDecodingError) -> Int32 { Int32(bitPattern: try readFixed32()) }
    @inlinable @inline(__always)
    public mutating func readSFixed64() throws(ProtoDecodingError) -> Int64 { Int64(bitPattern: try readFixed64()) }
    @inlinable @inline(__always)
    public mutating func readDouble() throws(ProtoDecodingError) -> Double { Double(bitPattern: try readFixed64()) }
    @inlinable @inline(__always)
    public mutating func readFloat() throws(ProtoDecodingError) -> Float { Float(bitPattern: try readFixed32()) }

    /// Reads a length prefix and checks it against the bytes left in the current message.
    @inlinable @inline(__always)
    public mutating func readLength() throws(ProtoDecodingError) -> Int {
        let length = try readVarint()
        guard length <= UInt64(end - position) else {
            throw error(.lengthPastEnd, "length \(length) exceeds the \(end - position) bytes left")
        }
        return Int(length)
    }

    /// Reads a length-delimited field's bytes (a view into the input).
    @inlinable @inline(__always)
    public mutating func readLengthDelimited() throws(ProtoDecodingError) -> UnsafeRawBufferPointer {
        let length = try readLength()
        let bytes = UnsafeRawBufferPointer(start: position, count: length)
        position += length
        return bytes
    }

    @inlinable
    public mutating func readBytes() throws(ProtoDecodingError) -> [UInt8] {
        let bytes = try readLengthDelimited()
        let count = bytes.count
        if count == 0 { return [] }
        if let intern, count >= ProtoInternTable.minimumBytesCount, count <= ProtoInternTable.maximumBytesCount {
            return intern.bytes(bytes)
        }
        return ProtoInternTable.makeBytes(bytes)
    }

    /// Reads a `string` field, rejecting invalid UTF-8 (validated once, by the standard library,
    /// while the `String` is created).
    @inlinable
    public mutating func readString() throws(ProtoDecodingError) -> String {
        let at = position
        let bytes = try readLengthDelimited()
        let count = bytes.count
        if count == 0 { return "" }
        if let intern, count <= ProtoInternTable.maximumStringCount {
            if count >= ProtoInternTable.minimumStringCount {
                if let string = intern.string(bytes) { return string }
            } else if bytes.baseAddress! - start &+ count >= 8 {
                // A short string with 8 readable input bytes ending with it (nearly always).
                if let string = intern.shortString(bytes) { return string }
            } else if let string = ProtoInternTable.makeString(bytes) {
                return string
            }
        } else if let string = ProtoInternTable.makeString(bytes) {
            return string
        }
        throw ProtoDecodingError(.invalidUTF8, offset: at - start, "string field is not valid UTF-8")
    }

    /// Merges a length-delimited nested message into `message`, enforcing the depth limit.
    @inlinable @inline(__always)
    public mutating func readMessage<M: ProtoMessage>(into message: inout M) throws(ProtoDecodingError) {
        try readMessage(length: try readLength(), into: &message)
    }

    /// Merges the next `length` bytes (already checked against the current message) as a nested message.
    @inlinable @inline(__always)
    mutating func readMessage<M: ProtoMessage>(length: Int, into message: inout M) throws(ProtoDecodingError) {
        guard depth < maxDepth else {
            throw error(.depthLimitExceeded, "messages nested deeper than \(maxDepth)")
        }
        let outerEnd = end
        end = position + length
        depth += 1
        try message.protoMerge(&self)
        depth -= 1
        end = outerEnd
    }

    /// Reads a nested message into a new value.
    @inlinable
    public mutating func readMessage<M: ProtoMessage>(_ type: M.Type = M.self) throws(ProtoDecodingError) -> M {
        var message = M()
        try readMessage(into: &message)
        return message
    }

    /// Appends the nested message that follows a `tag` of a repeated message field to `array`,
    /// decoding it in place (no temporary copy). When `array` is full, its capacity is first
    /// reserved for all the occurrences of `tag` left in the current message (see
    /// ``reserveRepeated(_:tag:)``), so a repeated field is allocated once, not grown by doubling.
    ///
    /// A well-formed run of a one-byte `tag` found by that scan is read whole in this call (the
    /// same tags the merge loop would read, so the result and any error are the same).
    @inlinable
    public mutating func readRepeatedMessage<M: ProtoMessage>(tag: UInt32, into array: inout [M]) throws(ProtoDecodingError) {
        if array.count == array.capacity && tag < 0x80 && tag & 7 == ProtoWireType.lengthDelimited,
           case let (count, runEnd?) = Self.lengthDelimitedRun(of: UInt8(truncatingIfNeeded: tag), from: position, to: end) {
            // As `reserveRepeated` reserves (its scan is this one).
            array.reserveCapacity(Swift.max(array.count &+ Swift.min(count, Self.maximumReservation), array.capacity &* 2))
            while true {
                array.append(M())
                try readMessage(into: &array[array.count &- 1])
                // The scan saw exactly one tag byte between elements and no error up to `runEnd`.
                guard position < runEnd else { return }
                position += 1
            }
        }
        reserveRepeated(&array, tag: tag)
        array.append(M())
        try readMessage(into: &array[array.count &- 1])
    }

    /// Like ``readRepeatedMessage(tag:into:)``, for a small message type whose values repeat
    /// (OTLP's `KeyValue` attributes): when the reader reuses repeated values, an element whose
    /// bytes equal those of an element decoded and kept earlier in the input (at the same or a
    /// greater depth, so the depth limit holds as if it were decoded again; see
    /// ``ProtoInternTable/StringSlot`` for which elements are kept) is a copy of that element.
    ///
    /// Likewise a whole run (the first occurrence of a one-byte `tag` in a message and the
    /// occurrences that directly follow it, as an encoder writes a repeated field) whose bytes
    /// equal an earlier run's is a copy of that run's array: the same attribute set on many
    /// points or records costs one look-up and no allocation. A run is decoded element by
    /// element exactly as the merge loop would (it reads the same tags, so the result and any
    /// error are the same), then remembered.
    @inlinable
    public mutating func readRepeatedReusableMessage<M: ProtoMessage>(tag: UInt32, into array: inout [M]) throws(ProtoDecodingError) {
        guard let intern, let slots = intern.messageSlots(M.self) else {
            return try readRepeatedMessage(tag: tag, into: &array)
        }
        // A well-formed run into an empty array is read whole in this call (looked up as a whole
        // while run look-ups pay), reading exactly the tags the merge loop would; otherwise one
        // element. (`readReusableElement` has this one call site, so that it is inlined.)
        var runEnd: UnsafeRawPointer? = nil
        var run: UnsafeMutablePointer<ProtoInternTable.RunSlot<M>>? = nil
        let runStart = position
        if array.isEmpty && tag < 0x80 && tag & 7 == ProtoWireType.lengthDelimited,
           case let (count, scanEnd?) = Self.lengthDelimitedRun(of: UInt8(truncatingIfNeeded: tag), from: position, to: end) {
            let length = scanEnd - runStart
            if length >= 8, length <= ProtoInternTable.maximumRunCount, intern.looksUpRuns {
                let slot = intern.runSlots(M.self)
                    + Int(truncatingIfNeeded: ProtoInternTable.hash(runStart, length) &>> UInt64(64 &- ProtoInternTable.runSlotBits))
                if slot.pointee.count == length, depth <= slot.pointee.depth, let start = slot.pointee.start,
                   ProtoInternTable.equal(start, runStart, length) {
                    array = slot.pointee.elements
                    position = scanEnd
                    intern.messages.pointee.runHits &+= 1
                    return
                }
                intern.messages.pointee.runMisses &+= 1
                run = slot
            }
            array.reserveCapacity(Swift.min(count, Self.maximumReservation))
            runEnd = scanEnd
        } else {
            reserveRepeated(&array, tag: tag)
        }
        while true {
            try readReusableElement(into: &array, slots: slots, intern: intern)
            // The scan saw exactly one tag byte between elements and no error up to `runEnd`.
            guard let runEnd, position < runEnd else { break }
            position += 1
        }
        if let run, let runEnd {
            run.pointee.start = runStart
            run.pointee.count = runEnd - runStart
            run.pointee.depth = depth
            run.pointee.elements = array
        }
    }

    /// One element of ``readRepeatedReusableMessage(tag:into:)`` (its tag already read): a copy
    /// of the element kept for equal bytes (decoded at the same or a greater depth), or decoded
    /// in place and, if it is kept (see ``ProtoInternTable/StringSlot``), copied into its slot.
    @inlinable @inline(__always)
    mutating func readReusableElement<M: ProtoMessage>(into array: inout [M], slots: UnsafeMutablePointer<ProtoInternTable.MessageSlot<M>>,
                                                       intern: ProtoInternTable) throws(ProtoDecodingError) {
        let length = try readLength()
        let p = position
        // One decode site (below), so that this function stays small enough to inline.
        var slot: UnsafeMutablePointer<ProtoInternTable.MessageSlot<M>>? = nil
        var keep = false
        if length >= 8, length <= ProtoInternTable.maximumMessageCount {
            let s = slots + Int(truncatingIfNeeded: ProtoInternTable.hash(p, length) &>> UInt64(64 &- ProtoInternTable.messageSlotBits))
            if s.pointee.count == length, let start = s.pointee.start, ProtoInternTable.equal(start, p, length) {
                if depth <= s.pointee.depth {
                    array.append(s.pointee.message)
                    position += length
                    return
                }
                keep = true  // kept from a shallower depth only: decode it here and keep that
            } else {
                keep = s.pointee.count == 0 || ProtoInternTable.isPending(p, length, s.pointee.pendingStart, s.pointee.pendingCount)
            }
            slot = s
        }
        array.append(M())
        try readMessage(length: length, into: &array[array.count &- 1])
        if let slot {
            if keep {
                slot.pointee.start = p
                slot.pointee.count = length
                slot.pointee.depth = depth
                slot.pointee.message = array[array.count &- 1]
                slot.pointee.pendingCount = 0
            } else {
                slot.pointee.pendingStart = p
                slot.pointee.pendingCount = length
            }
        }
    }

    /// Called just after `tag` of a repeated length-delimited field was read: if `array` is full,
    /// reserves room for that element and the run of occurrences of `tag` that directly follow it
    /// (a scan of the following tags that never enters nested messages and stops at the first
    /// other tag or malformed byte; encoders write a repeated field's elements together, so this
    /// is normally the whole field). The count is bounded by the bytes that hold it (each element
    /// takes at least two) and by ``maximumReservation`` per scan; capacity at least doubles each
    /// time, so a field split into many runs, or merged many times, stays linear.
    @inlinable @inline(__always)
    public func reserveRepeated<E>(_ array: inout [E], tag: UInt32) {
        if array.count == array.capacity {
            let more = Swift.min(occurrencesLeft(of: tag), Self.maximumReservation)
            array.reserveCapacity(Swift.max(array.count &+ more, array.capacity &* 2))
        }
    }

    /// Most elements reserved by one scan in ``reserveRepeated(_:tag:)``.
    public static var maximumReservation: Int { 1 << 16 }

    /// Length of the run of consecutive occurrences of `tag` starting with the one whose value
    /// starts at the current position (just after its tag), within the current message; at least 1.
    @usableFromInline
    func occurrencesLeft(of tag: UInt32) -> Int {
        if tag < 0x80 && tag & 7 == ProtoWireType.lengthDelimited {
            return lengthDelimitedOccurrencesLeft(of: UInt8(truncatingIfNeeded: tag))
        }
        return occurrencesLeftBySkipping(of: tag)
    }

    /// ``occurrencesLeft(of:)`` for any tag: skips field by field.
    @usableFromInline
    func occurrencesLeftBySkipping(of tag: UInt32) -> Int {
        var scan = self
        var n = 1
        do throws(ProtoDecodingError) {
            try scan.skip(tag: tag)
            while let next = try scan.nextTag(), next == tag {
                n &+= 1
                try scan.skip(tag: next)
            }
        } catch {
            // Malformed: decoding stops at the same place with the error; the count so far is a bound.
        }
        return n
    }

    /// ``occurrencesLeft(of:)`` for a one-byte tag of a length-delimited field (every repeated
    /// message, string or bytes field numbered below 16): steps from length prefix to length
    /// prefix without the general skip, and counts exactly what ``occurrencesLeftBySkipping(of:)``
    /// counts (an occurrence whose tag was read counts even if its length prefix is malformed).
    @usableFromInline
    func lengthDelimitedOccurrencesLeft(of tag: UInt8) -> Int {
        Self.lengthDelimitedRun(of: tag, from: position, to: end).count
    }

    /// The run counted by ``lengthDelimitedOccurrencesLeft(of:)``, and where it ends (just after
    /// its last element) if every length prefix in it is well formed; `nil` if the scan stopped
    /// at a malformed one. (Static, on the two pointers: a method is passed a copy of the reader.)
    @usableFromInline
    static func lengthDelimitedRun(of tag: UInt8, from position: UnsafeRawPointer, to end: UnsafeRawPointer) -> (count: Int, end: UnsafeRawPointer?) {
        var p = position
        var n = 1
        while p != end {
            // The length prefix: a varint of at most 10 bytes.
            var length = UInt64(p.load(as: UInt8.self))
            p += 1
            if length >= 0x80 {
                length &= 0x7F
                var shift: UInt64 = 7
                while true {
                    if p == end || shift > 63 { return (n, nil) }
                    let byte = p.load(as: UInt8.self)
                    p += 1
                    length |= UInt64(byte & 0x7F) &<< shift
                    if byte < 0x80 { break }
                    shift &+= 7
                }
            }
            guard length <= UInt64(end - p) else { return (n, nil) }
            p += Int(truncatingIfNeeded: length)
            if p == end || p.load(as: UInt8.self) != tag { return (n, p) }
            p += 1
            n &+= 1
        }
        // The input ends just after a tag: that occurrence has no length prefix.
        return (n, nil)
    }

    /// Reserves room in `array` for `additional` more elements, at least doubling its capacity
    /// when it must grow (so that many small packed runs in one message stay linear).
    @inlinable @inline(__always)
    public func reserve<E>(_ array: inout [E], additional: Int) {
        let needed = array.count &+ additional
        if needed > array.capacity {
            array.reserveCapacity(Swift.max(needed, array.capacity &* 2))
        }
    }

    /// The number of varints in the rest of the current packed run (bytes without the
    /// continuation bit): exact for a well-formed run, never more than its bytes.
    @inlinable
    public func packedVarintCount() -> Int {
        var n = 0
        var p = position
        while p != end {
            n &+= Int(truncatingIfNeeded: ~p.load(as: UInt8.self) &>> 7)
            p += 1
        }
        return n
    }

    /// Reads a packed run of fixed-width values (`fixed32`/`64`, `sfixed32`/`64`, `float`,
    /// `double`: `T` of 4 or 8 bytes, little-endian on the wire) and appends them to `array` with
    /// one allocation and one copy. A run whose length is not a multiple of the width keeps the
    /// whole values and throws ``ProtoDecodingError/Code/truncated``, as reading them one by one does.
    ///
    /// Runs of doubles (in OTLP: a histogram's `explicit_bounds`, the same for every point of a
    /// metric) equal to the previous such run of the input reuse its array when the reader reuses
    /// repeated values (see ``ProtoDecodingOptions/reusesRepeatedValues``).
    // Always inlined: a shared (merged) specialization would look up the array's storage type
    // at run time on every call.
    @inlinable @inline(__always)
    public mutating func readPackedFixed<T: BitwiseCopyable>(into array: inout [T]) throws(ProtoDecodingError) {
        let width = MemoryLayout<T>.size
        let bytes = try readLengthDelimited()
        let n = bytes.count / width
        #if _endian(little)
        if T.self == Double.self, let intern, n > 0, array.isEmpty, bytes.count == n &* width {
            array = unsafeBitCast(intern.doubles(bytes), to: [T].self)
            return
        }
        #endif
        if n > 0 {
            #if _endian(little)
            let values = ProtoInternTable.makeArray(bytes.baseAddress!, count: n, of: T.self)
            #else
            var values = ProtoInternTable.makeArray(bytes.baseAddress!, count: n, of: T.self)
            values.withUnsafeMutableBytes { target in
                for i in 0..<n { UnsafeMutableRawBufferPointer(rebasing: target[i &* width ..< (i &+ 1) &* width]).reverse() }
            }
            #endif
            if array.isEmpty { array = values } else { array.append(contentsOf: values) }
        }
        if bytes.count != n &* width {
            throw ProtoDecodingError(.truncated, offset: (position - start) - (bytes.count - n &* width),
                                     "input ends inside a fixed\(width * 8)")
        }
    }

    /// Reads a packed run of values: calls `element` until the run's bytes are used up.
    @inlinable
    public mutating func readPacked(_ element: (inout ProtoReader) throws(ProtoDecodingError) -> Void) throws(ProtoDecodingError) {
        let length = try readLength()
        let outerEnd = end
        end = position + length
        while position != end { try element(&self) }
        end = outerEnd
    }

    /// Reads a length prefix and narrows the reader to that many bytes (a packed run);
    /// restore with ``popLimit(_:)``.
    @inlinable @inline(__always)
    public mutating func pushLimit() throws(ProtoDecodingError) -> ProtoLimit {
        let length = try readLength()
        let saved = ProtoLimit(end: end)
        end = position + length
        return saved
    }

    /// Restores the end saved by ``pushLimit()``.
    @inlinable @inline(__always)
    public mutating func popLimit(_ limit: ProtoLimit) { end = limit.end }

    /// Whether the current message (or packed run) has been read completely.
    @inlinable
    public var isAtEnd: Bool { position == end }

    /// Upper bound for the number of fixed-width elements of `width` bytes in the next packed run
    /// (for `reserveCapacity`, bounded by the input size).
    @inlinable
    public func remainingBytes() -> Int { end - position }

    /// Skips a field of unknown number (or known number with an unexpected wire type).
    @inlinable
    public mutating func skip(tag: UInt32) throws(ProtoDecodingError) {
        try skip(tag: tag, groupDepth: 0)
    }

    @usableFromInline
    mutating func skip(tag: UInt32, groupDepth: Int) throws(ProtoDecodingError) {
        switch tag & 7 {
        case ProtoWireType.varint: _ = try readVarint()
        case ProtoWireType.fixed64: _ = try readFixed64()
        case ProtoWireType.fixed32: _ = try readFixed32()
        case ProtoWireType.lengthDelimited: _ = try readLengthDelimited()
        case ProtoWireType.startGroup:
            guard depth + groupDepth < maxDepth else {
                throw error(.depthLimitExceeded, "groups nested deeper than \(maxDepth)")
            }
            let field = tag >> 3
            while true {
                guard let inner = try nextTag() else { throw error(.truncated, "input ends inside group \(field)") }
                if inner & 7 == ProtoWireType.endGroup {
                    guard inner >> 3 == field else {
                        throw error(.invalidWireType, "end-group for field \(inner >> 3) inside group \(field)")
                    }
                    return
                }
                try skip(tag: inner, groupDepth: groupDepth + 1)
            }
        default:
            throw error(.invalidWireType, "unexpected end-group for field \(tag >> 3)")
        }
    }
}

/// UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF),
/// with an 8-bytes-at-a-time ASCII fast path.
public enum UTF8Validation {
    @inlinable
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var i = 0
        while true {
            // ASCII fast path.
            while i &+ 8 <= count {
                if (base + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { break }
                i &+= 8
            }
            while i < count && base.load(fromByteOffset: i, as: UInt8.self) < 0x80 { i &+= 1 }
            if i >= count { return true }
            let lead = base.load(fromByteOffset: i, as: UInt8.self)
            @inline(__always) func continuation(_ offset: Int) -> UInt8? {
                guard i &+ offset < count else { return nil }
                let byte = base.load(fromByteOffset: i &+ offset, as: UInt8.self)
                return byte & 0xC0 == 0x80 ? byte : nil
            }
            switch lead {
            case 0xC2...0xDF:
                guard continuation(1) != nil else { return false }
                i &+= 2
            case 0xE0...0xEF:
                guard let b1 = continuation(1), continuation(2) != nil else { return false }
                if lead == 0xE0 && b1 < 0xA0 { return false }  // overlong
                if lead == 0xED && b1 > 0x9F { return false }  // surrogates
                i &+= 3
            case 0xF0...0xF4:
                guard let b1 = continuation(1), continuation(2) != nil, continuation(3) != nil else { return false }
                if lead == 0xF0 && b1 < 0x90 { return false }  // overlong
                if lead == 0xF4 && b1 > 0x8F { return false }  // above U+10FFFF
                i &+= 4
            default:
                return false  // continuation byte as lead, overlong C0/C1, F5...FF
            }
        }
    }
}
