import Testing
@testable import Telemetry
@testable import TelemetrySession

@Suite("Runtime metrics (per-session summary)")
struct RuntimeMetricsTests {
    static let metadata = SessionMetadata(sessionID: "s", model: "m", slug: "s", originator: "o", sessionSource: "cli", appVersion: "1")

    static func exercise(_ session: SessionTelemetry) {
        session.toolResult(toolName: "shell", callID: "c1", arguments: "ls", duration: .milliseconds(120), success: true, output: "a\nb")
        session.toolResult(toolName: "shell", callID: "c2", arguments: "ls", duration: .microseconds(30_400), success: false, output: "")
        session.apiRequest(attempt: 1, status: 200, duration: .milliseconds(800))
        session.sseEvent(kind: "response.output_text.delta", duration: .milliseconds(3))
        session.sseEvent(kind: "response.output_text.delta", duration: .milliseconds(4))
        session.sseEvent(kind: "response.completed", duration: .milliseconds(5))
        session.websocketRequest(duration: .milliseconds(50))
        session.websocketEvent(kind: "message", duration: .milliseconds(2))
        session.startupPhase(.threadStartCreateThread, duration: .milliseconds(999))  // not a runtime metric
    }

    @Test func theSummaryCountsAndTotalsEachKindAndResetStartsOver() throws {
        let session = SessionTelemetry(metadata: Self.metadata, sink: InMemorySessionEventSink(), runtimeMetrics: true)
        #expect(session.runtimeMetricsSummary()?.isEmpty == true)
        Self.exercise(session)
        let summary = try #require(session.runtimeMetricsSummary())
        #expect(summary.toolCalls == RuntimeMetricTotals(count: 2, durationMs: 150))  // 120 + 30.4, rounded
        #expect(summary.apiCalls == RuntimeMetricTotals(count: 1, durationMs: 800))
        #expect(summary.streamingEvents == RuntimeMetricTotals(count: 3, durationMs: 12))
        #expect(summary.websocketCalls == RuntimeMetricTotals(count: 1, durationMs: 50))
        #expect(summary.websocketEvents == RuntimeMetricTotals(count: 1, durationMs: 2))
        #expect(session.resetRuntimeMetrics() == summary)
        #expect(session.runtimeMetricsSummary()?.isEmpty == true)
        session.apiRequest(attempt: 2, status: 500, duration: .milliseconds(10))
        #expect(session.runtimeMetricsSummary()?.apiCalls == RuntimeMetricTotals(count: 1, durationMs: 10))
        var merged = summary
        merged.merge(session.runtimeMetricsSummary()!)
        #expect(merged.apiCalls == RuntimeMetricTotals(count: 2, durationMs: 810))
    }

    @Test func offByDefaultAndWiredFromSettingsWithTheMetricsExporterOff() async throws {
        let plain = SessionTelemetry(metadata: Self.metadata, sink: InMemorySessionEventSink())
        Self.exercise(plain)
        #expect(plain.runtimeMetricsSummary() == nil)

        var settings = TelemetrySettings()
        settings.logExporter = .inMemory
        settings.runtimeMetrics = true
        let telemetry = try #require(try TelemetryProvider.make(settings: settings))
        #expect(telemetry.metrics == nil)
        let session = telemetry.sessionTelemetry(metadata: Self.metadata)
        Self.exercise(session)
        #expect(session.runtimeMetricsSummary()?.toolCalls.count == 2)
        try await telemetry.shutdown(timeout: .seconds(10))

        settings.runtimeMetrics = false
        let off = try #require(try TelemetryProvider.make(settings: settings))
        #expect(off.sessionTelemetry(metadata: Self.metadata).runtimeMetricsSummary() == nil)
        try await off.shutdown(timeout: .seconds(10))
    }
}
