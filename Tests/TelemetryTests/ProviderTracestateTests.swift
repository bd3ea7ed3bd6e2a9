import Testing
@testable import Telemetry
import TelemetrySession

/// `settings.tracestate` / `TelemetryProvider(tracestate:)` and `settings.spanAttributes` on every span.
@Suite("Configured tracestate and span attributes on every span")
struct ProviderTracestateTests {
    static let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func rootSpansCarryTheMembersChildrenInheritAndRemoteParentsGetThemUpserted() async throws {
        let spans = InMemorySpanExporter()
        let configured = try ConfiguredTraceState(["example": ["alpha": "one", "beta": "two"]])
        let provider = TelemetryProvider(resource: Resource(serviceName: "ts"), spanExporters: [spans], tracestate: configured)
        #expect(provider.tracestate == configured)
        let tracer = provider.tracer("t")
        var headers: [String: String] = [:]
        tracer.withSpan("root") { _ in
            tracer.withSpan("child") { _ in }
            W3CPropagation.inject(into: &headers)  // no `configured:` needed: the span carries it
        }
        W3CPropagation.continueTrace(traceparent: Self.incoming, tracestate: "rojo=1,example=alpha:old;keep:1") { valid in
            #expect(valid)
            tracer.withSpan("remote-child") { _ in }
        }
        W3CPropagation.continueTrace(traceparent: Self.incoming, tracestate: "not a tracestate") { _ in
            tracer.withSpan("remote-bad-state") { _ in }
        }
        try await provider.shutdown(timeout: .seconds(10))
        let byName = Dictionary(uniqueKeysWithValues: spans.spans.map { ($0.name, $0.context.traceState) })
        #expect(byName["root"] == "example=alpha:one;beta:two")
        #expect(byName["child"] == "example=alpha:one;beta:two")
        #expect(headers["tracestate"] == "example=alpha:one;beta:two")
        #expect(byName["remote-child"] == "example=alpha:one;keep:1;beta:two,rojo=1")  // replaced in place, new field appended
        #expect(byName["remote-bad-state"] == "example=alpha:one;beta:two")
    }

    @Test func rootSpansWithAndWithoutAttributesGetTheSameTracestateAttributesAndSampling() async throws {
        // A root span with no attributes or links takes a shorter path than one with them; both
        // must carry the configured tracestate, the provider's span attributes first, the kind,
        // the start time and the root sampler's decision.
        let spans = InMemorySpanExporter()
        let configured = try ConfiguredTraceState(["example": ["alpha": "one"]])
        let provider = TelemetryProvider(
            resource: Resource(serviceName: "ts"), spanExporters: [spans], sampler: .traceIDRatio(0.5),
            spanAttributes: ["tier": "gold"], tracestate: configured)
        let tracer = provider.tracer("t")
        var started: [String: Bool] = [:]
        for index in 0..<200 {
            let short = tracer.startSpan("short-\(index)", kind: .client, parent: .root, startTimeUnixNano: 1000)
            let long = tracer.startSpan(
                "long-\(index)", kind: .client, parent: .root, attributes: ["own": 1], startTimeUnixNano: 1000)
            started[short.name] = short.context.isSampled
            started[long.name] = long.context.isSampled
            #expect(short.context.traceState == "example=alpha:one")
            #expect(short.parentSpanID == nil && short.context.isValid && !short.context.isRemote)
            short.end()
            long.end()
        }
        try await provider.shutdown(timeout: .seconds(10))
        let exported = spans.spans
        #expect(exported.count == started.values.filter { $0 }.count)
        for span in exported {
            #expect(started[span.name] == true)
            #expect(span.context.traceState == "example=alpha:one")
            #expect(span.kind == .client && span.startTimeUnixNano == 1000 && span.parentSpanID == nil)
            #expect(span.attributes == (span.name.hasPrefix("short") ? ["tier": "gold"] : ["tier": "gold", "own": 1]))
            // The ratio sampler decides on the trace id alone, on both paths.
            #expect(FlatSampler(.traceIDRatio(0.5)).shouldSample(parent: nil, traceID: span.context.traceID) == .recordAndSample)
        }
        // Both paths sampled some and dropped some of 200 (odds of failing: about 2^-199 each).
        for prefix in ["short", "long"] {
            let decisions = started.filter { $0.key.hasPrefix(prefix) }.values
            #expect(decisions.contains(true) && decisions.contains(false))
        }
    }

    @Test func withoutConfigurationTracestatePassesThroughUnchanged() async throws {
        let spans = InMemorySpanExporter()
        let provider = TelemetryProvider(resource: Resource(serviceName: "ts"), spanExporters: [spans])
        let tracer = provider.tracer("t")
        tracer.withSpan("root") { _ in }
        W3CPropagation.continueTrace(traceparent: Self.incoming, tracestate: "rojo=1,congo=2") { _ in
            tracer.withSpan("remote-child") { _ in }
        }
        try await provider.shutdown(timeout: .seconds(10))
        let byName = Dictionary(uniqueKeysWithValues: spans.spans.map { ($0.name, $0.context.traceState) })
        #expect(byName["root"] == "")
        #expect(byName["remote-child"] == "rojo=1,congo=2")
    }

    @Test func settingsWireTracestateAndSpanAttributesIntoSDKAndDistributedSpans() async throws {
        var settings = TelemetrySettings(serviceName: "ts")
        settings.traceExporter = .inMemory
        settings.spanAttributes = ["team": "core", "region": "eu"]
        settings.tracestate = try ConfiguredTraceState(["example": ["alpha": "one"]])
        let telemetry = try #require(try TelemetryProvider.make(settings: settings))
        telemetry.provider.tracer("sdk").withSpan("sdk-span", attributes: ["team": "override"]) { _ in }
        telemetry.provider.distributedTracer().withSpan("dt-span", context: .topLevel) { _ in }
        try await telemetry.shutdown(timeout: .seconds(10))
        let spans = try #require(telemetry.inMemorySpans).spans
        #expect(Set(spans.map(\.name)) == ["sdk-span", "dt-span"])
        for span in spans {
            #expect(span.context.traceState == "example=alpha:one", "\(span.name)")
            #expect(span.attributes.first { $0.key == "region" }?.value == .string("eu"), "\(span.name)")
        }
        #expect(spans.first { $0.name == "sdk-span" }?.attributes.first { $0.key == "team" }?.value == .string("override"))
        #expect(spans.first { $0.name == "dt-span" }?.attributes.first { $0.key == "team" }?.value == .string("core"))
    }
}
