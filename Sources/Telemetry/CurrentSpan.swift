// "The current span" for code that does not own it: its context (parent of new spans, ids of log
// records) and a place to add events to it (SessionTelemetry's trace view).
//
// Two kinds of span can be current: an SDK `Span` made current by `withSpan`/`withCurrentSpan`
// (task-local `TraceContext.currentSpanContext` plus an event inbox), and a swift-distributed-
// tracing span of `DistributedTracer` (its record in `InstrumentationContext.current`). When both
// are set, the one entered last wins: a distributed span remembers which SDK span was current when
// it started; if that is still the current SDK span, the distributed span is the inner one.

#if canImport(Glibc)
import Glibc
#endif
import ServiceContextModule
import Synchronization
import TelemetryCore
import TelemetryPipeline

/// Collects events for a recording SDK span from code that cannot reach the span value (it is
/// owned by the `withSpan` body). Drained into the span when its scope ends; closed afterwards.
///
/// One allocation per recording `withSpan` (the events array allocates only when an event is
/// added). Adding is rare and the critical sections are an append or a swap, so a spin lock on an
/// atomic flag guards them instead of a mutex (which would cost two more allocations).
final class SpanEventInbox: @unchecked Sendable {
    // @unchecked: `events` and `closed` are only touched while `busy` is held.
    let spanID: SpanID
    let clock: any TelemetryClock
    private let busy = Atomic<Bool>(false)
    private var events: [SpanEvent] = []
    private var closed = false

    init(spanID: SpanID, clock: any TelemetryClock) {
        self.spanID = spanID
        self.clock = clock
    }

    private func withExclusiveAccess<R>(_ body: () -> R) -> R {
        // Acquiring on success pairs with the releasing store below: the previous holder's writes
        // to `events`/`closed` are visible to the next one.
        var spins = 0
        while !busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            spins += 1
            if spins > 64 { sched_yield() }
        }
        defer { busy.store(false, ordering: .releasing) }
        return body()
    }

    /// Adds an event; `false` when the span's scope has already ended.
    func add(_ event: SpanEvent) -> Bool {
        withExclusiveAccess {
            if closed { return false }
            events.append(event)
            return true
        }
    }

    /// Closes the inbox and returns what it collected.
    func close() -> [SpanEvent] {
        withExclusiveAccess {
            closed = true
            defer { events = [] }
            return events
        }
    }
}

/// What a swift-distributed-tracing `InstrumentationContext` carries for this SDK: the span
/// context, and the span itself while it is being recorded (nil for an extracted remote context).
struct DistributedSpanRecord: Sendable {
    var context: SpanContext
    /// The SDK span that was current when this record became current (see the file comment).
    var nativeAtStart: SpanID?
    var span: DistributedSpan?
}

/// The `InstrumentationContext` key of ``DistributedSpanRecord``.
enum DistributedSpanKey: InstrumentationContextKey {
    typealias Value = DistributedSpanRecord
    static var nameOverride: String? { "swift-otlp.span" }
}

extension TraceContext {
    /// The event inbox of the current recording SDK span (set with `currentSpanContext`).
    @TaskLocal static var currentEventInbox: SpanEventInbox?

    enum Innermost {
        case none
        case native(SpanContext)
        case distributed(DistributedSpanRecord)
    }

    /// The innermost current span: SDK or swift-distributed-tracing.
    static func innermost() -> Innermost {
        // No DistributedTracer was ever made: no record can be in any InstrumentationContext, so
        // the span-start hot path skips that second task-local lookup.
        guard DistributedTracer.everCreated.load(ordering: .relaxed) else {
            return currentSpanContext.map { .native($0) } ?? .none
        }
        return innermost(in: InstrumentationContext.current)
    }

    /// The innermost current span, given the swift-distributed-tracing context to look in.
    static func innermost(in distributed: InstrumentationContext?) -> Innermost {
        let native = currentSpanContext
        guard let record = distributed?[DistributedSpanKey.self] else { return native.map { .native($0) } ?? .none }
        guard let native, record.nativeAtStart != native.spanID else { return .distributed(record) }
        return .native(native)
    }

    /// Resolves the current span context across both kinds of span (see ``current``).
    static func resolvedCurrent() -> SpanContext? {
        switch innermost() {
        case .none: return nil
        case .native(let context): return context
        case .distributed(let record): return record.context
        }
    }

    /// Adds an event to the current span if it is recording: an SDK span made current by
    /// ``Tracer/withSpan(_:kind:parent:attributes:_:)`` or ``withCurrentSpan(_:_:)``, or a span of
    /// ``DistributedTracer`` (swift-distributed-tracing) whose context is current. Attribute limits
    /// apply as for ``Span/addEvent(_:attributes:timeUnixNano:)``.
    /// - Returns: `false` (nothing added) when there is no current recording span, or its scope ended.
    @discardableResult
    public static func addEventToCurrentSpan(_ name: String, attributes: [Attribute] = [], timeUnixNano: UInt64? = nil) -> Bool {
        switch innermost() {
        case .none:
            return false
        case .native(let context):
            guard let inbox = currentEventInbox, inbox.spanID == context.spanID else { return false }
            return inbox.add(SpanEvent(name: name, timeUnixNano: timeUnixNano ?? inbox.clock.nowUnixNano(), attributes: attributes))
        case .distributed(let record):
            guard let span = record.span else { return false }
            return span.addEventIfRecording(name, attributes: attributes, timeUnixNano: timeUnixNano)
        }
    }
}

/// Runs `body` with `span` as the current span: spans started inside are its children, log
/// records carry its ids, and ``TraceContext/addEventToCurrentSpan(_:attributes:timeUnixNano:)``
/// (used by `SessionTelemetry`'s trace view) adds events to it; they are added to `span` when
/// `body` returns or throws. ``Tracer/withSpan(_:kind:parent:attributes:_:)`` uses this.
public func withCurrentSpan<Result>(_ span: inout Span, _ body: (inout Span) throws -> Result) rethrows -> Result {
    guard span.isRecording else {
        return try TraceContext.bind(span.context) { try body(&span) }
    }
    let inbox = SpanEventInbox(spanID: span.context.spanID, clock: span.recorder.clock)
    defer { span.addInboxEvents(inbox.close()) }
    return try TraceContext.bind(span.context) {
        try TraceContext.$currentEventInbox.withValue(inbox) { try body(&span) }
    }
}

/// Async variant of ``withCurrentSpan(_:_:)``.
public func withCurrentSpan<Result>(
    _ span: inout Span, isolation: isolated (any Actor)? = #isolation, _ body: (inout Span) async throws -> Result
) async rethrows -> Result {
    guard span.isRecording else {
        return try await TraceContext.bind(span.context, isolation: isolation) { try await body(&span) }
    }
    let inbox = SpanEventInbox(spanID: span.context.spanID, clock: span.recorder.clock)
    defer { span.addInboxEvents(inbox.close()) }
    return try await TraceContext.bind(span.context, isolation: isolation) {
        try await TraceContext.$currentEventInbox.withValue(inbox, operation: { try await body(&span) }, isolation: isolation)
    }
}

extension Span {
    mutating func addInboxEvents(_ events: [SpanEvent]) {
        for event in events { addEvent(event.name, attributes: event.attributes, timeUnixNano: event.timeUnixNano) }
    }
}
