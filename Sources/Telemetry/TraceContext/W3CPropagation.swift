// W3C trace context on the SDK's spans (issue 6 item 5): the traceparent/tracestate of the current
// or a given span, continuing a trace from a W3C context, header injection/extraction, and the
// TRACEPARENT/TRACESTATE environment carrier. Configured tracestate is upserted on the way in and out.

extension W3CTraceContext {
    /// The W3C form of a valid span context (`nil` for an invalid one). An unparsable
    /// `traceState` is left out.
    public init?(_ spanContext: SpanContext) {
        guard spanContext.isValid,
            let parent = try? W3CTraceParent(
                traceID: .init(high: spanContext.traceID.high, low: spanContext.traceID.low),
                parentID: .init(spanContext.spanID.value),
                flags: W3CTraceParent.Flags(rawValue: spanContext.traceFlags.rawValue))
        else { return nil }
        let state = spanContext.traceState.isEmpty ? W3CTraceState() : ((try? W3CTraceState(parsing: spanContext.traceState)) ?? W3CTraceState())
        self.init(traceparent: parent, tracestate: state)
    }

    /// This context as a remote parent span context, with `configured` upserted into its tracestate.
    public func spanContext(upserting configured: ConfiguredTraceState = ConfiguredTraceState()) -> SpanContext {
        SpanContext(
            traceID: TraceID(high: traceparent.traceID.high, low: traceparent.traceID.low),
            spanID: SpanID(traceparent.parentID.value),
            traceFlags: TraceFlags(rawValue: traceparent.flags.intersection(.known).rawValue),
            traceState: tracestate.upserting(configured).headerValue, isRemote: true)
    }
}

/// W3C propagation for the SDK's spans.
///
/// ```swift
/// // Server side: continue the caller's trace.
/// let valid = W3CPropagation.continueTrace(from: request.headerFields, configured: settings.tracestate) { valid in
///     tracer.withSpan("handle") { _ in … }
///     return valid
/// }
/// // Client side: propagate the current span.
/// W3CPropagation.inject(into: &outgoing.headerFields, configured: settings.tracestate)
/// ```
public enum W3CPropagation {
    /// The traceparent/tracestate of the current span (``TraceContext/current``), with `configured`
    /// upserted into the tracestate; `nil` when there is no valid current span.
    public static func current(configured: ConfiguredTraceState = ConfiguredTraceState()) -> W3CTraceContext? {
        TraceContext.current.flatMap { context(of: $0, configured: configured) }
    }

    /// The traceparent/tracestate of `span`, with `configured` upserted.
    public static func context(of span: borrowing Span, configured: ConfiguredTraceState = ConfiguredTraceState()) -> W3CTraceContext? {
        context(of: span.context, configured: configured)
    }

    /// The traceparent/tracestate of a span context, with `configured` upserted.
    public static func context(of spanContext: SpanContext, configured: ConfiguredTraceState = ConfiguredTraceState()) -> W3CTraceContext? {
        guard var w3c = W3CTraceContext(spanContext) else { return nil }
        w3c.tracestate = w3c.tracestate.upserting(configured)
        return w3c
    }

    /// Runs `body` with the trace described by `traceparent`/`tracestate` as the current (remote)
    /// parent, `configured` upserted into its tracestate. When the traceparent is missing or
    /// invalid, `body` runs with the current context unchanged.
    /// - Returns: `body`'s result; `body` is told whether the context was valid.
    public static func continueTrace<Result>(
        traceparent: String?, tracestate: String?, configured: ConfiguredTraceState = ConfiguredTraceState(),
        _ body: (_ valid: Bool) throws -> Result
    ) rethrows -> Result {
        guard let (context, _) = try? W3CTraceContext.parse(traceparent: traceparent, tracestate: tracestate).get() else {
            return try body(false)
        }
        return try withCurrentSpanContext(context.spanContext(upserting: configured)) { try body(true) }
    }

    /// Async variant of ``continueTrace(traceparent:tracestate:configured:_:)``.
    public static func continueTrace<Result>(
        traceparent: String?, tracestate: String?, configured: ConfiguredTraceState = ConfiguredTraceState(),
        isolation: isolated (any Actor)? = #isolation, _ body: (_ valid: Bool) async throws -> Result
    ) async rethrows -> Result {
        guard let (context, _) = try? W3CTraceContext.parse(traceparent: traceparent, tracestate: tracestate).get() else {
            return try await body(false)
        }
        return try await withCurrentSpanContext(context.spanContext(upserting: configured), isolation: isolation) {
            try await body(true)
        }
    }

    /// Runs `body` continuing the trace found in HTTP header fields (see
    /// ``W3CTraceContext/extract(from:)-(Sequence)``).
    public static func continueTrace<Result>(
        from headers: some Sequence<(name: String, value: String)>, configured: ConfiguredTraceState = ConfiguredTraceState(),
        _ body: (_ valid: Bool) throws -> Result
    ) rethrows -> Result {
        guard let context = W3CTraceContext.extract(from: headers) else { return try body(false) }
        return try withCurrentSpanContext(context.spanContext(upserting: configured)) { try body(true) }
    }

    /// Runs `body` continuing the trace of this process's `TRACEPARENT`/`TRACESTATE` (read once;
    /// an invalid value was logged once as a warning).
    public static func continueTraceFromEnvironment<Result>(
        configured: ConfiguredTraceState = ConfiguredTraceState(), _ body: (_ valid: Bool) throws -> Result
    ) rethrows -> Result {
        guard let context = W3CTraceContext.processEnvironment else { return try body(false) }
        return try withCurrentSpanContext(context.spanContext(upserting: configured)) { try body(true) }
    }

    /// Writes the current span's `traceparent`/`tracestate` (configured members upserted) into
    /// `headers`, replacing any there. Without a valid current span it removes them instead
    /// (names matched case-insensitively), so headers reused from an earlier request never carry
    /// a stale trace.
    /// - Returns: whether headers were written.
    @discardableResult
    public static func inject(into headers: inout [(name: String, value: String)], configured: ConfiguredTraceState = ConfiguredTraceState()) -> Bool {
        guard let context = current(configured: configured) else {
            headers.removeAll { isTraceContextHeader($0.name) }
            return false
        }
        context.inject(into: &headers)
        return true
    }

    /// Dictionary variant of ``inject(into:configured:)-(inout [(name: String, value: String)],_)``.
    @discardableResult
    public static func inject(into headers: inout [String: String], configured: ConfiguredTraceState = ConfiguredTraceState()) -> Bool {
        guard let context = current(configured: configured) else {
            for key in headers.keys where isTraceContextHeader(key) { headers[key] = nil }
            return false
        }
        context.inject(into: &headers)
        return true
    }

    static func isTraceContextHeader(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower == W3CTraceContext.traceparentHeader || lower == W3CTraceContext.tracestateHeader
    }
}
