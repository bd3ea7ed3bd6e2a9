import Foundation
import HTTPTransportCore
import OTLPExporter
import OTLPProto
import OTLPTestSupport
import OTLPWire
import Testing
import TelemetryPipeline
@testable import Telemetry
@testable import TelemetrySession

/// The seed's start-up scenario, exported over OTLP/gRPC (our HTTP/2 transport) to a grpcio
/// collector that decodes with the reference opentelemetry-proto and prints what it received.
@Suite("SessionTelemetry start-up scenario over OTLP/gRPC", PythonPeers.trait)
struct SessionTelemetryExportTests {
    struct Received {
        var metrics: [String: Any]
        var logs: [String: Any]
    }

    /// Runs the scenario, sends metrics and logs, returns what the collector decoded.
    func runScenario() async throws -> Received? {
        let python = TestEnvironment.python
        guard FileManager.default.isExecutableFile(atPath: python) else {
            Issue.record("test peer Python not found at \(python): run tools/setup.sh")
            return nil
        }
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("tools/peers/recording_collector.py").path
        let collector = try startGuardedPeer(python, ["-u", script, "--port", "0"])
        defer { collector.kill() }
        let banner = try await collector.waitForOutput(containing: "listening on ", timeout: 20)
        let portLine = try #require(banner.split(separator: "\n").first { $0.hasPrefix("listening on ") })
        let port = try #require(UInt16(portLine.dropFirst("listening on ".count).trimmingCharacters(in: .whitespaces)))

        // The session records into a provider (its metric and log exporters keep the batches);
        // the collector gets them as the OTLP exporters would send them.
        let metricExporter = InMemoryMetricExporter()
        let logExporter = InMemoryLogExporter()
        var configuration = PipelineConfiguration()
        configuration.metrics.temporality = .delta
        let provider = TelemetryProvider(
            resource: Resource(serviceName: "codex-cli", serviceVersion: "0.9.0"), metricExporters: [metricExporter],
            logExporters: [logExporter], configuration: configuration)
        let metrics = try MetricsClient(meter: provider.meter(MetricsClient.scopeName))
        let telemetry = SessionTelemetry(
            metadata: SessionMetadata(
                sessionID: "conv-7", model: "gpt-5.1", slug: "gpt-5.1-codex", accountID: "acct-42",
                accountEmail: "dev@example.com", authMode: "chatgpt", originator: "codex_exec", terminalType: "xterm",
                sessionSource: "exec", appVersion: "0.9.0", serviceName: "codex-cli"),
            provider: provider, metrics: metrics)
        let durations = [45, 310, 20, 85, 12, 160, 30]
        for (phase, ms) in zip(StartupPhase.seedPhases, durations) {
            telemetry.startupPhase(phase, duration: .milliseconds(ms))
        }
        telemetry.turnTTFT(.milliseconds(1320), turnID: "turn-1")
        try await provider.shutdown(timeout: .seconds(10))
        let metricBatch = MetricBatch(resource: provider.resource, metrics: metricExporter.metrics)
        let logBatch = LogBatch(resource: provider.resource, records: logExporter.records)

        let client = try GRPCClient(configuration: HTTP2ClientConfiguration(
            endpoint: Endpoint(host: "127.0.0.1", port: port, useTLS: false)))
        defer { client.shutdown(graceful: false) }
        let metricsResult = await client.unary(
            path: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            message: metricBatch.makeRequest().serializedBytes(), timeout: .seconds(10))
        #expect(try metricsResult.get().code == .ok)
        let logsResult = await client.unary(
            path: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            message: logBatch.makeRequest().serializedBytes(), timeout: .seconds(10))
        #expect(try logsResult.get().code == .ok)

        // Wait (bounded) for both requests to be printed. Only whole lines count: the pipe reader
        // may hand over the last line in pieces under load.
        var lines: [Substring] = []
        for _ in 0..<400 {
            let output = collector.stdoutSoFar
            let whole = output.hasSuffix("\n") ? Substring(output) : output[..<(output.lastIndex(of: "\n") ?? output.startIndex)]
            lines = whole.split(separator: "\n").filter { $0.hasPrefix("RECEIVED ") }
            if lines.count >= 2 { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        func json(_ signal: String) throws -> [String: Any] {
            let prefix = "RECEIVED \(signal) "
            let line = try #require(lines.first { $0.hasPrefix(prefix) }, "collector output: \(collector.stdoutSoFar)")
            return try #require(try JSONSerialization.jsonObject(with: Data(line.dropFirst(prefix.count).utf8)) as? [String: Any])
        }
        return Received(metrics: try json("metrics"), logs: try json("logs"))
    }

    func attributes(_ list: Any?) -> [String: String] {
        var out: [String: String] = [:]
        for item in (list as? [[String: Any]]) ?? [] {
            guard let key = item["key"] as? String, let value = item["value"] as? [String: Any] else { continue }
            if let s = value["stringValue"] as? String { out[key] = s }
            if let i = value["intValue"] as? String { out[key] = i }
        }
        return out
    }

    @Test func collectorReceivesPhaseHistogramsTTFTAndEvents() async throws {
        guard let received = try await runScenario() else { return }

        // Metrics: names, tags and buckets as decoded by the reference protobuf.
        let resourceMetrics = try #require((received.metrics["resourceMetrics"] as? [[String: Any]])?.first)
        #expect(attributes((resourceMetrics["resource"] as? [String: Any])?["attributes"])["service.name"] == "codex-cli")
        let scope = try #require((resourceMetrics["scopeMetrics"] as? [[String: Any]])?.first)
        let metrics = try #require(scope["metrics"] as? [[String: Any]])
        #expect(metrics.compactMap { $0["name"] as? String } == ["codex.startup.phase.duration_ms", "codex.turn.ttft.duration_ms"])
        let phase = try #require(metrics.first)
        #expect(phase["unit"] as? String == "ms")
        let histogram = try #require(phase["histogram"] as? [String: Any])
        #expect(histogram["aggregationTemporality"] as? String == "AGGREGATION_TEMPORALITY_DELTA")
        let points = try #require(histogram["dataPoints"] as? [[String: Any]])
        #expect(points.count == 7)
        var byPhase: [String: [String: Any]] = [:]
        for point in points {
            let tags = attributes(point["attributes"])
            #expect(tags["status"] == "success")
            #expect(tags["auth_mode"] == "chatgpt")
            #expect(tags["session_source"] == "exec")
            #expect(tags["originator"] == "codex_exec")
            #expect(tags["service_name"] == "codex-cli")
            #expect(tags["model"] == "gpt-5.1")
            #expect(tags["app.version"] == "0.9.0")
            #expect(tags["user.email"] == nil)
            if let name = tags["phase"] { byPhase[name] = point }
        }
        #expect(Set(byPhase.keys) == Set(StartupPhase.seedPhases.map(\.name)))
        let total = try #require(byPhase["startup_prewarm_total"])
        #expect(total["sum"] as? Double == 310)
        #expect(total["explicitBounds"] as? [Double] == MetricsClient.durationBucketsMilliseconds)
        let counts = try #require(total["bucketCounts"] as? [String])
        #expect(counts.count == MetricsClient.durationBucketsMilliseconds.count + 1)
        #expect(counts[8] == "1")  // 310 ms ∈ (250, 500]
        #expect(counts.enumerated().allSatisfy { $0.offset == 8 || $0.element == "0" })

        // Logs: every event with its exact name; the log view carries the account data.
        let resourceLogs = try #require((received.logs["resourceLogs"] as? [[String: Any]])?.first)
        let scopeLogs = try #require((resourceLogs["scopeLogs"] as? [[String: Any]])?.first)
        let records = try #require(scopeLogs["logRecords"] as? [[String: Any]])
        #expect(records.compactMap { $0["eventName"] as? String }
            == Array(repeating: "codex.startup_phase", count: 7) + ["codex.turn_ttft"])
        let first = attributes(records.first?["attributes"])
        #expect(first["event.name"] == "codex.startup_phase")
        #expect(first["startup.phase"] == "thread_start_create_thread")
        #expect(first["duration_ms"] == "45")
        #expect(first["user.email"] == "dev@example.com")
        #expect(first["conversation.id"] == "conv-7")
        let ttft = attributes(records.last?["attributes"])
        #expect(ttft["duration_ms"] == "1320")
        #expect(ttft["turn.id"] == "turn-1")
    }
}
