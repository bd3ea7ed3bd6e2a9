import TelemetryPipeline

/// The current span context, carried in a task-local value (which also works on plain threads
/// outside Swift concurrency).
///
/// `withSpan` sets it for its body; code that continues a remote trace (e.g. from a W3C
/// `traceparent` header) sets it with ``withCurrentSpanContext(_:_:)``.
public enum TraceContext {
    @TaskLocal public static var currentSpanContext: SpanContext?

    /// The context of the current span, if any: the innermost of an SDK span made current by
    /// `withSpan`/``withCurrentSpanContext(_:_:)`` and a swift-distributed-tracing span of
    /// ``DistributedTracer`` (or a context it extracted) in `InstrumentationContext.current`.
    public static var current: SpanContext? { resolvedCurrent() }
}

/// Runs `body` with `context` as the current span context (the parent of spans started inside).
public func withCurrentSpanContext<Result>(_ context: SpanContext?, _ body: () throws -> Result) rethrows -> Result {
    try TraceContext.$currentSpanContext.withValue(context, operation: body)
}

/// Runs `body` with `context` as the current span context (the parent of spans started inside).
public func withCurrentSpanContext<Result>(
    _ context: SpanContext?, isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> Result
) async rethrows -> Result {
    try await TraceContext.$currentSpanContext.withValue(context, operation: body, isolation: isolation)
}
