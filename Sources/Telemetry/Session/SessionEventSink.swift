// Where SessionTelemetry's events go: a log record (may carry personal data) and a trace-safe
// span event. The provider wires a sink onto the SDK's logger and tracer; tests use the
// in-memory sink.

import OTLPSync
import Synchronization

/// An attribute value of a session event.
public enum SessionAttributeValue: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)

    public var description: String {
        switch self {
        case .string(let s): s
        case .int(let i): String(i)
        case .double(let d): String(d)
        case .bool(let b): String(b)
        }
    }
}

/// One emitted session event (as a log record or as a span event).
public struct SessionEventRecord: Sendable, Hashable {
    /// `event.name`, e.g. `codex.startup_phase`.
    public var name: String
    /// When the event happened, Unix nanoseconds.
    public var timeUnixNano: UInt64
    /// Attributes in emission order (event fields first, then the session metadata).
    public var attributes: [(key: String, value: SessionAttributeValue)]

    public init(name: String, timeUnixNano: UInt64, attributes: [(key: String, value: SessionAttributeValue)]) {
        self.name = name
        self.timeUnixNano = timeUnixNano
        self.attributes = attributes
    }

    /// The value of attribute `key`, if present.
    public subscript(key: String) -> SessionAttributeValue? {
        attributes.first { $0.key == key }?.value
    }

    /// Attribute keys in order.
    public var keys: [String] { attributes.map(\.key) }

    public static func == (a: SessionEventRecord, b: SessionEventRecord) -> Bool {
        a.name == b.name && a.timeUnixNano == b.timeUnixNano && a.attributes.elementsEqual(b.attributes) { $0 == $1 }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(timeUnixNano)
        for (k, v) in attributes {
            hasher.combine(k)
            hasher.combine(v)
        }
    }
}

/// Receives SessionTelemetry's two views of every event.
public protocol SessionEventSink: Sendable {
    /// The log view: may contain personal data (`user.account_id`, `user.email`, prompt text).
    func emitLog(_ record: SessionEventRecord)
    /// The trace view: never contains personal data; attached to the current span.
    func emitSpanEvent(_ record: SessionEventRecord)
}

/// A sink that drops everything (telemetry off).
public struct DiscardingSessionEventSink: SessionEventSink {
    public init() {}
    public func emitLog(_ record: SessionEventRecord) {}
    public func emitSpanEvent(_ record: SessionEventRecord) {}
}

/// A sink that keeps every event in memory, for tests.
public final class InMemorySessionEventSink: SessionEventSink {
    private let state = LockedValue<(logs: [SessionEventRecord], spanEvents: [SessionEventRecord])>(([], []))

    public init() {}

    public func emitLog(_ record: SessionEventRecord) { state.withLock { $0.logs.append(record) } }
    public func emitSpanEvent(_ record: SessionEventRecord) { state.withLock { $0.spanEvents.append(record) } }

    /// Log records so far, oldest first.
    public var logs: [SessionEventRecord] { state.withLock { $0.logs } }
    /// Span events so far, oldest first.
    public var spanEvents: [SessionEventRecord] { state.withLock { $0.spanEvents } }
    /// Forgets everything.
    public func reset() { state.withLock { $0 = ([], []) } }
}
