// W3C Trace Context §3.3: the `tracestate` header, and the configured-tracestate upsert.

/// A parsed `tracestate` list (W3C Trace Context §3.3): ordered `key=value` members, the
/// left-most being the most recently updated.
///
/// Rules enforced (§3.3.1): at most 32 members; keys unique and either a simple key
/// (`lcalpha 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/")`) or a multi-tenant key
/// `tenant@system` (tenant: `(lcalpha / DIGIT)` then up to 240 more, system: `lcalpha` then up
/// to 13 more); values 1…256 printable ASCII characters without `,` and `=`, not ending in a space.
/// Empty list members (e.g. `a=1,,b=2`) are allowed and dropped.
public struct W3CTraceState: Sendable, Hashable, CustomStringConvertible {
    /// One `key=value` list member.
    public struct Member: Sendable, Hashable {
        public var key: String
        public var value: String
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// The most members a list may have (§3.3.1.1).
    public static let maxMembers = 32
    /// The longest member value (§3.3.1.3.2).
    public static let maxValueLength = 256

    /// The members, left-most first.
    public private(set) var members: [Member]

    /// An empty list.
    public init() { members = [] }

    /// A list from members, checked against the rules above.
    /// - Throws: ``W3CTraceContextError`` (`.invalidTracestate`) naming the bad member.
    public init(members: [Member]) throws(W3CTraceContextError) {
        try Self.check(members)
        self.members = members
    }

    /// Parses a `tracestate` header value. Several header fields must first be joined with `,`.
    /// - Throws: ``W3CTraceContextError`` (`.invalidTracestate`) naming the bad member.
    public init(parsing header: String) throws(W3CTraceContextError) {
        var parsed: [Member] = []
        for raw in header.split(separator: ",", omittingEmptySubsequences: false) {
            let item = W3CTraceParent.trimOWS(raw)
            if item.isEmpty { continue }
            guard let equals = item.firstIndex(of: "=") else {
                throw W3CTraceContextError(code: .invalidTracestate, reason: "list member '\(item)' has no '='")
            }
            parsed.append(Member(key: String(item[..<equals]), value: String(item[item.index(after: equals)...])))
        }
        try Self.check(parsed)
        members = parsed
    }

    /// The header value: members joined by `,`; empty for an empty list.
    public var headerValue: String { members.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
    public var description: String { headerValue }
    /// `true` when there are no members.
    public var isEmpty: Bool { members.isEmpty }

    /// The value of member `key`, if present.
    public subscript(key: String) -> String? {
        members.first { $0.key == key }?.value
    }

    /// Sets `key` to `value` and moves it to the front (§3.3.1.4: an updated member moves left).
    /// If the list then has more than 32 members, the right-most are removed.
    /// - Throws: ``W3CTraceContextError`` (`.invalidTracestate`) for an invalid key or value; the
    ///   list is unchanged then.
    public mutating func set(_ key: String, _ value: String) throws(W3CTraceContextError) {
        if let reason = Self.keyProblem(key) ?? Self.valueProblem(value) {
            throw W3CTraceContextError(code: .invalidTracestate, reason: "member '\(key)': \(reason)")
        }
        members.removeAll { $0.key == key }
        members.insert(Member(key: key, value: value), at: 0)
        if members.count > Self.maxMembers { members.removeLast(members.count - Self.maxMembers) }
    }

    /// Removes member `key` if present.
    public mutating func remove(_ key: String) {
        members.removeAll { $0.key == key }
    }

    /// Upserts configured members (see ``ConfiguredTraceState``): for each configured member, its
    /// fields replace same-named `field:value` fields of the existing member, the existing
    /// member's other fields are kept (after the configured ones are placed), and the member
    /// moves to the front. Configured members end up left-most, in key order. When a merged value
    /// would exceed 256 characters, kept fields are dropped from the right until it fits; when
    /// the list would exceed 32 members, the right-most unconfigured members are dropped.
    public func upserting(_ configured: ConfiguredTraceState) -> W3CTraceState {
        guard !configured.isEmpty else { return self }
        var front: [Member] = []
        for (key, fields) in configured.members {
            let merged = Self.merge(existing: self[key], configured: fields)
            front.append(Member(key: key, value: merged))
        }
        let configuredKeys = Set(configured.members.map(\.key))
        var rest = members.filter { !configuredKeys.contains($0.key) }
        let room = max(0, Self.maxMembers - front.count)
        if rest.count > room { rest.removeLast(rest.count - room) }
        var result = W3CTraceState()
        result.members = front + rest
        return result
    }

    /// Merges configured fields into an existing member value.
    static func merge(existing: String?, configured: [(name: String, value: String)]) -> String {
        let configuredNames = Set(configured.map(\.name))
        var segments: [String] = []
        var placed: Set<String> = []
        if let existing {
            for segment in existing.split(separator: ";") where !segment.isEmpty {
                let name = segment.firstIndex(of: ":").map { String(segment[..<$0]) }
                if let name, configuredNames.contains(name) {
                    // Replace in place (first occurrence only; later duplicates are dropped).
                    if placed.insert(name).inserted,
                        let field = configured.first(where: { $0.name == name })
                    {
                        segments.append("\(field.name):\(field.value)")
                    }
                } else {
                    segments.append(String(segment))
                }
            }
        }
        for field in configured where !placed.contains(field.name) {
            segments.append("\(field.name):\(field.value)")
        }
        var value = segments.joined(separator: ";")
        // Enforce the value limit by dropping kept (unconfigured) fields from the right.
        while value.utf8.count > maxValueLength {
            guard let index = segments.lastIndex(where: { segment in
                let name = segment.firstIndex(of: ":").map { String(segment[..<$0]) }
                return name.map { !configuredNames.contains($0) } ?? true
            }) else { break }
            segments.remove(at: index)
            value = segments.joined(separator: ";")
        }
        // A value ending in a space is invalid; configured values cannot, kept ones were valid.
        return value
    }

    // MARK: Grammar

    static func check(_ members: [Member]) throws(W3CTraceContextError) {
        if members.count > maxMembers {
            throw W3CTraceContextError(
                code: .invalidTracestate, reason: "\(members.count) list members, at most \(maxMembers) allowed")
        }
        var seen: Set<String> = []
        for member in members {
            if let reason = keyProblem(member.key) ?? valueProblem(member.value) {
                throw W3CTraceContextError(code: .invalidTracestate, reason: "member '\(member.key)': \(reason)")
            }
            if !seen.insert(member.key).inserted {
                throw W3CTraceContextError(code: .invalidTracestate, reason: "key '\(member.key)' appears twice")
            }
        }
    }

    @inline(__always)
    static func isLCAlpha(_ b: UInt8) -> Bool { b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") }
    @inline(__always)
    static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
    @inline(__always)
    static func isKeyChar(_ b: UInt8) -> Bool {
        isLCAlpha(b) || isDigit(b) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: "*")
            || b == UInt8(ascii: "/")
    }

    /// `nil` when `key` is a valid simple or multi-tenant key, else why not.
    public static func keyProblem(_ key: String) -> String? {
        let bytes = Array(key.utf8)
        if bytes.isEmpty { return "empty key" }
        if let at = bytes.firstIndex(of: UInt8(ascii: "@")) {
            let tenant = bytes[..<at]
            let system = bytes[(at + 1)...]
            if tenant.isEmpty { return "empty tenant id before '@'" }
            if tenant.count > 241 { return "tenant id longer than 241 characters" }
            guard let t0 = tenant.first, isLCAlpha(t0) || isDigit(t0) else {
                return "tenant id must start with a lower-case letter or digit"
            }
            if !tenant.allSatisfy(isKeyChar) { return "tenant id has characters outside a-z 0-9 _ - * /" }
            if system.isEmpty { return "empty system id after '@'" }
            if system.count > 14 { return "system id longer than 14 characters" }
            guard let s0 = system.first, isLCAlpha(s0) else { return "system id must start with a lower-case letter" }
            if !system.allSatisfy(isKeyChar) { return "system id has characters outside a-z 0-9 _ - * / (or a second '@')" }
            return nil
        }
        if bytes.count > 256 { return "key longer than 256 characters" }
        if !isLCAlpha(bytes[0]) { return "key must start with a lower-case letter" }
        if !bytes.allSatisfy(isKeyChar) { return "key has characters outside a-z 0-9 _ - * /" }
        return nil
    }

    /// `nil` when `value` is a valid member value (§3.3.1.3.2), else why not.
    public static func valueProblem(_ value: String) -> String? {
        let bytes = Array(value.utf8)
        if bytes.isEmpty { return "empty value" }
        if bytes.count > maxValueLength { return "value longer than \(maxValueLength) characters" }
        for b in bytes where !(b == 0x20 || isNonBlankValueChar(b)) {
            return b == UInt8(ascii: ",") || b == UInt8(ascii: "=")
                ? "value contains '\(Character(Unicode.Scalar(b)))'"
                : "value contains a character outside printable ASCII"
        }
        if bytes.last == 0x20 { return "value ends with a space" }
        return nil
    }

    /// `nblk-chr = %x21-2B / %x2D-3C / %x3E-7E`.
    @inline(__always)
    static func isNonBlankValueChar(_ b: UInt8) -> Bool {
        (0x21...0x7E).contains(b) && b != UInt8(ascii: ",") && b != UInt8(ascii: "=")
    }
}

/// Tracestate members configured by the application (`[otel.tracestate.<member>]`), each a
/// table of fields encoded inside its member as `field:value;field2:value2` (fields in name order).
///
/// Rules: the member key follows the W3C key grammar; a field name is 1+ printable ASCII
/// characters other than space `,` `=` `:` `;`; a field value is 1+ printable ASCII characters
/// other than space `,` `=` `;` (`:` is allowed); the encoded value is at most 256 characters;
/// at most 32 members. Invalid configuration is rejected with the reason.
public struct ConfiguredTraceState: Sendable, Hashable {
    /// Members in key order, each with its fields in name order.
    public let members: [(key: String, fields: [(name: String, value: String)])]

    /// No configured members.
    public init() { members = [] }

    /// Validates `configuration` (member → field → value).
    /// - Throws: ``W3CTraceContextError`` (`.invalidConfiguration`) for the first invalid entry.
    public init(_ configuration: [String: [String: String]]) throws(W3CTraceContextError) {
        let (valid, problems) = Self.validating(configuration)
        if let first = problems.first { throw first }
        self = valid
    }

    private init(validMembers: [(key: String, fields: [(name: String, value: String)])]) {
        members = validMembers
    }

    /// Validates leniently: invalid members are left out, each with its error (naming the
    /// member, and the field when one is at fault).
    public static func validating(
        _ configuration: [String: [String: String]]
    ) -> (ConfiguredTraceState, [W3CTraceContextError]) {
        var valid: [(key: String, fields: [(name: String, value: String)])] = []
        var problems: [W3CTraceContextError] = []
        func reject(_ reason: String) {
            problems.append(W3CTraceContextError(code: .invalidConfiguration, reason: reason))
        }
        for key in configuration.keys.sorted() {
            let fields = configuration[key] ?? [:]
            if let reason = W3CTraceState.keyProblem(key) {
                reject("tracestate member '\(key)': \(reason)")
                continue
            }
            if fields.isEmpty {
                reject("tracestate member '\(key)': no fields")
                continue
            }
            var encoded: [(name: String, value: String)] = []
            var bad = false
            for name in fields.keys.sorted() {
                let value = fields[name] ?? ""
                if let reason = fieldNameProblem(name) {
                    reject("tracestate member '\(key)' field '\(name)': \(reason)")
                    bad = true
                } else if let reason = fieldValueProblem(value) {
                    reject("tracestate member '\(key)' field '\(name)': \(reason)")
                    bad = true
                } else {
                    encoded.append((name, value))
                }
            }
            if bad { continue }
            let value = encoded.map { "\($0.name):\($0.value)" }.joined(separator: ";")
            if value.utf8.count > W3CTraceState.maxValueLength {
                reject("tracestate member '\(key)': encoded value is \(value.utf8.count) characters, at most \(W3CTraceState.maxValueLength) allowed")
                continue
            }
            if valid.count == W3CTraceState.maxMembers {
                reject("tracestate member '\(key)': more than \(W3CTraceState.maxMembers) members configured")
                continue
            }
            valid.append((key, encoded))
        }
        return (ConfiguredTraceState(validMembers: valid), problems)
    }

    /// `true` when nothing is configured.
    public var isEmpty: Bool { members.isEmpty }

    /// The encoded value of member `key` (`field:value;…`), if configured.
    public func encodedValue(of key: String) -> String? {
        members.first { $0.key == key }.map { $0.fields.map { "\($0.name):\($0.value)" }.joined(separator: ";") }
    }

    /// The configured members as a tracestate list of their own (for root spans).
    public var traceState: W3CTraceState { W3CTraceState().upserting(self) }

    static func fieldNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "empty field name" }
        for b in name.utf8 where !W3CTraceState.isNonBlankValueChar(b) || b == UInt8(ascii: ":") || b == UInt8(ascii: ";") {
            return "field name may not contain space, ',', '=', ':', ';' or non-printable characters"
        }
        return nil
    }

    static func fieldValueProblem(_ value: String) -> String? {
        if value.isEmpty { return "empty field value" }
        for b in value.utf8 where !W3CTraceState.isNonBlankValueChar(b) || b == UInt8(ascii: ";") {
            return "field value may not contain space, ',', '=', ';' or non-printable characters"
        }
        return nil
    }

    public static func == (a: ConfiguredTraceState, b: ConfiguredTraceState) -> Bool {
        a.members.count == b.members.count
            && zip(a.members, b.members).allSatisfy { x, y in
                x.key == y.key && x.fields.count == y.fields.count
                    && zip(x.fields, y.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
            }
    }

    public func hash(into hasher: inout Hasher) {
        for member in members {
            hasher.combine(member.key)
            for field in member.fields {
                hasher.combine(field.name)
                hasher.combine(field.value)
            }
        }
    }
}
