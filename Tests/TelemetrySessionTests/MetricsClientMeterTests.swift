import Foundation
import Testing
import TelemetryCore
import TelemetryPipeline
@testable import Telemetry
@testable import TelemetrySession

private func numbers(_ metric: MetricData?) -> [NumberDataPoint] {
    switch metric?.points {
    case .sum(_, _, let points)?, .gauge(let points)?: return points
    default: return []
    }
}

/// `MetricsClient(meter:)`: the validated client API on a provider's lock-free pipeline (what
/// `ConfiguredTelemetry.metrics` is).
@Suite("MetricsClient on a provider's Meter")
struct MetricsClientMeterTests {
    @Test func measurementsAreAggregatedByThePipelineWithTheClientsRules() async throws {
        let exporter = InMemoryMetricExporter()
        // A clock that never reaches the 60 s interval: only the flush collects (a periodic
        // collection in between would leave the flush's delta without these points).
        let provider = makeProvider(metrics: exporter) {
            $0.metrics.temporality = .delta
            $0.schedulingClock = ManualSchedulingClock()
        }
        let client = try MetricsClient(meter: provider.meter(MetricsClient.scopeName), defaultTags: ["app": "cli"])
        try client.counter("codex.turns", tags: ["model": "gpt-5.1"])
        try client.counter("codex.turns", by: 2, tags: ["model": "gpt-5.1"])
        try client.recordDuration("codex.request.duration_ms", .milliseconds(83), tags: ["route": "chat"])
        try client.recordDuration("codex.request.duration_ms", .milliseconds(1300), tags: ["route": "chat"])
        try client.gauge("codex.queue", 4)
        try client.gauge("codex.queue", 7)
        try client.observableGauge("codex.memory", tags: ["kind": "rss"]) { 12 }
        try client.observableGauge("codex.memory", tags: ["kind": "heap"]) { 5 }
        try client.observableGauge("codex.memory", tags: ["kind": "bad"]) { .nan }  // skipped
        #expect(throws: MetricsError.self) { try client.counter("bad name") }
        #expect(throws: MetricsError.self) { try client.counter("codex.turns", by: -1) }
        #expect(throws: MetricsError.self) { try client.gauge("codex.turns", 1) }  // a counter already
        #expect(throws: MetricsError.self) { try client.histogram("codex.request.duration_ms", 1) }  // other buckets/unit
        #expect(throws: MetricsError.self) { try client.counter("codex.turns", tags: ["k": "has space"]) }
        try await provider.forceFlush(timeout: .seconds(10))

        let metrics = Dictionary(uniqueKeysWithValues: exporter.lastCollection.map { ($0.name, $0) })
        #expect(metrics["codex.turns"]?.scope.name == MetricsClient.scopeName)
        guard case .sum(true, .delta, let turns)? = metrics["codex.turns"]?.points else {
            Issue.record("codex.turns: \(String(describing: metrics["codex.turns"]))")
            return
        }
        #expect(turns.map(\.value) == [.int(3)])
        #expect(turns.first?.attributes == ["app": "cli", "model": "gpt-5.1"])
        let duration = try #require(metrics["codex.request.duration_ms"])
        #expect(duration.unit == "ms")
        guard case .histogram(.delta, let histograms) = duration.points, let point = histograms.first else {
            Issue.record("not a histogram: \(duration)")
            return
        }
        #expect(point.explicitBounds == MetricsClient.durationBucketsMilliseconds)
        #expect(point.count == 2 && point.sum == 1383)
        #expect(numbers(metrics["codex.queue"]).map(\.value) == [.double(7)])
        let memory = numbers(metrics["codex.memory"])
        #expect(Set(memory.map(\.attributes)) == [["app": "cli", "kind": "rss"], ["app": "cli", "kind": "heap"]])
        #expect(exporter.lastCollection.filter { $0.name == "codex.memory" }.count == 1)
        let snapshot = Dictionary(uniqueKeysWithValues: client.snapshot().metrics.map { ($0.name, $0) })
        guard case .sum(let sums, _)? = snapshot["codex.turns"]?.data else {
            Issue.record("snapshot: \(snapshot)")
            return
        }
        #expect(sums.map(\.value) == [3])

        try await client.shutdown(timeout: .seconds(10))
        #expect(throws: MetricsError.self) { try client.counter("codex.turns") }
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test func countsFromManyThreadsAreExact() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter)
        let client = try MetricsClient(meter: provider.meter("m"))
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for _ in 0..<1000 { try? client.counter("events", tags: ["worker": "w\(worker % 2)"]) }
        }
        try await provider.forceFlush(timeout: .seconds(10))
        let points = numbers(exporter.lastCollection.first { $0.name == "events" })
        #expect(points.map(\.value).reduce(0) { total, value in
            if case .int(let v) = value { return total + v } else { return total }
        } == 8000)
        #expect(points.count == 2)
        try await provider.shutdown(timeout: .seconds(10))
    }
}
