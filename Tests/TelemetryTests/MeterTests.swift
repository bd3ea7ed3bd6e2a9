import Foundation
import Telemetry
import Testing
import TelemetryCore
import TelemetryPipeline

private func points(_ metric: MetricData?) -> [NumberDataPoint] {
    switch metric?.points {
    case .sum(_, _, let points)?, .gauge(let points)?: return points
    default: return []
    }
}

private func metric(_ exporter: InMemoryMetricExporter, _ name: String) -> MetricData? {
    exporter.lastCollection.first { $0.name == name }
}

@Suite("Meter")
struct MeterTests {
    @Test("counter sums per attribute set; cumulative keeps totals across collections")
    func cumulativeCounter() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter)
        let counter = provider.meter("m").counter("requests", unit: "1", description: "served")
        counter.add(1, attributes: ["route": "/a"])
        counter.add(2, attributes: ["route": "/a"])
        counter.add(5, attributes: ["route": "/b", "code": 200])
        counter.add(7, attributes: ["code": 200, "route": "/b"])  // same set, other order
        counter.add(-3, attributes: ["route": "/a"])  // negative: ignored
        try await provider.forceFlush(timeout: .seconds(10))
        let first = try #require(metric(exporter, "requests"))
        guard case .sum(let monotonic, let temporality, let sums) = first.points else {
            Issue.record("not a sum: \(first.points)")
            return
        }
        #expect(monotonic && temporality == .cumulative)
        #expect(first.unit == "1" && first.description == "served")
        #expect(sums.count == 2)
        #expect(sums.first { $0.attributes == ["route": "/a"] }?.value == .int(3))
        #expect(sums.first { $0.attributes == ["code": 200, "route": "/b"] }?.value == .int(12))
        counter.add(10, attributes: ["route": "/a"])
        try await provider.forceFlush(timeout: .seconds(10))
        #expect(points(metric(exporter, "requests")).first { $0.attributes == ["route": "/a"] }?.value == .int(13))
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test("delta temporality reports only what happened since the last collection")
    func deltaCounter() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter) {
            $0.metrics.temporality = .delta
            $0.schedulingClock = ManualSchedulingClock()  // only flushes collect
        }
        let counter = provider.meter("m").counter("bytes", of: Double.self)
        counter.add(1.5)
        counter.add(2.5)
        try await provider.forceFlush(timeout: .seconds(10))
        #expect(points(metric(exporter, "bytes")).map(\.value) == [.double(4)])
        counter.add(1)
        try await provider.forceFlush(timeout: .seconds(10))
        let second = points(metric(exporter, "bytes"))
        #expect(second.map(\.value) == [.double(1)])
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test("up-down counter, gauge and histogram aggregate per the spec")
    func otherInstruments() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter)
        let meter = provider.meter("m")
        let active = meter.upDownCounter("active")
        active.add(5)
        active.add(-2)
        let temperature = meter.gauge("temperature")
        temperature.record(20.5)
        temperature.record(21.5)
        let latency = meter.histogram("latency", unit: "ms", aggregation: .explicitBuckets([0, 10, 100]))
        for value in [0.0, 5, 10, 11, 1000] { latency.record(value) }
        try await provider.forceFlush(timeout: .seconds(10))
        guard case .sum(let monotonic, _, let sums)? = metric(exporter, "active")?.points else {
            Issue.record("no up-down sum")
            return
        }
        #expect(!monotonic && sums.map(\.value) == [.int(3)])
        guard case .gauge(let gauges)? = metric(exporter, "temperature")?.points else {
            Issue.record("no gauge")
            return
        }
        #expect(gauges.map(\.value) == [.double(21.5)])
        guard case .histogram(_, let histograms)? = metric(exporter, "latency")?.points, let point = histograms.first else {
            Issue.record("no histogram")
            return
        }
        #expect(point.count == 5 && point.sum == 1026 && point.min == 0 && point.max == 1000)
        #expect(point.explicitBounds == [0, 10, 100])
        #expect(point.bucketCounts == [1, 2, 1, 1])  // (-inf,0], (0,10], (10,100], (100,inf)
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test("default histogram boundaries are the spec's")
    func defaultBoundaries() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter)
        provider.meter("m").histogram("h").record(7)
        try await provider.forceFlush(timeout: .seconds(10))
        guard case .histogram(_, let points)? = metric(exporter, "h")?.points else {
            Issue.record("no histogram")
            return
        }
        #expect(points.first?.explicitBounds == [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000])
        #expect(points.first?.bucketCounts[2] == 1)
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test("base-2 exponential histogram: exact buckets at scale 0 and downscaling within maxSize")
    func exponentialHistogram() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter)
        let meter = provider.meter("m")
        let small = meter.histogram("small", aggregation: .base2Exponential(maxSize: 160, maxScale: 0))
        for value in [1.0, 2, 3, 4, 0, -8] { small.record(value) }
        let wide = meter.histogram("wide", aggregation: .base2Exponential(maxSize: 4, maxScale: 20))
        for value in [1.0, 2, 4, 8, 16, 1024] { wide.record(value) }
        try await provider.forceFlush(timeout: .seconds(10))
        guard case .exponentialHistogram(_, let smallPoints)? = metric(exporter, "small")?.points,
              let point = smallPoints.first
        else {
            Issue.record("no exponential histogram")
            return
        }
        // Scale 0: bucket i is (2^i, 2^(i+1)]: 1 → -1, 2 → 0, 3 and 4 → 1. Histograms ignore
        // negative values (the API's contract), so -8 is not counted.
        #expect(point.scale == 0)
        #expect(point.zeroCount == 1 && point.count == 5 && point.sum == 10)
        #expect(point.positiveOffset == -1 && point.positiveBucketCounts == [1, 1, 2])
        #expect(point.negativeBucketCounts.isEmpty)
        guard case .exponentialHistogram(_, let widePoints)? = metric(exporter, "wide")?.points,
              let widePoint = widePoints.first
        else {
            Issue.record("no wide histogram")
            return
        }
        #expect(widePoint.positiveBucketCounts.count <= 4)
        #expect(widePoint.positiveBucketCounts.reduce(0, +) == 6)
        // 1 and 1024 must fit in 4 buckets: (1024 / 1) needs base^4 >= 2^10 → scale <= -2.
        #expect(widePoint.scale <= -2)
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test("observable counter and gauge call back at collection; delta differences observable counters")
    func observables() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter) {
            $0.metrics.temporality = .delta
            $0.schedulingClock = ManualSchedulingClock()  // only flushes collect
        }
        let total = LockedCounter()
        let meter = provider.meter("m")
        meter.observableCounter("cpu.time") { recorder in recorder.observe(total.add(10), attributes: ["cpu": 0]) }
        meter.observableGauge("queue.depth") { recorder in recorder.observe(3.0) }
        try await provider.forceFlush(timeout: .seconds(10))
        #expect(points(metric(exporter, "cpu.time")).map(\.value) == [.int(10)])
        #expect(points(metric(exporter, "queue.depth")).map(\.value) == [.double(3)])
        try await provider.forceFlush(timeout: .seconds(10))
        // Cumulative 20 observed; delta since the last collection is 10.
        #expect(points(metric(exporter, "cpu.time")).map(\.value) == [.int(10)])
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test("past the cardinality limit, measurements go to the otel.metric.overflow stream")
    func cardinalityLimit() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter)
        let counter = provider.meter("m").counter("c", cardinalityLimit: 3)
        for index in 0..<10 { counter.add(1, attributes: ["i": .int(Int64(index))]) }
        counter.add(1, attributes: ["i": 0])  // an existing stream keeps counting
        try await provider.forceFlush(timeout: .seconds(10))
        let streams = points(metric(exporter, "c"))
        #expect(streams.count == 3)
        #expect(streams.first { $0.attributes == ["i": 0] }?.value == .int(2))
        #expect(streams.first { $0.attributes == ["otel.metric.overflow": true] }?.value == .int(8))
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test("metrics are exported every interval without a flush")
    func periodicExport() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter) { $0.metrics.exportInterval = .milliseconds(50) }
        provider.meter("m").counter("ticks").add(1)
        for _ in 0..<200 where exporter.batches.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        #expect(points(exporter.metrics.first { $0.name == "ticks" }).map(\.value) == [.int(1)])
        try await provider.shutdown(timeout: .seconds(10))
    }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int64 = 0
    func add(_ delta: Int64) -> Int64 { lock.withLock { value += delta; return value } }
}

@Suite("TelemetryLogger")
struct LoggerTests {
    @Test("records carry severity, body, attributes, event name and the current span's ids")
    func logRecords() async throws {
        let exporter = InMemoryLogExporter()
        let provider = makeProvider(logs: exporter, limits: AttributeLimits(attributeCountLimit: 2))
        let logger = provider.logger("app", version: "2")
        var spanContext: SpanContext?
        provider.tracer("t").withSpan("op") { span in
            spanContext = span.context
            logger.warn("disk almost full", attributes: ["disk": "/dev/sda", "percent": 93, "extra": true])
        }
        logger.event("user.login", body: "ok", attributes: ["user": "u1"])
        try await provider.forceFlush(timeout: .seconds(10))
        let records = exporter.records
        #expect(records.count == 2)
        let warning = try #require(records.first)
        #expect(warning.severity == .warn && warning.severityText == "WARN")
        #expect(warning.body == .string("disk almost full"))
        #expect(warning.attributes.count == 2 && warning.droppedAttributesCount == 1)
        #expect(warning.traceID == spanContext?.traceID && warning.spanID == spanContext?.spanID)
        #expect(warning.traceFlags == .sampled)
        #expect(warning.scope.name == "app")
        let event = try #require(records.last)
        #expect(event.eventName == "user.login" && event.traceID == nil && event.severity == .info)
        try await provider.shutdown(timeout: .seconds(10))
    }
}
