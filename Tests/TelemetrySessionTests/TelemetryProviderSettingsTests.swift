import CoreMetrics
import Foundation
import Logging
import OTLPExporter
import OTLPTestSupport
import Testing
import Telemetry
import TelemetryCore
import TelemetrySession
import TelemetryPipeline
import Tracing

/// `TelemetryProvider.make(settings:)`: exporters wired per signal from settings, the process-wide
/// default, and shutdown flushing everything.
@Suite("TelemetryProvider from settings", .serialized)
struct TelemetryProviderSettingsTests {
    static let metadata = SessionMetadata(
        sessionID: "s-1", model: "gpt-5.1", slug: "gpt-5.1", accountID: "acct-42", accountEmail: "ada@example.com",
        authMode: "api_key", originator: "tests", sessionSource: "cli", appVersion: "1.0.0")

    @Test func everyExporterNoneGivesNoProvider() throws {
        #expect(try TelemetryProvider.make(settings: TelemetrySettings()) == nil)
    }

    @Test func invalidSettingsAreRejectedWithTheKey() {
        var settings = TelemetrySettings(namespace: "bad namespace!")
        settings.traceExporter = .inMemory
        #expect(throws: TelemetrySettingsError.self) { try TelemetryProvider.make(settings: settings) }
    }

    @Test func onlyConfiguredSignalsGetExporters() async throws {
        var settings = TelemetrySettings(serviceName: "svc")
        settings.traceExporter = .inMemory
        let telemetry = try #require(try TelemetryProvider.make(settings: settings))
        #expect(telemetry.inMemorySpans != nil)
        #expect(telemetry.inMemoryLogs == nil)
        #expect(telemetry.inMemoryMetrics == nil)
        #expect(telemetry.metrics == nil)
        try await telemetry.shutdown(timeout: .seconds(5))
    }

    @Test func inMemoryExportersReceiveSessionEventsMetricsAndSpanAttributes() async throws {
        var settings = TelemetrySettings(environment: "test", serviceName: "my-agent", serviceVersion: "2.0.0")
        settings.traceExporter = .inMemory
        settings.logExporter = .inMemory
        settings.metricsExporter = .inMemory
        settings.spanAttributes = ["team": "core"]
        let telemetry = try #require(try TelemetryProvider.make(settings: settings))
        let session = telemetry.sessionTelemetry(metadata: Self.metadata)
        session.startupPhase(.threadStartCreateThread, duration: .milliseconds(12))
        session.turnTTFT(.milliseconds(640), turnID: "t-1")
        try await telemetry.shutdown(timeout: .seconds(5))

        let logs = try #require(telemetry.inMemoryLogs).records
        #expect(logs.compactMap(\.eventName) == ["codex.startup_phase", "codex.turn_ttft"])
        #expect(logs.allSatisfy { record in record.attributes.contains { $0.key == "user.email" } })
        let spans = try #require(telemetry.inMemorySpans).spans
        #expect(spans.count == 2)
        #expect(spans.allSatisfy { span in !span.attributes.contains { $0.key == "user.email" } })
        #expect(spans.allSatisfy { span in span.attributes.contains { $0.key == "team" && $0.value == .string("core") } })
        let batches = try #require(telemetry.inMemoryMetrics).batches
        let names = Set(batches.flatMap { $0.metrics.map(\.name) })
        #expect(names == ["codex.startup.phase.duration_ms", "codex.turn.ttft.duration_ms"])
        #expect(try #require(batches.first).resource["service.name"] == .string("my-agent"))
        let logBatches = try #require(telemetry.inMemoryLogs).batches
        let resource = try #require(logBatches.first).resource
        #expect(resource["service.name"] == .string("my-agent"))
        #expect(resource["service.version"] == .string("2.0.0"))
        #expect(resource["deployment.environment"] == .string("test"))
    }

    @Test func installAsDefaultSetsCurrentAndShutdownClearsIt() async throws {
        var settings = TelemetrySettings()
        settings.logExporter = .inMemory
        let first = try #require(try TelemetryProvider.make(settings: settings))
        let second = try #require(try TelemetryProvider.make(settings: settings))
        first.installAsDefault(backends: [])
        #expect(ConfiguredTelemetry.current === first)
        second.installAsDefault(backends: [])
        #expect(ConfiguredTelemetry.current === second)
        try await first.shutdown(timeout: .seconds(5))
        #expect(ConfiguredTelemetry.current === second)
        try await second.shutdown(timeout: .seconds(5))
        #expect(ConfiguredTelemetry.current == nil)
        // Idempotent.
        try await second.shutdown(timeout: .seconds(5))
    }

    /// The one test that bootstraps swift-log, swift-metrics and swift-distributed-tracing (once
    /// per process). Other suites' swift-log messages may reach the installed provider while it is
    /// installed, so records are matched by a marker.
    @Test func installAsDefaultBootstrapsTheEcosystemOnceAndItsBackEndsFollowTheCurrentProvider() async throws {
        var settings = TelemetrySettings(serviceName: "bootstrapped")
        settings.traceExporter = .inMemory
        settings.logExporter = .inMemory
        settings.metricsExporter = .inMemory
        let marker = UUID().uuidString
        let first = try #require(try TelemetryProvider.make(settings: settings, installAsDefault: .all))
        #expect(ConfiguredTelemetry.current === first)
        #expect(ConfiguredTelemetry.bootstrappedBackends == .all)
        let logger = Logger(label: "bootstrap-test")
        logger.info("first", metadata: ["marker": "\(marker)"])
        CoreMetrics.Counter(label: "bootstrap.counter", dimensions: [("marker", marker)]).increment(by: 2)
        let spanID = InstrumentationSystem.tracer.withSpan("bootstrap-span", context: .topLevel) { span in
            logger.info("inside", metadata: ["marker": "\(marker)"])
            return (span as? DistributedSpan)?.spanContext.spanID
        }
        try await first.shutdown(timeout: .seconds(10))
        #expect(ConfiguredTelemetry.current == nil)

        let firstLogs = try #require(first.inMemoryLogs).records.filter { $0.attributes.contains { $0.value == .string(marker) } }
        #expect(firstLogs.map(\.body) == [.string("first"), .string("inside")])
        #expect(firstLogs.last?.spanID == spanID && spanID != nil)
        #expect(firstLogs.first?.scope.name == "bootstrap-test")
        let span = try #require(first.inMemorySpans?.spans.first { $0.name == "bootstrap-span" })
        #expect(span.context.spanID == spanID)
        #expect(span.scope.name == "swift-distributed-tracing")
        let counter = try #require(first.inMemoryMetrics).metrics.first { $0.name == "bootstrap.counter" }
        guard case .sum(_, _, let points)? = counter?.points else {
            Issue.record("no bootstrap.counter sum: \(String(describing: counter))")
            return
        }
        #expect(points.map(\.value) == [.int(2)])

        // A second provider: installing it does not bootstrap again (that would crash), and the
        // back-ends follow it.
        let second = try #require(try TelemetryProvider.make(settings: settings, installAsDefault: .all))
        logger.info("second", metadata: ["marker": "\(marker)"])
        InstrumentationSystem.tracer.withSpan("second-span", context: .topLevel) { _ in }
        try await second.shutdown(timeout: .seconds(10))
        let secondLogs = try #require(second.inMemoryLogs).records.filter { $0.attributes.contains { $0.value == .string(marker) } }
        #expect(secondLogs.map(\.body) == [.string("second")])
        #expect(second.inMemorySpans?.spans.map(\.name).contains("second-span") == true)
        #expect(first.inMemorySpans?.spans.map(\.name).contains("second-span") == false)

        // Nothing installed: spans are not recording (but still a valid no-op), logs go to stderr.
        InstrumentationSystem.tracer.withSpan("after", context: .topLevel) { span in #expect(!span.isRecording) }
    }

    /// The README quickstart's flow with the ecosystem back-ends installed, exported over OTLP/gRPC
    /// to the Python collector: a swift-distributed-tracing span with the configured span
    /// attributes and tracestate and the session's trace view as its event, a swift-log record
    /// correlated with it, a swift-metrics counter.
    @Test(PythonPeers.trait) func ecosystemBackEndsExportOverOTLPGRPCToThePythonCollector() async throws {
        let (collector, endpoint) = try await startDetailCollector()
        defer { collector.kill() }
        var settings = TelemetrySettings(serviceName: "ecosystem-agent")
        settings.traceExporter = .otlpGRPC(signal: .traces, endpoint: endpoint)
        settings.metricsExporter = .otlpGRPC(signal: .metrics, endpoint: endpoint)
        settings.logExporter = .otlpGRPC(signal: .logs, endpoint: endpoint)
        settings.spanAttributes = ["team": "core"]
        settings.tracestate = try ConfiguredTraceState(["example": ["alpha": "one"]])
        let marker = UUID().uuidString

        let telemetry = try #require(try TelemetryProvider.make(settings: settings, installAsDefault: .all))
        let session = telemetry.sessionTelemetry(metadata: Self.metadata)
        let logger = Logger(label: "readme")
        var outgoing: [String: String] = [:]
        try await InstrumentationSystem.tracer.withSpan("turn", context: .topLevel) { _ in
            try await Task.sleep(for: .milliseconds(1))
            logger.info("turn started", metadata: ["marker": "\(marker)"])
            session.turnTTFT(.milliseconds(640), turnID: "t-1")
            InstrumentationSystem.tracer.inject(InstrumentationContext.current ?? .topLevel, into: &outgoing, using: DictionaryInjector())
        }
        CoreMetrics.Counter(label: "readme.requests", dimensions: [("marker", marker)]).increment(by: 3)
        try await telemetry.shutdown(timeout: .seconds(10))
        for exporter in telemetry.otlpExporters {
            #expect(exporter.counts.failed == 0 && exporter.counts.dropped == 0, "\(exporter.configuration.signal): \(exporter.counts)")
        }

        let (spans, logs, points) = try await acceptedItems(of: collector) { spans, logs, points in
            spans.contains(where: { $0["key"] as? String == "turn" }) && logs.count >= 2
                && points.contains(where: { ($0["key"] as? String)?.hasPrefix("readme.requests:") == true })
        }

        let turn = try #require(spans.first { $0["key"] as? String == "turn" })
        let turnSpanID = try #require(turn["span_id"] as? String)
        #expect(turn["scope"] as? String == "swift-distributed-tracing")
        #expect((turn["attrs"] as? [String: Any])?["team"] as? String == "core")
        #expect(turn["trace_state"] as? String == "example=alpha:one")
        let events = turn["events"] as? [[String: Any]] ?? []
        #expect(events.map { $0["name"] as? String } == ["codex.turn_ttft"])
        #expect(events.allSatisfy { ($0["attrs"] as? [String: Any])?["user.email"] == nil })
        #expect((events.first?["attrs"] as? [String: Any])?["duration_ms"] as? Int == 640)
        #expect(spans.count == 1, "no zero-length event spans: \(spans.map { $0["key"] ?? "?" })")
        let started = try #require(logs.first { $0["key"] as? String == "turn started" })
        #expect(started["span_id"] as? String == turnSpanID)
        #expect((started["attrs"] as? [String: Any])?["marker"] as? String == marker)
        let ttftLog = try #require(logs.first { $0["key"] as? String == "codex.turn_ttft" })
        #expect(ttftLog["span_id"] as? String == turnSpanID)
        #expect((ttftLog["attrs"] as? [String: Any])?["user.email"] as? String == "ada@example.com")
        #expect(points.contains { $0["key"] as? String == "readme.requests:3" })
        #expect(outgoing["traceparent"]?.contains("-\(turnSpanID)-") == true)
        #expect(outgoing["tracestate"] == "example=alpha:one")
    }

    @Test(PythonPeers.trait) func sessionOverOTLPGRPCArrivesAtThePythonCollector() async throws {
        let (collector, endpoint) = try await startDetailCollector()
        defer { collector.kill() }

        var settings = TelemetrySettings(serviceName: "grpc-agent")
        for signal in TelemetrySignal.allCases {
            let exporter = TelemetryExporter.otlpGRPC(signal: signal, endpoint: endpoint)
            switch signal {
            case .traces: settings.traceExporter = exporter
            case .metrics: settings.metricsExporter = exporter
            case .logs: settings.logExporter = exporter
            }
        }
        let telemetry = try #require(try TelemetryProvider.make(settings: settings))
        let session = telemetry.sessionTelemetry(metadata: Self.metadata)
        for phase in StartupPhase.seedPhases { session.startupPhase(phase, duration: .milliseconds(10)) }
        session.turnTTFT(.milliseconds(300))
        try await telemetry.shutdown(timeout: .seconds(10))
        for exporter in telemetry.otlpExporters {
            #expect(exporter.counts.failed == 0 && exporter.counts.dropped == 0, "\(exporter.configuration.signal): \(exporter.counts)")
        }

        let (spans, logs, points) = try await acceptedItems(of: collector) { spans, logs, points in
            spans.count >= 8 && logs.count >= 8 && !points.isEmpty
        }
        #expect(spans.count == 8)
        #expect(logs.count == 8)
        let logAttributes = logs.map { $0["attrs"] as? [String: Any] ?? [:] }
        #expect(logAttributes.allSatisfy { $0["user.email"] as? String == "ada@example.com" })
        #expect(spans.allSatisfy { (($0["attrs"] as? [String: Any]) ?? [:])["user.email"] == nil })
        let phases = logAttributes.compactMap { $0["startup.phase"] as? String }
        #expect(phases == StartupPhase.seedPhases.map(\.name))
        let metricNames = Set(points.compactMap { ($0["key"] as? String)?.split(separator: ":").first.map(String.init) })
        #expect(metricNames == ["codex.startup.phase.duration_ms", "codex.turn.ttft.duration_ms"])
        let resource = try #require(spans.first?["resource"] as? [String: Any])
        #expect(resource["service.name"] as? String == "grpc-agent")
    }
}

/// The items the Python collector printed as `{"accepted": signal, "items": [...]}` lines: spans,
/// log records and metric points. Its stdout reaches us through a pipe reader that may lag under
/// load, so the lines are parsed again until `done` holds (or 10 s pass).
private func acceptedItems(
    of collector: ChildProcess, until done: ([[String: Any]], [[String: Any]], [[String: Any]]) -> Bool
) async throws -> (spans: [[String: Any]], logs: [[String: Any]], points: [[String: Any]]) {
    var spans: [[String: Any]] = [], logs: [[String: Any]] = [], points: [[String: Any]] = []
    let end = Date().addingTimeInterval(10)
    repeat {
        (spans, logs, points) = ([], [], [])
        for line in collector.stdoutSoFar.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let signal = object["accepted"] as? String, let items = object["items"] as? [[String: Any]] else { continue }
            switch signal {
            case "traces": spans += items
            case "logs": logs += items
            default: points += items
            }
        }
        if done(spans, logs, points) { break }
        try await Task.sleep(for: .milliseconds(50))
    } while Date() < end
    return (spans, logs, points)
}

/// Starts the Python fault collector printing each accepted item (`--detail`) on a free port;
/// returns it with its `http://127.0.0.1:PORT` endpoint.
private func startDetailCollector() async throws -> (ChildProcess, String) {
    let script = TestEnvironment.repositoryRoot.appendingPathComponent("tools/peers/fault_collector.py").path
    let collector = try startGuardedPeer(TestEnvironment.python, ["-u", script, "--port", "0", "--detail"])
    do {
        let banner = try await collector.waitForOutput(containing: "{\"listening\"", timeout: 20)
        let portLine = try #require(banner.split(separator: "\n").first { $0.hasPrefix("{\"listening\"") })
        let port = try #require(try JSONSerialization.jsonObject(with: Data(portLine.utf8)) as? [String: Any])["listening"] as? Int
        return (collector, "http://127.0.0.1:\(try #require(port))")
    } catch {
        collector.kill()
        throw error
    }
}
