import Foundation
import Logging
import OTLPExporter
import OTLPTestSupport
import Testing
import Telemetry
import TelemetryCore
import TelemetrySession
import TelemetryPipeline

/// `ConfiguredTelemetry.metrics` (a `MetricsClient` on the provider's meter) behaves as its
/// documentation says: snapshots, flushes and shutdowns that wait and throw past their deadline.
@Suite("MetricsClient on the provider path", .serialized)
struct ProviderMetricsClientTests {
    static let metadata = SessionMetadata(
        sessionID: "s-1", model: "gpt-5.1", slug: "gpt-5.1", accountID: "acct-42", accountEmail: "ada@example.com",
        authMode: "api_key", originator: "tests", sessionSource: "cli", appVersion: "1.0.0")

    func inMemoryTelemetry(serviceName: String = "svc") throws -> ConfiguredTelemetry {
        var settings = TelemetrySettings(serviceName: serviceName)
        settings.metricsExporter = .inMemory
        settings.traceExporter = .inMemory
        settings.logExporter = .inMemory
        return try #require(try TelemetryProvider.make(settings: settings))
    }

    @Test func snapshotReturnsWhatWasRecordedWithTheProvidersResource() async throws {
        let telemetry = try inMemoryTelemetry(serviceName: "snap")
        let metrics = try #require(telemetry.metrics)
        try metrics.counter("codex.turns", tags: ["model": "gpt-5.1"])
        try metrics.counter("codex.turns", by: 2, tags: ["model": "gpt-5.1"])
        try metrics.histogram("codex.request_latency", 83, tags: ["route": "chat"])
        let snapshot = metrics.snapshot()
        #expect(snapshot.resource["service.name"] == "snap")
        let byName = Dictionary(uniqueKeysWithValues: snapshot.metrics.map { ($0.name, $0) })
        guard case .sum(let sums, _)? = byName["codex.turns"]?.data, case .histogram(let points, _)? = byName["codex.request_latency"]?.data
        else {
            Issue.record("snapshot: \(snapshot)")
            return
        }
        #expect(sums.map(\.value) == [3])
        #expect(points.map(\.count) == [1] && points.map(\.sum) == [83])
        try await telemetry.shutdown(timeout: .seconds(10))
    }

    @Test func integerHistogramValuesAreRecordedAndExported() async throws {
        let telemetry = try inMemoryTelemetry()
        let metrics = try #require(telemetry.metrics)
        try metrics.histogram("codex.request_latency", 83, tags: ["route": "chat"])
        try metrics.histogram("codex.request_latency", Int64(17), tags: ["route": "chat"])
        try await metrics.flush(timeout: .seconds(10))
        let exported = try #require(telemetry.inMemoryMetrics).metrics.filter { $0.name == "codex.request_latency" }
        guard case .histogram(_, let points)? = exported.first?.points else {
            Issue.record("exported: \(exported)")
            return
        }
        #expect(points.map(\.count) == [2])
        #expect(points.map(\.sum) == [100])
        try await telemetry.shutdown(timeout: .seconds(10))
    }

    @Test func asyncFlushWaitsUntilTheMetricsAreExported() async throws {
        let telemetry = try inMemoryTelemetry()
        let metrics = try #require(telemetry.metrics)
        try metrics.counter("codex.turns")
        try await metrics.flush(timeout: .seconds(10))
        // No polling: the flush returned after the export.
        #expect(try #require(telemetry.inMemoryMetrics).metrics.contains { $0.name == "codex.turns" })
        try await metrics.shutdown(timeout: .seconds(10))
        #expect(throws: MetricsError.self) { try metrics.counter("codex.turns") }
        try await telemetry.shutdown(timeout: .seconds(10))
    }

    /// A collector that holds each call 3 s: a flush with a 300 ms deadline throws `.timedOut`
    /// near its deadline instead of returning at once or waiting for the export.
    @Test(PythonPeers.trait) func flushAndShutdownThrowTimedOutPastTheirDeadline() async throws {
        let collector = try CollectorPeer()
        defer { collector.stop() }
        var settings = TelemetrySettings(serviceName: "slow")
        settings.metricsExporter = .otlp(OTLPExporterConfiguration(
            signal: .metrics, protocol: .grpc, endpoint: collector.httpURL, headers: ["x-test-sleep-ms": "3000"]))
        let telemetry = try #require(try TelemetryProvider.make(settings: settings))
        let metrics = try #require(telemetry.metrics)
        try metrics.counter("codex.turns")
        let start = ContinuousClock.now
        await #expect { try await metrics.flush(timeout: .milliseconds(300)) } throws: { ($0 as? MetricsError)?.code == .timedOut }
        #expect(ContinuousClock.now - start < .seconds(2))
        try metrics.counter("codex.turns")
        await #expect { try await metrics.shutdown(timeout: .milliseconds(300)) } throws: { ($0 as? MetricsError)?.code == .timedOut }
        try? await telemetry.shutdown(timeout: .seconds(10))
    }

    @Test func synchronousShutdownOnAPlainThreadWaitsForTheExport() async throws {
        let telemetry = try inMemoryTelemetry()
        let metrics = try #require(telemetry.metrics)
        try metrics.counter("codex.turns")
        let outcome: Result<Void, MetricsError> = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                do throws(MetricsError) {
                    try metrics.shutdownSynchronously(timeout: .seconds(10))
                    continuation.resume(returning: .success(()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        #expect(throws: Never.self) { try outcome.get() }
        #expect(try #require(telemetry.inMemoryMetrics).metrics.contains { $0.name == "codex.turns" })
        try await telemetry.shutdown(timeout: .seconds(10))
    }

    @Test func synchronousShutdownInsideATaskNeverBlocksAndSaysSo() async throws {
        let telemetry = try inMemoryTelemetry()
        let metrics = try #require(telemetry.metrics)
        #expect { try metrics.shutdownSynchronously(timeout: .seconds(10)) } throws: { ($0 as? MetricsError)?.code == .wouldBlock }
        #expect { try telemetry.shutdownSynchronously(timeout: .seconds(10)) } throws: { ($0 as? TelemetryError)?.code == .wouldBlock }
        try await telemetry.shutdown(timeout: .seconds(10))
    }

    @Test func synchronousProviderShutdownOnAPlainThreadExportsEverything() async throws {
        let telemetry = try inMemoryTelemetry()
        telemetry.provider.tracer("t").withSpan("work") { _ in }
        let failure: String? = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                do {
                    try telemetry.shutdownSynchronously(timeout: .seconds(10))
                    continuation.resume(returning: nil)
                } catch {
                    continuation.resume(returning: "\(error)")
                }
            }
        }
        #expect(failure == nil)
        #expect(try #require(telemetry.inMemorySpans).spans.map(\.name) == ["work"])
    }

    @Test func turnTTFTAndACompletedEventWithTTFTCountOneTTFT() async throws {
        let telemetry = try inMemoryTelemetry()
        let session = telemetry.sessionTelemetry(metadata: Self.metadata)
        session.sseEventCompleted(inputTokens: 10, outputTokens: 20, timeToFirstToken: .milliseconds(640))
        session.turnTTFT(.milliseconds(640), turnID: "t-1")
        let snapshot = try #require(telemetry.metrics).snapshot()
        let ttft = snapshot.metrics.first { $0.name == "codex.turn.ttft.duration_ms" }
        guard case .histogram(let points, _)? = ttft?.data else {
            Issue.record("snapshot: \(snapshot)")
            return
        }
        #expect(points.map(\.count) == [1])
        try await telemetry.shutdown(timeout: .seconds(10))
    }
}
