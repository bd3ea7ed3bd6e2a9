public import Synchronization
import TelemetryCore
import TelemetryPipeline

/// The current span context, carried in a task-local value (which also works on plain threads
/// outside Swift concurrency).
///
/// `withSpan` sets it for its body; code that continues a remote trace (e.g. from a W3C
/// `traceparent` header) sets it with ``withCurrentSpanContext(_:_:)``.
public enum TraceContext {
    /// The SDK span context made current by `withSpan`, ``withCurrentSpan(_:_:)`` or
    /// ``withCurrentSpanContext(_:_:)`` (swift-distributed-tracing spans are not included: see
    /// ``current``).
    public static var currentSpanContext: SpanContext? {
        // Until the first binding, no task or thread can have a value: the span-start hot path
        // then skips the task-local lookup (about 200 instructions). Relaxed suffices: a binding
        // made on another thread is not this thread's current context either way.
        guard everBound.load(ordering: .relaxed) else { return nil }
        return boundSpanContext
    }

    /// The task-local behind ``currentSpanContext``; bind it only through ``bind(_:_:)`` and
    /// friends so that ``everBound`` is set first.
    @TaskLocal static var boundSpanContext: SpanContext?

    /// Set (never cleared) by the first binding of ``boundSpanContext``.
    @usableFromInline static let everBound = Atomic<Bool>(false)

    /// Whether any span context was ever made current (SDK or swift-distributed-tracing): until
    /// then ``current`` is `nil` on every thread and task. Relaxed, as in ``currentSpanContext``.
    @inlinable
    static var mayHaveCurrentSpan: Bool {
        everBound.load(ordering: .relaxed) || DistributedTracer.everCreated.load(ordering: .relaxed)
    }

    /// Runs `body` with `context` bound as the current SDK span context.
    @inline(__always)
    static func bind<Result>(_ context: SpanContext?, _ body: () throws -> Result) rethrows -> Result {
        if !everBound.load(ordering: .relaxed) { everBound.store(true, ordering: .relaxed) }
        return try $boundSpanContext.withValue(context, operation: body)
    }

    /// Async variant of ``bind(_:_:)``.
    @inline(__always)
    static func bind<Result>(
        _ context: SpanContext?, isolation: isolated (any Actor)?, _ body: () async throws -> Result
    ) async rethrows -> Result {
        if !everBound.load(ordering: .relaxed) { everBound.store(true, ordering: .relaxed) }
        return try await $boundSpanContext.withValue(context, operation: body, isolation: isolation)
    }

    /// The context of the current span, if any: the innermost of an SDK span made current by
    /// `withSpan`/``withCurrentSpanContext(_:_:)`` and a swift-distributed-tracing span of
    /// ``DistributedTracer`` (or a context it extracted) in `InstrumentationContext.current`.
    public static var current: SpanContext? { resolvedCurrent() }
}

/// Runs `body` with `context` as the current span context (the parent of spans started inside).
public func withCurrentSpanContext<Result>(_ context: SpanContext?, _ body: () throws -> Result) rethrows -> Result {
    try TraceContext.bind(context, body)
}

/// Runs `body` with `context` as the current span context (the parent of spans started inside).
public func withCurrentSpanContext<Result>(
    _ context: SpanContext?, isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> Result
) async rethrows -> Result {
    try await TraceContext.bind(context, isolation: isolation, body)
}
