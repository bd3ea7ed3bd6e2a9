/// A malformed binary or JSON protobuf input.
///
/// Every malformed input decodes to this error — never a crash, hang or unbounded allocation.
public struct ProtoDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of malformation was found. Extensible: more codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        @usableFromInline let value: UInt8
        @usableFromInline init(_ value: UInt8) { self.value = value }

        /// The input ends in the middle of a tag, varint, fixed-width value or length-delimited field.
        public static let truncated = Code(1)
        /// A tag carries wire type 6 or 7, or an end-group without a matching start-group.
        public static let invalidWireType = Code(2)
        /// A varint is longer than 10 bytes.
        public static let overlongVarint = Code(3)
        /// A length-delimited field claims more bytes than remain in its enclosing message.
        public static let lengthPastEnd = Code(4)
        /// A `string` field holds bytes that are not valid UTF-8.
        public static let invalidUTF8 = Code(5)
        /// Messages are nested deeper than ``ProtoDecodingOptions/maxDepth``.
        public static let depthLimitExceeded = Code(6)
        /// The input is larger than ``ProtoDecodingOptions/maxMessageSize``.
        public static let sizeLimitExceeded = Code(7)
        /// A tag carries field number 0 (or one above 2^29-1).
        public static let invalidFieldNumber = Code(8)
        /// JSON input is not valid JSON, or a value has the wrong JSON type for its field.
        public static let invalidJSON = Code(9)

        public var description: String {
            switch self {
            case .truncated: return "truncated"
            case .invalidWireType: return "invalid wire type"
            case .overlongVarint: return "overlong varint"
            case .lengthPastEnd: return "length past end"
            case .invalidUTF8: return "invalid UTF-8"
            case .depthLimitExceeded: return "depth limit exceeded"
            case .sizeLimitExceeded: return "size limit exceeded"
            case .invalidFieldNumber: return "invalid field number"
            case .invalidJSON: return "invalid JSON"
            default: return "code \(value)"
            }
        }
    }

    /// The kind of malformation.
    public var code: Code
    /// Byte offset in the input where it was found.
    public var offset: Int
    /// A human-readable explanation.
    public var message: String

    @inlinable
    public init(_ code: Code, offset: Int, _ message: String) {
        self.code = code
        self.offset = offset
        self.message = message
    }

    public var description: String { "\(code) at byte \(offset): \(message)" }
}
