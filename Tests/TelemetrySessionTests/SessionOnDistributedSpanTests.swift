import Testing
import Telemetry
import TelemetrySession
import Tracing

@Suite("Session events on swift-distributed-tracing spans")
struct SessionOnDistributedSpanTests {
    @Test func sessionTraceViewsBecomeEventsOnTheCurrentDistributedSpan() async throws {
        let spans = InMemorySpanExporter(), logs = InMemoryLogExporter()
        let provider = makeProvider(spans: spans, logs: logs)
        let session = SessionTelemetry(
            metadata: SessionMetadata(sessionID: "s", model: "m", slug: "s", accountID: "acct", accountEmail: "e@example.com",
                                      originator: "o", sessionSource: "cli", appVersion: "1"),
            provider: provider)
        let spanID = try await provider.distributedTracer().withSpan("turn", context: .topLevel) { span in
            try await Task.sleep(for: .milliseconds(1))
            session.turnTTFT(.milliseconds(640))
            return span.spanContext.spanID
        }
        try await provider.shutdown(timeout: .seconds(10))
        #expect(spans.spans.map(\.name) == ["turn"])
        let event = try #require(spans.spans.first?.events.first)
        #expect(event.name == "codex.turn_ttft")
        #expect(Set(event.attributes.map(\.key)).isDisjoint(with: SessionTelemetry.personalDataKeys))
        #expect(logs.records.first?.spanID == spanID)
        #expect(logs.records.first?.attributes.first { $0.key == "user.email" }?.value == .string("e@example.com"))
    }
}
