/// A value with a protobuf binary encoding in two passes: the exact size (nested lengths recorded
/// in pre-order), then the write. Every generated ``ProtoMessage`` is one; types that only encode
/// conform by hand, e.g. to write a request straight from the pipeline's records with no
/// intermediate message values.
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
