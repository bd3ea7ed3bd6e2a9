import TelemetryCore
public import TelemetryPipeline

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
/// attributes needs no lock. A span lives in a block reused from the pipeline's pool
/// (``SpanRecord``): starting it, setting up to eight attributes and ending it allocate nothing,
/// and ``end(atUnixNano:)`` queues the block's handle with one lock-free ring push, without
/// copying the span. A span dropped without `end()` is ended at that point, like a scope guard.
public struct Span: ~Copyable, Sendable {
    /// The pooled block holding the span (name, context and parent even when it records nothing).
    /// Owned by this span until `end` hands it to the pipeline or back to the pool.
    @usableFromInline let block: SpanRecord
    /// The tracer's shared state: pipeline, limits, clock (one reference, one retain per span).
    @usableFromInline let recorder: SpanRecorder
    /// Whether the finished span is exported (sampled).
    @usableFromInline let isSampled: Bool
    /// Whether attributes, events and so on are kept (sampled or record-only).
    public let isRecording: Bool
    /// Cleared by `end`, so `deinit` does not end the span again.
    @usableFromInline var isLive = true

    @usableFromInline
    init(block: SpanRecord, recorder: SpanRecorder, isSampled: Bool, isRecording: Bool) {
        self.block = block
        self.recorder = recorder
        self.isSampled = isSampled
        self.isRecording = isRecording
    }

    /// The block, when the span records (attributes, events, links, status, name changes).
    @inlinable var record: SpanRecord? { isRecording ? block : nil }

    deinit {
        // A span dropped without `end()` ends now.
        if isLive { Self.finish(block, isSampled: isSampled, recorder: recorder, endTimeUnixNano: nil) }
    }

    /// Queues a sampled span's block, or gives an unsampled one's back to the pool.
    @inlinable
    static func finish(_ block: SpanRecord, isSampled: Bool, recorder: SpanRecorder, endTimeUnixNano: UInt64?) {
        guard isSampled else {
            recorder.pipeline.spanRecords.discard(block)
            return
        }
        block.endTimeUnixNano = endTimeUnixNano ?? recorder.now()
        recorder.pipeline.submitSpanRecord(block)
    }

    @usableFromInline var limits: AttributeLimits { recorder.limits }

    /// The span's propagated context (ids, flags, trace state).
    public var context: SpanContext { block.context }
    /// The span's name.
    public var name: String { block.name }
    /// The parent's span id (nil for a root span).
    public var parentSpanID: SpanID? { block.parentSpanID }
    /// The span's attributes so far.
    public var attributes: [Attribute] { record?.attributes ?? [] }

    /// Sets an attribute (replacing one with the same key). Past the count limit it is dropped and counted.
    @inlinable @inline(__always)
    public mutating func setAttribute(_ key: consuming String, _ value: consuming AttributeValue) {
        guard isRecording else { return }
        // Inlined: the common case, a new key while inline room is left and no value can need
        // cutting, is a few stores (a literal key's length folds to a constant). Everything else
        // goes through the out-of-line path with the full checks.
        let keyLengthBit = SpanRecord.keyLengthBit(key)
        if block.canAppendUnchecked(keyLengthBit: keyLengthBit, room: recorder.uncheckedAttributeRoom) {
            block.appendUnchecked(key, value, keyLengthBit: keyLengthBit)
        } else {
            setAttributeChecked(key, value)
        }
    }

    /// Sets an attribute with every check: replacing, the count and length limits, overflow
    /// past the inline attributes.
    @usableFromInline
    mutating func setAttributeChecked(_ key: consuming String, _ value: consuming AttributeValue) {
        if !block.setAttribute(key, value, limits: recorder.limits) {
            block.droppedAttributesCount &+= 1
        }
    }

    /// Sets several attributes.
    public mutating func setAttributes(_ attributes: [Attribute]) {
        guard let record else { return }
        let limits = recorder.limits
        for attribute in attributes where !record.setAttribute(attribute.key, attribute.value, limits: limits) {
            record.droppedAttributesCount &+= 1
        }
    }

    /// Sets `attributes`, then adds `links` (a new span's start arguments, after the provider's
    /// span attributes).
    mutating func setAttributesAndLinks(_ attributes: [Attribute], _ links: [SpanLink]) {
        if !attributes.isEmpty { setAttributes(attributes) }
        for link in links { addLink(link.context, attributes: link.attributes) }
    }

    /// Removes every attribute (for replacing them all; dropped counts stay).
    mutating func removeAllAttributes() {
        record?.removeAllAttributes()
    }

    /// Adds a timestamped event (now, unless given).
    public mutating func addEvent(_ name: String, attributes: [Attribute] = [], timeUnixNano: UInt64? = nil) {
        guard let record else { return }
        let limits = self.limits
        let recorder = self.recorder
        record.updateSpan { span in
            guard span.events.count < limits.eventCountLimit else {
                span.droppedEventsCount &+= 1
                return
            }
            var kept: [Attribute] = []
            let dropped = kept.setAttributes(attributes, limits: limits.withAttributeCountLimit(limits.eventAttributeCountLimit))
            span.events.append(SpanEvent(
                name: name, timeUnixNano: timeUnixNano ?? recorder.now(), attributes: kept,
                droppedAttributesCount: UInt32(dropped)))
        }
    }

    /// Adds a link to another span.
    public mutating func addLink(_ context: SpanContext, attributes: [Attribute] = []) {
        guard let record else { return }
        let limits = self.limits
        record.updateSpan { span in
            guard span.links.count < limits.linkCountLimit else {
                span.droppedLinksCount &+= 1
                return
            }
            var kept: [Attribute] = []
            let dropped = kept.setAttributes(attributes, limits: limits.withAttributeCountLimit(limits.linkAttributeCountLimit))
            span.links.append(SpanLink(context: context, attributes: kept, droppedAttributesCount: UInt32(dropped)))
        }
    }

    /// Sets the status. Per the spec, `ok` is final and `unset` is ignored.
    public mutating func setStatus(_ status: SpanStatus) {
        guard let record else { return }
        if case .unset = status { return }
        record.updateSpan { span in
            if case .ok = span.status { return }
            span.status = status
        }
    }

    /// Renames the span.
    public mutating func updateName(_ name: String) {
        record?.updateSpan { $0.name = name }
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
        Self.finish(block, isSampled: isSampled, recorder: recorder, endTimeUnixNano: time)
    }
}
