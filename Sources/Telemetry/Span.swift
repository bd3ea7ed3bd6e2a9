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
    @usableFromInline var data: SpanData
    /// Where the finished span goes; `nil` when it is not sampled (nothing is exported).
    @usableFromInline let pipeline: Pipeline?
    @usableFromInline let limits: AttributeLimits
    @usableFromInline let clock: any TelemetryClock
    /// Whether attributes, events and so on are kept (sampled or record-only).
    public let isRecording: Bool
    @usableFromInline var ended = false

    @inlinable
    init(data: SpanData, pipeline: Pipeline?, limits: AttributeLimits, clock: any TelemetryClock, isRecording: Bool) {
        self.data = data
        self.pipeline = pipeline
        self.limits = limits
        self.clock = clock
        self.isRecording = isRecording
    }

    deinit {
        if !ended, let pipeline {
            var finished = data
            finished.endTimeUnixNano = clock.nowUnixNano()
            pipeline.recordSpan(finished)
        }
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
            name: name, timeUnixNano: timeUnixNano ?? clock.nowUnixNano(), attributes: kept,
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
        ended = true
        guard let pipeline else { return }
        var finished = SpanData.placeholder
        swap(&finished, &data)
        finished.endTimeUnixNano = time ?? clock.nowUnixNano()
        pipeline.recordSpan(finished)
    }
}

extension SpanData {
    /// An empty value swapped into an ended span, so its storage moves to the ring without copies.
    @usableFromInline
    static let placeholder = SpanData(
        name: "", context: SpanContext(traceID: .invalid, spanID: .invalid), startTimeUnixNano: 0,
        scope: InstrumentationScope(name: ""))
}
