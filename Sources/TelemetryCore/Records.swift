#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The entity producing telemetry (https://opentelemetry.io/docs/specs/otel/resource/sdk/).
public struct Resource: Sendable, Hashable {
    public var attributes: [Attribute]

    /// A resource with `service.name`, optional `service.version` and `deployment.environment`,
    /// and any other attributes (later keys win).
    public init(
        serviceName: String, serviceVersion: String? = nil, deploymentEnvironment: String? = nil,
        attributes: [Attribute] = []
    ) {
        var all: [Attribute] = [Attribute("service.name", .string(serviceName))]
        if let serviceVersion { all.append(Attribute("service.version", .string(serviceVersion))) }
        if let deploymentEnvironment { all.append(Attribute("deployment.environment", .string(deploymentEnvironment))) }
        all.append(Attribute("telemetry.sdk.name", "swift-otlp"))
        all.append(Attribute("telemetry.sdk.language", "swift"))
        let unlimited = AttributeLimits(attributeCountLimit: .max)
        _ = all.setAttributes(attributes, limits: unlimited)
        self.attributes = all
    }

    /// A resource with exactly these attributes.
    public init(attributes: [Attribute]) {
        self.attributes = attributes
    }

    public subscript(key: String) -> AttributeValue? {
        attributes.last(where: { $0.key == key })?.value
    }
}

/// The library or component that produced telemetry.
///
/// A value type held as one reference to immutable storage: every span and log record carries its
/// tracer's or logger's scope, so a copy costs one retain (not three) and 8 bytes of the record,
/// and records of the same tracer compare equal by identity before any string is compared.
public struct InstrumentationScope: Sendable, Hashable {
    @usableFromInline
    package final class Storage: Sendable {
        let name: String
        let version: String?
        let attributes: [Attribute]

        package init(name: String, version: String?, attributes: [Attribute]) {
            self.name = name
            self.version = version
            self.attributes = attributes
        }
    }

    @usableFromInline package var storage: Storage

    public var name: String {
        get { storage.name }
        set { storage = Storage(name: newValue, version: storage.version, attributes: storage.attributes) }
    }

    public var version: String? {
        get { storage.version }
        set { storage = Storage(name: storage.name, version: newValue, attributes: storage.attributes) }
    }

    public var attributes: [Attribute] {
        get { storage.attributes }
        set { storage = Storage(name: storage.name, version: storage.version, attributes: newValue) }
    }

    public init(name: String, version: String? = nil, attributes: [Attribute] = []) {
        storage = Storage(name: name, version: version, attributes: attributes)
    }

    /// A scope sharing `storage`.
    @usableFromInline
    package init(storage: Storage) {
        self.storage = storage
    }

    /// Whether both values share one storage (then they are equal; unequal storages may still be
    /// equal values).
    @inlinable
    public func isIdentical(to other: InstrumentationScope) -> Bool { storage === other.storage }

    public static func == (lhs: InstrumentationScope, rhs: InstrumentationScope) -> Bool {
        lhs.storage === rhs.storage
            || (lhs.name == rhs.name && lhs.version == rhs.version && lhs.attributes == rhs.attributes)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(version)
        hasher.combine(attributes)
    }
}

/// https://opentelemetry.io/docs/specs/otel/trace/api/#spankind
public enum SpanKind: Sendable, Hashable {
    case `internal`, server, client, producer, consumer
}

/// https://opentelemetry.io/docs/specs/otel/trace/api/#set-status
public enum SpanStatus: Sendable, Hashable {
    case unset
    case ok
    case error(description: String)
}

/// A timestamped event on a span.
public struct SpanEvent: Sendable, Hashable {
    public var name: String
    public var timeUnixNano: UInt64
    public var attributes: [Attribute]
    public var droppedAttributesCount: UInt32

    public init(name: String, timeUnixNano: UInt64, attributes: [Attribute] = [], droppedAttributesCount: UInt32 = 0) {
        self.name = name
        self.timeUnixNano = timeUnixNano
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
    }
}

/// A link from a span to another span context.
public struct SpanLink: Sendable, Hashable {
    public var context: SpanContext
    public var attributes: [Attribute]
    public var droppedAttributesCount: UInt32

    public init(context: SpanContext, attributes: [Attribute] = [], droppedAttributesCount: UInt32 = 0) {
        self.context = context
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
    }
}

/// A finished (or in-progress) span as recorded by the SDK and carried through the pipeline.
public struct SpanData: Sendable, Hashable {
    public var name: String
    public var context: SpanContext
    /// The parent's span id, or `nil` for a root span.
    public var parentSpanID: SpanID?
    public var kind: SpanKind
    public var startTimeUnixNano: UInt64
    public var endTimeUnixNano: UInt64
    public var attributes: [Attribute]
    public var droppedAttributesCount: UInt32
    public var events: [SpanEvent]
    public var droppedEventsCount: UInt32
    public var links: [SpanLink]
    public var droppedLinksCount: UInt32
    public var status: SpanStatus
    public var scope: InstrumentationScope

    public init(
        name: String, context: SpanContext, parentSpanID: SpanID? = nil, kind: SpanKind = .internal,
        startTimeUnixNano: UInt64, endTimeUnixNano: UInt64 = 0, attributes: [Attribute] = [],
        droppedAttributesCount: UInt32 = 0, events: [SpanEvent] = [], droppedEventsCount: UInt32 = 0,
        links: [SpanLink] = [], droppedLinksCount: UInt32 = 0, status: SpanStatus = .unset,
        scope: InstrumentationScope
    ) {
        self.name = name
        self.context = context
        self.parentSpanID = parentSpanID
        self.kind = kind
        self.startTimeUnixNano = startTimeUnixNano
        self.endTimeUnixNano = endTimeUnixNano
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
        self.events = events
        self.droppedEventsCount = droppedEventsCount
        self.links = links
        self.droppedLinksCount = droppedLinksCount
        self.status = status
        self.scope = scope
    }
}

/// Log severity numbers (https://opentelemetry.io/docs/specs/otel/logs/data-model/#field-severitynumber).
public struct Severity: Sendable, Hashable, Comparable, RawRepresentable {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let trace = Severity(rawValue: 1)
    public static let debug = Severity(rawValue: 5)
    public static let info = Severity(rawValue: 9)
    public static let warn = Severity(rawValue: 13)
    public static let error = Severity(rawValue: 17)
    public static let fatal = Severity(rawValue: 21)
    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The spec's short name of the range (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`).
    public var text: String {
        switch rawValue {
        case ...4: return "TRACE"
        case 5...8: return "DEBUG"
        case 9...12: return "INFO"
        case 13...16: return "WARN"
        case 17...20: return "ERROR"
        default: return "FATAL"
        }
    }
}

/// A log record as carried through the pipeline.
public struct LogRecordData: Sendable, Hashable {
    public var timeUnixNano: UInt64
    public var observedTimeUnixNano: UInt64
    public var severity: Severity?
    public var severityText: String?
    public var body: AttributeValue?
    public var attributes: [Attribute]
    public var droppedAttributesCount: UInt32
    /// The event name (the log data model's `EventName`), if this record is an event.
    public var eventName: String?
    public var traceID: TraceID?
    public var spanID: SpanID?
    public var traceFlags: TraceFlags
    public var scope: InstrumentationScope

    public init(
        timeUnixNano: UInt64, observedTimeUnixNano: UInt64, severity: Severity? = nil, severityText: String? = nil,
        body: AttributeValue? = nil, attributes: [Attribute] = [], droppedAttributesCount: UInt32 = 0,
        eventName: String? = nil, traceID: TraceID? = nil, spanID: SpanID? = nil, traceFlags: TraceFlags = [],
        scope: InstrumentationScope
    ) {
        self.timeUnixNano = timeUnixNano
        self.observedTimeUnixNano = observedTimeUnixNano
        self.severity = severity
        self.severityText = severityText
        self.body = body
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
        self.eventName = eventName
        self.traceID = traceID
        self.spanID = spanID
        self.traceFlags = traceFlags
        self.scope = scope
    }
}

/// Wall-clock time in nanoseconds since the Unix epoch. Injectable so tests are deterministic.
public protocol TelemetryClock: Sendable {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    func nowUnixNano() -> UInt64
}

/// The system's real-time clock, read through ``CycleClock/shared`` (the CPU's cycle counter
/// anchored to `clock_gettime(CLOCK_REALTIME)` every second, where the kernel keeps time with
/// that counter; `clock_gettime` itself elsewhere).
public struct SystemClock: TelemetryClock {
    public init() {}
    @inlinable
    public func nowUnixNano() -> UInt64 { systemNowUnixNano() }
}

/// Nanoseconds since the Unix epoch from the system real-time clock (see ``SystemClock``).
@inlinable
public func systemNowUnixNano() -> UInt64 {
    CycleClock.shared.nowUnixNano()
}
