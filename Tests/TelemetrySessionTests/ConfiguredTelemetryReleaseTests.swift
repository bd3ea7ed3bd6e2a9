import OTLPTestSupport
import Testing
import Telemetry
import TelemetrySession

@Suite("Best-effort flush when a ConfiguredTelemetry is released without shutdown")
struct ConfiguredTelemetryReleaseTests {
    @Test func aReleasedConfiguredTelemetryFlushesSessionMetricsLogsAndSpans() async throws {
        var settings = TelemetrySettings(serviceName: "d")
        settings.traceExporter = .inMemory
        settings.logExporter = .inMemory
        settings.metricsExporter = .inMemory
        var spans: InMemorySpanExporter?, logs: InMemoryLogExporter?, metrics: InMemoryMetricExporter?
        do {
            let telemetry = try #require(try TelemetryProvider.make(settings: settings))
            (spans, logs, metrics) = (telemetry.inMemorySpans, telemetry.inMemoryLogs, telemetry.inMemoryMetrics)
            let session = telemetry.sessionTelemetry(metadata: SessionMetadata(
                sessionID: "s", model: "m", slug: "s", originator: "o", sessionSource: "cli", appVersion: "1"))
            session.startupPhase(.threadStartCreateThread, duration: .milliseconds(5))
        }
        let (s, l, m) = (try #require(spans), try #require(logs), try #require(metrics))
        #expect(await eventually { s.isShutDown && l.isShutDown && m.isShutDown })
        #expect(l.records.compactMap(\.eventName) == ["codex.startup_phase"])
        #expect(s.spans.map(\.name) == ["thread_start_create_thread"])
        #expect(m.metrics.map(\.name).contains("codex.startup.phase.duration_ms"))
    }
}
