/// A message whose binary encoding can be checked without building the message.
///
/// `protoValidate` accepts exactly the input that `protoMerge` accepts and throws the same
/// ``ProtoDecodingError`` codes for the rest (wire structure, lengths, the depth limit, UTF-8 of
/// `string` fields, packed runs), but allocates nothing: it reads each field in place and throws
/// the value away. A receiver that only needs to count what arrived (a long-running collector)
/// validates the request and counts its items by skipping, instead of decoding every string and
/// array only to free them again. Generated for every message.
public protocol ProtoValidatable {
    /// Reads the fields of one message from `reader` (up to its current end), checking each one as
    /// the decoder would.
    static func protoValidate(_ reader: inout ProtoReader) throws(ProtoDecodingError)
}

extension ProtoValidatable {
    /// Checks that `buffer` holds an encoding of this message that the decoder accepts with
    /// `options` (size limit, depth limit), without decoding it.
    ///
    /// - Throws: the ``ProtoDecodingError`` that `init(serializedBytes:options:)` would throw.
    @inlinable
    public static func validate(serializedBytes buffer: UnsafeRawBufferPointer, options: ProtoDecodingOptions = .init()) throws(ProtoDecodingError) {
        guard buffer.count <= options.maxMessageSize else {
            throw ProtoDecodingError(.sizeLimitExceeded, offset: 0,
                                     "message of \(buffer.count) bytes is over the limit of \(options.maxMessageSize)")
        }
        var reader = ProtoReader(buffer, options: options)
        try protoValidate(&reader)
        try reader.finish()
    }
}

extension ProtoReader {
    /// Checks a `string` field: its length and that its bytes are valid UTF-8.
    @inlinable @inline(__always)
    public mutating func validateString() throws(ProtoDecodingError) {
        let at = position
        let bytes = try readLengthDelimited()
        guard UTF8Validation.isValid(bytes) else {
            throw ProtoDecodingError(.invalidUTF8, offset: at - start, "string field is not valid UTF-8")
        }
    }

    /// Checks a nested message field of type `M`, enforcing the depth limit.
    @inlinable @inline(__always)
    public mutating func validateMessage<M: ProtoValidatable>(_ type: M.Type) throws(ProtoDecodingError) {
        let length = try readLength()
        guard depth < maxDepth else {
            throw error(.depthLimitExceeded, "messages nested deeper than \(maxDepth)")
        }
        let outerEnd = end
        end = position + length
        depth += 1
        try M.protoValidate(&self)
        depth -= 1
        end = outerEnd
    }

    /// Skips the value after `tag` as ``skip(tag:)`` does, with the common wire types inline (a
    /// validation skips most fields: every scalar, `bytes` and enum).
    @inlinable @inline(__always)
    public mutating func skipValue(tag: UInt32) throws(ProtoDecodingError) {
        switch tag & 7 {
        case ProtoWireType.varint: _ = try readVarint()
        case ProtoWireType.fixed64: _ = try readFixed64()
        case ProtoWireType.fixed32: _ = try readFixed32()
        case ProtoWireType.lengthDelimited: _ = try readLengthDelimited()
        default: try skip(tag: tag)
        }
    }

    /// Checks a packed run of varints: every element is a complete varint inside the run.
    @inlinable
    public mutating func validatePackedVarints() throws(ProtoDecodingError) {
        let limit = try pushLimit()
        while !isAtEnd { _ = try readVarint() }
        popLimit(limit)
    }

    /// Checks a packed run of fixed-width values: the run is a whole number of `width` bytes.
    @inlinable
    public mutating func validatePackedFixed(width: Int) throws(ProtoDecodingError) {
        let bytes = try readLengthDelimited()
        let whole = bytes.count / width &* width
        if bytes.count != whole {
            throw ProtoDecodingError(.truncated, offset: (position - start) - (bytes.count - whole),
                                     "input ends inside a fixed\(width * 8)")
        }
    }
}
