import Foundation
import OTLPProto
import OTLPTestSupport
import OTLPWire
import Testing
@testable import Telemetry

@Suite("MetricsClient snapshots as OTLP requests")
struct MetricsClientOTLPTests {
    func sessionSnapshot() throws -> MetricsClient.Snapshot {
        let exporter = MetricsClient.InMemoryExporter()
        let metrics = try MetricsClient(.inMemory(serviceName: "codex-cli", serviceVersion: "0.9.0", exporter: exporter))
        let telemetry = SessionTelemetry(
            metadata: SessionMetadata(sessionID: "c1", model: "gpt-5.1", slug: "s", authMode: "api_key",
                originator: "cli", sessionSource: "exec", appVersion: "0.9.0"),
            sink: DiscardingSessionEventSink(), metrics: metrics)
        for phase in StartupPhase.seedPhases { telemetry.startupPhase(phase, duration: .milliseconds(30)) }
        telemetry.turnTTFT(.milliseconds(1300))
        telemetry.apiRequest(attempt: 1, status: 200, duration: .milliseconds(90))
        try metrics.gauge("queue.depth", 4)
        try metrics.flush()
        return try #require(exporter.snapshots.first)
    }

    @Test func conversionKeepsNamesBucketsAndTemporality() async throws {
        let request = try sessionSnapshot().otlpRequest()
        let decoded = try CollectorMetricsV1ExportMetricsServiceRequest(serializedBytes: request.serializedBytes())
        #expect(decoded == request)
        let scope = try #require(decoded.resourceMetrics.first?.scopeMetrics.first)
        #expect(scope.scope?.name == MetricsClient.scopeName)
        let resourceKeys = decoded.resourceMetrics.first?.resource?.attributes.map(\.key)
        #expect(resourceKeys == ["env", "service.name", "service.version"])
        let names = scope.metrics.map(\.name)
        #expect(names == ["codex.api_request", "codex.api_request.duration_ms", "codex.startup.phase.duration_ms",
            "codex.turn.ttft.duration_ms", "queue.depth"])
        guard case .histogram(let phases)? = scope.metrics[2].data else {
            Issue.record("not a histogram")
            return
        }
        #expect(phases.aggregationTemporality == .delta)
        #expect(phases.dataPoints.count == 7)
        #expect(phases.dataPoints.allSatisfy { $0.explicitBounds == MetricsClient.durationBucketsMilliseconds })
        #expect(phases.dataPoints.allSatisfy { $0.bucketCounts.count == MetricsClient.durationBucketsMilliseconds.count + 1 })
        #expect(scope.metrics[2].unit == "ms")
        guard case .sum(let counter)? = scope.metrics[0].data else {
            Issue.record("not a sum")
            return
        }
        #expect(counter.isMonotonic)
        #expect(counter.dataPoints.first?.value == .asInt(1))
    }

    @Test(PythonPeers.trait) func referenceProtobufDecodesTheRequest() async throws {
        let python = TestEnvironment.python
        guard FileManager.default.isExecutableFile(atPath: python) else {
            Issue.record("test peer Python not found at \(python): run tools/setup.sh")
            return
        }
        let bytes = try sessionSnapshot().otlpRequest().serializedBytes()
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("tools/reference_peer.py").path
        let output = try await ChildProcess.run(python, [script, "to-json", "metrics"], stdin: Data(bytes), timeout: 30)
        #expect(output.status == 0, "\(output.stderrText)")
        let json = try #require(try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any])
        let resourceMetrics = try #require((json["resourceMetrics"] as? [[String: Any]])?.first)
        let scopeMetrics = try #require((resourceMetrics["scopeMetrics"] as? [[String: Any]])?.first)
        let metrics = try #require(scopeMetrics["metrics"] as? [[String: Any]])
        let ttft = try #require(metrics.first { $0["name"] as? String == "codex.turn.ttft.duration_ms" })
        let histogram = try #require(ttft["histogram"] as? [String: Any])
        let point = try #require((histogram["dataPoints"] as? [[String: Any]])?.first)
        #expect(point["sum"] as? Double == 1300)
        #expect((point["explicitBounds"] as? [Double]) == MetricsClient.durationBucketsMilliseconds)
        // 1300 ms falls in (1250, 1500]: bucket index 12. Counts are uint64, which OTLP/JSON writes as strings.
        let counts = try #require(point["bucketCounts"] as? [String])
        #expect(counts.count == 29)
        #expect(counts[12] == "1")
        #expect(histogram["aggregationTemporality"] as? Int == 1)  // DELTA
        let attributes = try #require(point["attributes"] as? [[String: Any]])
        #expect(attributes.compactMap { $0["key"] as? String }.contains("session_source"))
    }
}

@Suite("MetricsClient into SDK metric exporters")
struct MetricsClientPipelineBridgeTests {
    @Test func collectionsReachTheExporterInOrderAndShutdownPropagates() async throws {
        let sdkExporter = InMemoryMetricExporter()
        let bridge = MetricExporterBridge([sdkExporter])
        let client = try MetricsClient(.init(serviceName: "svc", exportInterval: nil, exporter: bridge))
        try client.counter("c", by: 2, tags: ["k": "v"])
        try client.flush()
        try client.recordDuration("d", .milliseconds(30))
        try client.gauge("g", 1.5)
        try client.shutdown()
        await bridge.finished()
        #expect(sdkExporter.isShutDown)
        #expect(bridge.failedExports == 0)
        let batches = sdkExporter.batches
        #expect(batches.count == 2)
        #expect(batches.first?.metrics.map(\.name) == ["c"])
        #expect(batches.last?.metrics.map(\.name) == ["d", "g"])
        guard case .sum(let monotonic, let temporality, let points)? = batches.first?.metrics.first?.points else {
            Issue.record("not a sum")
            return
        }
        #expect(monotonic)
        #expect(temporality == .delta)
        #expect(points.first?.value == .int(2))
        #expect(points.first?.attributes == [Attribute("k", .string("v"))])
        guard case .histogram(_, let histogram)? = batches.last?.metrics.first?.points else {
            Issue.record("not a histogram")
            return
        }
        #expect(histogram.first?.explicitBounds == MetricsClient.durationBucketsMilliseconds)
        #expect(batches.first?.resource.attributes.contains(Attribute("service.name", .string("svc"))) == true)
        #expect(throws: MetricsError.self) { try bridge.export(client.snapshot()) }
    }
}
