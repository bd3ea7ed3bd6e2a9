// Where SessionTelemetry's events go: a log record (may carry personal data) and a trace-safe
// span event. The provider wires a sink onto the SDK's logger and tracer; tests use the
// in-memory sink.

import OTLPSync
import Synchronization
public import Telemetry

/// One emitted session event (as a log record or as a span event).
public struct SessionEventRecord: Sendable, Hashable {
    /// `event.name`, e.g. `codex.startup_phase`.
    public var name: String
    /// When the event happened, Unix nanoseconds.
    public var timeUnixNano: UInt64
    /// Attributes in emission order (event fields first, then the session metadata).
    public var attributes: [(key: String, value: AttributeValue)]

    public init(name: String, timeUnixNano: UInt64, attributes: [(key: String, value: AttributeValue)]) {
        self.name = name
        self.timeUnixNano = timeUnixNano
        self.attributes = attributes
    }

    /// The value of attribute `key`, if present.
    public subscript(key: String) -> AttributeValue? {
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

/// A span of SessionTelemetry with its real start and end: a start-up phase in the start-up
/// waterfall. Its id is chosen in advance, so that phases reported before their parent (which
/// ends last) can name it.
public struct SessionSpanRecord: Sendable {
    /// The phase name, e.g. `startup_prewarm_build_tools`.
    public var name: String
    /// The session's start-up trace.
    public var traceID: TraceID
    /// Chosen in advance (children may name it before it is emitted).
    public var spanID: SpanID
    /// The enclosing phase's span (or the span the start-up trace continues); nil: a root.
    public var parentSpanID: SpanID?
    /// The span the start-up trace continues (current when it was fixed), if any: its sampling
    /// decision is followed, so phases of an unsampled trace are not exported.
    public var continuedSpan: SpanContext?
    /// The phase's start, Unix nanoseconds.
    public var startUnixNano: UInt64
    /// The phase's end, Unix nanoseconds.
    public var endUnixNano: UInt64
    /// Trace-safe attributes (no personal data).
    public var attributes: [(key: String, value: AttributeValue)]
    /// An error status with this description (a failed or cancelled phase); nil: unset.
    public var errorDescription: String?
    /// The trace view of the phase's event, carried as the span's event.
    public var event: SessionEventRecord?

    public init(
        name: String, traceID: TraceID, spanID: SpanID, parentSpanID: SpanID?, continuedSpan: SpanContext? = nil,
        startUnixNano: UInt64, endUnixNano: UInt64,
        attributes: [(key: String, value: AttributeValue)], errorDescription: String? = nil,
        event: SessionEventRecord? = nil
    ) {
        self.name = name
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.continuedSpan = continuedSpan
        self.startUnixNano = startUnixNano
        self.endUnixNano = endUnixNano
        self.attributes = attributes
        self.errorDescription = errorDescription
        self.event = event
    }
}

/// Receives SessionTelemetry's two views of every event, and its start-up phase spans.
public protocol SessionEventSink: Sendable {
    /// The log view: may contain personal data (`user.account_id`, `user.email`, prompt text).
    func emitLog(_ record: SessionEventRecord)
    /// The trace view: never contains personal data; attached to the current span.
    func emitSpanEvent(_ record: SessionEventRecord)
    /// A start-up phase span; its ``SessionSpanRecord/event`` is the phase event's trace view.
    /// Default: the event goes to ``emitSpanEvent(_:)`` and the span itself nowhere.
    func emitSpan(_ span: SessionSpanRecord)
}

extension SessionEventSink {
    public func emitSpan(_ span: SessionSpanRecord) {
        if let event = span.event { emitSpanEvent(event) }
    }
}

/// A sink that drops everything (telemetry off).
public struct DiscardingSessionEventSink: SessionEventSink {
    public init() {}
    public func emitLog(_ record: SessionEventRecord) {}
    public func emitSpanEvent(_ record: SessionEventRecord) {}
    public func emitSpan(_ span: SessionSpanRecord) {}
}

/// A sink that keeps every event in memory, for tests.
public final class InMemorySessionEventSink: SessionEventSink {
    private struct State {
        var logs: [SessionEventRecord] = []
        var spanEvents: [SessionEventRecord] = []
        var spans: [SessionSpanRecord] = []
    }
    private let state = LockedValue(State())

    public init() {}

    public func emitLog(_ record: SessionEventRecord) { state.withLock { $0.logs.append(record) } }
    public func emitSpanEvent(_ record: SessionEventRecord) { state.withLock { $0.spanEvents.append(record) } }
    /// Keeps the span, and its event with the span events.
    public func emitSpan(_ span: SessionSpanRecord) {
        state.withLock { state in
            state.spans.append(span)
            if let event = span.event { state.spanEvents.append(event) }
        }
    }

    /// Log records so far, oldest first.
    public var logs: [SessionEventRecord] { state.withLock { $0.logs } }
    /// Span events so far, oldest first.
    public var spanEvents: [SessionEventRecord] { state.withLock { $0.spanEvents } }
    /// Start-up phase spans so far, in emission order.
    public var spans: [SessionSpanRecord] { state.withLock { $0.spans } }
    /// Forgets everything.
    public func reset() { state.withLock { $0 = State() } }
}
