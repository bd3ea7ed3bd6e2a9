// swift-distributed-tracing back-end: a `Tracing.Tracer` whose spans are the SDK's spans (same
// sampler, limits, span attributes, configured tracestate, pipeline), W3C traceparent/tracestate
// injection and extraction, and the span context carried in `InstrumentationContext`.

import OTLPSync
public import Synchronization
import Foundation
public import OTLPExporter
public import ServiceContextModule
public import Tracing
import TelemetryCore
import TelemetryPipeline

/// A swift-distributed-tracing `Tracer` over a ``TelemetryProvider``.
///
/// ```swift
/// InstrumentationSystem.bootstrap(provider.distributedTracer())   // or ConfiguredTelemetry.installAsDefault() (TelemetrySession)
/// try await InstrumentationSystem.tracer.withSpan("handle") { span in
///     span.attributes["http.route"] = "/items"
/// }
/// ```
///
/// - The parent of a new span is the span in the `context` argument (by default
///   `InstrumentationContext.current`); when that carries none, the current SDK span
///   (``TraceContext/current``), if any.
/// - `inject` writes W3C `traceparent` and `tracestate`; `extract` reads them (an invalid
///   `traceparent` is ignored, an invalid `tracestate` dropped) and upserts the provider's
///   configured tracestate, so a context forwarded without a span of its own carries it too.
///   With ``OTLPPropagator/baggage`` among ``propagators`` the W3C `baggage` header is carried
///   too (``ServiceContext/w3cBaggage``); each propagator left out of ``propagators``
///   (`OTEL_PROPAGATORS`) is neither injected nor extracted.
/// - Attributes map to OTLP attributes (32-bit integers widened, `stringConvertible` values as
///   their description); events, links, status and `recordError` (an `exception` event) map to
///   the SDK span's.
public struct DistributedTracer: Tracing.Tracer {
    public typealias Span = DistributedSpan

    /// The SDK tracer whose spans this tracer starts; `nil` for ``processDefault``.
    public let tracer: Tracer?

    /// The headers `inject` and `extract` handle; for ``processDefault``, the current
    /// provider's (`ConfiguredTelemetry.current`'s ``TelemetrySettings/propagators``; the
    /// defaults while none is installed).
    public var propagators: [OTLPPropagator] {
        fixedPropagators ?? ProcessDefaultTelemetry.current?.propagators ?? OTLPPropagator.defaults
    }
    private let fixedPropagators: [OTLPPropagator]?

    /// A tracer starting spans with `tracer` (its provider's sampler, limits, span attributes and
    /// tracestate), propagating with `propagators` (default `tracecontext,baggage`).
    public init(_ tracer: Tracer, propagators: [OTLPPropagator] = OTLPPropagator.defaults) {
        self.tracer = tracer
        self.fixedPropagators = propagators
        Self.everCreated.store(true, ordering: .relaxed)
    }

    private init(processDefault: Void) {
        tracer = nil
        fixedPropagators = nil
        Self.everCreated.store(true, ordering: .relaxed)
    }

    /// Set once any tracer of this type exists. Until then no `InstrumentationContext` can hold
    /// one of its spans, so ``TraceContext/current`` looks at the SDK's task-local only.
    /// Relaxed: a tracer is created before any of its spans or contexts can reach another task
    /// (that hand-off is itself synchronized), so a reader that could find a record sees `true`.
    /// (`Synchronization.Atomic` in static storage, not a `ManagedAtomic` object: the span-start
    /// check reads it directly instead of instantiating the object's type and static object.)
    @usableFromInline static let everCreated = Atomic<Bool>(false)

    /// A tracer that starts spans with the provider of the process-wide default
    /// (`ConfiguredTelemetry.current`) at the time of each span (non-recording spans that still
    /// propagate context while none is installed).
    public static let processDefault = DistributedTracer(processDefault: ())

    /// The tracer used now: ``tracer``, or for the process-wide default the current provider's.
    var effectiveTracer: Tracer? {
        tracer ?? ProcessDefaultTelemetry.current?.distributedTracingTracer
    }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> InstrumentationContext, ofKind kind: Tracing.SpanKind,
        at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
    ) -> DistributedSpan {
        let base = context()
        let parent: SpanContext?
        switch TraceContext.innermost(in: base) {
        case .none: parent = nil
        case .native(let context): parent = context
        case .distributed(let record): parent = record.context
        }
        let nativeNow = TraceContext.currentSpanContext?.spanID
        guard let tracer = effectiveTracer else {
            // No provider (the process-wide default is not installed): a non-recording span that
            // still propagates its parent's context.
            return DistributedSpan(nonRecording: operationName, parent: parent, baseContext: base, nativeAtStart: nativeNow)
        }
        let span = tracer.startSpan(
            operationName, kind: TelemetryCore.SpanKind(kind), parent: parent.map { .context($0) } ?? .root,
            startTimeUnixNano: instant().nanosecondsSinceEpoch)
        return DistributedSpan(span, baseContext: base, nativeAtStart: nativeNow)
    }

    public func activeSpan(identifiedBy context: InstrumentationContext) -> DistributedSpan? {
        context[DistributedSpanKey.self]?.span
    }

    /// Flushes the provider's pipeline in the background (swift-distributed-tracing's legacy
    /// requirement; prefer ``TelemetryProvider/forceFlush(deadline:)``).
    public func forceFlush() {
        guard let pipeline = effectiveTracer?.recorder.pipeline else { return }
        Task.detached(executorPreference: ExportExecutor.shared) { try? await pipeline.forceFlush(deadline: .now + .seconds(30)) }
    }

    // MARK: Instrument (W3C propagation)

    public func inject<Carrier, Inject: Injector>(
        _ context: InstrumentationContext, into carrier: inout Carrier, using injector: Inject
    ) where Inject.Carrier == Carrier {
        let propagators = self.propagators
        if propagators.contains(.baggage), let baggage = context.w3cBaggage {
            injector.inject(baggage, forKey: ServiceContext.w3cBaggageHeader, into: &carrier)
        }
        guard propagators.contains(.traceContext),
            let record = context[DistributedSpanKey.self], let w3c = W3CTraceContext(record.context)
        else { return }
        injector.inject(w3c.traceparent.headerValue, forKey: W3CTraceContext.traceparentHeader, into: &carrier)
        if !w3c.tracestate.isEmpty {
            injector.inject(w3c.tracestate.headerValue, forKey: W3CTraceContext.tracestateHeader, into: &carrier)
        }
    }

    public func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier, into context: inout InstrumentationContext, using extractor: Extract
    ) where Extract.Carrier == Carrier {
        let propagators = self.propagators
        if propagators.contains(.baggage), let baggage = extractor.extract(key: ServiceContext.w3cBaggageHeader, from: carrier),
            ServiceContext.isAcceptableBaggage(baggage)
        {
            context.w3cBaggage = baggage
        }
        guard propagators.contains(.traceContext) else { return }
        let traceparent = extractor.extract(key: W3CTraceContext.traceparentHeader, from: carrier)
        let tracestate = extractor.extract(key: W3CTraceContext.tracestateHeader, from: carrier)
        guard case .success(let parsed) = W3CTraceContext.parse(traceparent: traceparent, tracestate: tracestate) else { return }
        let configured = effectiveTracer?.recorder.traceState.configured ?? ConfiguredTraceState()
        context[DistributedSpanKey.self] = DistributedSpanRecord(
            context: parsed.context.spanContext(upserting: configured),
            nativeAtStart: TraceContext.currentSpanContext?.spanID, span: nil)
    }
}

/// A span of ``DistributedTracer``: an SDK ``Span`` behind a lock (swift-distributed-tracing
/// spans are shared references). Ending it queues the SDK span for export; later calls are ignored.
public final class DistributedSpan: Tracing.Span, @unchecked Sendable {
    // @unchecked: every mutable field is only touched under `lock`.
    private let lock = NSLock()
    private var span: Span?
    private var endedName: String
    private let baseContext: InstrumentationContext
    private let nativeAtStart: SpanID?
    /// The SDK span context (ids, flags, tracestate).
    public let spanContext: SpanContext
    public let isRecording: Bool

    init(_ span: consuming Span, baseContext: InstrumentationContext, nativeAtStart: SpanID?) {
        spanContext = span.context
        isRecording = span.isRecording
        endedName = span.name
        self.baseContext = baseContext
        self.nativeAtStart = nativeAtStart
        self.span = Optional(span)
    }

    init(nonRecording name: String, parent: SpanContext?, baseContext: InstrumentationContext, nativeAtStart: SpanID?) {
        spanContext = parent ?? SpanContext(traceID: .invalid, spanID: .invalid)
        isRecording = false
        endedName = name
        self.baseContext = baseContext
        self.nativeAtStart = nativeAtStart
        span = nil
    }

    /// The context handed to children and propagation: the `context` the span was started in,
    /// plus this span. (Computed, so the span does not retain itself.)
    public var context: InstrumentationContext {
        var context = baseContext
        context[DistributedSpanKey.self] = DistributedSpanRecord(context: spanContext, nativeAtStart: nativeAtStart, span: self)
        return context
    }

    private func withSpan<R>(_ body: (inout Span) -> R) -> R? {
        lock.lock()
        defer { lock.unlock() }
        guard var current = span.take() else { return nil }
        let result = body(&current)
        span = Optional(current)
        return result
    }

    public var operationName: String {
        get { withSpan { $0.name } ?? lock.withLock { endedName } }
        set { _ = withSpan { $0.updateName(newValue) } }
    }

    public var attributes: SpanAttributes {
        get {
            var result = SpanAttributes()
            for attribute in withSpan({ $0.attributes }) ?? [] {
                if let value = attribute.value.tracingAttribute { result.set(attribute.key, value: value) }
            }
            return result
        }
        set {
            let converted = newValue.sdkAttributes
            _ = withSpan { span in
                span.removeAllAttributes()
                span.setAttributes(converted)
            }
        }
    }

    public func setStatus(_ status: Tracing.SpanStatus) {
        let mapped: TelemetryCore.SpanStatus = status.code == .ok ? .ok : .error(description: status.message ?? "")
        _ = withSpan { $0.setStatus(mapped) }
    }

    public func addEvent(_ event: Tracing.SpanEvent) {
        let attributes = event.attributes.sdkAttributes
        _ = withSpan { $0.addEvent(event.name, attributes: attributes, timeUnixNano: event.nanosecondsSinceEpoch) }
    }

    /// Adds an event unless the span ended or is not recording (``TraceContext/addEventToCurrentSpan(_:attributes:timeUnixNano:)``).
    func addEventIfRecording(_ name: String, attributes: [Attribute], timeUnixNano: UInt64?) -> Bool {
        guard isRecording else { return false }
        return withSpan { $0.addEvent(name, attributes: attributes, timeUnixNano: timeUnixNano) } != nil
    }

    public func recordError<Instant: TracerInstant>(
        _ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant
    ) {
        var all = [
            Attribute("exception.type", .string(String(reflecting: type(of: error)))),
            Attribute("exception.message", .string(String(describing: error))),
        ]
        all.append(contentsOf: attributes.sdkAttributes)
        let time = instant().nanosecondsSinceEpoch
        _ = withSpan { $0.addEvent("exception", attributes: all, timeUnixNano: time) }
    }

    public func addLink(_ link: Tracing.SpanLink) {
        guard let linked = link.context[DistributedSpanKey.self]?.context else { return }
        let attributes = link.attributes.sdkAttributes
        _ = withSpan { $0.addLink(linked, attributes: attributes) }
    }

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        lock.lock()
        guard let ending = span.take() else {
            lock.unlock()
            return
        }
        endedName = ending.name
        lock.unlock()
        ending.end(atUnixNano: instant().nanosecondsSinceEpoch)
    }
}

// MARK: Attribute and kind mapping

extension TelemetryCore.SpanKind {
    init(_ kind: Tracing.SpanKind) {
        switch kind {
        case .server: self = .server
        case .client: self = .client
        case .producer: self = .producer
        case .consumer: self = .consumer
        case .internal: self = .internal
        }
    }
}

extension SpanAttributes {
    /// The attributes as SDK attributes, in key order (values the SDK cannot carry are left out).
    var sdkAttributes: [Attribute] {
        var result: [Attribute] = []
        result.reserveCapacity(count)
        forEach { key, value in
            if let converted = value.sdkValue { result.append(Attribute(key, converted)) }
        }
        result.sort { $0.key < $1.key }
        return result
    }
}

extension SpanAttribute {
    /// The OTLP attribute value.
    var sdkValue: AttributeValue? {
        switch self {
        case .int32(let v): .int(Int64(v))
        case .int64(let v): .int(v)
        case .int32Array(let v): .intArray(v.map(Int64.init))
        case .int64Array(let v): .intArray(v)
        case .double(let v): .double(v)
        case .doubleArray(let v): .doubleArray(v)
        case .bool(let v): .bool(v)
        case .boolArray(let v): .boolArray(v)
        case .string(let v): .string(v)
        case .stringArray(let v): .stringArray(v)
        case .stringConvertible(let v): .string(String(describing: v))
        case .stringConvertibleArray(let v): .stringArray(v.map { String(describing: $0) })
        default: nil
        }
    }
}

extension AttributeValue {
    /// The swift-distributed-tracing value (bytes become a string of hex digits).
    var tracingAttribute: SpanAttribute? {
        switch self {
        case .string(let v): .string(v)
        case .bool(let v): .bool(v)
        case .int(let v): .int64(v)
        case .double(let v): .double(v)
        case .bytes(let v): .string(v.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined())
        case .stringArray(let v): .stringArray(v)
        case .boolArray(let v): .boolArray(v)
        case .intArray(let v): .int64Array(v)
        case .doubleArray(let v): .doubleArray(v)
        }
    }
}

/// The W3C `baggage` header carried in a swift-distributed-tracing context.
private enum W3CBaggageKey: ServiceContextKey {
    typealias Value = String
    static var nameOverride: String? { "w3c-baggage" }
}

extension ServiceContext {
    /// The W3C Baggage header name.
    public static let w3cBaggageHeader = "baggage"

    /// The W3C `baggage` header value (`key=value` members separated by `,`) that
    /// ``DistributedTracer`` extracted into this context or injects from it, passed on as is.
    public var w3cBaggage: String? {
        get { self[W3CBaggageKey.self] }
        set { self[W3CBaggageKey.self] = newValue }
    }

    /// A header value worth passing on: not empty, at most 8192 bytes (W3C Baggage, "Limits"),
    /// every member a `key=value` pair.
    static func isAcceptableBaggage(_ value: String) -> Bool {
        guard !value.isEmpty, value.utf8.count <= 8192 else { return false }
        return value.split(separator: ",").allSatisfy { member in
            let pair = member.split(separator: ";", maxSplits: 1)[0]
            guard let equals = pair.firstIndex(of: "=") else { return false }
            return !pair[..<equals].trimmingCharacters(in: .whitespaces).isEmpty
        }
    }
}
