import Testing
@testable import Telemetry
@testable import TelemetrySession

@Suite("SessionTelemetry through a TelemetryProvider (in-memory exporters)")
struct SessionTelemetryProviderTests {
    @Test func traceViewsBecomeEventsOnTheCurrentSpanAndStayTraceSafe() async throws {
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

        // Inside a recording span, the trace views are events on that span, not spans of their
        // own; a start-up phase is a span (in that span's trace) carrying its event.
        let exported = spans.spans
        #expect(exported.map(\.name) == ["startup_prewarm_websocket_warmup", "turn"])
        let turn = try #require(exported.last)
        let phase = try #require(exported.first)
        // In the turn's trace, under the span startup_prewarm_total will have (a prewarm phase).
        #expect(phase.context.traceID == turn.context.traceID && phase.parentSpanID != nil)
        #expect(phase.endTimeUnixNano - phase.startTimeUnixNano == 160_000_000)
        #expect(phase.status == .error(description: "failed"))
        #expect(turn.events.map(\.name) == ["codex.user_prompt"])
        #expect(phase.events.map(\.name) == ["codex.startup_phase"])
        for event in turn.events + phase.events {
            let keys = Set(event.attributes.map(\.key))
            #expect(keys.isDisjoint(with: SessionTelemetry.personalDataKeys), "\(event.name): \(keys)")
            #expect(!event.attributes.contains { $0.value == .string("top secret") })
        }
        #expect(!turn.attributes.contains { SessionTelemetry.personalDataKeys.contains($0.key) })
        let phaseEvent = try #require(phase.events.last)
        #expect(phaseEvent.attributes.first { $0.key == "duration_ms" }?.value == .int(160))
        #expect(phaseEvent.attributes.first { $0.key == "startup.phase" }?.value == .string("startup_prewarm_websocket_warmup"))
        #expect(phaseEvent.timeUnixNano == records.last?.timeUnixNano)
    }

    @Test func withoutACurrentSpanATraceViewBecomesAZeroLengthTraceSafeSpan() async throws {
        let spans = InMemorySpanExporter()
        let provider = TelemetryProvider(resource: Resource(serviceName: "codex-cli"), spanExporters: [spans])
        let telemetry = SessionTelemetry(
            metadata: SessionMetadata(sessionID: "conv-4", model: "m", slug: "s", accountID: "acct-1", accountEmail: "a@example.com",
                                      originator: "cli", sessionSource: "exec", appVersion: "1"),
            provider: provider)
        telemetry.turnTTFT(.milliseconds(42))
        // A span that ended: its scope is over, so the event may not land on it either.
        provider.tracer("app").withSpan("done") { _ in }
        try await provider.shutdown(timeout: .seconds(10))
        let exported = spans.spans
        let eventSpan = try #require(exported.first { $0.name == "codex.turn_ttft" })
        #expect(eventSpan.parentSpanID == nil)
        #expect(eventSpan.startTimeUnixNano == eventSpan.endTimeUnixNano)
        #expect(eventSpan.events.map(\.name) == ["codex.turn_ttft"])
        let keys = Set(eventSpan.attributes.map(\.key) + eventSpan.events.flatMap { $0.attributes.map(\.key) })
        #expect(keys.isDisjoint(with: SessionTelemetry.personalDataKeys))
        #expect(exported.first { $0.name == "done" }?.events.isEmpty == true)
    }

    @Test func eventsLandOnTheInnermostRecordingSpanAndNotOnANonRecordingOne() async throws {
        let spans = InMemorySpanExporter()
        let provider = TelemetryProvider(resource: Resource(serviceName: "codex-cli"), spanExporters: [spans])
        let tracer = provider.tracer("app")
        let telemetry = SessionTelemetry(
            metadata: SessionMetadata(sessionID: "conv-5", model: "m", slug: "s", originator: "cli", sessionSource: "exec", appVersion: "1"),
            provider: provider)
        tracer.withSpan("outer") { _ in
            tracer.withSpan("inner") { _ in telemetry.turnTTFT(.milliseconds(1)) }
            telemetry.turnTTFM(.milliseconds(2))
        }
        // An unsampled span is not recording: the event gets a span of its own (also unsampled here,
        // so nothing is exported), never silently attached to an outer recording span.
        let unsampled = TelemetryProvider(resource: Resource(serviceName: "x"), spanExporters: [spans], sampler: .alwaysOff)
        let offTelemetry = SessionTelemetry(
            metadata: SessionMetadata(sessionID: "conv-6", model: "m", slug: "s", originator: "cli", sessionSource: "exec", appVersion: "1"),
            provider: unsampled)
        tracer.withSpan("sampled-outer") { _ in
            unsampled.tracer("off").withSpan("off") { span in
                let recording = span.isRecording
                #expect(!recording)
                #expect(!TraceContext.addEventToCurrentSpan("direct"))
                offTelemetry.turnTTFT(.milliseconds(3))
            }
        }
        try await unsampled.shutdown(timeout: .seconds(10))
        try await provider.shutdown(timeout: .seconds(10))
        let byName = Dictionary(uniqueKeysWithValues: spans.spans.map { ($0.name, $0) })
        #expect(byName["inner"]?.events.map(\.name) == ["codex.turn_ttft"])
        #expect(byName["outer"]?.events.map(\.name) == ["codex.turn_ttfm"])
        #expect(byName["sampled-outer"]?.events.isEmpty == true)
        #expect(Set(byName.keys) == ["inner", "outer", "sampled-outer"])
    }

    @Test func eventsAddedFromManyChildTasksAllLandOnTheSpanWithinItsLimits() async throws {
        let spans = InMemorySpanExporter()
        let provider = TelemetryProvider(resource: Resource(serviceName: "codex-cli"), spanExporters: [spans])
        let accepted = await provider.tracer("app").withSpan("fan-out") { _ in
            await withTaskGroup(of: Int.self) { group in
                for task in 0..<8 {
                    group.addTask {
                        var added = 0
                        for i in 0..<50 where TraceContext.addEventToCurrentSpan("e\(task)-\(i)") { added += 1 }
                        return added
                    }
                }
                return await group.reduce(0, +)
            }
        }
        // After the scope: the inbox is closed, nothing more lands on the span.
        let late = provider.tracer("app").withSpan("other") { _ in 0 }
        #expect(late == 0)
        try await provider.shutdown(timeout: .seconds(10))
        let span = try #require(spans.spans.first { $0.name == "fan-out" })
        #expect(accepted == 400)
        #expect(span.events.count == min(400, AttributeLimits().eventCountLimit))
        #expect(span.events.count + Int(span.droppedEventsCount) == 400)
    }
}
