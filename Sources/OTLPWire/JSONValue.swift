/// A parsed JSON value (numbers kept as their source text, so 64-bit integers stay exact).
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(b)
        case .number(let n): hasher.combine(n)
        case .string(let s): hasher.combine(s)
        case .array(let a): hasher.combine(a)
        case .object(let o): for (k, v) in o { hasher.combine(k); hasher.combine(v) }
        }
    }

    /// Parses JSON text; nesting deeper than `maxDepth` arrays/objects is an error.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 100) throws(ProtoDecodingError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.error("unexpected text after the JSON value") }
        return value
    }

    // MARK: Field accessors used by generated code

    static func typeError(_ expected: String, _ value: JSONValue) -> ProtoDecodingError {
        ProtoDecodingError(.invalidJSON, offset: 0, "expected \(expected), found \(value.kind)")
    }

    var kind: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number(let n): return "number \(n)"
        case .string(let s): return "string \"\(s.prefix(40))\""
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    public var isNull: Bool { if case .null = self { return true } else { return false } }

    public func asString() throws(ProtoDecodingError) -> String {
        guard case .string(let s) = self else { throw Self.typeError("a string", self) }
        return s
    }

    public func asBool() throws(ProtoDecodingError) -> Bool {
        guard case .bool(let b) = self else { throw Self.typeError("true or false", self) }
        return b
    }

    /// An integer given as a JSON number or a decimal string (exponent forms like `1e3` accepted
    /// when the value is integral).
    func integerText() throws(ProtoDecodingError) -> String {
        switch self {
        case .number(let n): return n
        case .string(let s): return s
        default: throw Self.typeError("an integer", self)
        }
    }

    func integer<T: FixedWidthInteger>(_ type: T.Type) throws(ProtoDecodingError) -> T {
        let text = try integerText()
        if let value = T(text) { return value }
        // Forms like "1.0" or "1e3": accept when exactly integral and in range.
        if let double = Double(text), double.rounded() == double, let value = T(exactly: double) { return value }
        throw ProtoDecodingError(.invalidJSON, offset: 0, "\"\(text)\" is not a valid \(T.self)")
    }

    public func asInt32() throws(ProtoDecodingError) -> Int32 { try integer(Int32.self) }
    public func asUInt32() throws(ProtoDecodingError) -> UInt32 { try integer(UInt32.self) }
    public func asInt64() throws(ProtoDecodingError) -> Int64 { try integer(Int64.self) }
    public func asUInt64() throws(ProtoDecodingError) -> UInt64 { try integer(UInt64.self) }

    public func asDouble() throws(ProtoDecodingError) -> Double {
        switch self {
        case .number(let n):
            if let d = Double(n) { return d }
        case .string(let s):
            switch s {
            case "NaN": return .nan
            case "Infinity": return .infinity
            case "-Infinity": return -.infinity
            default:
                if let d = Double(s), d.isFinite { return d }
            }
        default: break
        }
        throw Self.typeError("a number", self)
    }

    public func asFloat() throws(ProtoDecodingError) -> Float { Float(try asDouble()) }

    /// An enum as its number or its proto name.
    public func asEnum<E: ProtoEnum>(_ type: E.Type = E.self) throws(ProtoDecodingError) -> E {
        if case .string(let name) = self, let value = E(protoName: name) { return value }
        if case .string(let name) = self, Int32(name) == nil {
            throw ProtoDecodingError(.invalidJSON, offset: 0, "unknown \(E.self) value \"\(name)\"")
        }
        return E(rawValue: try asInt32())
    }

    /// Bytes as base64 (standard or URL-safe, padding optional).
    public func asBase64Bytes() throws(ProtoDecodingError) -> [UInt8] {
        let text = try asString()
        guard let bytes = Base64.decode(text) else {
            throw ProtoDecodingError(.invalidJSON, offset: 0, "\"\(text.prefix(40))\" is not base64")
        }
        return bytes
    }

    /// Bytes as hex (OTLP trace and span ids).
    public func asHexBytes() throws(ProtoDecodingError) -> [UInt8] {
        let text = try asString()
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { throw ProtoDecodingError(.invalidJSON, offset: 0, "hex id \"\(text.prefix(40))\" has an odd length") }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var i = 0
        while i < utf8.count {
            guard let high = nibble(utf8[i]), let low = nibble(utf8[i + 1]) else {
                throw ProtoDecodingError(.invalidJSON, offset: 0, "\"\(text.prefix(40))\" is not a hex id")
            }
            out.append(high << 4 | low)
            i += 2
        }
        return out
    }

    /// The elements of an array (`null` reads as empty).
    public func asArray() throws(ProtoDecodingError) -> [JSONValue] {
        switch self {
        case .array(let elements): return elements
        case .null: return []
        default: throw Self.typeError("an array", self)
        }
    }

    /// The members of an object.
    public func asObject() throws(ProtoDecodingError) -> [(key: String, value: JSONValue)] {
        guard case .object(let members) = self else { throw Self.typeError("an object", self) }
        return members
    }

    public func asMessage<M: JSONMessage>(_ type: M.Type = M.self) throws(ProtoDecodingError) -> M {
        var message = M()
        try message.mergeJSON(self)
        return message
    }
}

/// A recursive-descent JSON parser (RFC 8259) with a nesting limit.
struct JSONParser {
    let bytes: [UInt8]
    let maxDepth: Int
    var index = 0

    func error(_ message: String) -> ProtoDecodingError {
        ProtoDecodingError(.invalidJSON, offset: index, message)
    }

    mutating func skipWhitespace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
            index += 1
        }
    }

    mutating func literal(_ text: StaticString, _ value: JSONValue) throws(ProtoDecodingError) -> JSONValue {
        let count = text.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw error("truncated literal") }
        for i in 0..<count where bytes[index + i] != text.utf8Start[i] { throw error("invalid literal") }
        index += count
        return value
    }

    mutating func value(depth: Int) throws(ProtoDecodingError) -> JSONValue {
        guard index < bytes.count else { throw error("unexpected end of JSON") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            guard depth < maxDepth else { throw ProtoDecodingError(.depthLimitExceeded, offset: index, "JSON nested deeper than \(maxDepth)") }
            index += 1
            var members: [(key: String, value: JSONValue)] = []
            skipWhitespace()
            if index < bytes.count && bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a member name") }
                let key = try string()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':' after a member name") }
                index += 1
                skipWhitespace()
                members.append((key, try value(depth: depth + 1)))
                skipWhitespace()
                guard index < bytes.count else { throw error("unterminated object") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
                throw error("expected ',' or '}' in an object")
            }
        case UInt8(ascii: "["):
            guard depth < maxDepth else { throw ProtoDecodingError(.depthLimitExceeded, offset: index, "JSON nested deeper than \(maxDepth)") }
            index += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if index < bytes.count && bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
            while true {
                skipWhitespace()
                elements.append(try value(depth: depth + 1))
                skipWhitespace()
                guard index < bytes.count else { throw error("unterminated array") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
                throw error("expected ',' or ']' in an array")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try number())
        default:
            throw error("unexpected character in JSON")
        }
    }

    mutating func number() throws(ProtoDecodingError) -> String {
        let start = index
        func digits(_ p: inout JSONParser) -> Int {
            let s = p.index
            while p.index < p.bytes.count, p.bytes[p.index] >= 0x30 && p.bytes[p.index] <= 0x39 { p.index += 1 }
            return p.index - s
        }
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw error("truncated number") }
        if bytes[index] == UInt8(ascii: "0") { index += 1 } else if digits(&self) == 0 { throw error("invalid number") }
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            if digits(&self) == 0 { throw error("invalid number: no digits after '.'") }
        }
        if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            index += 1
            if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
            if digits(&self) == 0 { throw error("invalid number: no digits in exponent") }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    mutating func hex4() throws(ProtoDecodingError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - 0x30)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - 0x61 + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - 0x41 + 10)
            default: throw error("invalid \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    mutating func string() throws(ProtoDecodingError) -> String {
        index += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard index < bytes.count else { throw error("unterminated string") }
            let c = bytes[index]
            index += 1
            switch c {
            case UInt8(ascii: "\""):
                guard let string = String(validating: out, as: UTF8.self) else {
                    throw ProtoDecodingError(.invalidUTF8, offset: index, "JSON string is not valid UTF-8")
                }
                return string
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { throw error("unterminated escape") }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        guard index + 2 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired surrogate in \\u escape")
                        }
                        index += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low < 0xE000 else { throw error("invalid low surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        throw error("unpaired low surrogate")
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                    out.append(contentsOf: Array(String(Character(unicode)).utf8))
                default:
                    throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
                }
            case 0..<0x20:
                throw error("control character in string")
            default:
                out.append(c)
            }
        }
    }
}
