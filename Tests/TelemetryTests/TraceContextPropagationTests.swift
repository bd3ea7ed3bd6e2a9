import Testing
@testable import Telemetry

@Suite("W3C propagation on SDK spans")
struct TraceContextPropagationTests {
    static let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    func makeProvider() -> (TelemetryProvider, InMemorySpanExporter) {
        let spans = InMemorySpanExporter()
        return (TelemetryProvider(resource: Resource(serviceName: "prop"), spanExporters: [spans]), spans)
    }

    @Test func continuingATraceParentsNewSpansAndUpsertsConfiguredState() async throws {
        let (provider, spans) = makeProvider()
        let tracer = provider.tracer("t")
        let configured = try ConfiguredTraceState(["example": ["alpha": "one"]])
        let valid = W3CPropagation.continueTrace(
            traceparent: Self.incoming, tracestate: "rojo=00f067aa0ba902b7,example=alpha:old;keep:1", configured: configured
        ) { valid in
            tracer.withSpan("handle") { _ in }
            return valid
        }
        #expect(valid)
        try await provider.shutdown(timeout: .seconds(10))
        let span = try #require(spans.spans.first)
        #expect(span.context.traceID.hexString == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(span.parentSpanID == SpanID(0x00f0_67aa_0ba9_02b7))
        #expect(span.context.traceState == "example=alpha:one;keep:1,rojo=00f067aa0ba902b7")
    }

    @Test func invalidContextRunsBodyWithoutParent() async throws {
        let (provider, spans) = makeProvider()
        let tracer = provider.tracer("t")
        let valid = W3CPropagation.continueTrace(traceparent: "00-zz", tracestate: nil) { valid in
            tracer.withSpan("root") { _ in }
            return valid
        }
        #expect(!valid)
        try await provider.shutdown(timeout: .seconds(10))
        #expect(spans.spans.first?.parentSpanID == nil)
        #expect(spans.spans.first?.context.traceID.hexString != "4bf92f3577b34da6a3ce929d0e0e4736")
    }

    @Test func currentAndGivenSpanContextsFormatAsW3C() async throws {
        let (provider, _) = makeProvider()
        let tracer = provider.tracer("t")
        #expect(W3CPropagation.current() == nil)
        let configured = try ConfiguredTraceState(["example": ["beta": "two"]])
        var headers: [(name: String, value: String)] = []
        tracer.withSpan("client") { span in
            let own = W3CPropagation.context(of: span)
            let current = W3CPropagation.current()
            #expect(own == current)
            #expect(own?.traceparent.headerValue
                == "00-\(span.context.traceID.hexString)-\(span.context.spanID.hexString)-01")
            #expect(W3CPropagation.inject(into: &headers, configured: configured))
        }
        #expect(headers.map(\.name) == ["traceparent", "tracestate"])
        #expect(headers.last?.value == "example=beta:two")
        // The receiving side sees the same trace.
        let received = try #require(W3CTraceContext.extract(from: headers))
        #expect(received.tracestate["example"] == "beta:two")
        var dict: [String: String] = [:]
        #expect(!W3CPropagation.inject(into: &dict))  // no current span
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test func continueFromHeaderFields() throws {
        let headers: [(name: String, value: String)] = [("TraceParent", Self.incoming)]
        let seen = W3CPropagation.continueTrace(from: headers) { valid in
            (valid, TraceContext.current?.isRemote ?? false, TraceContext.current?.spanID)
        }
        #expect(seen.0)
        #expect(seen.1)
        #expect(seen.2 == SpanID(0x00f0_67aa_0ba9_02b7))
    }

    @Test func spanContextRoundTrip() throws {
        let w3c = try #require(W3CTraceContext.extract(from: ["traceparent": Self.incoming, "tracestate": "a=1"]))
        let context = w3c.spanContext()
        #expect(context.isRemote)
        #expect(context.isSampled)
        #expect(W3CTraceContext(context) == w3c)
        #expect(W3CTraceContext(SpanContext(traceID: .invalid, spanID: .invalid)) == nil)
    }
}
