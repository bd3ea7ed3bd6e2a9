import TelemetryCore
public import TelemetryPipeline

/// What every span of one tracer shares, behind one reference: a span holds this (one retain)
/// instead of copying the pipeline reference, limits and clock existential each time.
@usableFromInline
final class SpanRecorder: Sendable {
    @usableFromInline let pipeline: Pipeline
    @usableFromInline let scope: InstrumentationScope
    @usableFromInline let sampler: FlatSampler
    @usableFromInline let limits: AttributeLimits
    @usableFromInline let spanAttributes: [Attribute]
    @usableFromInline let clock: any TelemetryClock
    /// Whether `clock` is the ``SystemClock``: then ``now()`` reads the clock directly instead of
    /// opening the existential (a copy and a witness call, twice per span).
    @usableFromInline let usesSystemClock: Bool
    /// The provider's configured tracestate (root spans get it; remote parents get it upserted).
    @usableFromInline let traceState: SpanTraceStatePolicy
    /// The process's cycle-counter clock, held here so that reading it does not go through the
    /// lazy global's one-time-initialization check, twice per span.
    @usableFromInline let cycleClock: CycleClock
    /// `scope`, kept alive by the pipeline, for span records (no retain per span).
    @usableFromInline let keptAliveScope: KeptAliveScope
    /// `pipeline` without a reference count of its own (this recorder keeps it alive), so that
    /// starting a span does not retain and release the pipeline around taking a block: each
    /// atomic reference-count update waits for the span's pending stores to drain.
    @usableFromInline let unretainedPipeline: Unmanaged<Pipeline>
    /// How many inline attributes a span may get with no check (``Span/setAttribute(_:_:)``'s
    /// inlined case): the inline capacity within the count limit, or none when a value length
    /// limit is set (values may need cutting).
    @usableFromInline let uncheckedAttributeRoom: Int

    init(pipeline: Pipeline, scope: InstrumentationScope, sampler: Sampler, limits: AttributeLimits,
         spanAttributes: [Attribute], clock: any TelemetryClock, traceState: SpanTraceStatePolicy) {
        // Span records refer to the scope without retaining it; equal scopes share one storage.
        let kept = pipeline.keepScopeAlive(scope)
        self.pipeline = pipeline
        self.scope = kept.scope
        self.sampler = FlatSampler(sampler)
        self.limits = limits
        self.spanAttributes = spanAttributes
        self.clock = clock
        self.usesSystemClock = clock is SystemClock
        cycleClock = CycleClock.shared
        self.traceState = traceState
        keptAliveScope = kept.reference
        unretainedPipeline = Unmanaged.passUnretained(pipeline)
        uncheckedAttributeRoom = limits.attributeValueLengthLimit == nil
            ? max(0, min(SpanRecord.inlineAttributeCapacity, limits.attributeCountLimit)) : 0
    }

    /// The clock's time in nanoseconds since the Unix epoch.
    @inlinable
    func now() -> UInt64 { usesSystemClock ? cycleClock.nowUnixNano() : clock.nowUnixNano() }

    /// Starts a root span with only the provider's span attributes: what
    /// ``Tracer/startAnySpan(_:kind:parent:attributes:links:startTimeUnixNano:)`` does for a span
    /// with no parent, no attributes and no links, without the parent lookup and copies.
    @usableFromInline
    func startRootSpan(_ name: String, kind: SpanKind, startTimeUnixNano: UInt64?) -> Span {
        // The span's reference to this recorder, taken before the block is written: an atomic
        // reference-count update waits for the stores before it, which would be the block's.
        let reference = Unmanaged.passRetained(self)
        let (traceID, spanID) = IDGenerator.traceAndSpanID()
        let decision = sampler.root.decide(traceID)
        let context = SpanContext(
            traceID: traceID, spanID: spanID, traceFlags: decision == .recordAndSample ? .sampled : [],
            traceState: traceState.rootValue, isRemote: false)
        let startTime = decision == .drop ? 0 : startTimeUnixNano ?? now()
        let block = unretainedPipeline._withUnsafeGuaranteedRef {
            $0.makeSpanRecord(name: name, context: context, parentSpanID: nil, kind: kind,
                              startTimeUnixNano: startTime, scope: keptAliveScope)
        }
        guard decision != .drop else {
            return Span(block: block, recorder: reference.takeRetainedValue(), isSampled: false, isRecording: false)
        }
        var span = Span(block: block, recorder: reference.takeRetainedValue(),
                        isSampled: decision == .recordAndSample, isRecording: true)
        if !spanAttributes.isEmpty { span.setAttributes(spanAttributes) }
        return span
    }
}

/// Starts spans for one instrumentation scope. Get one from ``TelemetryProvider/tracer(_:version:attributes:)``.
public struct Tracer: Sendable {
    @usableFromInline let recorder: SpanRecorder

    /// The instrumentation scope of the spans this tracer starts.
    public var scope: InstrumentationScope { recorder.scope }

    init(pipeline: Pipeline, scope: InstrumentationScope, sampler: Sampler, limits: AttributeLimits,
         spanAttributes: [Attribute], clock: any TelemetryClock, traceState: SpanTraceStatePolicy) {
        recorder = SpanRecorder(
            pipeline: pipeline, scope: scope, sampler: sampler, limits: limits, spanAttributes: spanAttributes,
            clock: clock, traceState: traceState)
    }

    /// Starts a span. The parent is the current span context unless `parent` says otherwise.
    /// The provider's span attributes are set first, then `attributes`.
    @inlinable
    public func startSpan(
        _ name: String, kind: SpanKind = .internal, parent: SpanParent = .current, attributes: [Attribute] = [],
        links: [SpanLink] = [], startTimeUnixNano: UInt64? = nil
    ) -> Span {
        // Inlined so that the default arguments fold: a root span with no attributes or links
        // (the common case, and every span until anything was made current) takes the short path.
        let isRoot: Bool
        switch parent {
        case .current: isRoot = !TraceContext.mayHaveCurrentSpan
        case .root: isRoot = true
        case .context: isRoot = false
        }
        if isRoot, attributes.isEmpty, links.isEmpty {
            return recorder.startRootSpan(name, kind: kind, startTimeUnixNano: startTimeUnixNano)
        }
        return startAnySpan(name, kind: kind, parent: parent, attributes: attributes, links: links,
                            startTimeUnixNano: startTimeUnixNano)
    }

    /// ``startSpan(_:kind:parent:attributes:links:startTimeUnixNano:)`` for every case.
    @usableFromInline
    func startAnySpan(
        _ name: String, kind: SpanKind, parent: SpanParent, attributes: [Attribute], links: [SpanLink],
        startTimeUnixNano: UInt64?
    ) -> Span {
        let parentContext: SpanContext?
        switch parent {
        // Until anything was ever made current, skip the lookup (and the copies of its result).
        case .current: parentContext = TraceContext.mayHaveCurrentSpan ? TraceContext.current : nil
        case .root: parentContext = nil
        case .context(let context): parentContext = context
        }
        guard let validParent = parentContext.flatMap({ $0.isValid ? $0 : nil }) else {
            // A root span after all (nothing current): the short path, then what it leaves out.
            var span = recorder.startRootSpan(name, kind: kind, startTimeUnixNano: startTimeUnixNano)
            if span.isRecording { span.setAttributesAndLinks(attributes, links) }
            return span
        }
        let recorder = recorder
        let traceID = validParent.traceID, spanID = IDGenerator.spanID()
        let decision = recorder.sampler.shouldSample(parent: validParent, traceID: traceID)
        let context = SpanContext(
            traceID: traceID, spanID: spanID,
            traceFlags: decision == .recordAndSample ? .sampled : [],
            traceState: recorder.traceState.traceState(inheriting: validParent), isRemote: false)
        let startTime = decision == .drop ? 0 : startTimeUnixNano ?? recorder.now()
        let block = recorder.unretainedPipeline._withUnsafeGuaranteedRef {
            $0.makeSpanRecord(name: name, context: context, parentSpanID: validParent.spanID, kind: kind,
                              startTimeUnixNano: startTime, scope: recorder.keptAliveScope)
        }
        guard decision != .drop else {
            // Records nothing, but keeps its name and context (children and propagation use it).
            return Span(block: block, recorder: recorder, isSampled: false, isRecording: false)
        }
        var span = Span(block: block, recorder: recorder, isSampled: decision == .recordAndSample, isRecording: true)
        if !recorder.spanAttributes.isEmpty { span.setAttributes(recorder.spanAttributes) }
        span.setAttributesAndLinks(attributes, links)
        return span
    }

    /// Starts a span with a span id chosen in advance, in trace `traceID` under `parentSpanID`
    /// (nil: a root), sampled as a child of `sampledLike` (the span the trace continues) or, without
    /// one, as a root of that trace. For spans whose children are reported before them (start-up
    /// phases reported when they end: the parent ends last).
    package func startSpan(
        _ name: String, traceID: TraceID, spanID: SpanID, parentSpanID: SpanID?, sampledLike: SpanContext?,
        attributes: [Attribute], startTimeUnixNano: UInt64
    ) -> Span {
        let recorder = recorder
        let decision = recorder.sampler.shouldSample(parent: sampledLike.flatMap { $0.isValid ? $0 : nil }, traceID: traceID)
        let context = SpanContext(
            traceID: traceID, spanID: spanID, traceFlags: decision == .recordAndSample ? .sampled : [],
            traceState: recorder.traceState.rootValue, isRemote: false)
        let block = recorder.unretainedPipeline._withUnsafeGuaranteedRef {
            $0.makeSpanRecord(name: name, context: context, parentSpanID: parentSpanID, kind: .internal,
                              startTimeUnixNano: decision == .drop ? 0 : startTimeUnixNano, scope: recorder.keptAliveScope)
        }
        guard decision != .drop else {
            return Span(block: block, recorder: recorder, isSampled: false, isRecording: false)
        }
        var span = Span(block: block, recorder: recorder, isSampled: decision == .recordAndSample, isRecording: true)
        if !recorder.spanAttributes.isEmpty { span.setAttributes(recorder.spanAttributes) }
        if !attributes.isEmpty { span.setAttributes(attributes) }
        return span
    }

    /// Runs `body` in a new span that is the current span inside it; a thrown error is recorded
    /// (event + error status) and rethrown. The span ends when `body` returns.
    public func withSpan<Result>(
        _ name: String, kind: SpanKind = .internal, parent: SpanParent = .current, attributes: [Attribute] = [],
        _ body: (inout Span) throws -> Result
    ) rethrows -> Result {
        var span = startSpan(name, kind: kind, parent: parent, attributes: attributes)
        do {
            let result = try withCurrentSpan(&span, body)
            span.end()
            return result
        } catch {
            span.recordError(error)
            span.setStatus(.error(description: String(describing: error)))
            span.end()
            throw error
        }
    }

    /// Async variant of ``withSpan(_:kind:parent:attributes:_:)``.
    public func withSpan<Result>(
        _ name: String, kind: SpanKind = .internal, parent: SpanParent = .current, attributes: [Attribute] = [],
        isolation: isolated (any Actor)? = #isolation, _ body: (inout Span) async throws -> Result
    ) async rethrows -> Result {
        var span = startSpan(name, kind: kind, parent: parent, attributes: attributes)
        do {
            let result = try await withCurrentSpan(&span, isolation: isolation, body)
            span.end()
            return result
        } catch {
            span.recordError(error)
            span.setStatus(.error(description: String(describing: error)))
            span.end()
            throw error
        }
    }
}
