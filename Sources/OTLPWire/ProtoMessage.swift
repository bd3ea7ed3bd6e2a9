/// A protobuf message with a binary encoding: implemented by every generated OTLP type.
///
/// Encoding is two passes over the message: `protoSize` computes the exact encoded size and
/// records the length of every nested message (and packed varint field) in a ``ProtoSizer``,
/// in pre-order; `protoWrite` then writes the bytes through a ``ProtoWriter`` into storage of
/// exactly that size, consuming the recorded lengths in the same order.
/// Use ``ProtoEncoder`` (reusable buffer, no allocations once warm) or ``serializedBytes()``.
public protocol ProtoMessage: ProtoEncodable, Sendable, Hashable {
    /// An empty message: every field at its default.
    init()

    /// Returns the exact encoded size in bytes; records nested lengths in `sizer`.
    func protoSize(_ sizer: inout ProtoSizer) -> Int

    /// Writes the encoding; `writer` must hold the lengths recorded by `protoSize`.
    func protoWrite(_ writer: inout ProtoWriter)

    /// Merges the fields read from `reader` (up to its current end) into `self`.
    mutating func protoMerge(_ reader: inout ProtoReader) throws(ProtoDecodingError)
}

extension ProtoMessage {
    /// The binary encoding in a new array: one size pass, then one allocation of exactly that size.
    @inlinable
    public func serializedBytes() -> [UInt8] { encodedBytes() }

    /// The exact encoded size in bytes.
    public var serializedSize: Int {
        var sizer = ProtoSizer(initialCapacity: 64)
        defer { sizer.deallocate() }
        return protoSize(&sizer)
    }

    /// Decodes a message from its binary encoding.
    ///
    /// - Throws: ``ProtoDecodingError`` for any malformed input (never traps).
    @inlinable
    public init(serializedBytes bytes: [UInt8], options: ProtoDecodingOptions = .init()) throws(ProtoDecodingError) {
        self.init()
        var failure: ProtoDecodingError?
        bytes.withUnsafeBytes { buffer in
            do throws(ProtoDecodingError) { try self.merge(serializedBytes: buffer, options: options) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Decodes a message from its binary encoding in `buffer`.
    @inlinable
    public init(serializedBytes buffer: UnsafeRawBufferPointer, options: ProtoDecodingOptions = .init()) throws(ProtoDecodingError) {
        self.init()
        try merge(serializedBytes: buffer, options: options)
    }

    /// Merges the fields of a binary encoding into `self` (protobuf merge semantics).
    @inlinable
    public mutating func merge(serializedBytes buffer: UnsafeRawBufferPointer, options: ProtoDecodingOptions = .init()) throws(ProtoDecodingError) {
        guard buffer.count <= options.maxMessageSize else {
            throw ProtoDecodingError(.sizeLimitExceeded, offset: 0,
                                     "message of \(buffer.count) bytes is over the limit of \(options.maxMessageSize)")
        }
        if options.reusesRepeatedValues && buffer.count >= ProtoInternTable.minimumInputCount {
            let intern = ProtoInternTable.allocate()
            defer { intern.deallocate() }
            var reader = ProtoReader(buffer, options: options, intern: intern)
            try protoMerge(&reader)
            try reader.finish()
        } else {
            var reader = ProtoReader(buffer, options: options)
            try protoMerge(&reader)
            try reader.finish()
        }
    }
}

/// Limits applied while decoding untrusted input.
public struct ProtoDecodingOptions: Sendable, Hashable {
    /// Deepest nesting of messages accepted (the top-level message is depth 0). Default 100, like
    /// the reference implementations.
    public var maxDepth: Int
    /// Largest input accepted, in bytes. Default 64 MiB.
    public var maxMessageSize: Int
    /// Whether a string or short byte string (an id) equal to one decoded earlier in the same
    /// input reuses that value's storage instead of being validated and allocated again; likewise
    /// an attribute (`KeyValue`), a whole run of attributes, or a packed run of doubles equal in
    /// bytes to an earlier one. The decoded message is the same either way. Default `true`.
    public var reusesRepeatedValues: Bool

    public init(maxDepth: Int = 100, maxMessageSize: Int = 64 << 20, reusesRepeatedValues: Bool = true) {
        self.maxDepth = maxDepth
        self.maxMessageSize = maxMessageSize
        self.reusesRepeatedValues = reusesRepeatedValues
    }
}

/// A protobuf enum: closed set of known cases plus `unrecognized(Int32)` for other values.
public protocol ProtoEnum: Sendable, Hashable, RawRepresentable where RawValue == Int32 {
    /// The value for `rawValue` (unknown values become `unrecognized`).
    init(rawValue: Int32)
    /// The enum's default (the value numbered 0).
    init()
    /// Looks up a value by its proto name (`SPAN_KIND_SERVER`), for JSON input.
    init?(protoName: String)
}

/// The stored form of a generated message's optional field (a singular message field, a proto3
/// `optional` scalar or a oneof): the `Optional` in a one-field struct. The message reads and
/// writes the field through a property of the `Optional` type.
///
/// A message of seven or more fields that stores an `Optional` of a payload holding references
/// is built by the optimizer in a temporary and copied out by every initializer (a retain and a
/// release of each of its fields); stored inside this struct, the same `Optional` is not.
@frozen
public struct ProtoOptional<Wrapped: Sendable & Hashable>: Sendable, Hashable {
    /// The field's value, `nil` when absent.
    public var value: Wrapped?

    @inlinable
    public init(_ value: Wrapped?) { self.value = value }
}
