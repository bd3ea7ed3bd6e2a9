/// An OpenTelemetry attribute value: a primitive or a homogeneous array of primitives
/// (https://opentelemetry.io/docs/specs/otel/common/#attribute), plus bytes for log bodies.
public enum AttributeValue: Sendable, Hashable {
    case string(String)
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case bytes([UInt8])
    case stringArray([String])
    case boolArray([Bool])
    case intArray([Int64])
    case doubleArray([Double])

    /// The value with strings (and strings inside arrays) cut to at most `limit` characters.
    /// Returns `nil` when nothing had to be cut.
    @usableFromInline
    package func truncated(to limit: Int) -> AttributeValue? {
        switch self {
        case .string(let text) where text.count > limit:
            return .string(String(text.prefix(limit)))
        case .stringArray(let texts) where texts.contains(where: { $0.count > limit }):
            return .stringArray(texts.map { $0.count > limit ? String($0.prefix(limit)) : $0 })
        case .bytes(let bytes) where bytes.count > limit:
            return .bytes(Array(bytes.prefix(limit)))
        default:
            return nil
        }
    }
}

extension AttributeValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension AttributeValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .string(let value): return value
        case .bool(let value): return String(value)
        case .int(let value): return String(value)
        case .double(let value): return String(value)
        case .bytes(let value): return "\(value.count) bytes"
        case .stringArray(let value): return value.description
        case .boolArray(let value): return value.description
        case .intArray(let value): return value.description
        case .doubleArray(let value): return value.description
        }
    }
}

/// One key/value attribute.
public struct Attribute: Sendable, Hashable {
    public var key: String
    public var value: AttributeValue

    @inlinable
    public init(_ key: String, _ value: AttributeValue) {
        self.key = key
        self.value = value
    }
}

/// Limits on attributes, events and links of spans and log records, per the OpenTelemetry
/// specification (https://opentelemetry.io/docs/specs/otel/common/#attribute-limits and
/// https://opentelemetry.io/docs/specs/otel/trace/sdk/#span-limits). Whatever exceeds a limit is
/// dropped and counted in the record's `dropped…Count`.
public struct AttributeLimits: Sendable, Hashable {
    /// Maximum attributes per span, event, link or log record. Spec default: 128.
    public var attributeCountLimit: Int
    /// Maximum length of a string (or bytes) value, or of each string in an array; `nil` is
    /// unlimited (the spec's default).
    public var attributeValueLengthLimit: Int?
    /// Maximum events per span. Spec default: 128.
    public var eventCountLimit: Int
    /// Maximum links per span. Spec default: 128.
    public var linkCountLimit: Int
    /// Maximum attributes per span event; `nil` (the default) is ``attributeCountLimit``.
    public var eventAttributeCountLimit: Int?
    /// Maximum attributes per span link; `nil` (the default) is ``attributeCountLimit``.
    public var linkAttributeCountLimit: Int?

    public init(
        attributeCountLimit: Int = 128, attributeValueLengthLimit: Int? = nil,
        eventCountLimit: Int = 128, linkCountLimit: Int = 128,
        eventAttributeCountLimit: Int? = nil, linkAttributeCountLimit: Int? = nil
    ) {
        self.attributeCountLimit = attributeCountLimit
        self.attributeValueLengthLimit = attributeValueLengthLimit
        self.eventCountLimit = eventCountLimit
        self.linkCountLimit = linkCountLimit
        self.eventAttributeCountLimit = eventAttributeCountLimit
        self.linkAttributeCountLimit = linkAttributeCountLimit
    }

    /// These limits with the attribute count limit replaced when `limit` is set (for an event's
    /// or a link's attributes).
    @inlinable
    public func withAttributeCountLimit(_ limit: Int?) -> AttributeLimits {
        guard let limit else { return self }
        var copy = self
        copy.attributeCountLimit = limit
        return copy
    }
}

extension Array where Element == Attribute {
    /// Sets `key` to `value` (replacing an existing value of the same key) within `limits`.
    /// - Returns: `false` when the attribute was dropped because of the count limit.
    @inlinable
    @discardableResult
    public mutating func setAttribute(_ key: String, _ value: AttributeValue, limits: AttributeLimits) -> Bool {
        if let lengthLimit = limits.attributeValueLengthLimit, let cut = value.truncated(to: lengthLimit) {
            return setAttribute(key, cut, countLimit: limits.attributeCountLimit)
        }
        return setAttribute(key, value, countLimit: limits.attributeCountLimit)
    }

    /// Sets `key` to `value` (replacing an existing value of the same key), or drops it when the
    /// array already holds `countLimit` attributes. Compares keys in place (no element copies).
    @inlinable
    package mutating func setAttribute(_ key: String, _ value: AttributeValue, countLimit: Int) -> Bool {
        // Keys of different UTF-8 length cannot be equal; the length is O(1) for native strings,
        // so most comparisons stop there without comparing characters.
        let keyLength = key.utf8.count
        let existing = withUnsafeBufferPointer { attributes -> Int? in
            for index in attributes.indices
            where attributes[index].key.utf8.count == keyLength && attributes[index].key == key {
                return index
            }
            return nil
        }
        if let existing {
            self[existing].value = value
            return true
        }
        guard count < countLimit else { return false }
        append(Attribute(key, value))
        return true
    }

    /// Applies ``setAttribute(_:_:limits:)`` to each of `attributes`; returns how many were dropped.
    @inlinable
    public mutating func setAttributes(_ attributes: [Attribute], limits: AttributeLimits) -> Int {
        var dropped = 0
        for attribute in attributes where !setAttribute(attribute.key, attribute.value, limits: limits) {
            dropped += 1
        }
        return dropped
    }

    /// A canonical form for use as a metric stream key: sorted by key, last value per key wins.
    package func canonicalized() -> [Attribute] {
        if count <= 1 { return self }
        var result: [Attribute] = []
        result.reserveCapacity(count)
        for attribute in self {
            if let index = result.firstIndex(where: { $0.key == attribute.key }) {
                result[index].value = attribute.value
            } else {
                result.append(attribute)
            }
        }
        result.sort { $0.key < $1.key }
        return result
    }
}

/// Lets attribute lists be written as dictionary literals, in order: `["http.method": "GET", "retries": 2]`.
extension Array: @retroactive ExpressibleByDictionaryLiteral where Element == Attribute {
    public init(dictionaryLiteral elements: (String, AttributeValue)...) {
        self = elements.map { Attribute($0.0, $0.1) }
    }
}
