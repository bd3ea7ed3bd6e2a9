/// Naming rules shared by the parser (JSON names) and the Swift emitter.
public enum ProtoNaming {
    /// protoc's JSON name: underscores removed, the letter after each upper-cased.
    public static func lowerCamelJSON(_ name: String) -> String {
        var result = ""
        var upperNext = false
        for character in name {
            if character == "_" {
                upperNext = true
            } else if upperNext {
                result += character.uppercased()
                upperNext = false
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// `span_kind` → `SpanKind`; `v1` → `V1`.
    public static func upperCamel(_ name: String) -> String {
        let lower = lowerCamelJSON(name)
        guard let first = lower.first else { return lower }
        return first.uppercased() + lower.dropFirst()
    }

    /// `SPAN_KIND_SERVER` → `server` (enum prefix `SPAN_KIND_` removed), lowerCamelCased.
    public static func enumCaseName(value: String, enumName: String) -> String {
        let prefix = upperSnake(enumName) + "_"
        var base = value
        if value.hasPrefix(prefix) && value.count > prefix.count { base = String(value.dropFirst(prefix.count)) }
        let parts = base.split(separator: "_").map { $0.lowercased() }
        var name = parts.first ?? ""
        for part in parts.dropFirst() { name += part.prefix(1).uppercased() + part.dropFirst() }
        if let first = name.first, first.isNumber { name = "_" + name }
        return name
    }

    /// `SpanKind` → `SPAN_KIND`.
    public static func upperSnake(_ name: String) -> String {
        var result = ""
        for (i, character) in name.enumerated() {
            if character.isUppercase && i > 0 { result += "_" }
            result += character.uppercased()
        }
        return result
    }

    /// Swift type-name prefix for a proto package: `opentelemetry.proto.trace.v1` → `TraceV1`
    /// (the `dropping` prefix, `opentelemetry.proto` by default, is removed first).
    public static func typePrefix(package: String, dropping: String = "opentelemetry.proto") -> String {
        var rest = package
        if !dropping.isEmpty {
            if rest == dropping { rest = "" } else if rest.hasPrefix(dropping + ".") { rest = String(rest.dropFirst(dropping.count + 1)) }
        }
        return rest.split(separator: ".").map { upperCamel(String($0)) }.joined()
    }

    static let swiftKeywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init",
        "inout", "internal", "let", "open", "operator", "private", "precedencegroup", "protocol", "public",
        "rethrows", "static", "struct", "subscript", "typealias", "var", "break", "case", "catch", "continue",
        "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat", "return",
        "throw", "switch", "where", "while", "Any", "as", "await", "false", "is", "nil", "self", "Self",
        "super", "throws", "true", "try", "Type", "Protocol",
    ]

    /// `name`, backquoted when it is a Swift keyword.
    public static func escaped(_ name: String) -> String {
        swiftKeywords.contains(name) ? "`\(name)`" : name
    }
}
