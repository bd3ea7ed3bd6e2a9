import Foundation
import Telemetry
import Testing

/// An exporter whose `export` blocks until released, to prove deadlines.
final class BlockingSpanExporter: SpanExporter, @unchecked Sendable {
    private let lock = NSLock()
    private var released = false
    func release() { lock.withLock { released = true } }
    func export(_ batch: SpanBatch) async throws {
        while !lock.withLock({ released }) { try? await Task.sleep(for: .milliseconds(5)) }
    }
}

@Suite("ProviderLifecycle")
struct LifecycleTests {
    @Test("shutdown exports everything recorded before it, shuts exporters down and is idempotent")
    func shutdownExportsAndIsIdempotent() async throws {
        let spans = InMemorySpanExporter()
        let logs = InMemoryLogExporter()
        let metrics = InMemoryMetricExporter()
        let provider = makeProvider(spans: spans, metrics: metrics, logs: logs)
        let tracer = provider.tracer("t")
        for index in 0..<1000 {
            let span = tracer.startSpan("s\(index)")
            span.end()
        }
        provider.logger("l").info("hello")
        provider.meter("m").counter("requests").add(5)
        try await provider.shutdown(timeout: .seconds(60))
        #expect(spans.spans.count == 1000)
        #expect(spans.batches.allSatisfy { $0.spans.count <= 512 })
        #expect(logs.records.count == 1)
        #expect(metrics.metrics.map(\.name) == ["requests"])
        #expect(spans.isShutDown && logs.isShutDown && metrics.isShutDown)
        try await provider.shutdown(timeout: .seconds(60))  // idempotent
        let stats = provider.statistics(.traces)
        #expect(stats.accepted == 1000 && stats.exported == 1000 && stats.dropped == 0 && stats.failed == 0)
    }

    @Test("recording after shutdown is a counted no-op")
    func recordAfterShutdown() async throws {
        let spans = InMemorySpanExporter()
        let provider = makeProvider(spans: spans)
        try await provider.shutdown(timeout: .seconds(60))
        let span = provider.tracer("t").startSpan("late")
        span.end()
        provider.logger("l").warn("late")
        provider.meter("m").counter("late").add(1)
        #expect(spans.spans.isEmpty)
        #expect(provider.statistics(.traces).droppedAfterShutdown == 1)
        #expect(provider.statistics(.logs).droppedAfterShutdown == 1)
        #expect(provider.statistics(.metrics).droppedAfterShutdown == 1)
        try await provider.forceFlush(timeout: .seconds(1))  // no-op after shutdown
    }

    @Test("forceFlush past its deadline throws a typed timeout error")
    func flushTimeout() async throws {
        let blocking = BlockingSpanExporter()
        let provider = TelemetryProvider(resource: Resource(serviceName: "t"), spanExporters: [blocking])
        let span = provider.tracer("t").startSpan("stuck")
        span.end()
        do {
            try await provider.forceFlush(timeout: .milliseconds(100))
            Issue.record("forceFlush returned although the exporter never finished")
        } catch let error as TelemetryError {
            #expect(error.code == .timedOut)
        }
        blocking.release()
        try await provider.shutdown(timeout: .seconds(60))
        #expect(provider.statistics(.traces).exported == 1)
    }

    @Test("a full span buffer drops, counts and reports the drops once per interval")
    func dropsCountedAndReported() async throws {
        let blocking = BlockingSpanExporter()
        let messages = MessageLog()
        var configuration = PipelineConfiguration()
        configuration.traces = .init(maxQueueSize: 16, maxExportBatchSize: 4, scheduledDelay: .seconds(60))
        configuration.dropReportInterval = .milliseconds(50)
        configuration.diagnostics = { messages.append($0) }
        let provider = TelemetryProvider(resource: Resource(serviceName: "t"), spanExporters: [blocking], configuration: configuration)
        let tracer = provider.tracer("t")
        for _ in 0..<200 {
            let span = tracer.startSpan("s")
            span.end()
        }
        let stats = provider.statistics(.traces)
        #expect(stats.accepted + stats.dropped == 200)
        #expect(stats.dropped > 0)
        // The worker reports within a couple of intervals.
        for _ in 0..<100 where !messages.contains("because the buffer was full") {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(messages.contains("because the buffer was full"))
        blocking.release()
        try await provider.shutdown(timeout: .seconds(60))
        let final = provider.statistics(.traces)
        #expect(final.exported == final.accepted)
    }
}

final class MessageLog: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [String] = []
    func append(_ message: String) { lock.withLock { messages.append(message) } }
    func contains(_ text: String) -> Bool { lock.withLock { messages.contains { $0.contains(text) } } }
}

@Suite("Concurrent flush and shutdown waiters")
struct ConcurrentFlushShutdownTests {
    /// A forceFlush (or a second shutdown) that arrives during a shutdown waits on the shutdown's
    /// ticket; every waiter must be resumed (one waiter used to replace the other, which then hung).
    @Test func flushesAndShutdownsRacingAShutdownAllReturn() async throws {
        for _ in 0..<20 {
            let spans = InMemorySpanExporter()
            let provider = TelemetryProvider(resource: Resource(serviceName: "race"), spanExporters: [spans])
            provider.tracer("t").withSpan("s") { _ in }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await provider.shutdown(timeout: .seconds(10)) }
                group.addTask { try await provider.forceFlush(timeout: .seconds(10)) }
                group.addTask { try await provider.shutdown(timeout: .seconds(10)) }
                group.addTask { try await provider.forceFlush(timeout: .seconds(10)) }
                try await group.waitForAll()
            }
            #expect(spans.spans.count == 1)
            #expect(spans.isShutDown)
        }
    }

    @Test func eachWaiterKeepsItsOwnDeadline() async throws {
        let blocking = CountingSpanExporter(blocks: true)
        let provider = TelemetryProvider(resource: Resource(serviceName: "race"), spanExporters: [blocking], deinitFlushTimeout: .zero)
        provider.tracer("t").withSpan("s") { _ in }
        try await Task.sleep(for: .milliseconds(100))
        let long = Task { try await provider.shutdown(timeout: .seconds(20)) }
        var shortTimedOut = false
        do { try await provider.shutdown(timeout: .milliseconds(200)) } catch is TelemetryError { shortTimedOut = true }
        #expect(shortTimedOut)
        blocking.release()
        try await long.value  // not ended by the other waiter's deadline
        #expect(blocking.spans.count == 1)
    }
}
