import Testing
@testable import Telemetry

@Suite("SessionTelemetry through a TelemetryProvider (in-memory exporters)")
struct SessionTelemetryProviderTests {
    @Test func logsCarryMetadataAndSpanEventsStayTraceSafe() async throws {
        let spans = InMemorySpanExporter()
        let logs = InMemoryLogExporter()
        let provider = TelemetryProvider(
            resource: Resource(serviceName: "codex-cli"), spanExporters: [spans], logExporters: [logs])
        let telemetry = SessionTelemetry(
            metadata: SessionMetadata(
                sessionID: "conv-3", model: "gpt-5.1", slug: "s", accountID: "acct-42", accountEmail: "dev@example.com",
                authMode: "chatgpt", originator: "cli", sessionSource: "exec", appVersion: "0.9.0", logUserPrompts: true),
            provider: provider)
        let tracer = provider.tracer("app")
        let turnSpanID = tracer.withSpan("turn") { span in
            telemetry.userPrompt([.text("top secret")])
            telemetry.startupPhase(.prewarmWebsocketWarmup, duration: .milliseconds(160), status: .failed)
            return span.context.spanID
        }
        try await provider.shutdown(timeout: .seconds(10))

        let records = logs.records
        #expect(records.map(\.eventName) == ["codex.user_prompt", "codex.startup_phase"])
        #expect(records.allSatisfy { $0.spanID == turnSpanID })  // correlated with the current span
        let phaseLog = try #require(records.last)
        #expect(phaseLog.severity == .info)
        #expect(phaseLog.attributes.first { $0.key == "startup.status" }?.value == .string("failed"))
        #expect(phaseLog.attributes.first { $0.key == "user.email" }?.value == .string("dev@example.com"))
        #expect(records.first?.attributes.first { $0.key == "prompt" }?.value == .string("top secret"))

        let eventSpans = spans.spans.filter { $0.name.hasPrefix("codex.") }
        #expect(eventSpans.map(\.name) == ["codex.user_prompt", "codex.startup_phase"])
        for span in eventSpans {
            #expect(span.parentSpanID == turnSpanID)
            #expect(span.events.map(\.name) == [span.name])
            let keys = Set(span.attributes.map(\.key) + span.events.flatMap { $0.attributes.map(\.key) })
            #expect(keys.isDisjoint(with: SessionTelemetry.personalDataKeys), "\(span.name): \(keys)")
        }
        let phaseEvent = try #require(eventSpans.last?.events.first)
        #expect(phaseEvent.attributes.first { $0.key == "duration_ms" }?.value == .int(160))
        #expect(phaseEvent.attributes.first { $0.key == "startup.phase" }?.value == .string("startup_prewarm_websocket_warmup"))
    }
}
