import OTLPTestSupport
import Foundation
@testable import Telemetry
import TelemetryCore
@testable import TelemetryPipeline
import Testing

/// Spans are recorded in blocks reused from the pipeline's pool, with the first eight attributes
/// inside the block and the rest in an array: what is exported must not show the difference, and
/// every block's contents must be released whichever way the span leaves (exported, dropped by a
/// full queue, recorded after shutdown, never ended).
@Suite("pooled span records")
struct PooledSpanRecordTests {
    @Test func attributesPastTheInlineCapacityKeepTheirOrderAndAreReplacedByKey() async throws {
        let exporter = InMemorySpanExporter()
        let provider = makeProvider(spans: exporter)
        let tracer = provider.tracer("pool")
        var span = tracer.startSpan("many", attributes: ["a0": 0, "a1": 1])
        for index in 2..<12 { span.setAttribute("a\(index)", .int(Int64(index))) }
        span.setAttribute("a2", "inline replaced")
        span.setAttribute("a10", "overflow replaced")
        #expect(span.attributes.count == 12)
        span.end()
        try await provider.forceFlush(timeout: .seconds(10))
        let exported = try #require(exporter.spans.first)
        #expect(exported.attributes.map(\.key) == (0..<12).map { "a\($0)" })
        #expect(exported.attributes[2].value == .string("inline replaced"))
        #expect(exported.attributes[10].value == .string("overflow replaced"))
        #expect(exported.attributes[11].value == .int(11))
        #expect(exported.droppedAttributesCount == 0)
    }

    @Test func keysOfEqualAndOfAliasedLengthsAreReplacedOnlyByTheirOwnKey() async throws {
        // Setting a key searches the inline attributes only when one of them has a key of the
        // same length modulo 64: keys of one length, and of lengths 64 apart, must still be
        // told apart, and replaced, by their content.
        let exporter = InMemorySpanExporter()
        let provider = makeProvider(spans: exporter)
        var span = provider.tracer("pool").startSpan("lengths")
        let long = String(repeating: "x", count: 65)  // 65 % 64 == 1, like "a" and "b"
        span.setAttribute("a", 1)
        span.setAttribute("b", 2)
        span.setAttribute(long, 3)
        span.setAttribute("cd", 4)
        span.setAttribute("b", 20)
        span.setAttribute(long, 30)
        span.setAttribute("a", 10)
        span.setAttribute("ce", 5)
        span.end()
        try await provider.forceFlush(timeout: .seconds(10))
        let exported = try #require(exporter.spans.first)
        #expect(exported.attributes.map(\.key) == ["a", "b", long, "cd", "ce"])
        #expect(exported.attributes.map(\.value) == [.int(10), .int(20), .int(30), .int(4), .int(5)])
    }

    @Test func newKeysAfterTheInlineAttributesAreFullGoAfterThemWhateverTheirLength() async throws {
        // `setAttribute` appends with no check while inline room is left and no inline key has
        // the new key's length. Once attributes overflow, every key must take the checked path:
        // new keys of an unused length go after the overflow ones, and both kinds are replaced.
        let exporter = InMemorySpanExporter()
        let provider = makeProvider(spans: exporter)
        var span = provider.tracer("pool").startSpan("overflow", parent: .root)
        for index in 0..<8 { span.setAttribute("k\(index)", .int(Int64(index))) }  // all two bytes long
        span.setAttribute("overflow-1", 8)
        span.setAttribute("x", 9)
        span.setAttribute("k3", 30)
        span.setAttribute("x", 90)
        span.setAttribute("a-longer-key", 10)
        span.end()
        try await provider.forceFlush(timeout: .seconds(10))
        let exported = try #require(exporter.spans.first)
        #expect(exported.attributes.map(\.key) == (0..<8).map { "k\($0)" } + ["overflow-1", "x", "a-longer-key"])
        #expect(exported.attributes.map(\.value) == [0, 1, 2, 30, 4, 5, 6, 7, 8, 90, 10].map { AttributeValue.int($0) })
    }

    @Test func aRecordMadeFromAFinishedSpanTakesNoUncheckedAppend() {
        // A record filled from a finished span holds its attributes past the inline ones (none
        // inline): an unchecked append would put a new key before them, or a second copy of an
        // existing key inline.
        let pool = SpanRecordPool(minimumCapacity: 4)
        let record = pool.take()
        record.initialize(with: SpanData(
            name: "done", context: SpanContext(traceID: IDGenerator.traceID(), spanID: IDGenerator.spanID()),
            startTimeUnixNano: 1, attributes: ["a": 1], scope: InstrumentationScope(name: "pool")))
        #expect(!record.canAppendUnchecked(keyLengthBit: SpanRecord.keyLengthBit("a"), room: 8))
        #expect(!record.canAppendUnchecked(keyLengthBit: SpanRecord.keyLengthBit("bb"), room: 8))
        #expect(record.setAttribute("a", 2, countLimit: 128))
        #expect(record.setAttribute("bb", 3, countLimit: 128))
        #expect(record.attributes == ["a": 2, "bb": 3])
        pool.discard(record)
    }

    @Test(arguments: [3, 8, 10])
    func theCountLimitHoldsAcrossInlineAndOverflowAttributes(limit: Int) async throws {
        let exporter = InMemorySpanExporter()
        let provider = makeProvider(spans: exporter, limits: AttributeLimits(attributeCountLimit: limit))
        var span = provider.tracer("pool").startSpan("limited")
        for index in 0..<12 { span.setAttribute("k\(index)", .int(Int64(index))) }
        span.setAttribute("k0", 100)  // a replacement is not an addition
        span.end()
        try await provider.forceFlush(timeout: .seconds(10))
        let exported = try #require(exporter.spans.first)
        #expect(exported.attributes.map(\.key) == (0..<limit).map { "k\($0)" })
        #expect(exported.attributes[0].value == .int(100))
        #expect(exported.droppedAttributesCount == UInt32(12 - limit))
    }

    @Test func theValueLengthLimitCutsInlineAndOverflowValues() async throws {
        let exporter = InMemorySpanExporter()
        let provider = makeProvider(spans: exporter, limits: AttributeLimits(attributeValueLengthLimit: 3))
        var span = provider.tracer("pool").startSpan("cut")
        for index in 0..<10 { span.setAttribute("s\(index)", .string("value-\(index)")) }
        span.end()
        try await provider.forceFlush(timeout: .seconds(10))
        let exported = try #require(exporter.spans.first)
        #expect(exported.attributes.map(\.value) == Array(repeating: AttributeValue.string("val"), count: 10))
    }

    @Test func removingAllAttributesEmptiesInlineAndOverflowAttributes() async throws {
        let exporter = InMemorySpanExporter()
        let provider = makeProvider(spans: exporter)
        var span = provider.tracer("pool").startSpan("cleared")
        for index in 0..<10 { span.setAttribute("old\(index)", true) }
        span.removeAllAttributes()
        span.setAttribute("new", 1)
        span.end()
        try await provider.forceFlush(timeout: .seconds(10))
        #expect(try #require(exporter.spans.first).attributes == [Attribute("new", 1)])
    }

    @Test func blocksAreReusedInsteadOfAllocatedPerSpan() async throws {
        let exporter = InMemorySpanExporter()
        let provider = makeProvider(spans: exporter) { $0.traces.maxQueueSize = 256 }
        let tracer = provider.tracer("pool")
        for round in 0..<20 {
            for index in 0..<200 {
                var span = tracer.startSpan("reused")
                span.setAttribute("round", .int(Int64(round)))
                span.setAttribute("index", .int(Int64(index)))
                span.end()
            }
            try await provider.forceFlush(timeout: .seconds(10))
        }
        #expect(exporter.spans.count == 4000)
        #expect(provider.statistics(.traces).dropped == 0)
        // 4000 spans went through at most 200 at a time: the pool never needed more blocks than
        // were queued at once.
        let allocated = provider.pipeline.spanRecords.allocatedCount
        #expect(allocated > 0 && allocated <= 256, "\(allocated) blocks for 4000 spans")
    }

    @Test func aDrainedBurstKeepsAtMostEightBatchesOfIdleBlocks() async throws {
        // Exports are held back until the burst is over, so all of its spans hold their blocks
        // at once (in the ring or in batches) and come back together.
        let exporter = InMemorySpanExporter()
        let held = HeldSpanExporter(exporter)
        var configuration = PipelineConfiguration()
        configuration.traces.maxQueueSize = 8192
        let provider = TelemetryProvider(resource: Resource(serviceName: "burst"), spanExporters: [held], configuration: configuration)
        let tracer = provider.tracer("burst")
        for index in 0..<6000 {
            var span = tracer.startSpan("queued")
            span.setAttribute("index", .int(Int64(index)))
            span.end()
        }
        held.release()
        try await provider.forceFlush(timeout: .seconds(10))
        #expect(exporter.spans.count + Int(provider.statistics(.traces).dropped) == 6000)
        // Eight export batches of the default 512 spans: the rest of the burst's blocks were
        // freed rather than kept circulating (each idle block is reused once per round of the pool).
        let pool = provider.pipeline.spanRecords
        #expect(pool.capacity == 4096)
        #expect(pool.idleCount <= 4096, "idle \(pool.idleCount)")
        #expect(pool.freedCount > 0)
        #expect(pool.allocatedCount == pool.idleCount + pool.freedCount,
                "allocated \(pool.allocatedCount), idle \(pool.idleCount), freed \(pool.freedCount)")
        // Later spans (no more than are idle) reuse the idle blocks: none is allocated for them.
        let allocated = pool.allocatedCount
        #expect(pool.idleCount > 0)
        for _ in 0..<min(500, pool.idleCount) { tracer.startSpan("reused").end() }
        try await provider.forceFlush(timeout: .seconds(10))
        #expect(pool.allocatedCount == allocated)
    }

    @Test func spansOfInterleavedScopesHoldExactlyOneRetainOfTheirScopeEach() async throws {
        // Span blocks borrow their scope (no retain), copies of the spans retain it, and clearing
        // a block leaves it unreleased: with alternating scopes, a miscount would either keep a
        // scope alive after everything is released or free it while spans still hold it.
        weak var first: InstrumentationScope.Storage?
        weak var second: InstrumentationScope.Storage?
        do {
            let exporter = InMemorySpanExporter()
            let provider = makeProvider(spans: exporter) { $0.traces.maxQueueSize = 4096 }
            let tracers = [provider.tracer("first"), provider.tracer("second", version: "2")]
            first = tracers[0].scope.storage
            second = tracers[1].scope.storage
            for index in 0..<3000 {
                // Runs of 1, 2 and 3 spans of a scope.
                let tracer = tracers[(index / (1 + index % 3)) % 2]
                var span = tracer.startSpan("interleaved")
                span.setAttribute("index", .int(Int64(index)))
                span.end()
            }
            try await provider.shutdown(timeout: .seconds(10))
            #expect(exporter.spans.count + Int(provider.statistics(.traces).dropped) == 3000)
            let names = Set(exporter.spans.map(\.scope.name))
            #expect(names == ["first", "second"])
            for span in exporter.spans { #expect(span.scope.name == "first" || span.scope.version == "2") }
            exporter.reset()
        }
        #expect(await eventually { first == nil && second == nil })
    }

    @Test func everyWayOutOfTheQueueReleasesTheSpansContents() async throws {
        weak var scopeStorage: InstrumentationScope.Storage?
        let exporter = InMemorySpanExporter()
        let held = HeldSpanExporter(exporter)
        do {
            // Exports are held back until the burst is over, so the lane fills, then the ring
            // of 4: most spans below are dropped at the push.
            var configuration = PipelineConfiguration()
            configuration.traces.maxQueueSize = 4
            configuration.traces.maxExportBatchSize = 2
            configuration.traces.scheduledDelay = .seconds(60)
            let provider = TelemetryProvider(
                resource: Resource(serviceName: "released"), spanExporters: [held], configuration: configuration)
            let tracer = provider.tracer("released", version: "1")
            scopeStorage = tracer.scope.storage
            for index in 0..<500 {
                var span = tracer.startSpan("burst")
                for key in 0..<10 { span.setAttribute("k\(key)", .string("value \(index) \(key)")) }
                if index % 7 == 0 { continue }  // dropped without end(): ended by its deinit
                span.end()
            }
            let dropped = provider.statistics(.traces).dropped
            #expect(dropped > 0)
            held.release()
            try await provider.shutdown(timeout: .seconds(10))
            var late = tracer.startSpan("after shutdown")
            late.setAttribute("k", "v")
            late.end()
            #expect(exporter.spans.count + dropped == 500)
            // Every block came back: none is still held by a dropped, late or unended span.
            let pool = provider.pipeline.spanRecords
            #expect(pool.allocatedCount > 0)
            #expect(pool.allocatedCount == pool.idleCount + pool.freedCount,
                    "allocated \(pool.allocatedCount), idle \(pool.idleCount), freed \(pool.freedCount)")
            exporter.reset()
        }
        // Exported batches were reset; no queued, dropped or late record still holds the scope.
        #expect(await eventually { scopeStorage == nil })
    }

    @Test func unsampledSpansKeepTheirNameAndContextAndGiveTheirBlockBack() async throws {
        let exporter = InMemorySpanExporter()
        let provider = makeProvider(spans: exporter, sampler: .alwaysOff)
        let tracer = provider.tracer("unsampled")
        var parent = tracer.startSpan("parent")
        parent.setAttribute("ignored", true)
        let recording = parent.isRecording, name = parent.name, context = parent.context
        let attributes = parent.attributes
        #expect(!recording)
        #expect(name == "parent")
        #expect(context.isValid && !context.isSampled)
        #expect(attributes.isEmpty)
        let child = tracer.startSpan("child", parent: .context(context))
        let childContext = child.context, childParent = child.parentSpanID
        #expect(childContext.traceID == context.traceID)
        #expect(childParent == context.spanID)
        child.end()
        parent.end()
        try await provider.forceFlush(timeout: .seconds(10))
        #expect(exporter.spans.isEmpty)
        let pool = provider.pipeline.spanRecords
        #expect(pool.allocatedCount == pool.idleCount + pool.freedCount)
    }

    @Test func askingForTheSameTracerAgainKeepsOneScope() async throws {
        let exporter = InMemorySpanExporter()
        let provider = makeProvider(spans: exporter)
        let before = provider.pipeline.keptScopeCount
        for index in 0..<1000 {
            var span = provider.tracer("per-request", version: "1").startSpan("request")
            span.setAttribute("index", .int(Int64(index)))
            span.end()
        }
        _ = provider.tracer("other")
        #expect(provider.pipeline.keptScopeCount == before + 2)
        try await provider.forceFlush(timeout: .seconds(10))
        let spans = exporter.spans
        #expect(spans.count == 1000)
        #expect(Set(spans.map(\.scope)).count == 1)
        #expect(spans.allSatisfy { $0.scope.isIdentical(to: spans[0].scope) })
    }

    @Test func spansFromManyThreadsArriveOnceWithTheirOwnAttributes() async throws {
        let exporter = InMemorySpanExporter()
        let provider = makeProvider(spans: exporter) { $0.traces.maxQueueSize = 1 << 15 }
        let tracer = provider.tracer("threads")
        let threads = 4, perThread = 5000
        onThreads(threads) { thread in
            for index in 0..<perThread {
                var span = tracer.startSpan("t\(thread)")
                span.setAttribute("thread", .int(Int64(thread)))
                span.setAttribute("index", .int(Int64(index)))
                // Every tenth span overflows the inline attributes.
                for key in 0..<(index % 10 == 0 ? 10 : 2) { span.setAttribute("k\(key)", .int(Int64(key))) }
                span.end()
            }
        }
        try await provider.forceFlush(timeout: .seconds(30))
        let spans = exporter.spans
        #expect(provider.statistics(.traces).dropped == 0)
        #expect(spans.count == threads * perThread)
        var seen = Set<Int>()
        for span in spans {
            guard case .int(let thread) = span.attributes[0].value, case .int(let index) = span.attributes[1].value else {
                Issue.record("attributes out of order: \(span.attributes)")
                continue
            }
            #expect(span.name == "t\(thread)")
            #expect(span.attributes.count == (index % 10 == 0 ? 12 : 4))
            #expect(seen.insert(Int(thread) * perThread + Int(index)).inserted, "span \(thread)/\(index) twice")
        }
        #expect(seen.count == threads * perThread)
    }
}

/// Holds every export back until ``release()``, then hands the batches to `inner`.
final class HeldSpanExporter: SpanExporter, @unchecked Sendable {
    private let inner: InMemorySpanExporter
    private let gate = DispatchSemaphore(value: 0)
    init(_ inner: InMemorySpanExporter) { self.inner = inner }
    func export(_ batch: SpanBatch) async throws {
        // Each waiter passes the signal on, so one release lets every export through.
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                self.gate.wait()
                self.gate.signal()
                continuation.resume()
            }
        }
        try await inner.export(batch)
    }
    func release() { gate.signal() }
}
