// The provider's configured tracestate (settings.tracestate) applied to every span it starts:
// root spans get the configured members as their tracestate, spans continuing a remote parent get
// them upserted into the parent's tracestate, local children inherit their parent's (already
// upserted) tracestate unchanged. The propagated traceparent/tracestate of any of these spans
// therefore carries the configured members without further work at injection time.

import TelemetryCore
import TelemetryPipeline

/// What a tracer puts into a new span's `traceState`, given its parent. Pre-computed once per
/// provider so that root and local-child spans pay no parsing.
@usableFromInline
struct SpanTraceStatePolicy: Sendable {
    /// The configured members (may be empty).
    let configured: ConfiguredTraceState
    /// The tracestate of a root span: the configured members alone (`""` when none).
    @usableFromInline let rootValue: String

    init(_ configured: ConfiguredTraceState) {
        self.configured = configured
        rootValue = configured.traceState.headerValue
    }

    /// The tracestate of a span whose (valid) parent is `parent`, or of a root span when `nil`.
    @inlinable
    func traceState(inheriting parent: SpanContext?) -> String {
        guard let parent else { return rootValue }
        guard parent.isRemote, !rootValue.isEmpty else { return parent.traceState }
        return upserted(parent.traceState)
    }

    /// `incoming` with the configured members upserted; an unparsable `incoming` is replaced by
    /// the configured members (W3C §3.3.1.1 allows discarding an invalid tracestate).
    @usableFromInline
    func upserted(_ incoming: String) -> String {
        let state = incoming.isEmpty ? W3CTraceState() : ((try? W3CTraceState(parsing: incoming)) ?? W3CTraceState())
        return state.upserting(configured).headerValue
    }
}
