import Testing
import Telemetry
import TelemetrySession

/// The README's "instrument a session" snippet, compiled and run (in-memory exporters stand in
/// for OTLP ones).
@Suite("SessionTelemetry quickstart")
struct SessionTelemetryQuickstartTests {
    @Test func quickstartSnippetWorks() async throws {
        let spans = InMemorySpanExporter(), logs = InMemoryLogExporter(), metricsOut = MetricsClient.InMemoryExporter()

        // --- snippet ---
        let provider = TelemetryProvider(resource: Resource(serviceName: "my-agent"), spanExporters: [spans], logExporters: [logs])
        let metrics = try MetricsClient(.init(serviceName: "my-agent", exporter: metricsOut))
        let session = SessionTelemetry(
            metadata: SessionMetadata(sessionID: "s-1", model: "gpt-5.1", slug: "gpt-5.1", accountID: "a-1",
                                      originator: "my_cli", sessionSource: "cli", appVersion: "1.0.0"),
            provider: provider, metrics: metrics)
        session.startupPhase(.threadStartCreateThread, duration: .milliseconds(12))
        session.startupPhase(.prewarmTotal, duration: .milliseconds(180))
        let turn = session.startTurnTimer(turnID: "t-1")
        session.turnTTFT(.milliseconds(640), turnID: "t-1")
        turn.stop()
        try metrics.shutdown()
        try await provider.shutdown(timeout: .seconds(5))
        // --- end ---

        #expect(logs.records.compactMap(\.eventName)
            == ["codex.startup_phase", "codex.startup_phase", "codex.turn_ttft", "codex.turn_e2e"])
        #expect(spans.spans.count == 4)
        let names = metricsOut.snapshots.flatMap { $0.metrics.map(\.name) }
        #expect(names == ["codex.startup.phase.duration_ms", "codex.turn.e2e.duration_ms", "codex.turn.ttft.duration_ms"])
    }
}
