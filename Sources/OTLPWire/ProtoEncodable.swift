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
    /// `headroom` zero bytes come first, e.g. for a transport's frame prefix written in place later.
    @inlinable
    public func encodedBytes(expectedLengths: Int = 64, headroom: Int = 0) -> [UInt8] {
        precondition(headroom >= 0, "negative headroom")
        // The table of nested lengths is reused between encodes (large ones were faulted in anew
        // each time); the output array is the caller's.
        var sizer = SizerTableCache.shared.takeSizer(minimumCapacity: expectedLengths)
        defer { SizerTableCache.shared.giveBack(sizer) }
        let size = protoSize(&sizer)
        // Never ask for capacity 0: the standard library then initializes the process-wide empty
        // array storage, writing its count (0 over 0) while other threads read the count of
        // their own empty arrays, which all share that storage (a data race ThreadSanitizer
        // reports, and rightly: it is an unsynchronized write to shared memory).
        if headroom == 0 && size == 0 { return [] }
        return [UInt8](unsafeUninitializedCapacity: headroom &+ size) { buffer, count in
            if headroom > 0 { buffer.baseAddress!.initialize(repeating: 0, count: headroom) }
            if size > 0 {
                let start = UnsafeMutableRawPointer(buffer.baseAddress! + headroom)
                var writer = ProtoWriter(start: start, sizes: sizer.base)
                protoWrite(&writer)
                precondition(writer.position == start + size, "protobuf size pass and write pass disagree")
            }
            count = headroom &+ size
        }
    }
}
