/// A position in a `.proto` file (1-based line and column).
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }
    public var description: String { "\(file):\(line):\(column)" }
}

/// An error in a `.proto` file: where, and what is wrong.
public struct ProtoGenError: Error, Hashable, Sendable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String
    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = message
    }
    public var description: String { "\(location): error: \(message)" }
}

/// The proto scalar types.
public enum ProtoScalar: String, Hashable, Sendable, CaseIterable {
    case double, float, int32, int64, uint32, uint64, sint32, sint64
    case fixed32, fixed64, sfixed32, sfixed64, bool, string, bytes

    /// Whether this type may be a map key.
    public var isValidMapKey: Bool { self != .double && self != .float && self != .bytes }
    /// Whether repeated fields of this type are packed by default in proto3.
    public var isPackable: Bool { self != .string && self != .bytes }
}

/// A field's type as written, then as resolved.
public indirect enum ProtoFieldType: Hashable, Sendable {
    case scalar(ProtoScalar)
    /// A message or enum name as written (before resolution).
    case named(String)
    /// A resolved message type (fully qualified name without leading dot).
    case message(String)
    /// A resolved enum type (fully qualified name without leading dot).
    case enumeration(String)
    /// `map<key, value>`.
    case map(key: ProtoScalar, value: ProtoFieldType)
}

/// How a field is labelled.
public enum ProtoFieldLabel: String, Hashable, Sendable {
    /// proto3 singular field without `optional` (implicit presence; messages still have presence).
    case singular
    /// proto3 `optional` (explicit presence).
    case optional
    case repeated
}

/// An option `name = value` (value kept as source text; strings unquoted).
public struct ProtoOption: Hashable, Sendable {
    public var name: String
    public var value: String
    public var location: SourceLocation
}

public struct ProtoField: Hashable, Sendable {
    public var name: String
    public var number: Int
    public var label: ProtoFieldLabel
    public var type: ProtoFieldType
    /// Index into the message's `oneofs`, for members of a `oneof`.
    public var oneofIndex: Int?
    public var options: [ProtoOption]
    public var location: SourceLocation

    /// The proto JSON name: `json_name` option, else lowerCamelCase of `name`.
    public var jsonName: String {
        if let explicit = options.first(where: { $0.name == "json_name" }) { return explicit.value }
        return ProtoNaming.lowerCamelJSON(name)
    }

    /// Whether a repeated scalar field is encoded packed (proto3 default: yes).
    public var isPacked: Bool {
        guard label == .repeated else { return false }
        switch type {
        case .scalar(let scalar):
            guard scalar.isPackable else { return false }
        case .enumeration: break
        default: return false
        }
        if let packed = options.first(where: { $0.name == "packed" }) { return packed.value == "true" }
        return true
    }
}

public struct ProtoOneof: Hashable, Sendable {
    public var name: String
    public var location: SourceLocation
}

public struct ProtoReservedRange: Hashable, Sendable {
    public var lower: Int
    /// Inclusive upper bound.
    public var upper: Int
    public init(lower: Int, upper: Int) {
        self.lower = lower
        self.upper = upper
    }
}

public struct ProtoMessageDecl: Hashable, Sendable {
    public var name: String
    public var fullName: String
    public var fields: [ProtoField] = []
    public var oneofs: [ProtoOneof] = []
    public var messages: [ProtoMessageDecl] = []
    public var enums: [ProtoEnumDecl] = []
    public var reservedRanges: [ProtoReservedRange] = []
    public var reservedNames: [String] = []
    public var options: [ProtoOption] = []
    public var location: SourceLocation
}

public struct ProtoEnumValue: Hashable, Sendable {
    public var name: String
    public var number: Int
    public var location: SourceLocation
}

public struct ProtoEnumDecl: Hashable, Sendable {
    public var name: String
    public var fullName: String
    public var values: [ProtoEnumValue] = []
    public var reservedRanges: [ProtoReservedRange] = []
    public var reservedNames: [String] = []
    public var options: [ProtoOption] = []
    public var location: SourceLocation
}

public struct ProtoMethod: Hashable, Sendable {
    public var name: String
    public var inputType: String
    public var outputType: String
    public var clientStreaming: Bool
    public var serverStreaming: Bool
    public var location: SourceLocation
}

public struct ProtoService: Hashable, Sendable {
    public var name: String
    public var fullName: String
    public var methods: [ProtoMethod] = []
    public var options: [ProtoOption] = []
    public var location: SourceLocation
}

public struct ProtoImport: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable { case normal, weak, `public` }
    public var path: String
    public var kind: Kind
    public var location: SourceLocation
}

/// One parsed `.proto` file.
public struct ProtoFile: Hashable, Sendable {
    /// Path relative to the proto root (`opentelemetry/proto/trace/v1/trace.proto`).
    public var path: String
    public var syntax: String = "proto3"
    public var package: String = ""
    public var imports: [ProtoImport] = []
    public var options: [ProtoOption] = []
    public var messages: [ProtoMessageDecl] = []
    public var enums: [ProtoEnumDecl] = []
    public var services: [ProtoService] = []
}
