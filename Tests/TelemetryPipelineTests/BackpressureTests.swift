import Atomics
import Foundation
import OTLPSync
import Testing
import TelemetryCore
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

/// Many producer threads share the one pipeline: with back-pressure nothing is lost, whatever the
/// thread count; every item is exported exactly once.
@Suite struct ManyProducersTests {
    final class Counts: SpanExporter, LogExporter, MetricExporter, @unchecked Sendable {
        let spans = ManagedAtomic<Int>(0)
        let logs = ManagedAtomic<Int>(0)
        let lastSum = ManagedAtomic<Int>(0)
        func forceFlush() async throws {}
        func shutdown() async {}
        func export(_ batch: SpanBatch) async throws { spans.wrappingIncrement(by: batch.count, ordering: .relaxed) }
        func export(_ batch: LogBatch) async throws { logs.wrappingIncrement(by: batch.records.count, ordering: .relaxed) }
        func export(_ batch: MetricBatch) async throws {
            var total: Int64 = 0
            for metric in batch.metrics {
                if case .sum(_, _, let points) = metric.points {
                    for point in points { if case .int(let value) = point.value { total += value } }
                }
            }
            lastSum.store(Int(total), ordering: .relaxed)
        }
    }

    @Test(arguments: [1, 2, 4, 8, 16])
    func everySignalFromManyThreadsIsExportedOnceWithBackpressure(threads: Int) async throws {
        let counts = Counts()
        var configuration = PipelineConfiguration()
        configuration.traces = .init(maxQueueSize: 256, maxExportBatchSize: 64, scheduledDelay: .milliseconds(5))
        configuration.logs = .init(maxQueueSize: 256, maxExportBatchSize: 64, scheduledDelay: .milliseconds(5))
        configuration.metrics.measurementQueueSize = 256
        configuration.backpressure = .wait(maxWait: .seconds(60))
        configuration.diagnostics = { _ in }
        let pipeline = Pipeline(resource: Resource(serviceName: "many"), configuration: configuration,
                                spanExporters: [counts], metricExporters: [counts], logExporters: [counts])
        let scope = InstrumentationScope(name: "many")
        let counter = pipeline.registerInstrument(InstrumentDescriptor(name: "adds", kind: .counter, isDouble: false, scope: scope))
        let perThread = 2000
        await runOnThreadsAsync(threads) { thread in
            for index in 0..<perThread {
                pipeline.recordSpan(SpanData(name: "s", context: SpanContext(traceID: TraceID(high: 1, low: 1), spanID: SpanID(1)),
                                             startTimeUnixNano: UInt64(index), scope: scope))
                pipeline.recordLog(LogRecordData(timeUnixNano: UInt64(index), observedTimeUnixNano: UInt64(index), body: .string("l"), scope: scope))
                pipeline.recordMeasurement(Measurement(instrument: counter, value: .int(1), attributes: [Attribute("t", .int(Int64(thread)))]))
            }
        }
        try await pipeline.shutdown(deadline: .now + .seconds(60))
        let total = threads * perThread
        for signal in TelemetrySignal.allCases {
            let statistics = pipeline.statistics(signal)
            #expect(statistics.dropped == 0 && statistics.accepted == total, "\(signal): \(statistics)")
        }
        #expect(counts.spans.load(ordering: .relaxed) == total)
        #expect(counts.logs.load(ordering: .relaxed) == total)
        #expect(counts.lastSum.load(ordering: .relaxed) == total)
    }
}
