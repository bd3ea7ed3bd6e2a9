// Typed access to span and log-record memory for the modules above the pipeline: the span being
// recorded (`SpanRecord`'s fields and a scoped update of its data) and read-only views of
// finished records for encoders. The scoped accessors hand the record itself to a non-escaping
// closure, borrowed or `inout` where it is stored: after inlining, the same field accesses as
// through the pointer, with no copy of the record and no coroutine frame to allocate.
public import TelemetryCore

// MARK: The span being recorded

extension SpanRecord {
    /// Calls `body` with the span's data to change in place (events, links, status, name).
    /// Attributes go through ``setAttribute(_:_:limits:)``: the first ones live in the block,
    /// outside the data.
    @inlinable @inline(__always) package func updateSpan<Result>(_ body: (inout SpanData) throws -> Result) rethrows -> Result {
        try body(&data.pointee)
    }

    /// The span's name.
    @inlinable package var name: String { data.pointee.name }

    /// The span's own context (ids, flags, trace state).
    @inlinable package var context: SpanContext { data.pointee.context }

    /// The parent's span id, when the span has a parent.
    @inlinable package var parentSpanID: SpanID? { data.pointee.parentSpanID }

    /// The end time; set when the span ends.
    @inlinable package var endTimeUnixNano: UInt64 {
        get { data.pointee.endTimeUnixNano }
        nonmutating set { data.pointee.endTimeUnixNano = newValue }
    }

    /// Attributes dropped by the limits.
    @inlinable package var droppedAttributesCount: UInt32 {
        get { data.pointee.droppedAttributesCount }
        nonmutating set { data.pointee.droppedAttributesCount = newValue }
    }
}

// MARK: Read-only views for encoders

/// A finished span read where it is stored: a pooled block of a ``SpanRecordList`` or an element
/// of a span array. Valid only while that storage is (inside the call that made it).
///
/// The attributes a block keeps inline are not in the data's `attributes` (which holds those
/// past the inline ones): ``SpanRecordList/inlineAttributes(at:)`` gives them.
@frozen
package struct SpanView {
    @usableFromInline let span: UnsafePointer<SpanData>

    /// A view of the span at `span`, which must stay valid while the view is used.
    @inlinable package init(unsafeSpan span: UnsafePointer<SpanData>) { self.span = span }

    /// Calls `body` with the span, borrowed where it is stored.
    @inlinable @inline(__always) package func withSpan<Result>(_ body: (borrowing SpanData) throws -> Result) rethrows -> Result {
        try lendInPlace(&UnsafeMutablePointer(mutating: span).pointee, to: body)
    }
}

/// A log record read where it is stored (an element of a batch's array). Valid only while that
/// storage is (inside the call that made it).
@frozen
package struct LogRecordView {
    @usableFromInline let record: UnsafePointer<LogRecordData>

    /// A view of the record at `record`, which must stay valid while the view is used.
    @inlinable package init(unsafeRecord record: UnsafePointer<LogRecordData>) { self.record = record }

    /// Calls `body` with the record, borrowed where it is stored.
    @inlinable @inline(__always) package func withRecord<Result>(_ body: (borrowing LogRecordData) throws -> Result) rethrows -> Result {
        try lendInPlace(&UnsafeMutablePointer(mutating: record).pointee, to: body)
    }
}

/// Lends `value` to `body` at its own address. Passing `pointer.pointee` straight to a
/// `borrowing` parameter copies the whole record first (retaining every field), since nothing
/// tells the compiler the memory stays unchanged during the call; an `inout` access is exclusive,
/// so the value can be lent where it is. Nothing is written through it.
@inlinable @inline(__always)
package func lendInPlace<Value, Result>(_ value: inout Value, to body: (borrowing Value) throws -> Result) rethrows -> Result {
    try body(value)
}

extension SpanBatch {
    /// The pipeline's span blocks, when the batch was cut by the pipeline (nil for a batch of
    /// ``SpanBatch/spans``).
    package var recordList: SpanRecordList? { pooledSpans as? SpanRecordList }
}
