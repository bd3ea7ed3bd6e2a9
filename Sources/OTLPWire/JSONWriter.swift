/// A message with an OTLP/JSON encoding (protobuf JSON mapping with the OTLP changes: trace and
/// span ids as hex, enums as integers). Implemented by every generated OTLP type.
///
/// See https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding
public protocol JSONMessage: ProtoMessage {
    /// Writes this message as a JSON object (fields at their default value are omitted).
    func writeJSON(_ writer: inout JSONWriter)
    /// Merges the members of a JSON object into `self` (unknown keys are ignored).
    mutating func mergeJSON(_ value: JSONValue) throws(ProtoDecodingError)
}

extension JSONMessage {
    /// The OTLP/JSON encoding as UTF-8 bytes.
    public func jsonBytes() -> [UInt8] {
        var writer = JSONWriter()
        writeJSON(&writer)
        return writer.bytes
    }

    /// The OTLP/JSON encoding as a string.
    public func jsonString() -> String { String(decoding: jsonBytes(), as: UTF8.self) }

    /// Decodes a message from OTLP/JSON.
    ///
    /// - Throws: ``ProtoDecodingError`` with code `.invalidJSON` (or `.depthLimitExceeded`,
    ///   `.sizeLimitExceeded`) for malformed input.
    public init(jsonBytes bytes: [UInt8], options: ProtoDecodingOptions = .init()) throws(ProtoDecodingError) {
        guard bytes.count <= options.maxMessageSize else {
            throw ProtoDecodingError(.sizeLimitExceeded, offset: 0, "JSON of \(bytes.count) bytes is over the limit of \(options.maxMessageSize)")
        }
        let value = try JSONValue.parse(bytes, maxDepth: options.maxDepth)
        self.init()
        try mergeJSON(value)
    }

    /// Decodes a message from an OTLP/JSON string.
    public init(jsonString: String, options: ProtoDecodingOptions = .init()) throws(ProtoDecodingError) {
        try self.init(jsonBytes: Array(jsonString.utf8), options: options)
    }
}

/// Writes compact JSON into a growing byte array (reusable: call ``reset()``).
public struct JSONWriter: Sendable {
    /// The JSON written so far.
    public private(set) var bytes: [UInt8] = []
    var needsComma = false

    public init() {}

    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        needsComma = false
    }

    mutating func separator() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    public mutating func beginObject() {
        separator()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        separator()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes `"name":` (names are generated identifiers: no escaping needed).
    public mutating func key(_ name: StaticString) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    mutating func raw(_ text: String) {
        separator()
        bytes.append(contentsOf: text.utf8)
        needsComma = true
    }

    public mutating func string(_ value: String) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\\")); bytes.append(byte)
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\")); bytes.append(byte)
            case 0x0A: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "t"))
            case 0..<0x20, 0x7F:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                          hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    public mutating func bool(_ value: Bool) { raw(value ? "true" : "false") }
    public mutating func int32(_ value: Int32) { raw(String(value)) }
    public mutating func uint32(_ value: UInt32) { raw(String(value)) }
    /// 64-bit integers are JSON strings (protobuf JSON mapping).
    public mutating func int64(_ value: Int64) { raw("\"\(value)\"") }
    public mutating func uint64(_ value: UInt64) { raw("\"\(value)\"") }

    /// Finite values as numbers (shortest round-trip form); NaN and infinities as strings.
    public mutating func double(_ value: Double) {
        if value.isNaN { raw("\"NaN\"") } else if value == .infinity { raw("\"Infinity\"") } else if value == -.infinity { raw("\"-Infinity\"") } else { raw(value.description) }
    }

    public mutating func float(_ value: Float) {
        if value.isNaN { raw("\"NaN\"") } else if value == .infinity { raw("\"Infinity\"") } else if value == -.infinity { raw("\"-Infinity\"") } else { raw(value.description) }
    }

    public mutating func enumValue<E: ProtoEnum>(_ value: E) { int32(value.rawValue) }

    /// Bytes as standard base64 with padding.
    public mutating func base64(_ value: [UInt8]) { raw("\"" + Base64.encode(value) + "\"") }

    /// Bytes as lowercase hex (OTLP trace and span ids).
    public mutating func hex(_ value: [UInt8]) {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        separator()
        bytes.append(UInt8(ascii: "\""))
        for byte in value {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 15)])
        }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    public mutating func message<M: JSONMessage>(_ value: M) { value.writeJSON(&self) }
}

/// Standard base64 (RFC 4648), decoding also the URL-safe alphabet and missing padding.
public enum Base64 {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes base64; `nil` if the text is not base64.
    public static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var accumulator: UInt32 = 0
        var bits = 0
        var padding = 0
        for c in text.utf8 {
            let value: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(c - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(c - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"), UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): value = 63
            case UInt8(ascii: "="): padding += 1; continue
            default: return nil
            }
            if padding > 0 { return nil }
            accumulator = accumulator << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        if bits >= 6 || padding > 2 { return nil }
        return out
    }
}
