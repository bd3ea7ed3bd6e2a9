import Foundation
import OTLPTestSupport
import OTLPTesting
import Testing

/// `otlp load` reads the standard OTEL_* variables; every flag given wins over them.
@Suite struct LoadEnvironmentTests {
    var otlp: String { TestEnvironment.productsDirectory.appendingPathComponent("otlp").path }

    func run(_ arguments: [String], environment: [String: String]) async throws -> ChildProcess.Output {
        let merged = ProcessInfo.processInfo.environment.merging(environment) { _, set in set }
        return try await ChildProcess.run(otlp, ["load"] + arguments, environment: merged, timeout: 60)
    }

    @Test func endpointBatchSizeAndResourceComeFromTheEnvironment() async throws {
        let collector = try await OTLPTestCollector.start(http: false)
        let endpoint = try #require(collector.grpcEndpoint)
        let output = try await run(["--count", "50"], environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "7",
            "OTEL_SERVICE_NAME": "from-env", "OTEL_RESOURCE_ATTRIBUTES": "team=a%20b",
        ])
        #expect(output.status == 0, "\(output.stdoutText) \(output.stderrText)")
        let spans = try await collector.waitFor(spans: 50)
        #expect(spans.count == 50)
        // Batches of at most 7: 50 spans need at least 8 requests.
        #expect(collector.requests.count >= 8, "\(collector.requests.count) requests")
        let attributes = spans.first?.resource?.attributes ?? []
        #expect(attributes.contains { $0.key == "service.name" && $0.value?.value == .stringValue("from-env") })
        #expect(attributes.contains { $0.key == "team" && $0.value?.value == .stringValue("a b") })
        await collector.stop()
    }

    @Test func flagsWinOverTheEnvironment() async throws {
        let collector = try await OTLPTestCollector.start(http: false)
        let endpoint = try #require(collector.grpcEndpoint)
        // The variables name a dead endpoint and batches of 7; the flags win.
        let output = try await run(["--count", "40", "--endpoint", endpoint, "--batch-size", "20"], environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(freeLoopbackPort())", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "7",
        ])
        #expect(output.status == 0, "\(output.stdoutText) \(output.stderrText)")
        _ = try await collector.waitFor(spans: 40)
        #expect(collector.requests.count <= 2, "\(collector.requests.count) requests for 40 spans in batches of 20")
        await collector.stop()
    }

    @Test func aSamplerFromTheEnvironmentApplies() async throws {
        let collector = try await OTLPTestCollector.start(http: false)
        let endpoint = try #require(collector.grpcEndpoint)
        let output = try await run(["--count", "30", "--endpoint", endpoint], environment: ["OTEL_TRACES_SAMPLER": "always_off"])
        // Every span created, none sampled: nothing is exported, nothing is lost.
        #expect(output.status == 0)
        #expect(output.stdoutText.contains("created=30 sampled_out=30 exported=0 dropped=0 failed=0"), "\(output.stdoutText)")
        #expect(collector.spans.isEmpty)
        await collector.stop()
    }
}
