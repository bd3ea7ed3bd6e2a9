import Atomics
import Foundation
import OTLPSync
import Testing
@testable import TelemetryPipeline

private let scope = InstrumentationScope(name: "backpressure")

/// Suspends callers of ``wait()`` until ``open()`` (without blocking a thread).
final class AsyncGate: Sendable {
    private let state = LockedValue<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// An exporter that holds every export until the test opens its gate, counting what it received.
final class GatedSpanExporter: SpanExporter, Sendable {
    let gate = AsyncGate()
    let received = ManagedAtomic<Int>(0)
    func export(_ batch: SpanBatch) async throws {
        await gate.wait()
        received.wrappingIncrement(by: batch.count, ordering: .relaxed)
    }
}

/// ``PipelineConfiguration/Backpressure``: a full queue either drops and counts, or makes the
/// producer wait for room (bounded by `maxWait`).
@Suite struct BackpressureTests {
    func pipeline(_ backpressure: PipelineConfiguration.Backpressure, exporter: some SpanExporter) -> Pipeline {
        var configuration = PipelineConfiguration()
        configuration.traces = .init(maxQueueSize: 64, maxExportBatchSize: 16, scheduledDelay: .milliseconds(1))
        configuration.backpressure = backpressure
        configuration.diagnostics = { _ in }
        return Pipeline(resource: Resource(serviceName: "backpressure"), configuration: configuration, spanExporters: [exporter])
    }

    func span(_ index: Int) -> SpanData {
        SpanData(name: "s", context: SpanContext(traceID: TraceID(high: 1, low: 1), spanID: SpanID(UInt64(index + 1))),
                 startTimeUnixNano: UInt64(index), scope: scope)
    }

    @Test func waitingProducersLoseNothingWhileTheExporterIsSlowerThanThem() async throws {
        let exporter = GatedSpanExporter()
        let pipeline = pipeline(.wait(maxWait: .seconds(60)), exporter: exporter)
        let total = 4 * 1000
        let finished = ManagedAtomic<Int>(0)
        // Four producers against a queue of 64 and an exporter that is shut: they must block,
        // not drop. The gate opens once they have filled everything there is to fill.
        let producers = Task.detached {
            await runOnThreadsAsync(4) { producer in
                for index in 0..<1000 { pipeline.recordSpan(self.span(producer * 1000 + index)) }
                finished.wrappingIncrement(ordering: .relaxed)
            }
        }
        let filled = monotonicNanos() &+ 10_000_000_000
        while pipeline.statistics(.traces).accepted < 64 && monotonicNanos() < filled { try await Task.sleep(for: .milliseconds(1)) }
        #expect(finished.load(ordering: .relaxed) == 0, "producers finished while the exporter was shut")
        #expect(pipeline.statistics(.traces).dropped == 0)
        exporter.gate.open()
        await producers.value
        try await pipeline.shutdown(deadline: .now + .seconds(30))
        let statistics = pipeline.statistics(.traces)
        #expect(statistics.accepted == total && statistics.dropped == 0 && statistics.exported == total)
        #expect(exporter.received.load(ordering: .relaxed) == total)
    }

    @Test func aProducerThatWaitedMaxWaitDropsAndCountsTheItem() async throws {
        let exporter = GatedSpanExporter()
        let pipeline = pipeline(.wait(maxWait: .milliseconds(2)), exporter: exporter)
        let total = 300
        await runOnThreadsAsync(1) { _ in
            for index in 0..<total { pipeline.recordSpan(self.span(index)) }
        }
        let statistics = pipeline.statistics(.traces)
        #expect(statistics.dropped > 0, "a queue of 64 with a shut exporter cannot take \(total) spans")
        #expect(statistics.accepted + statistics.dropped == total)
        exporter.gate.open()
        try await pipeline.shutdown(deadline: .now + .seconds(30))
        let final = pipeline.statistics(.traces)
        #expect(final.exported == final.accepted && exporter.received.load(ordering: .relaxed) == final.accepted)
    }

    @Test func theDefaultDropsAtOnceAndCounts() async throws {
        let exporter = GatedSpanExporter()
        let pipeline = pipeline(.drop, exporter: exporter)
        let total = 400
        await runOnThreadsAsync(1) { _ in
            for index in 0..<total { pipeline.recordSpan(self.span(index)) }
        }
        let statistics = pipeline.statistics(.traces)
        #expect(statistics.dropped > 0 && statistics.accepted + statistics.dropped == total)
        exporter.gate.open()
        try await pipeline.shutdown(deadline: .now + .seconds(30))
        #expect(pipeline.statistics(.traces).exported == statistics.accepted)
    }
}
