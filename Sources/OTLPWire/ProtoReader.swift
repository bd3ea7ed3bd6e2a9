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

    @inlinable
    public init(_ buffer: UnsafeRawBufferPointer, options: ProtoDecodingOptions = .init()) {
        // An empty buffer may have no base address: use a dummy non-null pointer with count 0.
        let base = buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 0x10)!
        start = base
        position = base
        end = base + buffer.count
        depth = 0
        maxDepth = options.maxDepth
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
            let value = try readVarintSlow()
            guard value <= UInt64(UInt32.max) else {
                throw error(.invalidFieldNumber, "tag value \(value) is out of range")
            }
            tag = UInt32(value)
        }
        if tag &>> 3 == 0 { throw error(.invalidFieldNumber, "field number 0") }
        let wireType = tag & 7
        if wireType > 5 { throw error(.invalidWireType, "wire type \(wireType) for field \(tag >> 3)") }
        return tag
    }

    @inlinable @inline(__always)
    public mutating func readVarint() throws(ProtoDecodingError) -> UInt64 {
        if position != end {
            let first = position.load(as: UInt8.self)
            if first < 0x80 {
                position += 1
                return UInt64(first)
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
        [UInt8](try readLengthDelimited())
    }

    /// Reads a `string` field, rejecting invalid UTF-8.
    @inlinable
    public mutating func readString() throws(ProtoDecodingError) -> String {
        let at = offset
        let bytes = try readLengthDelimited()
        if bytes.isEmpty { return "" }
        guard let string = String(validating: bytes.assumingMemoryBound(to: UInt8.self), as: UTF8.self) else {
            throw ProtoDecodingError(.invalidUTF8, offset: at, "string field is not valid UTF-8")
        }
        return string
    }

    /// Merges a length-delimited nested message into `message`, enforcing the depth limit.
    @inlinable
    public mutating func readMessage<M: ProtoMessage>(into message: inout M) throws(ProtoDecodingError) {
        let length = try readLength()
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
