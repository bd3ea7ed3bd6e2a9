// Typed access to span and log-record memory for the modules above the pipeline: the span being
// recorded (`SpanRecord`'s fields, read and changed in place) and read-only views for encoders.
// Every accessor yields the field where it is stored (`_read` / `_modify`), so after inlining a
// read is a borrow of that field, as `pointer.pointee.field` is: no copy of the record, and no
// retain of a field that is only looked at.

// MARK: The span being recorded

extension SpanRecord {
    /// The span's name.
    @inlinable package var name: String {
        _read { yield data.pointee.name }
        nonmutating _modify { yield &data.pointee.name }
    }

    /// The span's own context (ids, flags, trace state).
    @inlinable package var context: SpanContext { _read { yield data.pointee.context } }

    /// The parent's span id, when the span has a parent.
    @inlinable package var parentSpanID: SpanID? { _read { yield data.pointee.parentSpanID } }

    /// The end time; set when the span ends.
    @inlinable package var endTimeUnixNano: UInt64 {
        _read { yield data.pointee.endTimeUnixNano }
        nonmutating _modify { yield &data.pointee.endTimeUnixNano }
    }

    /// Attributes dropped by the limits.
    @inlinable package var droppedAttributesCount: UInt32 {
        _read { yield data.pointee.droppedAttributesCount }
        nonmutating _modify { yield &data.pointee.droppedAttributesCount }
    }

    /// The span's events, appended to in place.
    @inlinable package var events: [SpanEvent] {
        _read { yield data.pointee.events }
        nonmutating _modify { yield &data.pointee.events }
    }

    /// Events dropped by the limits.
    @inlinable package var droppedEventsCount: UInt32 {
        _read { yield data.pointee.droppedEventsCount }
        nonmutating _modify { yield &data.pointee.droppedEventsCount }
    }

    /// The span's links, appended to in place.
    @inlinable package var links: [SpanLink] {
        _read { yield data.pointee.links }
        nonmutating _modify { yield &data.pointee.links }
    }

    /// Links dropped by the limits.
    @inlinable package var droppedLinksCount: UInt32 {
        _read { yield data.pointee.droppedLinksCount }
        nonmutating _modify { yield &data.pointee.droppedLinksCount }
    }

    /// The span's status.
    @inlinable package var status: SpanStatus {
        _read { yield data.pointee.status }
        nonmutating _modify { yield &data.pointee.status }
    }
}

// MARK: Read-only views for encoders

/// A finished span read where it is stored: a pooled block of a ``SpanRecordList`` or an element
/// of a span array. Valid only while that storage is (inside the call that made it).
///
/// The attributes a block keeps inline are not in ``attributes`` (which holds those past the
/// inline ones): ``SpanRecordList/inlineAttributes(at:)`` gives them.
@frozen
package struct SpanView {
    @usableFromInline let span: UnsafePointer<SpanData>

    /// A view of the span at `span`, which must stay valid while the view is used.
    @inlinable package init(unsafeSpan span: UnsafePointer<SpanData>) { self.span = span }

    @inlinable package var name: String { _read { yield span.pointee.name } }
    @inlinable package var context: SpanContext { _read { yield span.pointee.context } }
    @inlinable package var parentSpanID: SpanID? { _read { yield span.pointee.parentSpanID } }
    @inlinable package var kind: SpanKind { _read { yield span.pointee.kind } }
    @inlinable package var startTimeUnixNano: UInt64 { _read { yield span.pointee.startTimeUnixNano } }
    @inlinable package var endTimeUnixNano: UInt64 { _read { yield span.pointee.endTimeUnixNano } }
    @inlinable package var attributes: [Attribute] { _read { yield span.pointee.attributes } }
    @inlinable package var droppedAttributesCount: UInt32 { _read { yield span.pointee.droppedAttributesCount } }
    @inlinable package var events: [SpanEvent] { _read { yield span.pointee.events } }
    @inlinable package var droppedEventsCount: UInt32 { _read { yield span.pointee.droppedEventsCount } }
    @inlinable package var links: [SpanLink] { _read { yield span.pointee.links } }
    @inlinable package var droppedLinksCount: UInt32 { _read { yield span.pointee.droppedLinksCount } }
    @inlinable package var status: SpanStatus { _read { yield span.pointee.status } }
    @inlinable package var scope: InstrumentationScope { _read { yield span.pointee.scope } }
}

/// A log record read where it is stored (an element of a batch's array). Valid only while that
/// storage is (inside the call that made it).
@frozen
package struct LogRecordView {
    @usableFromInline let record: UnsafePointer<LogRecordData>

    /// A view of the record at `record`, which must stay valid while the view is used.
    @inlinable package init(unsafeRecord record: UnsafePointer<LogRecordData>) { self.record = record }

    @inlinable package var timeUnixNano: UInt64 { _read { yield record.pointee.timeUnixNano } }
    @inlinable package var observedTimeUnixNano: UInt64 { _read { yield record.pointee.observedTimeUnixNano } }
    @inlinable package var severity: Severity? { _read { yield record.pointee.severity } }
    @inlinable package var severityText: String? { _read { yield record.pointee.severityText } }
    @inlinable package var body: AttributeValue? { _read { yield record.pointee.body } }
    @inlinable package var attributes: [Attribute] { _read { yield record.pointee.attributes } }
    @inlinable package var droppedAttributesCount: UInt32 { _read { yield record.pointee.droppedAttributesCount } }
    @inlinable package var eventName: String? { _read { yield record.pointee.eventName } }
    @inlinable package var traceID: TraceID? { _read { yield record.pointee.traceID } }
    @inlinable package var spanID: SpanID? { _read { yield record.pointee.spanID } }
    @inlinable package var traceFlags: TraceFlags { _read { yield record.pointee.traceFlags } }
    @inlinable package var scope: InstrumentationScope { _read { yield record.pointee.scope } }
}
