/// Sizes of protobuf encodings (all `@inlinable`, so generated code folds them).
public enum ProtoSize {
    /// Bytes taken by `value` as a varint (1...10).
    @inlinable @inline(__always)
    public static func varint(_ value: UInt64) -> Int {
        let bits = 63 &- (value | 1).leadingZeroBitCount
        return (bits &* 9 &+ 73) &>> 6
    }

    /// Bytes taken by a length or other non-negative `Int` as a varint.
    @inlinable @inline(__always)
    public static func varint(_ value: Int) -> Int { varint(UInt64(bitPattern: Int64(value))) }

    /// Bytes taken by an `int32`/enum value (negative values take 10 bytes, sign-extended).
    @inlinable @inline(__always)
    public static func int32(_ value: Int32) -> Int { varint(UInt64(bitPattern: Int64(value))) }

    @inlinable @inline(__always)
    public static func int64(_ value: Int64) -> Int { varint(UInt64(bitPattern: value)) }

    @inlinable @inline(__always)
    public static func uint32(_ value: UInt32) -> Int { varint(UInt64(value)) }

    @inlinable @inline(__always)
    public static func sint32(_ value: Int32) -> Int { varint(UInt64(ProtoZigZag.encode32(value))) }

    @inlinable @inline(__always)
    public static func sint64(_ value: Int64) -> Int { varint(ProtoZigZag.encode64(value)) }

    /// Bytes taken by a `string` field's length prefix and UTF-8 content.
    @inlinable @inline(__always)
    public static func string(_ value: String) -> Int {
        let count = value.utf8.count
        return varint(count) &+ count
    }

    /// Bytes taken by a `bytes` field's length prefix and content.
    @inlinable @inline(__always)
    public static func bytes(_ value: [UInt8]) -> Int { varint(value.count) &+ value.count }
}

/// ZigZag encoding of `sint32`/`sint64`.
public enum ProtoZigZag {
    @inlinable @inline(__always)
    public static func encode32(_ v: Int32) -> UInt32 { UInt32(bitPattern: (v &<< 1) ^ (v &>> 31)) }
    @inlinable @inline(__always)
    public static func encode64(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v &<< 1) ^ (v &>> 63)) }
    @inlinable @inline(__always)
    public static func decode32(_ v: UInt32) -> Int32 { Int32(bitPattern: (v &>> 1) ^ (0 &- (v & 1))) }
    @inlinable @inline(__always)
    public static func decode64(_ v: UInt64) -> Int64 { Int64(bitPattern: (v &>> 1) ^ (0 &- (v & 1))) }
}

/// The size pass's record of nested lengths, in the order the write pass needs them.
///
/// Storage is owned by whoever created it (a ``ProtoEncoder`` reuses it between encodes).
public struct ProtoSizer {
    @usableFromInline var base: UnsafeMutablePointer<Int>
    @usableFromInline var count: Int
    @usableFromInline var capacity: Int

    @inlinable
    init(initialCapacity: Int) {
        capacity = Swift.max(initialCapacity, 16)
        base = .allocate(capacity: capacity)
        count = 0
    }

    @inlinable
    init(base: UnsafeMutablePointer<Int>, capacity: Int) {
        self.base = base
        self.capacity = capacity
        count = 0
    }

    @inlinable
    func deallocate() { base.deallocate() }

    /// Reserves the next slot for a length computed later (pre-order).
    @inlinable @inline(__always)
    public mutating func reserveSlot() -> Int {
        if _slowPath(count == capacity) { grow() }
        let slot = count
        count = slot &+ 1
        return slot
    }

    /// Stores the length for a slot returned by ``reserveSlot()``.
    @inlinable @inline(__always)
    public mutating func set(_ slot: Int, _ length: Int) { base[slot] = length }

    @usableFromInline
    mutating func grow() {
        let newCapacity = capacity &* 2
        let newBase = UnsafeMutablePointer<Int>.allocate(capacity: newCapacity)
        newBase.moveInitialize(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    /// Size of a nested message field's length prefix and content (tag not included).
    @inlinable @inline(__always)
    public mutating func message<M: ProtoMessage>(_ message: M) -> Int {
        let slot = reserveSlot()
        let size = message.protoSize(&self)
        base[slot] = size
        return ProtoSize.varint(size) &+ size
    }
}

/// The write pass's cursor: writes through a raw pointer into storage sized by the size pass.
///
/// No bounds checks: the size pass computed the exact size; ``ProtoEncoder`` and
/// ``ProtoMessage/serializedBytes()`` check the final position.
public struct ProtoWriter {
    @usableFromInline var position: UnsafeMutableRawPointer
    @usableFromInline var sizes: UnsafePointer<Int>

    @inlinable
    init(start: UnsafeMutableRawPointer, sizes: UnsafeMutablePointer<Int>) {
        position = start
        self.sizes = UnsafePointer(sizes)
    }

    @inlinable @inline(__always)
    mutating func nextSize() -> Int {
        let size = sizes.pointee
        sizes += 1
        return size
    }

    @inlinable @inline(__always)
    public mutating func writeByte(_ byte: UInt8) {
        position.storeBytes(of: byte, as: UInt8.self)
        position += 1
    }

    /// Writes a tag (already combined field number and wire type); constant tags fold.
    @inlinable @inline(__always)
    public mutating func writeTag(_ tag: UInt32) {
        if tag < 0x80 {
            writeByte(UInt8(truncatingIfNeeded: tag))
        } else {
            writeVarint(UInt64(tag))
        }
    }

    @inlinable @inline(__always)
    public mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            writeByte(UInt8(truncatingIfNeeded: v) | 0x80)
            v &>>= 7
        }
        writeByte(UInt8(truncatingIfNeeded: v))
    }

    @inlinable @inline(__always)
    public mutating func writeLength(_ value: Int) { writeVarint(UInt64(truncatingIfNeeded: value)) }

    @inlinable @inline(__always)
    public mutating func writeInt32(_ value: Int32) { writeVarint(UInt64(bitPattern: Int64(value))) }

    @inlinable @inline(__always)
    public mutating func writeInt64(_ value: Int64) { writeVarint(UInt64(bitPattern: value)) }

    @inlinable @inline(__always)
    public mutating func writeUInt32(_ value: UInt32) { writeVarint(UInt64(value)) }

    @inlinable @inline(__always)
    public mutating func writeSInt32(_ value: Int32) { writeVarint(UInt64(ProtoZigZag.encode32(value))) }

    @inlinable @inline(__always)
    public mutating func writeSInt64(_ value: Int64) { writeVarint(ProtoZigZag.encode64(value)) }

    @inlinable @inline(__always)
    public mutating func writeBool(_ value: Bool) { writeByte(value ? 1 : 0) }

    @inlinable @inline(__always)
    public mutating func writeFixed32(_ value: UInt32) {
        position.storeBytes(of: value.littleEndian, as: UInt32.self)
        position += 4
    }

    @inlinable @inline(__always)
    public mutating func writeFixed64(_ value: UInt64) {
        position.storeBytes(of: value.littleEndian, as: UInt64.self)
        position += 8
    }

    @inlinable @inline(__always)
    public mutating func writeSFixed32(_ value: Int32) { writeFixed32(UInt32(bitPattern: value)) }

    @inlinable @inline(__always)
    public mutating func writeSFixed64(_ value: Int64) { writeFixed64(UInt64(bitPattern: value)) }

    @inlinable @inline(__always)
    public mutating func writeDouble(_ value: Double) { writeFixed64(value.bitPattern) }

    @inlinable @inline(__always)
    public mutating func writeFloat(_ value: Float) { writeFixed32(value.bitPattern) }

    /// Writes a length prefix and the UTF-8 bytes of `value`.
    @inlinable @inline(__always)
    public mutating func writeString(_ value: String) {
        // Native and small strings lend their bytes in place; only a bridged (foreign) string
        // needs the mutating `withUTF8`, which makes it native in a copy.
        let written: Void? = value.utf8.withContiguousStorageIfAvailable { utf8 in
            writeLength(utf8.count)
            writeRaw(UnsafeRawBufferPointer(utf8))
        }
        if written != nil { return }
        var copy = value
        copy.withUTF8 { utf8 in
            writeLength(utf8.count)
            writeRaw(UnsafeRawBufferPointer(utf8))
        }
    }

    /// Writes a length prefix and `value`.
    @inlinable @inline(__always)
    public mutating func writeBytes(_ value: [UInt8]) {
        writeLength(value.count)
        value.withUnsafeBytes { writeRaw($0) }
    }

    @inlinable @inline(__always)
    public mutating func writeRaw(_ bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        if count > 0 {
            position.copyMemory(from: bytes.baseAddress!, byteCount: count)
            position += count
        }
    }

    /// Writes a nested message's length prefix (recorded by the size pass) and content.
    @inlinable @inline(__always)
    public mutating func writeMessage<M: ProtoMessage>(_ message: M) {
        let size = nextSize()
        writeLength(size)
        message.protoWrite(&self)
    }

    /// Writes the length recorded by the size pass for a packed varint field.
    @inlinable @inline(__always)
    public mutating func writeRecordedLength() { writeLength(nextSize()) }
}

/// Encodes messages into a buffer it owns and reuses: after the first encodes have grown its
/// storage, encoding allocates nothing.
///
/// Not thread-safe: keep one per thread (e.g. one per exporter worker).
public final class ProtoEncoder {
    @usableFromInline var buffer: UnsafeMutableRawPointer
    @usableFromInline var bufferCapacity: Int
    @usableFromInline var sizes: UnsafeMutablePointer<Int>
    @usableFromInline var sizesCapacity: Int
    /// Number of bytes of the last encoding.
    public var count: Int { _count }
    @usableFromInline var _count: Int = 0

    /// Creates an encoder with `initialCapacity` bytes of output storage (grown as needed).
    public init(initialCapacity: Int = 4096) {
        bufferCapacity = Swift.max(initialCapacity, 64)
        buffer = .allocate(byteCount: bufferCapacity, alignment: 16)
        sizesCapacity = 256
        sizes = .allocate(capacity: sizesCapacity)
    }

    deinit {
        buffer.deallocate()
        sizes.deallocate()
    }

    /// Encodes `message`, replacing the previous contents; returns the encoded size.
    @inlinable
    @discardableResult
    public func encode<M: ProtoMessage>(_ message: M) -> Int {
        var sizer = ProtoSizer(base: sizes, capacity: sizesCapacity)
        let size = message.protoSize(&sizer)
        sizes = sizer.base
        sizesCapacity = sizer.capacity
        if size > bufferCapacity { growBuffer(to: size) }
        var writer = ProtoWriter(start: buffer, sizes: sizes)
        message.protoWrite(&writer)
        precondition(writer.position == buffer + size, "protobuf size pass and write pass disagree")
        _count = size
        return size
    }

    @usableFromInline
    func growBuffer(to size: Int) {
        var newCapacity = bufferCapacity
        while newCapacity < size { newCapacity &*= 2 }
        buffer.deallocate()
        buffer = .allocate(byteCount: newCapacity, alignment: 16)
        bufferCapacity = newCapacity
    }

    /// Calls `body` with the bytes of the last encoding (valid only during the call).
    @inlinable
    public func withEncodedBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: buffer, count: count))
    }

    /// Encodes `message` and appends its bytes to `output` (no allocation when `output` has room).
    @inlinable
    public func encode<M: ProtoMessage>(_ message: M, appendingTo output: inout [UInt8]) {
        let size = encode(message)
        output.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: size))
    }

    /// A copy of the bytes of the last encoding.
    public var bytes: [UInt8] { [UInt8](UnsafeRawBufferPointer(start: buffer, count: count)) }
}
