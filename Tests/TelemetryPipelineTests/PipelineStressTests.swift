import Atomics
import Foundation
import Testing
import TelemetryCore
@testable import TelemetryPipeline

/// Collects exported spans' tags (producer << 32 | sequence, carried in startTimeUnixNano).
final class TagCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var tags: [UInt64] = []
    private var largestBatch = 0
    func add(_ batchTags: [UInt64]) {
        lock.withLock {
            tags.append(contentsOf: batchTags)
            largestBatch = max(largestBatch, batchTags.count)
        }
    }
    var result: (tags: [UInt64], largestBatch: Int) { lock.withLock { (tags, largestBatch) } }
    var spanExporter: some SpanExporter { SpanTags(collector: self) }
    var logExporter: some LogExporter { LogTags(collector: self) }
}

struct SpanTags: SpanExporter {
    let collector: TagCollector
    func export(_ batch: SpanBatch) async throws { collector.add(batch.spans.map(\.startTimeUnixNano)) }
}

struct LogTags: LogExporter {
    let collector: TagCollector
    func export(_ batch: LogBatch) async throws { collector.add(batch.records.map(\.timeUnixNano)) }
}

private let scope = InstrumentationScope(name: "stress")

/// Concurrency suites (run under ThreadSanitizer too, with the whole package: tools/test.sh).
@Suite("PipelineStress")
struct PipelineStressTests {
    func checkAccounting(tags: [UInt64], producers: Int, perProducer: Int, statistics: SignalStatistics) {
        #expect(statistics.accepted + statistics.dropped == producers * perProducer)
        #expect(statistics.exported == statistics.accepted)
        #expect(statistics.failed == 0)
        #expect(tags.count == statistics.accepted)
        var last = [Int](repeating: -1, count: producers)
        var violations = 0
        for tag in tags {
            let producer = Int(tag >> 32)
            let sequence = Int(tag & 0xFFFF_FFFF)
            if sequence <= last[producer] { violations += 1 }  // duplicates or reordering
            last[producer] = sequence
        }
        #expect(violations == 0)
    }

    @Test("spans from many threads: accepted are exported once in per-thread order, the rest counted as dropped")
    func spansFromManyThreads() async throws {
        let producers = 3
        let perProducer = 5_000 * stressScale
        let collector = TagCollector()
        var configuration = PipelineConfiguration()
        configuration.traces = .init(maxQueueSize: 256, maxExportBatchSize: 32, scheduledDelay: .milliseconds(5))
        configuration.diagnostics = { _ in }
        let pipeline = Pipeline(resource: Resource(serviceName: "stress"), configuration: configuration, spanExporters: [collector.spanExporter])
        let context = SpanContext(traceID: TraceID(high: 1, low: 1), spanID: SpanID(1))
        await runOnThreadsAsync(producers) { producer in
            for sequence in 0..<perProducer {
                pipeline.recordSpan(SpanData(
                    name: "s", context: context, startTimeUnixNano: UInt64(producer) << 32 | UInt64(sequence), scope: scope))
                if sequence % 512 == 0 { sched_yield() }  // let the worker in on 2 cores
            }
        }
        try await pipeline.shutdown(deadline: .now + .seconds(30))
        let (tags, largestBatch) = collector.result
        #expect(largestBatch <= 32)
        checkAccounting(tags: tags, producers: producers, perProducer: perProducer, statistics: pipeline.statistics(.traces))
    }

    @Test("logs from many threads with flushes in between: nothing lost, nothing duplicated")
    func logsWithConcurrentFlushes() async throws {
        let producers = 2
        let perProducer = 5_000 * stressScale
        let collector = TagCollector()
        var configuration = PipelineConfiguration()
        configuration.logs = .init(maxQueueSize: 128, maxExportBatchSize: 16, scheduledDelay: .milliseconds(1))
        configuration.diagnostics = { _ in }
        let pipeline = Pipeline(resource: Resource(serviceName: "stress"), configuration: configuration, logExporters: [collector.logExporter])
        let producersDone = ManagedAtomic<Int>(0)
        let flusher = Task {
            while producersDone.load(ordering: .acquiring) < producers {
                try await pipeline.forceFlush(deadline: .now + .seconds(30))
            }
        }
        await runOnThreadsAsync(producers) { producer in
            for sequence in 0..<perProducer {
                pipeline.recordLog(LogRecordData(
                    timeUnixNano: UInt64(producer) << 32 | UInt64(sequence), observedTimeUnixNano: 0, scope: scope))
            }
            producersDone.wrappingIncrement(ordering: .releasing)
        }
        try await flusher.value
        try await pipeline.shutdown(deadline: .now + .seconds(30))
        checkAccounting(tags: collector.result.tags, producers: producers, perProducer: perProducer,
                        statistics: pipeline.statistics(.logs))
    }

    @Test("measurements from many threads aggregate to the exact total")
    func measurementsFromManyThreads() async throws {
        final class Sums: MetricExporter, @unchecked Sendable {
            let lock = NSLock()
            var last: [MetricData] = []
            func export(_ batch: MetricBatch) async throws { lock.withLock { last = batch.metrics } }
        }
        let producers = 3
        let perProducer = 10_000 * stressScale
        let sums = Sums()
        var configuration = PipelineConfiguration()
        configuration.metrics.measurementQueueSize = 1 << 20  // large enough that nothing drops
        let pipeline = Pipeline(resource: Resource(serviceName: "stress"), configuration: configuration, metricExporters: [sums])
        let id = pipeline.registerInstrument(InstrumentDescriptor(name: "c", kind: .counter, isDouble: false, scope: scope))
        await runOnThreadsAsync(producers) { producer in
            let attributes: [Attribute] = ["producer": .int(Int64(producer))]
            for _ in 0..<perProducer {
                pipeline.recordMeasurement(Measurement(instrument: id, value: .int(1), attributes: attributes))
            }
        }
        try await pipeline.shutdown(deadline: .now + .seconds(30))
        #expect(pipeline.statistics(.metrics).dropped == 0)
        guard case .sum(_, _, let points)? = sums.lock.withLock({ sums.last.first?.points }) else {
            Issue.record("no sum exported")
            return
        }
        #expect(points.count == producers)
        #expect(points.allSatisfy { $0.value == .int(Int64(perProducer)) })
    }

    @Test("an instrument registered while the worker drains keeps its first measurements")
    func instrumentsRegisteredDuringADrainKeepTheirMeasurements() async throws {
        // The worker learns about new instruments when a measurement names one it does not know
        // yet. Instruments created one after another, each recorded at once, while the worker is
        // draining: every one must come out with its value, none silently skipped.
        final class Last: MetricExporter, @unchecked Sendable {
            let lock = NSLock()
            var last: [MetricData] = []
            func export(_ batch: MetricBatch) async throws { lock.withLock { last = batch.metrics } }
        }
        let instruments = 30_000 * stressScale
        let exporter = Last()
        var configuration = PipelineConfiguration()
        configuration.metrics.measurementQueueSize = 1 << 20
        let pipeline = Pipeline(resource: Resource(serviceName: "stress"), configuration: configuration,
                                metricExporters: [exporter])
        await runOnThreadsAsync(2) { producer in
            for index in 0..<instruments where index % 2 == producer {
                let id = pipeline.registerInstrument(
                    InstrumentDescriptor(name: "c\(index)", kind: .counter, isDouble: false, scope: scope))
                pipeline.recordMeasurement(Measurement(instrument: id, value: .int(Int64(index + 1)), attributes: []))
            }
        }
        try await pipeline.shutdown(deadline: .now + .seconds(30))
        #expect(pipeline.statistics(.metrics).dropped == 0)
        let exported = exporter.lock.withLock { exporter.last }
        var values: [String: MetricNumber] = [:]
        for metric in exported {
            if case .sum(_, _, let points) = metric.points, let point = points.first { values[metric.name] = point.value }
        }
        let missing = (0..<instruments).filter { values["c\($0)"] != .int(Int64($0 + 1)) }
        #expect(missing.count == 0, "\(missing.count) of \(instruments) instruments lost their measurement, e.g. \(missing.prefix(5))")
    }
}
