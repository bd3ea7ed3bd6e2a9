import Foundation
import Telemetry
import Testing

private func histogramMetrics(_ metrics: [MetricData], _ name: String) -> [(AggregationTemporality, [HistogramDataPoint])] {
    metrics.filter { $0.name == name }.compactMap { metric in
        guard case .histogram(let temporality, let points) = metric.points else { return nil }
        return (temporality, points)
    }
}

private func histograms(_ exporter: InMemoryMetricExporter, _ name: String) -> [HistogramDataPoint] {
    histogramMetrics(exporter.lastCollection, name).first?.1 ?? []
}

/// What an explicit-bucket histogram of `values` must hold (OTel rule: bucket i counts values in
/// (bounds[i-1], bounds[i]]), computed by a linear scan independent of the SDK's search.
private struct Expected {
    var buckets: [UInt64]
    var count: UInt64 = 0
    var sum: Double = 0
    var min = Double.infinity
    var max = -Double.infinity

    init(bounds: [Double], values: some Sequence<Double>, times: UInt64 = 1) {
        buckets = [UInt64](repeating: 0, count: bounds.count + 1)
        for value in values {
            buckets[bounds.firstIndex { value <= $0 } ?? bounds.count] += times
            count += times
            sum += value * Double(times)
            min = Swift.min(min, value)
            max = Swift.max(max, value)
        }
    }
}

/// The value the tight-loop tests record at `index`: multiples of 0.5 (sums exact in any order),
/// spread over every default bucket, several equal to a bound (0, 75, 750, 7500).
private func loopValue(_ index: Int) -> Double { Double(index % 2048) * 7.5 }

/// Explicit-bucket histogram records without attributes are atomic updates of a lock-free
/// histogram on the producer (never a ring push), taken by the worker at each collection.
@Suite("attribute-free histogram records", .serialized)  // tight loops on several threads beside flushes
struct AttributeFreeHistogramTests {
    @Test func tightLoopsOnSeveralThreadsBucketExactlyAndDropNothing() async throws {
        let exporter = InMemoryMetricExporter()
        // A queue of 16 measurements: any record that went through the ring in a tight loop would drop.
        let provider = makeProvider(metrics: exporter) { $0.metrics.measurementQueueSize = 16 }
        let latency = provider.meter("m").histogram("latency")
        let sizes = provider.meter("m").histogram("sizes", of: Int64.self, aggregation: .explicitBuckets([10, 100, 1000]))
        let perThread = 200_000
        onThreads(3) { _ in
            for index in 0..<perThread {
                latency.record(loopValue(index))
                sizes.record(Int64(index % 1500))
            }
        }
        try await provider.forceFlush(timeout: .seconds(10))
        let expected = Expected(bounds: HistogramAggregation.defaultBoundaries, values: (0..<perThread).map(loopValue), times: 3)
        let points = histograms(exporter, "latency")
        #expect(points.count == 1)
        #expect(points.first?.attributes == [])
        #expect(points.first?.count == UInt64(3 * perThread))
        #expect(points.first?.bucketCounts == expected.buckets)
        #expect(points.first?.sum == expected.sum)
        #expect(points.first?.min == 0)
        #expect(points.first?.max == 2047 * 7.5)
        let expectedSizes = Expected(bounds: [10, 100, 1000], values: (0..<perThread).map { Double($0 % 1500) }, times: 3)
        let sizePoints = histograms(exporter, "sizes")
        #expect(sizePoints.first?.bucketCounts == expectedSizes.buckets)
        #expect(sizePoints.first?.sum == expectedSizes.sum)
        #expect(sizePoints.first?.min == 0)
        #expect(sizePoints.first?.max == 1499)
        let statistics = provider.statistics(.metrics)
        #expect(statistics.dropped == 0)
        #expect(statistics.accepted == 2 * 3 * perThread)
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test(arguments: [AggregationTemporality.delta, .cumulative])
    func collectionsWhileRecordingAreConsistentAndAddUpToEveryRecord(_ temporality: AggregationTemporality) async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter) { $0.metrics.temporality = temporality }
        let histogram = provider.meter("m").histogram("latency")
        let perThread = 100_000
        let flusher = Task {
            for _ in 0..<20 { try await provider.forceFlush(timeout: .seconds(10)) }
        }
        onThreads(2) { _ in for index in 0..<perThread { histogram.record(loopValue(index)) } }
        try await flusher.value
        try await provider.forceFlush(timeout: .seconds(10))
        let collections = histogramMetrics(exporter.metrics, "latency")
        #expect(collections.allSatisfy { $0.0 == temporality })
        let points = collections.flatMap(\.1)
        #expect(points.allSatisfy { $0.attributes.isEmpty })
        // Every point is a consistent snapshot: no record's count seen without its bucket.
        for point in points {
            #expect(point.count == point.bucketCounts.reduce(0, +))
        }
        let expected = Expected(bounds: HistogramAggregation.defaultBoundaries, values: (0..<perThread).map(loopValue), times: 2)
        switch temporality {
        case .delta:
            // The delta points of every collection add up to every record, each counted once.
            #expect(points.reduce(0) { $0 + $1.count } == expected.count)
            #expect(points.reduce(into: [UInt64](repeating: 0, count: expected.buckets.count)) { total, point in
                for (index, count) in point.bucketCounts.enumerated() { total[index] += count }
            } == expected.buckets)
            #expect(points.reduce(0) { $0 + $1.sum } == expected.sum)
            #expect(points.compactMap(\.min).min() == expected.min)
            #expect(points.compactMap(\.max).max() == expected.max)
        case .cumulative:
            // Each collection holds at least what the one before did; the last holds everything.
            for (earlier, later) in zip(points, points.dropFirst()) {
                #expect(later.count >= earlier.count)
                #expect(zip(earlier.bucketCounts, later.bucketCounts).allSatisfy { $0 <= $1 })
            }
            #expect(points.last?.count == expected.count)
            #expect(points.last?.bucketCounts == expected.buckets)
            #expect(points.last?.sum == expected.sum)
            #expect(points.last?.min == expected.min)
            #expect(points.last?.max == expected.max)
        }
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test func recordsWithoutAttributesAggregateExactlyAsRingRecordsDo() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter)
        let meter = provider.meter("m")
        let bounds: [Double] = [-1, 0, 0.5, 1, 2.5, 10]
        let doubles: [Double] = [
            0, -0.0, 0.5, 1, 2.5, 10,  // equal to bounds
            0.1, 0.2, 0.3, 0.7, 1e-300, 2.4999999, 9.999, 10.000001, 1e300, .greatestFiniteMagnitude,
            -1, -0.5, -1e300,  // negative: ignored
            .nan, -.nan, .infinity, -.infinity,  // ignored
            3, 0.1,
        ]
        let integers: [Int64] = [0, 1, 2, 3, 10, 11, -1, -5, .max, .min, 1 << 53 + 1]
        let atomicDoubles = meter.histogram("doubles", aggregation: .explicitBuckets(bounds))
        let atomicIntegers = meter.histogram("integers", of: Int64.self, aggregation: .explicitBuckets(bounds))
        let noBounds = meter.histogram("no_bounds", aggregation: .explicitBuckets([]))
        // With attributes the same values go through the ring to the worker's aggregation.
        let ring: [Attribute] = ["path": "ring"]
        for value in doubles {
            atomicDoubles.record(value)
            atomicDoubles.record(value, attributes: ring)
            noBounds.record(value)
            noBounds.record(value, attributes: ring)
        }
        for value in integers {
            atomicIntegers.record(value)
            atomicIntegers.record(value, attributes: ring)
        }
        try await provider.forceFlush(timeout: .seconds(10))
        for name in ["doubles", "integers", "no_bounds"] {
            let points = histograms(exporter, name)
            let atomic = try #require(points.first { $0.attributes.isEmpty })
            let viaRing = try #require(points.first { $0.attributes == ring })
            #expect(atomic.bucketCounts == viaRing.bucketCounts, "\(name)")
            #expect(atomic.count == viaRing.count, "\(name)")
            #expect(atomic.sum.bitPattern == viaRing.sum.bitPattern, "\(name)")
            #expect(atomic.min?.bitPattern == viaRing.min?.bitPattern, "\(name)")
            #expect(atomic.max?.bitPattern == viaRing.max?.bitPattern, "\(name)")
            #expect(atomic.explicitBounds == viaRing.explicitBounds, "\(name)")
        }
        // And both follow the OTel bucket rule, ignoring negatives, NaN and infinities.
        let kept = doubles.filter { $0 >= 0 && $0.isFinite }
        let expected = Expected(bounds: bounds, values: kept)
        let atomic = try #require(histograms(exporter, "doubles").first { $0.attributes.isEmpty })
        #expect(atomic.bucketCounts == expected.buckets)
        #expect(atomic.count == UInt64(kept.count))
        #expect(atomic.min == 0)
        #expect(atomic.max == .greatestFiniteMagnitude)
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test func attributeFreeAndAttributedRecordsAreSeparateStreams() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter)
        let histogram = provider.meter("m").histogram("latency", aggregation: .explicitBuckets([1, 10]))
        histogram.record(0.5)
        histogram.record(20, attributes: ["route": "/a"])
        histogram.record(5)
        try await provider.forceFlush(timeout: .seconds(10))
        var points = histograms(exporter, "latency")
        #expect(points.count == 2)
        let plain = points.first { $0.attributes.isEmpty }
        #expect(plain?.bucketCounts == [1, 1, 0])
        #expect(plain?.sum == 5.5)
        #expect(plain?.min == 0.5)
        #expect(plain?.max == 5)
        let routed = points.first { $0.attributes == ["route": "/a"] }
        #expect(routed?.bucketCounts == [0, 0, 1])
        #expect(routed?.sum == 20)
        // The same instrument created again shares the histogram (cumulative by default).
        provider.meter("m").histogram("latency", aggregation: .explicitBuckets([1, 10])).record(7)
        try await provider.forceFlush(timeout: .seconds(10))
        points = histograms(exporter, "latency")
        #expect(points.first { $0.attributes.isEmpty }?.bucketCounts == [1, 2, 0])
        #expect(points.first { $0.attributes == ["route": "/a"] }?.count == 1)
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test func exponentialHistogramsStillAggregateRecordsWithoutAttributes() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter)
        let histogram = provider.meter("m").histogram("latency", aggregation: .base2Exponential(maxSize: 20, maxScale: 0))
        for value in [1.0, 2, 3, 4] { histogram.record(value) }
        try await provider.forceFlush(timeout: .seconds(10))
        let metric = exporter.lastCollection.first { $0.name == "latency" }
        guard case .exponentialHistogram(_, let points)? = metric?.points else {
            Issue.record("no exponential histogram exported")
            return
        }
        #expect(points.map(\.count) == [4])
        #expect(points.map(\.sum) == [10])
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test func recordsAfterShutdownAreCountedAndIgnored() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter)
        let histogram = provider.meter("m").histogram("latency")
        histogram.record(2)
        try await provider.shutdown(timeout: .seconds(10))
        let exportedBefore = exporter.metrics.count
        histogram.record(7)
        histogram.record(7)
        #expect(provider.statistics(.metrics).droppedAfterShutdown == 2)
        #expect(provider.statistics(.metrics).accepted == 1)
        #expect(exporter.metrics.count == exportedBefore)
        let last = histogramMetrics(exporter.metrics, "latency").last
        #expect(last?.1.map(\.count) == [1])
        #expect(last?.1.map(\.sum) == [2])
    }
}
