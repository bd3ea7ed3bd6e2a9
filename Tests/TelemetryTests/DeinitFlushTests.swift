import OTLPTestSupport
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
        #expect(await eventually(timeout: .seconds(30)) { exportedWhenDeinitReturned.withLock { $0 } != nil })
        #expect(exportedWhenDeinitReturned.withLock { $0 } == 1)
    }
}
