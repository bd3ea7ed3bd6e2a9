public import Foundation

/// A set of parsed `.proto` files with every type reference resolved.
///
/// Load a file and its imports from a proto root with ``load(root:files:)``, or build one from
/// sources with ``init(sources:)``. Type names follow protobuf scoping: a name is looked up from
/// the innermost enclosing scope outwards, and must be defined in the file or one it imports.
public struct ProtoSchema: Sendable {
    public enum Kind: Sendable, Hashable { case message, enumeration }

    /// Files by path, in load order.
    public private(set) var files: [ProtoFile] = []
    /// Every message and enum by fully qualified name: its kind and defining file.
    public private(set) var types: [String: (kind: Kind, file: String)] = [:]

    /// Parses the sources (path → text) and resolves all types.
    public init(sources: [(path: String, text: String)]) throws(ProtoGenError) {
        for source in sources {
            files.append(try ProtoParser.parse(source: source.text, path: source.path))
        }
        try link()
    }

    /// Loads `files` (paths relative to `root`) and, transitively, everything they import.
    public static func load(root: URL, files paths: [String]) throws(ProtoGenError) -> ProtoSchema {
        var sources: [(path: String, text: String)] = []
        var pending = paths
        var seen: Set<String> = []
        var importedFrom: [String: SourceLocation] = [:]
        while let path = pending.popLast() {
            guard seen.insert(path).inserted else { continue }
            let url = root.appendingPathComponent(path)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                let location = importedFrom[path] ?? SourceLocation(file: path, line: 1, column: 1)
                throw ProtoGenError(location, "cannot read '\(path)' under \(root.path)")
            }
            let file = try ProtoParser.parse(source: text, path: path)
            for anImport in file.imports where !seen.contains(anImport.path) {
                importedFrom[anImport.path] = anImport.location
                pending.append(anImport.path)
            }
            sources.append((path, text))
        }
        return try ProtoSchema(sources: sources)
    }

    public func file(_ path: String) -> ProtoFile? { files.first { $0.path == path } }

    // MARK: Linking

    private mutating func link() throws(ProtoGenError) {
        for file in files {
            func register(_ name: String, _ kind: Kind, _ location: SourceLocation) throws(ProtoGenError) {
                if let existing = types[name] {
                    throw ProtoGenError(location, "'\(name)' is already defined in \(existing.file)")
                }
                types[name] = (kind, file.path)
            }
            func walk(_ message: ProtoMessageDecl) throws(ProtoGenError) {
                try register(message.fullName, .message, message.location)
                for nested in message.messages { try walk(nested) }
                for nested in message.enums { try register(nested.fullName, .enumeration, nested.location) }
            }
            for message in file.messages { try walk(message) }
            for enumeration in file.enums { try register(enumeration.fullName, .enumeration, enumeration.location) }
        }
        let byPath = Dictionary(files.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        for index in files.indices {
            var file = files[index]
            for anImport in file.imports where byPath[anImport.path] == nil {
                throw ProtoGenError(anImport.location, "imported file '\(anImport.path)' was not loaded")
            }
            let visible = visibleFiles(of: file, byPath: byPath)
            for m in file.messages.indices {
                try resolve(&file.messages[m], visible: visible)
            }
            for s in file.services.indices {
                for r in file.services[s].methods.indices {
                    let method = file.services[s].methods[r]
                    let scope = file.package
                    let (input, inputKind) = try lookup(method.inputType, scope: scope, visible: visible, at: method.location)
                    let (output, outputKind) = try lookup(method.outputType, scope: scope, visible: visible, at: method.location)
                    guard inputKind == .message, outputKind == .message else {
                        throw ProtoGenError(method.location, "rpc '\(method.name)' must take and return messages")
                    }
                    file.services[s].methods[r].inputType = input
                    file.services[s].methods[r].outputType = output
                }
            }
            files[index] = file
        }
    }

    private func visibleFiles(of file: ProtoFile, byPath: [String: ProtoFile]) -> Set<String> {
        var visible: Set<String> = [file.path]
        var pending = file.imports.map(\.path)
        var expanded: Set<String> = []
        while let path = pending.popLast() {
            visible.insert(path)
            guard expanded.insert(path).inserted, let imported = byPath[path] else { continue }
            pending += imported.imports.filter { $0.kind == .public }.map(\.path)
        }
        return visible
    }

    private func resolve(_ message: inout ProtoMessageDecl, visible: Set<String>) throws(ProtoGenError) {
        for f in message.fields.indices {
            let field = message.fields[f]
            message.fields[f].type = try resolve(field.type, scope: message.fullName, visible: visible, at: field.location)
            if field.label == .optional || field.oneofIndex != nil, case .map = field.type {
                throw ProtoGenError(field.location, "map field '\(field.name)' cannot be optional or in a oneof")
            }
            if field.options.contains(where: { $0.name == "packed" }), case .message = message.fields[f].type {
                throw ProtoGenError(field.location, "[packed] applies only to repeated scalar or enum fields")
            }
        }
        for n in message.messages.indices { try resolve(&message.messages[n], visible: visible) }
    }

    private func resolve(_ type: ProtoFieldType, scope: String, visible: Set<String>, at location: SourceLocation) throws(ProtoGenError) -> ProtoFieldType {
        switch type {
        case .scalar, .message, .enumeration:
            return type
        case .named(let name):
            let (fullName, kind) = try lookup(name, scope: scope, visible: visible, at: location)
            return kind == .message ? .message(fullName) : .enumeration(fullName)
        case .map(let key, let value):
            return .map(key: key, value: try resolve(value, scope: scope, visible: visible, at: location))
        }
    }

    /// Resolves `name` written inside `scope` (a package or message full name).
    private func lookup(_ name: String, scope: String, visible: Set<String>, at location: SourceLocation) throws(ProtoGenError) -> (String, Kind) {
        var candidates: [String] = []
        if name.hasPrefix(".") {
            candidates = [String(name.dropFirst())]
        } else {
            var parts = scope.split(separator: ".").map(String.init)
            while true {
                candidates.append((parts + [name]).joined(separator: "."))
                if parts.isEmpty { break }
                parts.removeLast()
            }
        }
        for candidate in candidates {
            if let found = types[candidate] {
                guard visible.contains(found.file) else {
                    throw ProtoGenError(location, "type '\(name)' is defined in '\(found.file)', which is not imported")
                }
                return (candidate, found.kind)
            }
        }
        throw ProtoGenError(location, "unknown type '\(name)' (not defined in this file or its imports)")
    }

    /// The message declaration for a fully qualified name.
    public func message(named fullName: String) -> ProtoMessageDecl? {
        func find(_ messages: [ProtoMessageDecl]) -> ProtoMessageDecl? {
            for message in messages {
                if message.fullName == fullName { return message }
                if fullName.hasPrefix(message.fullName + "."), let nested = find(message.messages) { return nested }
            }
            return nil
        }
        for file in files { if let found = find(file.messages) { return found } }
        return nil
    }
}
