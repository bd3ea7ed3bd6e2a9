import Testing
@testable import Telemetry

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
