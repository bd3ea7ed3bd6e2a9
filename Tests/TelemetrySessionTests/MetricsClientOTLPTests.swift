import Foundation
import OTLPExporter
import OTLPProto
import OTLPTestSupport
import OTLPWire
import Testing
import TelemetryPipeline
@testable import Telemetry
@testable import TelemetrySession

/// Session metrics recorded through a `MetricsClient` leave as OTLP through the pipeline's one
/// mapping (`MetricBatch.makeRequest()`, what the OTLP metric exporters send).
@Suite("MetricsClient metrics as OTLP requests")
struct MetricsClientOTLPTests {
    func sessionRequest() async throws -> CollectorMetricsV1ExportMetricsServiceRequest {
        let exporter = InMemoryMetricExporter()
        var configuration = PipelineConfiguration()
        configuration.metrics.temporality = .delta
        // Only the flush collects: a periodic collection would split the points over two batches.
        configuration.schedulingClock = ManualSchedulingClock()
        let provider = TelemetryProvider(
            resource: Resource(serviceName: "codex-cli", serviceVersion: "0.9.0"), metricExporters: [exporter],
            configuration: configuration)
        let metrics = try MetricsClient(meter: provider.meter(MetricsClient.scopeName))
        let telemetry = SessionTelemetry(
            metadata: SessionMetadata(sessionID: "c1", model: "gpt-5.1", slug: "s", authMode: "api_key",
                originator: "cli", sessionSource: "exec", appVersion: "0.9.0"),
            sink: DiscardingSessionEventSink(), metrics: metrics)
        for phase in StartupPhase.seedPhases { telemetry.startupPhase(phase, duration: .milliseconds(30)) }
        telemetry.turnTTFT(.milliseconds(1300))
        telemetry.apiRequest(attempt: 1, status: 200, duration: .milliseconds(90))
        try metrics.gauge("queue.depth", 4)
        try await provider.shutdown(timeout: .seconds(10))
        #expect(exporter.batches.count == 1)
        return try #require(exporter.batches.first).makeRequest()
    }

    @Test func conversionKeepsNamesBucketsAndTemporality() async throws {
        let request = try await sessionRequest()
        let decoded = try CollectorMetricsV1ExportMetricsServiceRequest(serializedBytes: request.serializedBytes())
        #expect(decoded == request)
        let scope = try #require(decoded.resourceMetrics.first?.scopeMetrics.first)
        #expect(scope.scope?.name == MetricsClient.scopeName)
        let resourceKeys = decoded.resourceMetrics.first?.resource?.attributes.map(\.key) ?? []
        #expect(resourceKeys.contains("service.name") && resourceKeys.contains("service.version"))
        let byName = Dictionary(uniqueKeysWithValues: scope.metrics.map { ($0.name, $0) })
        #expect(byName.keys.sorted() == ["codex.api_request", "codex.api_request.duration_ms", "codex.startup.phase.duration_ms",
            "codex.turn.ttft.duration_ms", "queue.depth"])
        let phaseMetric = try #require(byName["codex.startup.phase.duration_ms"])
        guard case .histogram(let phases)? = phaseMetric.data else {
            Issue.record("not a histogram")
            return
        }
        #expect(phases.aggregationTemporality == .delta)
        #expect(phases.dataPoints.count == 7)
        #expect(phases.dataPoints.allSatisfy { $0.explicitBounds == MetricsClient.durationBucketsMilliseconds })
        #expect(phases.dataPoints.allSatisfy { $0.bucketCounts.count == MetricsClient.durationBucketsMilliseconds.count + 1 })
        #expect(phaseMetric.unit == "ms")
        guard case .sum(let counter)? = byName["codex.api_request"]?.data else {
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
        let bytes = try await sessionRequest().serializedBytes()
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

@Suite("A standalone MetricsClient exports through a pipeline of its own")
struct StandaloneMetricsClientPipelineTests {
    @Test func collectionsReachTheExporterInOrderAndShutdownPropagates() throws {
        let exporter = MetricsClient.InMemoryExporter()
        let client = try MetricsClient(.init(serviceName: "svc", exportInterval: nil, exporter: exporter))
        try client.counter("c", by: 2, tags: ["k": "v"])
        try client.flush()
        try client.recordDuration("d", .milliseconds(30))
        try client.gauge("g", 1.5)
        try client.shutdown()
        #expect(exporter.isShutDown)
        let snapshots = exporter.snapshots
        #expect(snapshots.count == 2)
        #expect(snapshots.first?.metrics.map(\.name) == ["c"])
        #expect(snapshots.last?.metrics.map(\.name) == ["d", "g"])
        guard case .sum(let points, let temporality)? = snapshots.first?.metrics.first?.data else {
            Issue.record("not a sum")
            return
        }
        #expect(temporality == .delta)
        #expect(points.first?.value == 2)
        #expect(points.first?.attributes == ["k": "v"])
        guard case .histogram(let histogram, _)? = snapshots.last?.metrics.first?.data else {
            Issue.record("not a histogram")
            return
        }
        #expect(histogram.first?.explicitBounds == MetricsClient.durationBucketsMilliseconds)
        #expect(snapshots.first?.resource["service.name"] == "svc")
        #expect(snapshots.first?.scopeName == MetricsClient.scopeName)
        #expect(throws: MetricsError.self) { try client.flush() }
    }
}
