import TelemetryPipeline

/// Where a new span's parent comes from.
public enum SpanParent: Sendable, Hashable {
    /// The current span context (``TraceContext/current``), or none: a root span.
    case current
    /// No parent: a new trace.
    case root
    /// An explicit parent, local or remote.
    case context(SpanContext)
}

/// A span being recorded.
///
/// A span is a unique value (`~Copyable`): it is owned by one piece of code at a time, so setting
/// attributes needs no lock and no allocation beyond the attribute storage. ``end(at:)`` consumes
/// it and queues it for export with one lock-free ring push. A span dropped without `end()` is
/// ended at that point, like a scope guard.
public struct Span: ~Copyable, Sendable {
    /// The span being recorded. Set while the span is alive; `end` moves it out with `take()`,
    /// so the finished span reaches the ring without a copy.
    @usableFromInline var storage: SpanData?
    /// The tracer's shared state: pipeline, limits, clock (one reference, one retain per span).
    @usableFromInline let recorder: SpanRecorder
    /// Whether the finished span is exported (sampled).
    @usableFromInline let isSampled: Bool
    /// Whether attributes, events and so on are kept (sampled or record-only).
    public let isRecording: Bool
    /// Cleared by `end`, so `deinit` knows the span was ended without inspecting `storage`.
    @usableFromInline var isLive = true

    @inlinable
    init(data: consuming SpanData, recorder: SpanRecorder, isSampled: Bool, isRecording: Bool) {
        self.storage = consume data
        self.recorder = recorder
        self.isSampled = isSampled
        self.isRecording = isRecording
    }

    deinit {
        guard isLive, isSampled else { return }
        // A span dropped without `end()`: `self` is immutable here, so this rare path copies.
        if var finished = storage {
            finished.endTimeUnixNano = recorder.now()
            recorder.pipeline.recordSpan(finished)
        }
    }

    @usableFromInline var limits: AttributeLimits { recorder.limits }

    /// The span's data (in place).
    @inlinable
    var data: SpanData {
        _read { yield storage! }
        _modify { yield &storage! }
    }

    /// The span's propagated context (ids, flags, trace state).
    public var context: SpanContext { data.context }
    /// The span's name.
    public var name: String { data.name }
    /// The parent's span id (nil for a root span).
    public var parentSpanID: SpanID? { data.parentSpanID }
    /// The span's attributes so far.
    public var attributes: [Attribute] { data.attributes }

    /// Sets an attribute (replacing one with the same key). Past the count limit it is dropped and counted.
    @inlinable
    public mutating func setAttribute(_ key: String, _ value: AttributeValue) {
        guard isRecording else { return }
        if !data.attributes.setAttribute(key, value, limits: limits) {
            data.droppedAttributesCount &+= 1
        }
    }

    /// Sets several attributes.
    @inlinable
    public mutating func setAttributes(_ attributes: [Attribute]) {
        guard isRecording else { return }
        data.droppedAttributesCount &+= UInt32(data.attributes.setAttributes(attributes, limits: limits))
    }

    /// Adds a timestamped event (now, unless given).
    public mutating func addEvent(_ name: String, attributes: [Attribute] = [], timeUnixNano: UInt64? = nil) {
        guard isRecording else { return }
        guard data.events.count < limits.eventCountLimit else {
            data.droppedEventsCount &+= 1
            return
        }
        var kept: [Attribute] = []
        let dropped = kept.setAttributes(attributes, limits: limits)
        data.events.append(SpanEvent(
            name: name, timeUnixNano: timeUnixNano ?? recorder.now(), attributes: kept,
            droppedAttributesCount: UInt32(dropped)))
    }

    /// Adds a link to another span.
    public mutating func addLink(_ context: SpanContext, attributes: [Attribute] = []) {
        guard isRecording else { return }
        guard data.links.count < limits.linkCountLimit else {
            data.droppedLinksCount &+= 1
            return
        }
        var kept: [Attribute] = []
        let dropped = kept.setAttributes(attributes, limits: limits)
        data.links.append(SpanLink(context: context, attributes: kept, droppedAttributesCount: UInt32(dropped)))
    }

    /// Sets the status. Per the spec, `ok` is final and `unset` is ignored.
    public mutating func setStatus(_ status: SpanStatus) {
        guard isRecording else { return }
        if case .ok = data.status { return }
        if case .unset = status { return }
        data.status = status
    }

    /// Renames the span.
    public mutating func updateName(_ name: String) {
        guard isRecording else { return }
        data.name = name
    }

    /// Records an `exception` event (https://opentelemetry.io/docs/specs/semconv/exceptions/exceptions-spans/).
    public mutating func recordError(_ error: any Error, attributes: [Attribute] = []) {
        var all = [
            Attribute("exception.type", .string(String(reflecting: type(of: error)))),
            Attribute("exception.message", .string(String(describing: error))),
        ]
        all.append(contentsOf: attributes)
        addEvent("exception", attributes: all)
    }

    /// Ends the span (now, unless given) and queues it for export: one lock-free ring push.
    @inlinable
    public consuming func end(atUnixNano time: UInt64? = nil) {
        isLive = false
        guard isSampled, var finished = storage.take() else { return }
        finished.endTimeUnixNano = time ?? recorder.now()
        recorder.pipeline.recordSpan(consume finished)
    }
}
