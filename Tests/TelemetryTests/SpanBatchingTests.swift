import OTLPTestSupport
import Foundation
import OTLPSync
@testable import Telemetry
import TelemetryCore
@testable import TelemetryPipeline
import Testing

/// Keeps every batch exactly as the pipeline handed it over (its spans still in their blocks).
final class BatchKeepingExporter: SpanExporter, @unchecked Sendable {
    private let kept = LockedValue<[SpanBatch]>([])
    func export(_ batch: SpanBatch) async throws { kept.withLock { $0.append(batch) } }
    var batches: [SpanBatch] { kept.withLock { $0 } }
    func forget() { kept.withLock { $0.removeAll() } }
}

/// How the worker takes spans out of the ring and what the batches it cuts hold.
@Suite("span batching")
struct SpanBatchingTests {
    @Test func aFullWakeIntervalIsBatchedAtOnceAndFewerSpansWaitForTheScheduledDelay() async throws {
        let exporter = BatchKeepingExporter()
        let clock = ManualSchedulingClock()
        var configuration = PipelineConfiguration()
        configuration.traces.maxQueueSize = 64
        configuration.traces.maxExportBatchSize = 8
        configuration.traces.scheduledDelay = .milliseconds(700)
        configuration.schedulingClock = clock
        let provider = TelemetryProvider(resource: Resource(serviceName: "batching"), spanExporters: [exporter],
                                         configuration: configuration)
        let tracer = provider.tracer("batching")
        // Two full batches go out without waiting for the delay (the clock does not move)...
        for index in 0..<16 {
            var span = tracer.startSpan("full")
            span.setAttribute("index", .int(Int64(index)))
            span.end()
        }
        #expect(await eventually(timeout: .seconds(5)) { exporter.batches.map(\.count) == [8, 8] })
        // ...while three spans, fewer than a wake interval, stay queued until the delay has passed
        // on the pipeline's clock: not at 699 ms, at 700 ms.
        for _ in 0..<3 { tracer.startSpan("few").end() }
        try await Task.sleep(for: .milliseconds(100))
        #expect(exporter.batches.count == 2, "exported before the delay")
        clock.advance(by: .milliseconds(699))
        try await Task.sleep(for: .milliseconds(100))
        #expect(exporter.batches.count == 2, "exported before the delay")
        clock.advance(by: .milliseconds(1))
        #expect(await eventually(timeout: .seconds(10)) { exporter.batches.map(\.count) == [8, 8, 3] })
        #expect(exporter.batches[2].spans.map(\.name) == ["few", "few", "few"])
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test func aBatchCutByThePipelineCarriesItsSpansInTheirBlocks() async throws {
        let exporter = BatchKeepingExporter()
        let provider = TelemetryProvider(resource: Resource(serviceName: "blocks"), spanExporters: [exporter])
        let tracer = provider.tracer("blocks", version: "1")
        for index in 0..<5 {
            var span = tracer.startSpan("span \(index)")
            // Past the inline capacity for every other span.
            for key in 0..<(index % 2 == 0 ? 3 : SpanRecord.inlineAttributeCapacity + 4) {
                span.setAttribute("k\(key)", .string("v\(index).\(key)"))
            }
            span.end()
        }
        try await provider.forceFlush(timeout: .seconds(10))
        let batch = try #require(exporter.batches.first)
        #expect(batch.recordList != nil)
        #expect(batch.count == 5)
        let spans = batch.spans
        #expect(spans.map(\.name) == (0..<5).map { "span \($0)" })
        for (index, span) in spans.enumerated() {
            let keys = (0..<(index % 2 == 0 ? 3 : SpanRecord.inlineAttributeCapacity + 4)).map { "k\($0)" }
            #expect(span.attributes.map(\.key) == keys)
            #expect(span.attributes.map(\.value) == keys.indices.map { .string("v\(index).\($0)") })
            #expect(span.scope.name == "blocks" && span.scope.version == "1")
        }
        // Setting the spans replaces the blocks with the array.
        var copy = batch
        copy.spans = Array(spans.prefix(2))
        #expect(copy.recordList == nil && copy.count == 2)
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test func aBatchKeptPastItsProviderStillReadsItsSpansAndThenGivesItsBlocksBack() async throws {
        let exporter = BatchKeepingExporter()
        weak var scope: InstrumentationScope.Storage?
        weak var pool: SpanRecordPool?
        do {
            let provider = TelemetryProvider(resource: Resource(serviceName: "kept"), spanExporters: [exporter])
            let tracer = provider.tracer("kept")
            scope = tracer.scope.storage
            pool = provider.pipeline.spanRecords
            for index in 0..<10 {
                var span = tracer.startSpan("kept")
                span.setAttribute("index", .int(Int64(index)))
                span.setAttribute("text", .string("a string long enough to live on the heap \(index)"))
                span.end()
            }
            try await provider.shutdown(timeout: .seconds(10))
        }
        // The provider is gone; the batch keeps the pool (and the scopes its spans borrow).
        #expect(pool != nil)
        let spans = exporter.batches.flatMap(\.spans)
        #expect(spans.count == 10)
        #expect(spans.allSatisfy { $0.scope.name == "kept" && $0.attributes.count == 2 })
        #expect(spans.map { $0.attributes[1].value } == (0..<10).map { .string("a string long enough to live on the heap \($0)") })
        exporter.forget()
        // Released with the last batch: pool, blocks and the scope (the copies above are gone too).
        _ = consume spans
        #expect(await eventually { pool == nil && scope == nil })
    }

    @Test func theFieldsClearedInPlaceAreAllOfSpanDatasStoredProperties() {
        // A span block with a borrowed scope is cleared field by field, leaving the scope out:
        // a field added to SpanData must be added there too (then to this list).
        let span = SpanData(name: "n", context: SpanContext(traceID: TraceID(high: 1, low: 2), spanID: SpanID(3)),
                            startTimeUnixNano: 0, scope: InstrumentationScope(name: "s"))
        #expect(Mirror(reflecting: span).children.map(\.label) == SpanDataFields.names)
        #expect(SpanDataFields.skippedFieldsAreTrivial)
    }
}
