import Foundation
import OTLPExporter
import OTLPProto
import OTLPTestSupport
import Testing
import Telemetry
import TelemetryCore
import TelemetrySession
import TelemetryPipeline

/// Pre-session start-up phases (`StartupRecorder`), start-up phases as nested spans with real
/// start and end, and the text waterfall drawn from them.
@Suite("Start-up phases and waterfall", .serialized)
struct StartupPhasesTests {
    static let metadata = SessionMetadata(
        sessionID: "s-1", model: "gpt-5.1", slug: "gpt-5.1", accountID: "acct-42", accountEmail: "ada@example.com",
        authMode: "api_key", originator: "tests", sessionSource: "cli", appVersion: "1.0.0")

    static let ms: UInt64 = 1_000_000

    func inMemorySettings() -> TelemetrySettings {
        var settings = TelemetrySettings(serviceName: "startup")
        settings.traceExporter = .inMemory
        settings.logExporter = .inMemory
        settings.metricsExporter = .inMemory
        return settings
    }

    @Test(PythonPeers.trait) func preSessionPhasesReachTheCollectorWithTheFirstSessionsMetadata() async throws {
        let collector = try RecordingCollectorPeer()
        defer { collector.stop() }
        let now = MetricsClient.wallClockNanoseconds()
        let recorder = StartupRecorder(processStartUnixNano: now - 500 * Self.ms)
        recorder.record(RecordedStartupPhase(phase: .configurationLoad, startUnixNano: now - 400 * Self.ms, endUnixNano: now - 300 * Self.ms))
        recorder.record(RecordedStartupPhase(
            phase: .authentication, status: .failed, startUnixNano: now - 300 * Self.ms, endUnixNano: now - 100 * Self.ms))
        var settings = TelemetrySettings(serviceName: "startup")
        for signal in [TelemetrySignal.traces, .metrics, .logs] {
            let exporter = TelemetryExporter.otlpGRPC(signal: signal, endpoint: collector.endpoint)
            switch signal {
            case .traces: settings.traceExporter = exporter
            case .metrics: settings.metricsExporter = exporter
            case .logs: settings.logExporter = exporter
            }
        }
        let telemetry = try #require(try TelemetryProvider.make(settings: settings, startupRecorder: recorder))
        _ = telemetry.sessionTelemetry(metadata: Self.metadata)
        var second = Self.metadata
        second.sessionID = "s-2"
        _ = telemetry.sessionTelemetry(metadata: second)
        try await telemetry.shutdown(timeout: .seconds(10))
        try await collector.waitFor { collector.items("traces").count >= 3 && collector.items("logs").count >= 4 }

        let logs = collector.items("logs").map { RecordingCollectorPeer.stringAttributes($0["attributes"]) }
        let phases = logs.filter { $0["event.name"] == "codex.startup_phase" }
        #expect(Set(phases.compactMap { $0["startup.phase"] }) == ["config_load", "authentication", "process_startup"])
        #expect(phases.allSatisfy { $0["conversation.id"] == "s-1" && $0["user.email"] == "ada@example.com" })
        #expect(phases.first { $0["startup.phase"] == "config_load" }?["duration_ms"] == "100")
        let started = logs.filter { $0["event.name"] == "codex.session_started" }
        #expect(started.map { $0["conversation.id"] } == ["s-1", "s-2"])
        #expect(started.allSatisfy { Int($0["process.age_ms"] ?? "") ?? 0 >= 500 })

        let spans = collector.items("traces")
        func span(_ name: String) -> [String: Any]? { spans.first { $0["name"] as? String == name } }
        let root = try #require(span("process_startup"))
        let config = try #require(span("config_load"))
        let auth = try #require(span("authentication"))
        #expect(config["parentSpanId"] as? String == root["spanId"] as? String)
        #expect(auth["parentSpanId"] as? String == root["spanId"] as? String)
        #expect(config["startTimeUnixNano"] as? String == String(now - 400 * Self.ms))
        #expect(config["endTimeUnixNano"] as? String == String(now - 300 * Self.ms))
        #expect(root["startTimeUnixNano"] as? String == String(now - 500 * Self.ms))
        #expect((auth["status"] as? [String: Any])?["code"] as? String == "STATUS_CODE_ERROR")
        let points = collector.items("metrics").filter { $0["name"] as? String == "codex.startup.phase.duration_ms" }
        #expect(!points.isEmpty)
    }

    @Test func aProcessThatNeverCreatesASessionExportsItsPreSessionPhasesAtShutdown() async throws {
        let recorder = StartupRecorder()
        recorder.recordProcessStart()
        try recorder.measure(.configurationLoad) { () throws(TelemetrySettingsError) in
            _ = try TelemetrySettings.load(toml: "[otel]\nservice_name = \"x\"\n")
        }
        let telemetry = try #require(try TelemetryProvider.make(settings: inMemorySettings(), startupRecorder: recorder))
        try await telemetry.shutdown(timeout: .seconds(10))
        let spans = try #require(telemetry.inMemorySpans).spans
        #expect(Set(spans.map(\.name)) == ["process_start", "config_load", "process_startup"])
        let root = try #require(spans.first { $0.name == "process_startup" })
        #expect(spans.filter { $0.name != "process_startup" }.allSatisfy { $0.parentSpanID == root.context.spanID })
        #expect(root.startTimeUnixNano == recorder.processStartUnixNano)
        let logs = try #require(telemetry.inMemoryLogs).records
        #expect(logs.filter { $0.eventName == "codex.startup_phase" }.count == 3)
        #expect(recorder.pendingPhases.isEmpty)
    }

    @Test func aReleasedTelemetryWithoutASessionStillExportsItsPreSessionPhases() async throws {
        let recorder = StartupRecorder()
        recorder.record(.authentication, since: MetricsClient.wallClockNanoseconds() - 20 * Self.ms)
        var spans: InMemorySpanExporter?
        do {
            let telemetry = try #require(try TelemetryProvider.make(settings: inMemorySettings(), startupRecorder: recorder))
            spans = telemetry.inMemorySpans
        }
        let exporter = try #require(spans)
        #expect(await eventually { exporter.isShutDown })
        #expect(Set(exporter.spans.map(\.name)) == ["authentication", "process_startup"])
    }

    @Test func prewarmPhasesAreChildSpansOfPrewarmTotalWithTheirRealStartAndEnd() async throws {
        let telemetry = try #require(try TelemetryProvider.make(settings: inMemorySettings(), startupRecorder: StartupRecorder()))
        let session = telemetry.sessionTelemetry(metadata: Self.metadata)
        let t0: UInt64 = 1_700_000_000_000_000_000
        session.startupPhase(.threadStartCreateThread, startUnixNano: t0, endUnixNano: t0 + 35 * Self.ms)
        session.startupPhase(.prewarmCreateTurnContext, startUnixNano: t0 + 35 * Self.ms, endUnixNano: t0 + 80 * Self.ms)
        session.startupPhase(.prewarmBuildTools, startUnixNano: t0 + 80 * Self.ms, endUnixNano: t0 + 220 * Self.ms,
                             status: .failed)
        session.startupPhase(.prewarmTotal, startUnixNano: t0 + 35 * Self.ms, endUnixNano: t0 + 240 * Self.ms)
        try await telemetry.shutdown(timeout: .seconds(10))

        let spans = try #require(telemetry.inMemorySpans).spans
        let total = try #require(spans.first { $0.name == "startup_prewarm_total" })
        let context = try #require(spans.first { $0.name == "startup_prewarm_create_turn_context" })
        let tools = try #require(spans.first { $0.name == "startup_prewarm_build_tools" })
        let thread = try #require(spans.first { $0.name == "thread_start_create_thread" })
        #expect(context.parentSpanID == total.context.spanID && tools.parentSpanID == total.context.spanID)
        #expect(thread.parentSpanID == nil && total.parentSpanID == nil)
        #expect(Set(spans.map(\.context.traceID)).count == 1)
        #expect(context.startTimeUnixNano == t0 + 35 * Self.ms && context.endTimeUnixNano == t0 + 80 * Self.ms)
        #expect(tools.status == .error(description: "failed"))
        #expect(total.events.map(\.name) == ["codex.startup_phase"])
        #expect(!total.events[0].attributes.contains { $0.key == "user.email" })

        let text = Waterfall.render(spans.map(WaterfallSpan.init), barWidth: 24)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "startup waterfall: 4 spans, 0–240.0 ms")
        #expect(lines.dropFirst().map { $0.split(separator: " ").first.map(String.init) ?? "" }
            == ["thread_start_create_thread", "startup_prewarm_total", "startup_prewarm_create_turn_context", "startup_prewarm_build_tools"])
        #expect(lines[3].hasPrefix("  startup_prewarm_create_turn_context"))
        #expect(lines[4].hasSuffix("✗ error"))
    }

    @Test func phasesReportedInsideAnUnsampledTraceFollowItsDecision() async throws {
        let telemetry = try #require(try TelemetryProvider.make(settings: inMemorySettings(), startupRecorder: StartupRecorder()))
        let session = telemetry.sessionTelemetry(metadata: Self.metadata)
        W3CPropagation.continueTrace(traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", tracestate: nil) { _ in
            session.startupPhase(.threadStartCreateThread, duration: .milliseconds(3))
        }
        session.startupPhase(.prewarmTotal, duration: .milliseconds(5))  // same start-up trace: also unsampled
        try await telemetry.shutdown(timeout: .seconds(10))
        #expect(try #require(telemetry.inMemorySpans).spans.isEmpty)
        #expect(try #require(telemetry.inMemoryLogs).records.filter { $0.eventName == "codex.startup_phase" }.count == 2)
    }
}
