import Foundation
import OTLPSync
import Testing
@testable import Telemetry

/// Counts shutdowns; optionally blocks every export until `release()`.
final class CountingSpanExporter: SpanExporter, @unchecked Sendable {
    private let state = LockedValue<(spans: [SpanData], shutdowns: Int)>(([], 0))
    private let blocks: Bool
    private let gate = DispatchSemaphore(value: 0)
    init(blocks: Bool = false) { self.blocks = blocks }
    func export(_ batch: SpanBatch) async throws {
        if blocks { await withCheckedContinuation { c in DispatchQueue.global().async { self.gate.wait(); c.resume() } } }
        state.withLock { $0.spans += batch.spans }
    }
    func forceFlush() async throws {}
    func shutdown() async { state.withLock { $0.shutdowns += 1 } }
    func release() { for _ in 0..<16 { gate.signal() } }
    var spans: [SpanData] { state.withLock { $0.spans } }
    var shutdowns: Int { state.withLock { $0.shutdowns } }
}

/// Polls `condition` until it holds or `seconds` pass.
func eventually(_ seconds: Double = 10, _ condition: () -> Bool) async -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

@Suite("Best-effort flush when a provider is released without shutdown")
struct DeinitFlushTests {
    @Test func aReleasedProviderExportsWhatItAcceptedAndShutsItsExportersDown() async throws {
        let exporter = CountingSpanExporter()
        do {
            let provider = TelemetryProvider(resource: Resource(serviceName: "d"), spanExporters: [exporter])
            provider.tracer("t").withSpan("accepted") { _ in }
        }
        #expect(await eventually { exporter.shutdowns == 1 })
        #expect(exporter.spans.map(\.name) == ["accepted"])
    }

    @Test func afterAnExplicitShutdownReleasingIsANoOp() async throws {
        let exporter = CountingSpanExporter()
        do {
            let provider = TelemetryProvider(resource: Resource(serviceName: "d"), spanExporters: [exporter])
            provider.tracer("t").withSpan("once") { _ in }
            try await provider.shutdown(timeout: .seconds(10))
            #expect(exporter.shutdowns == 1)
        }
        try await Task.sleep(for: .milliseconds(200))
        #expect(exporter.shutdowns == 1)
        #expect(exporter.spans.count == 1)
    }

    @Test func deinitWaitsAtMostItsTimeoutForAnExporterThatHangs() async throws {
        let exporter = CountingSpanExporter(blocks: true)
        let start = ContinuousClock.now
        do {
            let provider = TelemetryProvider(
                resource: Resource(serviceName: "d"), spanExporters: [exporter], deinitFlushTimeout: .milliseconds(300))
            provider.tracer("t").withSpan("stuck") { _ in }
        }
        let elapsed = ContinuousClock.now - start
        #expect(elapsed < .seconds(3), "deinit blocked for \(elapsed)")
        exporter.release()
        #expect(await eventually { exporter.spans.count == 1 })
    }

    @Test func releasingInsideATaskDoesNotBlockItsThreadForTheFlush() async throws {
        // The exporter holds its export until released: a deinit that waited for the flush would
        // block this task for the whole (long) timeout.
        let exporter = CountingSpanExporter(blocks: true)
        let start = ContinuousClock.now
        do {
            let provider = TelemetryProvider(
                resource: Resource(serviceName: "d"), spanExporters: [exporter], deinitFlushTimeout: .seconds(30))
            provider.tracer("t").withSpan("in a task") { _ in }
        }
        let elapsed = ContinuousClock.now - start
        exporter.release()
        #expect(elapsed < .seconds(10), "deinit blocked the task for \(elapsed)")
        // The shutdown still ran and exported the span.
        #expect(await eventually { exporter.spans.count == 1 && exporter.shutdowns == 1 })
    }

    @Test func releasingOnAPlainThreadWaitsForTheFlush() async throws {
        let exporter = CountingSpanExporter()
        let exportedWhenDeinitReturned = LockedValue<Int?>(nil)
        let thread = Thread {
            do {
                let provider = TelemetryProvider(
                    resource: Resource(serviceName: "d"), spanExporters: [exporter], deinitFlushTimeout: .seconds(30))
                provider.tracer("t").withSpan("on a thread") { _ in }
            }
            exportedWhenDeinitReturned.withLock { $0 = exporter.spans.count }
        }
        thread.start()
        #expect(await eventually(30) { exportedWhenDeinitReturned.withLock { $0 } != nil })
        #expect(exportedWhenDeinitReturned.withLock { $0 } == 1)
    }

    @Test func aReleasedConfiguredTelemetryFlushesSessionMetricsLogsAndSpans() async throws {
        var settings = TelemetrySettings(serviceName: "d")
        settings.traceExporter = .inMemory
        settings.logExporter = .inMemory
        settings.metricsExporter = .inMemory
        var spans: InMemorySpanExporter?, logs: InMemoryLogExporter?, metrics: InMemoryMetricExporter?
        do {
            let telemetry = try #require(try TelemetryProvider.make(settings: settings))
            (spans, logs, metrics) = (telemetry.inMemorySpans, telemetry.inMemoryLogs, telemetry.inMemoryMetrics)
            let session = telemetry.sessionTelemetry(metadata: SessionMetadata(
                sessionID: "s", model: "m", slug: "s", originator: "o", sessionSource: "cli", appVersion: "1"))
            session.startupPhase(.threadStartCreateThread, duration: .milliseconds(5))
        }
        let (s, l, m) = (try #require(spans), try #require(logs), try #require(metrics))
        #expect(await eventually { s.isShutDown && l.isShutDown && m.isShutDown })
        #expect(l.records.compactMap(\.eventName) == ["codex.startup_phase"])
        #expect(s.spans.map(\.name) == ["thread_start_create_thread"])
        #expect(m.metrics.map(\.name).contains("codex.startup.phase.duration_ms"))
    }
}
