// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header.
// Section numbers below refer to W3C Trace Context Level 1 / Level 2.

/// An error in W3C trace context input or configuration: an extensible ``Code`` and the reason.
public struct W3CTraceContextError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// A `traceparent` value that does not follow §3.2.
        public static let invalidTraceparent = Code("invalidTraceparent")
        /// A `tracestate` value that does not follow §3.3.
        public static let invalidTracestate = Code("invalidTracestate")
        /// Configured tracestate (member → fields) that cannot be encoded as a valid member.
        public static let invalidConfiguration = Code("invalidConfiguration")
        public var description: String { name }
    }

    /// The kind of problem.
    public var code: Code
    /// What is wrong, in words.
    public var reason: String

    public init(code: Code, reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code): \(reason)" }
}

/// A parsed `traceparent` header value (W3C Trace Context §3.2):
/// `version "-" trace-id "-" parent-id "-" trace-flags`, lower-case hex.
///
/// Parsing accepts version `00` (exactly 55 characters) and, per §4.3 (versioning), any higher
/// version except `ff`, reading its first four fields in the version-00 layout and ignoring
/// anything after a `-` at offset 55. Formatting always writes version `00`, keeping only the
/// flags defined so far (sampled `0x01`, Level 2 random `0x02`).
public struct W3CTraceParent: Sendable, Hashable, CustomStringConvertible {
    /// A 16-byte trace id; the all-zero id is invalid.
    public struct TraceID: Sendable, Hashable, CustomStringConvertible {
        /// The first 8 bytes, big-endian.
        public var high: UInt64
        /// The last 8 bytes, big-endian.
        public var low: UInt64

        public init(high: UInt64, low: UInt64) {
            self.high = high
            self.low = low
        }

        /// Parses 32 lower-case hex digits; `nil` if malformed.
        public init?(hex: some StringProtocol) {
            let utf8 = Array(hex.utf8)
            guard utf8.count == 32, let h = HexDigits.parse(utf8[0..<16]), let l = HexDigits.parse(utf8[16..<32]) else {
                return nil
            }
            self.init(high: h, low: l)
        }

        /// `false` for the all-zero id.
        public var isValid: Bool { high != 0 || low != 0 }
        /// 32 lower-case hex digits.
        public var hex: String { HexDigits.format(high) + HexDigits.format(low) }
        /// The 16 bytes, big-endian.
        public var bytes: [UInt8] { HexDigits.bytes(high) + HexDigits.bytes(low) }
        public var description: String { hex }
    }

    /// An 8-byte span (parent) id; the all-zero id is invalid.
    public struct SpanID: Sendable, Hashable, CustomStringConvertible {
        /// The 8 bytes, big-endian.
        public var value: UInt64

        public init(_ value: UInt64) { self.value = value }

        /// Parses 16 lower-case hex digits; `nil` if malformed.
        public init?(hex: some StringProtocol) {
            let utf8 = Array(hex.utf8)
            guard utf8.count == 16, let v = HexDigits.parse(utf8[...]) else { return nil }
            self.init(v)
        }

        /// `false` for the all-zero id.
        public var isValid: Bool { value != 0 }
        /// 16 lower-case hex digits.
        public var hex: String { HexDigits.format(value) }
        /// The 8 bytes, big-endian.
        public var bytes: [UInt8] { HexDigits.bytes(value) }
        public var description: String { hex }
    }

    /// `trace-flags` bits (§3.2.2.5).
    public struct Flags: OptionSet, Sendable, Hashable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// The caller may have recorded the trace (§3.2.2.5.1).
        public static let sampled = Flags(rawValue: 0x01)
        /// The trace id's right-most 7 bytes are random (Level 2, §3.2.2.5.2).
        public static let random = Flags(rawValue: 0x02)
        /// The flags this implementation propagates.
        public static let known: Flags = [.sampled, .random]
    }

    /// The version read from the header (`0` for `00`). Formatting always writes `00`.
    public var version: UInt8
    /// The trace id (never all zero).
    public var traceID: TraceID
    /// The caller's span id (never all zero).
    public var parentID: SpanID
    /// The flags as received (unknown bits are kept here but not propagated).
    public var flags: Flags

    /// Whether the sampled flag is set.
    public var sampled: Bool {
        get { flags.contains(.sampled) }
        set { if newValue { flags.insert(.sampled) } else { flags.remove(.sampled) } }
    }

    /// A version-00 traceparent.
    /// - Throws: ``W3CTraceContextError`` (`.invalidTraceparent`) for an all-zero trace or span id.
    public init(traceID: TraceID, parentID: SpanID, flags: Flags = .sampled) throws(W3CTraceContextError) {
        guard traceID.isValid else { throw W3CTraceContextError(code: .invalidTraceparent, reason: "the trace id is all zeros") }
        guard parentID.isValid else { throw W3CTraceContextError(code: .invalidTraceparent, reason: "the parent id is all zeros") }
        self.version = 0
        self.traceID = traceID
        self.parentID = parentID
        self.flags = flags
    }

    /// Parses a `traceparent` header value (surrounding spaces and tabs are ignored).
    /// - Throws: ``W3CTraceContextError`` (`.invalidTraceparent`) saying which part is wrong.
    public init(parsing header: String) throws(W3CTraceContextError) {
        func fail(_ reason: String) -> W3CTraceContextError {
            W3CTraceContextError(code: .invalidTraceparent, reason: reason)
        }
        let bytes = Array(Self.trimOWS(header).utf8)
        guard bytes.count >= 2, let version = HexDigits.parseByte(bytes[0], bytes[1]) else {
            throw fail("the version is not two lower-case hex digits")
        }
        if version == 0xFF { throw fail("version ff is invalid") }
        guard bytes.count >= 55 else { throw fail("too short (\(bytes.count) characters, 55 needed)") }
        if version == 0 && bytes.count != 55 {
            throw fail("version 00 must be exactly 55 characters, got \(bytes.count)")
        }
        if bytes.count > 55 && bytes[55] != UInt8(ascii: "-") {
            throw fail("a future version's extra fields must follow a '-' at offset 55")
        }
        guard bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-") else {
            throw fail("fields must be separated by '-' at offsets 2, 35 and 52")
        }
        guard let high = HexDigits.parse(bytes[3..<19]), let low = HexDigits.parse(bytes[19..<35]) else {
            throw fail("the trace id is not 32 lower-case hex digits")
        }
        guard high != 0 || low != 0 else { throw fail("the trace id is all zeros") }
        guard let parent = HexDigits.parse(bytes[36..<52]) else {
            throw fail("the parent id is not 16 lower-case hex digits")
        }
        guard parent != 0 else { throw fail("the parent id is all zeros") }
        guard let flags = HexDigits.parseByte(bytes[53], bytes[54]) else {
            throw fail("the trace flags are not two lower-case hex digits")
        }
        self.version = version
        self.traceID = TraceID(high: high, low: low)
        self.parentID = SpanID(parent)
        self.flags = Flags(rawValue: flags)
    }

    /// The version-00 header value: `00-<trace-id>-<parent-id>-<flags>`.
    public var headerValue: String {
        "00-\(traceID.hex)-\(parentID.hex)-\(HexDigits.formatByte(flags.intersection(.known).rawValue))"
    }

    public var description: String { headerValue }

    /// Strips optional white space (space and horizontal tab) at both ends.
    static func trimOWS(_ text: some StringProtocol) -> Substring {
        var s = Substring(text)
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return s
    }
}

/// Lower-case hex encoding and strict decoding.
enum HexDigits {
    static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Lower-case hex digit value; upper case is rejected (W3C §3.2.2: lower-case only).
    @inline(__always)
    static func value(_ byte: UInt8) -> UInt64? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt64(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt64(byte - UInt8(ascii: "a") + 10)
        default: nil
        }
    }

    /// Up to 16 hex digits into a UInt64.
    static func parse(_ bytes: ArraySlice<UInt8>) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= 16 else { return nil }
        var result: UInt64 = 0
        for byte in bytes {
            guard let v = value(byte) else { return nil }
            result = result << 4 | v
        }
        return result
    }

    static func parseByte(_ a: UInt8, _ b: UInt8) -> UInt8? {
        guard let h = value(a), let l = value(b) else { return nil }
        return UInt8(h << 4 | l)
    }

    static func format(_ value: UInt64) -> String {
        var out = [UInt8](repeating: 0, count: 16)
        var v = value
        for i in stride(from: 15, through: 0, by: -1) {
            out[i] = digits[Int(v & 0xF)]
            v >>= 4
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func formatByte(_ value: UInt8) -> String {
        String(decoding: [digits[Int(value >> 4)], digits[Int(value & 0xF)]], as: UTF8.self)
    }

    static func bytes(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }
}
