import Foundation
import Telemetry
import Testing
import TelemetryCore
import TelemetryPipeline

private func sums(_ exporter: InMemoryMetricExporter, _ name: String) -> [NumberDataPoint] {
    guard case .sum(_, _, let points)? = exporter.lastCollection.first(where: { $0.name == name })?.points else { return [] }
    return points
}

/// Counter and up-down counter adds without attributes are atomic updates of a running sum on
/// the producer (never a ring push), taken by the worker at each collection.
@Suite("attribute-free counter adds", .serialized)  // tight loops on several threads beside flushes
struct AttributeFreeCounterTests {
    @Test func tightLoopsOnSeveralThreadsSumExactlyAndDropNothing() async throws {
        let exporter = InMemoryMetricExporter()
        // A queue of 16 measurements: any add that went through the ring in a tight loop would drop.
        let provider = makeProvider(metrics: exporter) { $0.metrics.measurementQueueSize = 16 }
        let meter = provider.meter("m")
        let requests = meter.counter("requests")
        let bytes = meter.counter("bytes", of: Double.self)
        let inFlight = meter.upDownCounter("in_flight")
        let perThread = 200_000
        onThreads(3) { _ in
            for index in 0..<perThread {
                requests.add(1)
                bytes.add(0.5)  // exactly representable: the sum is exact in any order
                inFlight.add(index & 1 == 0 ? 2 : -1)
            }
        }
        try await provider.forceFlush(timeout: .seconds(10))
        #expect(sums(exporter, "requests").map(\.value) == [.int(Int64(3 * perThread))])
        #expect(sums(exporter, "bytes").map(\.value) == [.double(Double(3 * perThread) * 0.5)])
        #expect(sums(exporter, "in_flight").map(\.value) == [.int(Int64(3 * perThread / 2))])
        let statistics = provider.statistics(.metrics)
        #expect(statistics.dropped == 0)
        #expect(statistics.accepted == 3 * 3 * perThread)
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test func flushesWhileAddingLoseNothingAcrossDeltaCollections() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter) {
            $0.metrics.temporality = .delta
            $0.schedulingClock = ManualSchedulingClock()  // only flushes collect
        }
        let counter = provider.meter("m").counter("events")
        let perThread = 100_000
        let flusher = Task {
            for _ in 0..<20 { try await provider.forceFlush(timeout: .seconds(10)) }
        }
        onThreads(2) { _ in for _ in 0..<perThread { counter.add(1) } }
        try await flusher.value
        try await provider.forceFlush(timeout: .seconds(10))
        // Delta points of every collection add up to every add, each counted once.
        let total = exporter.metrics.filter { $0.name == "events" }.reduce(Int64(0)) { total, metric in
            guard case .sum(_, .delta, let points) = metric.points else { return total }
            return total + points.reduce(0) { if case .int(let v) = $1.value { $0 + v } else { $0 } }
        }
        #expect(total == Int64(2 * perThread))
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test func attributeFreeAndAttributedAddsAreSeparateStreams() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter)
        let counter = provider.meter("m").counter("requests")
        counter.add(4)
        counter.add(3, attributes: ["route": "/a"])
        counter.add(-5)  // negative on a counter: ignored, as with attributes
        counter.add(1)
        try await provider.forceFlush(timeout: .seconds(10))
        let points = sums(exporter, "requests")
        #expect(points.count == 2)
        #expect(points.first { $0.attributes.isEmpty }?.value == .int(5))
        #expect(points.first { $0.attributes == ["route": "/a"] }?.value == .int(3))
        // The same instrument created again shares the running sum.
        provider.meter("m").counter("requests").add(10)
        try await provider.forceFlush(timeout: .seconds(10))
        #expect(sums(exporter, "requests").first { $0.attributes.isEmpty }?.value == .int(15))
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test func nanAddsToAnUpDownCounterAreIgnoredWithAndWithoutAttributes() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter)
        let level = provider.meter("m").upDownCounter("level", of: Double.self)
        level.add(1.5)
        level.add(.nan)
        level.add(-0.5)
        level.add(2, attributes: ["pool": "a"])
        level.add(.nan, attributes: ["pool": "a"])
        level.add(-1, attributes: ["pool": "a"])
        try await provider.forceFlush(timeout: .seconds(10))
        let points = sums(exporter, "level")
        #expect(points.first { $0.attributes.isEmpty }?.value == .double(1))
        #expect(points.first { $0.attributes == ["pool": "a"] }?.value == .double(1))
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test func addsAfterShutdownAreCountedAndIgnored() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter)
        let counter = provider.meter("m").counter("requests")
        counter.add(2)
        try await provider.shutdown(timeout: .seconds(10))
        let exportedBefore = exporter.metrics.count
        counter.add(7)
        counter.add(7)
        #expect(provider.statistics(.metrics).droppedAfterShutdown == 2)
        #expect(exporter.metrics.count == exportedBefore)
        let last = exporter.metrics.filter { $0.name == "requests" }.last
        guard case .sum(_, _, let points)? = last?.points else {
            Issue.record("no sum exported before shutdown")
            return
        }
        #expect(points.map(\.value) == [MetricNumber.int(2)])
    }
}
