/// A value with a protobuf binary encoding written by hand rather than generated: the two passes
/// of ``ProtoMessage`` (exact size with nested lengths recorded in pre-order, then the write),
/// without decoding. Used to encode a request straight from other data (the pipeline's records)
/// with no intermediate message values.
public protocol ProtoEncodable {
    /// Returns the exact encoded size in bytes; records nested lengths in `sizer` (pre-order).
    func protoSize(_ sizer: inout ProtoSizer) -> Int

    /// Writes the encoding; `writer` must hold the lengths recorded by `protoSize`.
    func protoWrite(_ writer: inout ProtoWriter)
}

extension ProtoEncodable {
    /// The binary encoding in a new array: one size pass, then one allocation of exactly that size.
    /// `expectedLengths` sizes the table of nested lengths up front (it grows as needed).
    @inlinable
    public func encodedBytes(expectedLengths: Int = 64) -> [UInt8] {
        var sizer = ProtoSizer(initialCapacity: expectedLengths)
        defer { sizer.deallocate() }
        let size = protoSize(&sizer)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            if size > 0 {
                var writer = ProtoWriter(start: UnsafeMutableRawPointer(buffer.baseAddress!), sizes: sizer.base)
                protoWrite(&writer)
                precondition(writer.position == UnsafeMutableRawPointer(buffer.baseAddress!) + size,
                             "protobuf size pass and write pass disagree")
            }
            count = size
        }
    }
}

extension ProtoSizer {
    /// Size of a nested hand-encoded value's length prefix and content (tag not included);
    /// records its length like ``message(_:)`` does for generated messages.
    @inlinable @inline(__always)
    public mutating func nested<E: ProtoEncodable>(_ value: E) -> Int {
        let slot = reserveSlot()
        let size = value.protoSize(&self)
        set(slot, size)
        return ProtoSize.varint(size) &+ size
    }
}

extension ProtoWriter {
    /// Writes a nested hand-encoded value's recorded length prefix and content.
    @inlinable @inline(__always)
    public mutating func writeNested<E: ProtoEncodable>(_ value: E) {
        writeRecordedLength()
        value.protoWrite(&self)
    }
}
