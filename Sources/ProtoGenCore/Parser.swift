/// Parses proto3 source into a ``ProtoFile`` (syntax, package, import, option, messages with
/// nested messages and enums, every scalar type, repeated/packed, optional, oneof, map, reserved,
/// services and rpcs; comments are skipped). Types stay unresolved until ``ProtoSchema`` links them.
public struct ProtoParser {
    private var tokens: [ProtoToken]
    private var index = 0
    private let path: String

    /// The largest field number protobuf allows.
    public static let maxFieldNumber = 536_870_911

    /// Parses `source`; `path` (relative to the proto root) names the file in errors.
    public static func parse(source: String, path: String) throws(ProtoGenError) -> ProtoFile {
        var lexer = ProtoLexer(source: source, file: path)
        var parser = ProtoParser(tokens: try lexer.tokenize(), path: path)
        return try parser.parseFile()
    }

    private init(tokens: [ProtoToken], path: String) {
        self.tokens = tokens
        self.path = path
    }

    // MARK: Token helpers

    private var current: ProtoToken { tokens[index] }

    private func describe(_ token: ProtoToken) -> String {
        switch token.kind {
        case .end: return "end of file"
        case .string: return "string \"\(token.text)\""
        default: return "'\(token.text)'"
        }
    }

    private mutating func next() -> ProtoToken {
        let token = tokens[index]
        if token.kind != .end { index += 1 }
        return token
    }

    private func isSymbol(_ s: String) -> Bool { current.kind == .symbol && current.text == s }
    private func isKeyword(_ s: String) -> Bool { current.kind == .identifier && current.text == s }

    private mutating func expectSymbol(_ s: String, _ context: String) throws(ProtoGenError) {
        guard isSymbol(s) else {
            throw ProtoGenError(current.location, "expected '\(s)' \(context), found \(describe(current))")
        }
        index += 1
    }

    private mutating func acceptSymbol(_ s: String) -> Bool {
        if isSymbol(s) { index += 1; return true }
        return false
    }

    private mutating func expectIdentifier(_ what: String) throws(ProtoGenError) -> ProtoToken {
        guard current.kind == .identifier else {
            throw ProtoGenError(current.location, "expected \(what), found \(describe(current))")
        }
        return next()
    }

    /// `a.b.c` (optionally with a leading `.` when `allowLeadingDot`).
    private mutating func fullIdentifier(_ what: String, allowLeadingDot: Bool = false) throws(ProtoGenError) -> String {
        var name = ""
        if allowLeadingDot && acceptSymbol(".") { name = "." }
        name += try expectIdentifier(what).text
        while isSymbol(".") {
            index += 1
            name += "." + (try expectIdentifier("an identifier after '.'").text)
        }
        return name
    }

    private mutating func stringLiteral(_ what: String) throws(ProtoGenError) -> String {
        guard current.kind == .string else {
            throw ProtoGenError(current.location, "expected \(what) (a string literal), found \(describe(current))")
        }
        var text = next().text
        while current.kind == .string { text += next().text }  // adjacent literals concatenate
        return text
    }

    private mutating func integer(_ what: String) throws(ProtoGenError) -> Int {
        let start = current.location
        let negative = acceptSymbol("-")
        guard current.kind == .integer else {
            throw ProtoGenError(current.location, "expected \(what) (an integer), found \(describe(current))")
        }
        let text = next().text
        let value: Int?
        if text.hasPrefix("0x") {
            value = Int(text.dropFirst(2), radix: 16)
        } else if text.count > 1 && text.hasPrefix("0") {
            value = Int(text.dropFirst(), radix: 8)
        } else {
            value = Int(text)
        }
        guard let value, value <= Int(Int32.max) + (negative ? 1 : 0) || what.contains("64") else {
            throw ProtoGenError(start, "\(what) \(negative ? "-" : "")\(text) is out of range")
        }
        return negative ? -value : value
    }

    // MARK: File

    private mutating func parseFile() throws(ProtoGenError) -> ProtoFile {
        var file = ProtoFile(path: path)
        if isKeyword("syntax") || isKeyword("edition") {
            let keyword = next()
            try expectSymbol("=", "after '\(keyword.text)'")
            let valueLocation = current.location
            let syntax = try stringLiteral("the syntax")
            try expectSymbol(";", "after the syntax statement")
            guard keyword.text == "syntax", syntax == "proto3" else {
                throw ProtoGenError(valueLocation, "only syntax = \"proto3\" is supported, found \(keyword.text) \"\(syntax)\"")
            }
            file.syntax = syntax
        } else {
            throw ProtoGenError(current.location, "expected 'syntax = \"proto3\";' as the first statement, found \(describe(current))")
        }
        var sawPackage = false
        while current.kind != .end {
            if acceptSymbol(";") { continue }
            let keyword = try expectIdentifier("a top-level statement (package, import, option, message, enum, service)")
            switch keyword.text {
            case "package":
                if sawPackage { throw ProtoGenError(keyword.location, "a file may have only one package statement") }
                sawPackage = true
                file.package = try fullIdentifier("a package name")
                try expectSymbol(";", "after the package name")
            case "import":
                var kind = ProtoImport.Kind.normal
                if isKeyword("weak") { index += 1; kind = .weak } else if isKeyword("public") { index += 1; kind = .public }
                let importPath = try stringLiteral("an import path")
                try expectSymbol(";", "after the import path")
                file.imports.append(ProtoImport(path: importPath, kind: kind, location: keyword.location))
            case "option":
                file.options.append(try optionStatement(keyword.location))
            case "message":
                file.messages.append(try message(scope: file.package, location: keyword.location))
            case "enum":
                file.enums.append(try enumeration(scope: file.package, location: keyword.location))
            case "service":
                file.services.append(try service(scope: file.package, location: keyword.location))
            case "extend":
                throw ProtoGenError(keyword.location, "'extend' is not supported (proto3 extensions are only for custom options)")
            default:
                throw ProtoGenError(keyword.location, "unexpected '\(keyword.text)': expected package, import, option, message, enum or service")
            }
        }
        return file
    }

    // MARK: Options

    private mutating func optionName() throws(ProtoGenError) -> String {
        var name = ""
        if acceptSymbol("(") {
            name = "(" + (try fullIdentifier("a custom option name", allowLeadingDot: true)) + ")"
            try expectSymbol(")", "to close the custom option name")
        } else {
            name = try expectIdentifier("an option name").text
        }
        while acceptSymbol(".") {
            if acceptSymbol("(") {
                name += ".(" + (try fullIdentifier("a custom option name", allowLeadingDot: true)) + ")"
                try expectSymbol(")", "to close the custom option name")
            } else {
                name += "." + (try expectIdentifier("an option field name").text)
            }
        }
        return name
    }

    private mutating func constant() throws(ProtoGenError) -> String {
        switch current.kind {
        case .string:
            return try stringLiteral("a constant")
        case .identifier:
            return next().text
        case .integer, .float:
            return next().text
        case .symbol where current.text == "-" || current.text == "+":
            let sign = next().text
            guard current.kind == .integer || current.kind == .float || isKeyword("inf") || isKeyword("nan") else {
                throw ProtoGenError(current.location, "expected a number after '\(sign)', found \(describe(current))")
            }
            return (sign == "-" ? "-" : "") + next().text
        case .symbol where current.text == "{":
            // Aggregate (text format) value: kept as its tokens, balanced braces.
            var depth = 0
            var text = ""
            repeat {
                let token = next()
                if token.kind == .end { throw ProtoGenError(token.location, "unterminated aggregate option value") }
                if token.kind == .symbol && token.text == "{" { depth += 1 }
                if token.kind == .symbol && token.text == "}" { depth -= 1 }
                text += (text.isEmpty ? "" : " ") + token.text
            } while depth > 0
            return text
        default:
            throw ProtoGenError(current.location, "expected an option value, found \(describe(current))")
        }
    }

    private mutating func optionStatement(_ location: SourceLocation) throws(ProtoGenError) -> ProtoOption {
        let name = try optionName()
        try expectSymbol("=", "after option name '\(name)'")
        let value = try constant()
        try expectSymbol(";", "after the option value")
        return ProtoOption(name: name, value: value, location: location)
    }

    /// `[name = value, ...]` after a field or enum value.
    private mutating func fieldOptions() throws(ProtoGenError) -> [ProtoOption] {
        guard acceptSymbol("[") else { return [] }
        var options: [ProtoOption] = []
        repeat {
            let location = current.location
            let name = try optionName()
            try expectSymbol("=", "after option name '\(name)'")
            options.append(ProtoOption(name: name, value: try constant(), location: location))
        } while acceptSymbol(",")
        try expectSymbol("]", "to close the field options")
        return options
    }

    // MARK: Messages

    private static let scalarNames = Set(ProtoScalar.allCases.map(\.rawValue))

    private mutating func fieldType() throws(ProtoGenError) -> ProtoFieldType {
        let location = current.location
        let name = try fullIdentifier("a field type", allowLeadingDot: true)
        if let scalar = ProtoScalar(rawValue: name) { return .scalar(scalar) }
        if name == "group" { throw ProtoGenError(location, "groups are not supported in proto3") }
        return .named(name)
    }

    private mutating func fieldNumber() throws(ProtoGenError) -> Int {
        let location = current.location
        let number = try integer("a field number")
        guard number >= 1 && number <= Self.maxFieldNumber else {
            throw ProtoGenError(location, "field number \(number) is out of range 1...\(Self.maxFieldNumber)")
        }
        guard !(19000...19999).contains(number) else {
            throw ProtoGenError(location, "field numbers 19000 to 19999 are reserved for the protobuf implementation")
        }
        return number
    }

    private mutating func field(label: ProtoFieldLabel, type: ProtoFieldType, location: SourceLocation,
                                oneofIndex: Int?) throws(ProtoGenError) -> ProtoField {
        let name = try expectIdentifier("a field name").text
        try expectSymbol("=", "after field name '\(name)'")
        let number = try fieldNumber()
        let options = try fieldOptions()
        try expectSymbol(";", "after field '\(name)'")
        return ProtoField(name: name, number: number, label: label, type: type, oneofIndex: oneofIndex,
                          options: options, location: location)
    }

    private mutating func mapField(location: SourceLocation) throws(ProtoGenError) -> ProtoField {
        try expectSymbol("<", "after 'map'")
        let keyLocation = current.location
        guard case .scalar(let key) = try fieldType(), key.isValidMapKey else {
            throw ProtoGenError(keyLocation, "map keys must be an integral type, bool or string")
        }
        try expectSymbol(",", "between the map's key and value types")
        let valueLocation = current.location
        let value = try fieldType()
        if case .map = value { throw ProtoGenError(valueLocation, "map values cannot be maps") }
        try expectSymbol(">", "to close the map type")
        return try field(label: .repeated, type: .map(key: key, value: value), location: location, oneofIndex: nil)
    }

    private mutating func reserved(into ranges: inout [ProtoReservedRange], names: inout [String],
                                   maximum: Int) throws(ProtoGenError) {
        if current.kind == .string {
            repeat { names.append(try stringLiteral("a reserved name")) } while acceptSymbol(",")
        } else {
            repeat {
                let location = current.location
                let lower = try integer("a reserved number")
                var upper = lower
                if isKeyword("to") {
                    index += 1
                    if isKeyword("max") { index += 1; upper = maximum } else { upper = try integer("a reserved range end") }
                }
                guard lower <= upper else { throw ProtoGenError(location, "reserved range \(lower) to \(upper) is empty") }
                ranges.append(ProtoReservedRange(lower: lower, upper: upper))
            } while acceptSymbol(",")
        }
        try expectSymbol(";", "after the reserved statement")
    }

    private mutating func message(scope: String, location: SourceLocation) throws(ProtoGenError) -> ProtoMessageDecl {
        let name = try expectIdentifier("a message name").text
        let fullName = scope.isEmpty ? name : scope + "." + name
        var decl = ProtoMessageDecl(name: name, fullName: fullName, location: location)
        try expectSymbol("{", "after message name '\(name)'")
        while !acceptSymbol("}") {
            if current.kind == .end { throw ProtoGenError(current.location, "message '\(name)' is not closed: expected '}'") }
            if acceptSymbol(";") { continue }
            let start = current.location
            if current.kind == .symbol && current.text == "." {
                decl.fields.append(try field(label: .singular, type: try fieldType(), location: start, oneofIndex: nil))
                continue
            }
            let word = try expectIdentifier("a field, message, enum, oneof, map, reserved or option")
            switch word.text {
            case "message":
                decl.messages.append(try message(scope: fullName, location: start))
            case "enum":
                decl.enums.append(try enumeration(scope: fullName, location: start))
            case "option":
                decl.options.append(try optionStatement(start))
            case "reserved":
                try reserved(into: &decl.reservedRanges, names: &decl.reservedNames, maximum: Self.maxFieldNumber)
            case "oneof":
                let oneofName = try expectIdentifier("a oneof name").text
                let oneofIndex = decl.oneofs.count
                decl.oneofs.append(ProtoOneof(name: oneofName, location: start))
                try expectSymbol("{", "after oneof name '\(oneofName)'")
                var members = 0
                while !acceptSymbol("}") {
                    if current.kind == .end { throw ProtoGenError(current.location, "oneof '\(oneofName)' is not closed: expected '}'") }
                    if acceptSymbol(";") { continue }
                    let memberStart = current.location
                    if isKeyword("option") {
                        index += 1
                        _ = try optionStatement(memberStart)
                        continue
                    }
                    if isKeyword("repeated") || isKeyword("optional") || isKeyword("required") || isKeyword("map") {
                        throw ProtoGenError(memberStart, "oneof members cannot be '\(current.text)'")
                    }
                    decl.fields.append(try field(label: .singular, type: try fieldType(), location: memberStart, oneofIndex: oneofIndex))
                    members += 1
                }
                if members == 0 { throw ProtoGenError(start, "oneof '\(oneofName)' has no fields") }
            case "map" where isSymbol("<"):
                decl.fields.append(try mapField(location: start))
            case "repeated":
                if isKeyword("map") { throw ProtoGenError(current.location, "map fields cannot be repeated") }
                decl.fields.append(try field(label: .repeated, type: try fieldType(), location: start, oneofIndex: nil))
            case "optional":
                decl.fields.append(try field(label: .optional, type: try fieldType(), location: start, oneofIndex: nil))
            case "required":
                throw ProtoGenError(start, "'required' is not allowed in proto3")
            case "extensions", "extend":
                throw ProtoGenError(start, "'\(word.text)' is not supported in proto3 messages")
            default:
                // A field whose type is `word` (possibly qualified: `a.b.C`).
                var typeName = word.text
                while acceptSymbol(".") { typeName += "." + (try expectIdentifier("an identifier after '.'").text) }
                let type: ProtoFieldType = ProtoScalar(rawValue: typeName).map { .scalar($0) } ?? .named(typeName)
                if typeName == "group" { throw ProtoGenError(start, "groups are not supported in proto3") }
                decl.fields.append(try field(label: .singular, type: type, location: start, oneofIndex: nil))
            }
        }
        try validate(decl)
        return decl
    }

    private func validate(_ decl: ProtoMessageDecl) throws(ProtoGenError) {
        var numbers: [Int: String] = [:]
        var names: Set<String> = []
        var jsonNames: [String: String] = [:]
        for field in decl.fields {
            if let other = numbers[field.number] {
                throw ProtoGenError(field.location, "field number \(field.number) of '\(field.name)' is already used by '\(other)' in message '\(decl.name)'")
            }
            numbers[field.number] = field.name
            if !names.insert(field.name).inserted {
                throw ProtoGenError(field.location, "field name '\(field.name)' is used twice in message '\(decl.name)'")
            }
            if let other = jsonNames[field.jsonName] {
                throw ProtoGenError(field.location, "field '\(field.name)' has the same JSON name '\(field.jsonName)' as '\(other)'")
            }
            jsonNames[field.jsonName] = field.name
            for range in decl.reservedRanges where range.lower <= field.number && field.number <= range.upper {
                throw ProtoGenError(field.location, "field '\(field.name)' uses number \(field.number), which is reserved in message '\(decl.name)'")
            }
            if decl.reservedNames.contains(field.name) {
                throw ProtoGenError(field.location, "field name '\(field.name)' is reserved in message '\(decl.name)'")
            }
            if field.options.contains(where: { $0.name == "packed" }) && !(field.label == .repeated && {
                if case .scalar(let s) = field.type { return s.isPackable }
                if case .named = field.type { return true }
                return false
            }()) {
                throw ProtoGenError(field.location, "[packed] applies only to repeated scalar or enum fields")
            }
        }
        var nestedNames: Set<String> = []
        for nested in decl.messages {
            if !nestedNames.insert(nested.name).inserted { throw ProtoGenError(nested.location, "'\(nested.name)' is already defined in message '\(decl.name)'") }
        }
        for nested in decl.enums {
            if !nestedNames.insert(nested.name).inserted { throw ProtoGenError(nested.location, "'\(nested.name)' is already defined in message '\(decl.name)'") }
        }
    }

    // MARK: Enums

    private mutating func enumeration(scope: String, location: SourceLocation) throws(ProtoGenError) -> ProtoEnumDecl {
        let name = try expectIdentifier("an enum name").text
        var decl = ProtoEnumDecl(name: name, fullName: scope.isEmpty ? name : scope + "." + name, location: location)
        try expectSymbol("{", "after enum name '\(name)'")
        while !acceptSymbol("}") {
            if current.kind == .end { throw ProtoGenError(current.location, "enum '\(name)' is not closed: expected '}'") }
            if acceptSymbol(";") { continue }
            let start = current.location
            if isKeyword("option") {
                index += 1
                decl.options.append(try optionStatement(start))
                continue
            }
            if isKeyword("reserved") {
                index += 1
                try reserved(into: &decl.reservedRanges, names: &decl.reservedNames, maximum: Int(Int32.max))
                continue
            }
            let valueName = try expectIdentifier("an enum value name").text
            try expectSymbol("=", "after enum value '\(valueName)'")
            let number = try integer("an enum value number")
            _ = try fieldOptions()
            try expectSymbol(";", "after enum value '\(valueName)'")
            decl.values.append(ProtoEnumValue(name: valueName, number: number, location: start))
        }
        guard let first = decl.values.first else { throw ProtoGenError(location, "enum '\(name)' has no values") }
        if first.number != 0 {
            throw ProtoGenError(first.location, "the first value of proto3 enum '\(name)' must be 0, found \(first.number)")
        }
        let allowAlias = decl.options.contains { $0.name == "allow_alias" && $0.value == "true" }
        var seen: [Int: String] = [:]
        var seenNames: Set<String> = []
        for value in decl.values {
            if !seenNames.insert(value.name).inserted {
                throw ProtoGenError(value.location, "enum value '\(value.name)' is defined twice in enum '\(name)'")
            }
            if let other = seen[value.number], !allowAlias {
                throw ProtoGenError(value.location, "enum value '\(value.name)' reuses number \(value.number) of '\(other)' (set option allow_alias = true to allow this)")
            }
            seen[value.number] = value.name
            for range in decl.reservedRanges where range.lower <= value.number && value.number <= range.upper {
                throw ProtoGenError(value.location, "enum value '\(value.name)' uses reserved number \(value.number)")
            }
        }
        return decl
    }

    // MARK: Services

    private mutating func service(scope: String, location: SourceLocation) throws(ProtoGenError) -> ProtoService {
        let name = try expectIdentifier("a service name").text
        var decl = ProtoService(name: name, fullName: scope.isEmpty ? name : scope + "." + name, location: location)
        try expectSymbol("{", "after service name '\(name)'")
        while !acceptSymbol("}") {
            if current.kind == .end { throw ProtoGenError(current.location, "service '\(name)' is not closed: expected '}'") }
            if acceptSymbol(";") { continue }
            let start = current.location
            let word = try expectIdentifier("'rpc' or 'option'")
            switch word.text {
            case "option":
                decl.options.append(try optionStatement(start))
            case "rpc":
                let methodName = try expectIdentifier("an rpc name").text
                try expectSymbol("(", "after rpc name '\(methodName)'")
                let clientStreaming = isKeyword("stream") && tokens[index + 1].kind == .identifier
                if clientStreaming { index += 1 }
                let input = try fullIdentifier("the request type", allowLeadingDot: true)
                try expectSymbol(")", "after the request type")
                guard isKeyword("returns") else {
                    throw ProtoGenError(current.location, "expected 'returns' after the request type of rpc '\(methodName)', found \(describe(current))")
                }
                index += 1
                try expectSymbol("(", "after 'returns'")
                let serverStreaming = isKeyword("stream") && tokens[index + 1].kind == .identifier
                if serverStreaming { index += 1 }
                let output = try fullIdentifier("the response type", allowLeadingDot: true)
                try expectSymbol(")", "after the response type")
                if acceptSymbol("{") {
                    while !acceptSymbol("}") {
                        if current.kind == .end { throw ProtoGenError(current.location, "rpc '\(methodName)' options are not closed: expected '}'") }
                        if acceptSymbol(";") { continue }
                        let optionStart = current.location
                        guard isKeyword("option") else {
                            throw ProtoGenError(current.location, "expected 'option' inside rpc '\(methodName)', found \(describe(current))")
                        }
                        index += 1
                        _ = try optionStatement(optionStart)
                    }
                } else {
                    try expectSymbol(";", "after rpc '\(methodName)'")
                }
                decl.methods.append(ProtoMethod(name: methodName, inputType: input, outputType: output,
                                                clientStreaming: clientStreaming, serverStreaming: serverStreaming,
                                                location: start))
            default:
                throw ProtoGenError(start, "expected 'rpc' or 'option' in service '\(name)', found '\(word.text)'")
            }
        }
        return decl
    }
}
