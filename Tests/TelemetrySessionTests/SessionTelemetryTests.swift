import Testing
@testable import Telemetry
@testable import TelemetrySession

@Suite("SessionTelemetry events and metrics (in-memory)")
struct SessionTelemetryTests {
    static let fixedTime: UInt64 = 1_764_000_000_123_456_789  // 2025-11-24T16:00:00.123Z

    struct Harness {
        let telemetry: SessionTelemetry
        let sink: InMemorySessionEventSink
        let metrics: MetricsClient
        let exporter: MetricsClient.InMemoryExporter
    }

    func makeHarness(logUserPrompts: Bool = false, metadataTags: Bool = true, namespace: String = "codex") throws -> Harness {
        let metadata = SessionMetadata(
            sessionID: "conv-1", model: "gpt-5.1", slug: "gpt-5.1-codex", accountID: "acct-42",
            accountEmail: "dev@example.com", authMode: "chatgpt", originator: "codex_cli_rs", terminalType: "xterm",
            sessionSource: "exec", appVersion: "0.9.0", serviceName: "codex-cli", logUserPrompts: logUserPrompts)
        let sink = InMemorySessionEventSink()
        let exporter = MetricsClient.InMemoryExporter()
        let metrics = try MetricsClient(.inMemory(serviceName: "codex-cli", exporter: exporter))
        let telemetry = SessionTelemetry(
            metadata: metadata, namespace: namespace, sink: sink, metrics: metrics, metricsUseMetadataTags: metadataTags,
            now: { Self.fixedTime })
        return Harness(telemetry: telemetry, sink: sink, metrics: metrics, exporter: exporter)
    }

    static let metadataTags = [
        "auth_mode": "chatgpt", "session_source": "exec", "originator": "codex_cli_rs", "service_name": "codex-cli",
        "model": "gpt-5.1", "app.version": "0.9.0",
    ]

    func histogram(_ h: Harness, _ name: String) -> [MetricsClient.HistogramPoint] {
        if case .histogram(let points, _)? = h.metrics.snapshot().metric(named: name)?.data { return points }
        return []
    }

    func sum(_ h: Harness, _ name: String) -> [MetricsClient.SumPoint] {
        if case .sum(let points, _)? = h.metrics.snapshot().metric(named: name)?.data { return points }
        return []
    }

    @Test func startupPhaseEventHasExactFieldsInBothViews() throws {
        let h = try makeHarness()
        h.telemetry.startupPhase(.prewarmBuildTools, duration: .milliseconds(37), status: .success)
        let log = try #require(h.sink.logs.first)
        #expect(log.name == "codex.startup_phase")
        #expect(log.timeUnixNano == Self.fixedTime)
        #expect(log.keys == [
            "event.name", "event.timestamp", "startup.phase", "startup.status", "duration_ms", "conversation.id",
            "app.version", "auth_mode", "originator", "user.account_id", "user.email", "terminal.type", "model", "slug",
            "session_source",
        ])
        #expect(log["event.name"] == .string("codex.startup_phase"))
        #expect(log["event.timestamp"] == .string("2025-11-24T16:00:00.123Z"))
        #expect(log["startup.phase"] == .string("startup_prewarm_build_tools"))
        #expect(log["startup.status"] == .string("success"))
        #expect(log["duration_ms"] == .int(37))
        #expect(log["user.account_id"] == .string("acct-42"))
        #expect(log["user.email"] == .string("dev@example.com"))

        let span = try #require(h.sink.spanEvents.first)
        #expect(span.keys == [
            "event.name", "event.timestamp", "startup.phase", "startup.status", "duration_ms", "conversation.id",
            "app.version", "auth_mode", "originator", "terminal.type", "model", "slug", "session_source",
        ])

        let points = histogram(h, "codex.startup.phase.duration_ms")
        #expect(points.count == 1)
        #expect(points.first?.attributes == Self.metadataTags.merging(["phase": "startup_prewarm_build_tools", "status": "success"]) { $1 })
        #expect(points.first?.sum == 37)
        #expect(points.first?.explicitBounds == MetricsClient.durationBucketsMilliseconds)
        #expect(h.telemetry.warningCount == 0)
    }

    @Test func seedStartupScenarioEmitsEveryPhaseAndTheTTFT() throws {
        let h = try makeHarness()
        for (index, phase) in StartupPhase.seedPhases.enumerated() {
            h.telemetry.startupPhase(phase, duration: .milliseconds(10 * (index + 1)))
        }
        h.telemetry.turnTTFT(.milliseconds(840), turnID: "turn-1")
        #expect(h.sink.logs.map(\.name) == Array(repeating: "codex.startup_phase", count: 7) + ["codex.turn_ttft"])
        #expect(h.sink.logs.prefix(7).map { $0["startup.phase"] } == StartupPhase.seedPhases.map { .string($0.name) })
        let phases = histogram(h, "codex.startup.phase.duration_ms")
        #expect(phases.count == 7)
        #expect(Set(phases.compactMap { $0.attributes["phase"] }) == Set(StartupPhase.seedPhases.map(\.name)))
        let ttft = try #require(h.sink.spanEvents.last)
        #expect(ttft.name == "codex.turn_ttft")
        #expect(ttft["duration_ms"] == .int(840))
        #expect(ttft["turn.id"] == .string("turn-1"))
        #expect(histogram(h, "codex.turn.ttft.duration_ms").first?.sum == 840)
    }

    @Test func personalDataNeverReachesSpanEvents() throws {
        let h = try makeHarness(logUserPrompts: true)
        let t = h.telemetry
        t.conversationStarts(providerName: "openai", approvalPolicy: "on-request", sandboxPolicy: "workspace-write",
            mcpServers: ["secret-server"], activeProfile: "work")
        t.userPrompt([.text("my secret plan"), .image(url: "https://x")])
        t.apiRequest(attempt: 1, status: 200, duration: .milliseconds(5))
        t.websocketConnect(duration: .milliseconds(3))
        t.websocketRequest(duration: .milliseconds(4))
        t.websocketEvent(kind: "response.created", duration: .milliseconds(1))
        t.sseEvent(kind: "response.output_text.delta", duration: .milliseconds(1))
        t.sseEventCompleted(inputTokens: 10, outputTokens: 20)
        t.toolDecision(toolName: "shell", callID: "c1", decision: "Approved", source: "user")
        t.toolResult(toolName: "shell", callID: "c1", arguments: "{\"cmd\":\"cat secrets\"}", duration: .milliseconds(9),
            success: true, output: "line1\nline2\n")
        t.startupPhase(.prewarmTotal, duration: .milliseconds(1))
        t.turnTTFT(.milliseconds(2))
        t.turnTTFM(.milliseconds(3))
        t.startTurnTimer().stop()
        #expect(h.sink.spanEvents.count == 14)
        #expect(h.sink.logs.count == 14)
        for event in h.sink.spanEvents {
            #expect(Set(event.keys).isDisjoint(with: SessionTelemetry.personalDataKeys), "\(event.name): \(event.keys)")
            for (_, value) in event.attributes {
                #expect(!value.description.contains("dev@example.com"))
                #expect(!value.description.contains("acct-42"))
                #expect(!value.description.contains("secret"))
            }
        }
        // The log view does carry them.
        let prompt = try #require(h.sink.logs.first { $0.name == "codex.user_prompt" })
        #expect(prompt["prompt"] == .string("my secret plan"))
        #expect(prompt["user.email"] == .string("dev@example.com"))
    }

    @Test func promptIsRedactedUnlessAllowedAndLengthAlwaysPresent() throws {
        let h = try makeHarness(logUserPrompts: false)
        h.telemetry.userPrompt([.text("hello "), .text("wörld"), .localImage(path: "/a.png")])
        let log = try #require(h.sink.logs.first)
        #expect(log["prompt"] == .string("[REDACTED]"))
        #expect(log["prompt_length"] == .int(11))
        let span = try #require(h.sink.spanEvents.first)
        #expect(span["prompt_length"] == .int(11))
        #expect(span["text_input_count"] == .int(2))
        #expect(span["local_image_input_count"] == .int(1))
        #expect(span["prompt"] == nil)
    }

    @Test func apiRequestRecordsCounterAndDurationWithStatusTags() throws {
        let h = try makeHarness()
        h.telemetry.apiRequest(attempt: 2, status: 503, error: "unavailable", duration: .milliseconds(120))
        h.telemetry.apiRequest(attempt: 1, status: nil, error: "dns", duration: .milliseconds(7))
        let counts = sum(h, "codex.api_request")
        let expected503: [String: String] = Self.metadataTags.merging(["status": "503", "success": "false"]) { $1 }
        let expectedNone: [String: String] = Self.metadataTags.merging(["status": "none", "success": "false"]) { $1 }
        let seen: Set<[String: String]> = Set(counts.map(\.attributes))
        #expect(seen == [expected503, expectedNone])
        #expect(counts.count == 2)
        let log = try #require(h.sink.logs.first)
        #expect(log["attempt"] == .int(2))
        #expect(log["http.response.status_code"] == .int(503))
        #expect(log["error.message"] == .string("unavailable"))
        #expect(log["duration_ms"] == .int(120))
        #expect(h.sink.logs.last?["http.response.status_code"] == nil)
        #expect(histogram(h, "codex.api_request.duration_ms").reduce(UInt64(0)) { $0 + $1.count } == 2)
    }

    @Test func toolResultSplitsContentAndLengths() throws {
        let h = try makeHarness()
        h.telemetry.toolResult(toolName: "apply patch", callID: "c9", arguments: "abc", duration: .milliseconds(15),
            success: false, output: "one\ntwo\nthree", extraTags: ["sandbox": "none"], mcpServer: "fs", mcpServerOrigin: "local")
        let log = try #require(h.sink.logs.first)
        #expect(log["arguments"] == .string("abc"))
        #expect(log["output"] == .string("one\ntwo\nthree"))
        #expect(log["mcp_server"] == .string("fs"))
        let span = try #require(h.sink.spanEvents.first)
        #expect(span["arguments_length"] == .int(3))
        #expect(span["output_length"] == .int(13))
        #expect(span["output_line_count"] == .int(3))
        #expect(span["tool_origin"] == .string("mcp"))
        #expect(span["mcp_tool"] == .bool(true))
        #expect(sum(h, "codex.tool.call").first?.attributes
            == Self.metadataTags.merging(["tool": "apply_patch", "success": "false", "sandbox": "none"]) { $1 })
        #expect(histogram(h, "codex.tool.call.duration_ms").first?.sum == 15)
    }

    @Test func sseCompletedCarriesTokenUsageAndTTFT() throws {
        let h = try makeHarness()
        h.telemetry.sseEventCompleted(inputTokens: 100, outputTokens: 50, cachedTokens: 30, reasoningTokens: nil,
            toolTokens: 5, timeToFirstToken: .milliseconds(640))
        let span = try #require(h.sink.spanEvents.first)
        #expect(span["event.kind"] == .string("response.completed"))
        #expect(span["input_token_count"] == .int(100))
        #expect(span["cached_token_count"] == .int(30))
        #expect(span["reasoning_token_count"] == nil)
        #expect(span["ttft_ms"] == .int(640))
        // The TTFT histogram belongs to turnTTFT, so reporting both counts one TTFT.
        #expect(histogram(h, "codex.turn.ttft.duration_ms").isEmpty)
    }

    @Test func metadataTagsCanBeTurnedOff() throws {
        let h = try makeHarness(metadataTags: false)
        h.telemetry.startupPhase(.prewarmResolve, duration: .milliseconds(1))
        #expect(histogram(h, "codex.startup.phase.duration_ms").first?.attributes
            == ["phase": "startup_prewarm_resolve", "status": "success"])
    }

    @Test func namespaceChangesEventAndMetricNames() throws {
        let h = try makeHarness(namespace: "acme")
        h.telemetry.turnTTFT(.milliseconds(1))
        #expect(h.sink.logs.first?.name == "acme.turn_ttft")
        #expect(!histogram(h, "acme.turn.ttft.duration_ms").isEmpty)
    }

    @Test func customPhasesAreValidatedAndClosedSetIsLowCardinality() throws {
        #expect(try StartupPhase.custom("load_plugins").name == "load_plugins")
        #expect(throws: SessionTelemetryError.self) { try StartupPhase.custom("Load Plugins") }
        #expect(throws: SessionTelemetryError.self) { try StartupPhase.custom("") }
        #expect(throws: SessionTelemetryError.self) { try StartupPhase.custom(String(repeating: "a", count: 65)) }
        #expect(throws: SessionTelemetryError.self) { try StartupStatus.custom("user-123@x") }
        #expect(try StartupStatus.custom("timed_out").name == "timed_out")
    }

    @Test func failuresBecomeCountedWarningsNeverThrows() throws {
        let h = try makeHarness()
        h.telemetry.counter("bad name!", tags: [:])
        h.telemetry.recordDuration("ok", .milliseconds(1), tags: ["bad key": "v"])
        try h.telemetry.shutdownMetrics()
        h.telemetry.startupPhase(.prewarmTotal, duration: .milliseconds(1))  // after shutdown: counted, event still emitted
        #expect(h.telemetry.warningCount == 3)
        #expect(h.sink.logs.count == 1)
        let invalid = SessionTelemetry(metadata: h.telemetry.metadata, namespace: "bad ns", sink: h.sink)
        #expect(invalid.namespace == "codex")
        #expect(invalid.warningCount == 1)
    }

    @Test func turnTimerRecordsOnceOnStopOrRelease() throws {
        let h = try makeHarness()
        let timer = h.telemetry.startTurnTimer(turnID: "t1")
        #expect(timer.stop() != nil)
        #expect(timer.stop() == nil)
        do { _ = h.telemetry.startTurnTimer(turnID: "t2") }
        #expect(h.sink.logs.map(\.name) == ["codex.turn_e2e", "codex.turn_e2e"])
        #expect(h.sink.logs.map { $0["turn.id"] } == [.string("t1"), .string("t2")])
        #expect(histogram(h, "codex.turn.e2e.duration_ms").first?.count == 2)
    }

    @Test func helpers() {
        #expect(SessionTelemetry.rfc3339(0) == "1970-01-01T00:00:00.000Z")
        #expect(SessionTelemetry.rfc3339(951_782_400_999_000_000) == "2000-02-29T00:00:00.999Z")
        #expect(SessionTelemetry.lineCount("") == 0)
        #expect(SessionTelemetry.lineCount("a") == 1)
        #expect(SessionTelemetry.lineCount("a\n") == 1)
        #expect(SessionTelemetry.lineCount("a\nb") == 2)
        #expect(SessionTelemetry.tagSafe("a b/c") == "a_b/c")
        #expect(SessionTelemetry.tagSafe("") == "unknown")
        #expect(SessionTelemetry.ms(.milliseconds(1500)) == 1500)
    }
}
