/// A token of proto source.
struct ProtoToken: Hashable {
    enum Kind: Hashable {
        case identifier
        case integer
        case float
        case string
        case symbol
        case end
    }
    var kind: Kind
    /// The identifier, number text, unescaped string contents, or symbol character.
    var text: String
    var location: SourceLocation
}

/// Splits proto source into tokens; skips whitespace and `//`, `/* */` comments.
struct ProtoLexer {
    private let bytes: [UInt8]
    private let file: String
    private var index = 0
    private var line = 1
    private var column = 1

    init(source: String, file: String) {
        bytes = Array(source.utf8)
        self.file = file
    }

    private var location: SourceLocation { SourceLocation(file: file, line: line, column: column) }

    private func peek(_ offset: Int = 0) -> UInt8? {
        index + offset < bytes.count ? bytes[index + offset] : nil
    }

    private mutating func advance() {
        if bytes[index] == UInt8(ascii: "\n") {
            line += 1
            column = 1
        } else if bytes[index] & 0xC0 != 0x80 {
            column += 1
        }
        index += 1
    }

    static func isLetter(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || c == UInt8(ascii: "_")
    }
    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    mutating func tokenize() throws(ProtoGenError) -> [ProtoToken] {
        var tokens: [ProtoToken] = []
        while true {
            try skipTrivia()
            let start = location
            guard let c = peek() else {
                tokens.append(ProtoToken(kind: .end, text: "", location: start))
                return tokens
            }
            if Self.isLetter(c) {
                var text = ""
                while let d = peek(), Self.isLetter(d) || Self.isDigit(d) {
                    text.append(Character(Unicode.Scalar(d)))
                    advance()
                }
                tokens.append(ProtoToken(kind: .identifier, text: text, location: start))
            } else if Self.isDigit(c) || (c == UInt8(ascii: ".") && peek(1).map(Self.isDigit) == true) {
                tokens.append(try number(start))
            } else if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                tokens.append(try string(start, quote: c))
            } else if c < 0x80 && "{}[]()<>;,=.-+:/".utf8.contains(c) {
                advance()
                tokens.append(ProtoToken(kind: .symbol, text: String(Unicode.Scalar(c)), location: start))
            } else {
                throw ProtoGenError(start, "unexpected character '\(String(decoding: [c], as: UTF8.self))'")
            }
        }
    }

    private mutating func skipTrivia() throws(ProtoGenError) {
        while let c = peek() {
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C || c == 0x0B {
                advance()
            } else if c == UInt8(ascii: "/") && peek(1) == UInt8(ascii: "/") {
                while let d = peek(), d != 0x0A { advance() }
            } else if c == UInt8(ascii: "/") && peek(1) == UInt8(ascii: "*") {
                let start = location
                advance(); advance()
                while true {
                    guard let d = peek() else { throw ProtoGenError(start, "unterminated /* comment") }
                    if d == UInt8(ascii: "*") && peek(1) == UInt8(ascii: "/") {
                        advance(); advance()
                        break
                    }
                    advance()
                }
            } else {
                return
            }
        }
    }

    private mutating func number(_ start: SourceLocation) throws(ProtoGenError) -> ProtoToken {
        var text = ""
        var isFloat = false
        if peek() == UInt8(ascii: "0"), let x = peek(1), x == UInt8(ascii: "x") || x == UInt8(ascii: "X") {
            advance(); advance()
            text = "0x"
            while let d = peek(), Self.isDigit(d) || (d | 0x20 >= 0x61 && d | 0x20 <= 0x66) {
                text.append(Character(Unicode.Scalar(d)))
                advance()
            }
            if text == "0x" { throw ProtoGenError(start, "hexadecimal literal without digits") }
        } else {
            while let d = peek() {
                if Self.isDigit(d) {
                    text.append(Character(Unicode.Scalar(d)))
                } else if d == UInt8(ascii: ".") {
                    isFloat = true
                    text.append(".")
                } else if d == UInt8(ascii: "e") || d == UInt8(ascii: "E") {
                    isFloat = true
                    text.append("e")
                    advance()
                    if let s = peek(), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") {
                        text.append(Character(Unicode.Scalar(s)))
                    } else {
                        continue
                    }
                } else {
                    break
                }
                advance()
            }
        }
        if let d = peek(), Self.isLetter(d) {
            throw ProtoGenError(location, "unexpected '\(Character(Unicode.Scalar(d)))' after number \(text)")
        }
        return ProtoToken(kind: isFloat ? .float : .integer, text: text, location: start)
    }

    private mutating func string(_ start: SourceLocation, quote: UInt8) throws(ProtoGenError) -> ProtoToken {
        advance()
        var out: [UInt8] = []
        while true {
            guard let c = peek(), c != 0x0A else { throw ProtoGenError(start, "unterminated string literal") }
            advance()
            if c == quote { break }
            if c == UInt8(ascii: "\\") {
                guard let e = peek() else { throw ProtoGenError(start, "unterminated string literal") }
                advance()
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "?"): out.append(e)
                case UInt8(ascii: "0")...UInt8(ascii: "7"):
                    var value = Int(e - 0x30)
                    for _ in 0..<2 {
                        guard let d = peek(), d >= 0x30 && d <= 0x37 else { break }
                        value = value * 8 + Int(d - 0x30)
                        advance()
                    }
                    out.append(UInt8(truncatingIfNeeded: value))
                case UInt8(ascii: "x"), UInt8(ascii: "X"):
                    var value = 0
                    var digits = 0
                    while digits < 2, let d = peek(), let v = Int(String(Unicode.Scalar(d)), radix: 16) {
                        value = value * 16 + v
                        digits += 1
                        advance()
                    }
                    if digits == 0 { throw ProtoGenError(location, "\\x escape without hex digits") }
                    out.append(UInt8(value))
                default:
                    throw ProtoGenError(location, "unknown escape sequence '\\\(Character(Unicode.Scalar(e)))'")
                }
            } else {
                out.append(c)
            }
        }
        return ProtoToken(kind: .string, text: String(decoding: out, as: UTF8.self), location: start)
    }
}
