import Synchronization
import Testing
@testable import Telemetry
@testable import TelemetrySession

/// A manual clock in Unix nanoseconds.
final class ManualNanoClock: Sendable {
    private let value = Atomic<UInt64>(1_000)
    func advance(_ by: UInt64) { value.add(by, ordering: .relaxed) }
    var now: @Sendable () -> UInt64 { { [self] in value.load(ordering: .relaxed) } }
}

@Suite("MetricsClient")
struct MetricsClientTests {
    func makeClient(
        temporality: AggregationTemporality = .delta, defaultTags: [String: String] = [:], clock: ManualNanoClock = ManualNanoClock()
    ) throws -> (MetricsClient, MetricsClient.InMemoryExporter) {
        let exporter = MetricsClient.InMemoryExporter()
        let client = try MetricsClient(.inMemory(
            serviceName: "codex-cli", serviceVersion: "1.0", defaultTags: defaultTags, temporality: temporality,
            exporter: exporter, now: clock.now))
        return (client, exporter)
    }

    func sumPoints(_ metric: MetricsClient.Metric?) -> [MetricsClient.SumPoint] {
        if case .sum(let points, _)? = metric?.data { return points }
        return []
    }

    func histogramPoints(_ metric: MetricsClient.Metric?) -> [MetricsClient.HistogramPoint] {
        if case .histogram(let points, _)? = metric?.data { return points }
        return []
    }

    func gaugePoints(_ metric: MetricsClient.Metric?) -> [MetricsClient.GaugePoint] {
        if case .gauge(let points)? = metric?.data { return points }
        return []
    }

    @Test func durationBucketsAreTheDocumentedFixedList() {
        let b = MetricsClient.durationBucketsMilliseconds
        #expect(Array(b.prefix(12)) == [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 1250])
        #expect(b.last == 120000)
        #expect(zip(b, b.dropFirst()).allSatisfy { $0 < $1 })
        #expect(MetricsClient.durationBucketsSeconds.last == 120)
    }

    @Test func counterSumsPerTagSetAndCarriesResource() throws {
        let (client, exporter) = try makeClient()
        try client.counter("codex.turns", tags: ["model": "gpt-5.1"])
        try client.counter("codex.turns", by: 2, tags: ["model": "gpt-5.1"])
        try client.counter("codex.turns", by: 5, tags: ["model": "o3"])
        try client.shutdown()
        let snapshot = try #require(exporter.snapshots.first)
        #expect(snapshot.resource == ["service.name": "codex-cli", "service.version": "1.0", "env": "test"])
        let metric = try #require(snapshot.metric(named: "codex.turns"))
        guard case .sum(let points, let temporality) = metric.data else {
            Issue.record("not a sum: \(metric.data)")
            return
        }
        #expect(temporality == .delta)
        #expect(points.map(\.attributes) == [["model": "gpt-5.1"], ["model": "o3"]])
        #expect(points.map(\.value) == [3, 5])
        #expect(exporter.isShutDown)
    }

    @Test func negativeIncrementIsATypedErrorAndRecordsNothing() throws {
        let (client, _) = try makeClient()
        do {
            try client.counter("codex.turns", by: -1)
            Issue.record("negative increment accepted")
        } catch {
            #expect(error.code == .negativeCounterIncrement)
        }
        #expect(client.snapshot().metrics.isEmpty)
    }

    @Test(arguments: ["", "has space", "emoji🙂", "slash/name", "comma,name"])
    func invalidNamesAreRejected(_ name: String) throws {
        let (client, _) = try makeClient()
        #expect(throws: MetricsError.self) { try client.counter(name) }
        do {
            try client.histogram(name, 1)
        } catch {
            #expect(error.code == .invalidName)
        }
    }

    @Test func tagRulesAreEnforced() throws {
        let (client, _) = try makeClient()
        try client.counter("ok.name-1_2", tags: ["route/path": "a/b.c-d_e"])
        for (tags, code) in [
            (["": "x"], MetricsError.Code.invalidTagKey), (["bad key": "x"], .invalidTagKey),
            (["k": ""], .invalidTagValue), (["k": "a b"], .invalidTagValue), (["k": "é"], .invalidTagValue),
        ] as [([String: String], MetricsError.Code)] {
            do {
                try client.counter("ok", tags: tags)
                Issue.record("accepted \(tags)")
            } catch {
                #expect(error.code == code)
            }
        }
        #expect(throws: MetricsError.self) {
            _ = try MetricsClient(.inMemory(serviceName: "s", defaultTags: ["bad key": "v"], exporter: .init()))
        }
    }

    @Test func defaultTagsAreMergedAndPointTagsWin() throws {
        let (client, _) = try makeClient(defaultTags: ["app.version": "1.0", "source": "tui"])
        try client.counter("c", tags: ["source": "exec"])
        let points = sumPoints(client.snapshot().metric(named: "c"))
        #expect(points.map(\.attributes) == [["app.version": "1.0", "source": "exec"]])
    }

    @Test func durationHistogramUsesFixedBucketsInMilliseconds() throws {
        let (client, exporter) = try makeClient()
        for ms in [0, 3, 5, 6, 1100, 1250, 130_000] {
            try client.recordDuration("codex.request.duration_ms", .milliseconds(ms), tags: ["route": "chat"])
        }
        try client.flush()
        let metric = try #require(exporter.snapshots.first?.metric(named: "codex.request.duration_ms"))
        #expect(metric.unit == "ms")
        let point = try #require(histogramPoints(metric).first)
        #expect(point.explicitBounds == MetricsClient.durationBucketsMilliseconds)
        #expect(point.count == 7)
        #expect(point.sum == 0 + 3 + 5 + 6 + 1100 + 1250 + 130_000)
        #expect(point.min == 0)
        #expect(point.max == 130_000)
        var expected = [UInt64](repeating: 0, count: MetricsClient.durationBucketsMilliseconds.count + 1)
        expected[0] = 1  // 0 → (-inf, 0]
        expected[1] = 2  // 3, 5 → (0, 5]
        expected[2] = 1  // 6 → (5, 10]
        expected[11] = 2  // 1100, 1250 → (1000, 1250]
        expected[expected.count - 1] = 1  // 130000 → overflow
        #expect(point.bucketCounts == expected)
    }

    @Test func durationInSecondsUsesSecondBuckets() throws {
        let (client, _) = try makeClient()
        try client.recordDurationSeconds("job.duration", .milliseconds(1500))
        let metric = try #require(client.snapshot().metric(named: "job.duration"))
        #expect(metric.unit == "s")
        let point = try #require(histogramPoints(metric).first)
        #expect(point.sum == 1.5)
        #expect(point.explicitBounds == MetricsClient.durationBucketsSeconds)
        #expect(point.bucketCounts[12] == 1)  // (1.25, 1.5]
    }

    @Test func deltaResetsBetweenExportsAndCumulativeKeepsTotals() throws {
        let clock = ManualNanoClock()
        let (delta, deltaOut) = try makeClient(temporality: .delta, clock: clock)
        let (cumulative, cumulativeOut) = try makeClient(temporality: .cumulative, clock: clock)
        for client in [delta, cumulative] {
            try client.counter("c", by: 2)
            try client.histogram("h", 7)
        }
        clock.advance(10)
        try delta.flush()
        try cumulative.flush()
        for client in [delta, cumulative] {
            try client.counter("c", by: 3)
        }
        clock.advance(10)
        try delta.flush()
        try cumulative.flush()

        #expect(deltaOut.metrics(named: "c").flatMap { sumPoints($0).map(\.value) } == [2, 3])
        #expect(cumulativeOut.metrics(named: "c").flatMap { sumPoints($0).map(\.value) } == [2, 5])
        // Delta: the histogram had no new values in the second interval, so it is not exported again.
        #expect(deltaOut.metrics(named: "h").count == 1)
        #expect(cumulativeOut.metrics(named: "h").count == 2)
        // Delta windows are contiguous; cumulative points all start at the client's start.
        let deltaPoints = deltaOut.metrics(named: "c").flatMap { sumPoints($0) }
        #expect(deltaPoints[1].startTimeUnixNano == deltaPoints[0].timeUnixNano)
        let cumulativePoints = cumulativeOut.metrics(named: "c").flatMap { sumPoints($0) }
        #expect(cumulativePoints[0].startTimeUnixNano == cumulativePoints[1].startTimeUnixNano)
    }

    @Test func snapshotDoesNotConsumeDeltaState() throws {
        let (client, exporter) = try makeClient()
        try client.counter("c", by: 4)
        #expect(sumPoints(client.snapshot().metric(named: "c")).first?.value == 4)
        #expect(sumPoints(client.snapshot().metric(named: "c")).first?.value == 4)
        try client.flush()
        #expect(sumPoints(exporter.snapshots.first?.metric(named: "c")).first?.value == 4)
    }

    @Test func gaugeAndObservableGauge() throws {
        let (client, _) = try makeClient()
        try client.gauge("queue.depth", 3, tags: ["q": "a"])
        try client.gauge("queue.depth", 9, tags: ["q": "a"])
        let counter = Atomic<Int>(0)
        try client.observableGauge("callbacks", tags: ["k": "v"]) {
            Double(counter.add(1, ordering: .relaxed).newValue)
        }
        let first = client.snapshot()
        #expect(gaugePoints(first.metric(named: "queue.depth")).map(\.value) == [9])
        #expect(gaugePoints(first.metric(named: "callbacks")).map(\.value) == [1])
        #expect(gaugePoints(client.snapshot().metric(named: "callbacks")).map(\.value) == [2])
    }

    @Test func observableGaugeCallbackMayUseTheClient() throws {
        let (client, _) = try makeClient()
        try client.counter("seen")
        try client.observableGauge("reentrant") {
            (try? client.counter("from.callback")) != nil ? 1 : 0
        }
        #expect(gaugePoints(client.snapshot().metric(named: "reentrant")).map(\.value) == [1])
    }

    @Test func instrumentKindConflictIsAnError() throws {
        let (client, _) = try makeClient()
        try client.counter("x")
        do {
            try client.histogram("x", 1)
            Issue.record("conflict accepted")
        } catch {
            #expect(error.code == .instrumentConflict)
        }
        try client.recordDuration("d", .milliseconds(1))
        #expect(throws: MetricsError.self) { try client.recordDurationSeconds("d", .seconds(1)) }
        #expect(throws: MetricsError.self) { try client.gauge("n", .nan) }
    }

    @Test func timerRecordsOnceWhenStoppedOrReleased() throws {
        let (client, _) = try makeClient()
        let timer = try client.startTimer("t.stopped", tags: ["a": "b"])
        #expect(try timer.stop() != nil)
        #expect(try timer.stop() == nil)
        do {
            _ = try client.startTimer("t.released")
        }
        #expect(throws: MetricsError.self) { try client.startTimer("bad name") }
        let snapshot = client.snapshot()
        #expect(histogramPoints(snapshot.metric(named: "t.stopped")).first?.count == 1)
        #expect(histogramPoints(snapshot.metric(named: "t.released")).first?.count == 1)
        #expect(snapshot.metric(named: "t.stopped")?.unit == "ms")
    }

    @Test func timeRecordsAlsoWhenTheBodyThrows() throws {
        struct Boom: Error {}
        let (client, _) = try makeClient()
        #expect(throws: Boom.self) { try client.time("work") { () throws(Boom) in throw Boom() } }
        let value = client.time("work") { 42 }
        #expect(value == 42)
        #expect(histogramPoints(client.snapshot().metric(named: "work")).first?.count == 2)
    }

    @Test func shutdownFlushesIsIdempotentAndRejectsLaterRecords() throws {
        let (client, exporter) = try makeClient()
        try client.counter("c")
        try client.shutdown()
        try client.shutdown()
        #expect(exporter.snapshots.count == 1)
        do {
            try client.counter("c")
            Issue.record("recorded after shutdown")
        } catch {
            #expect(error.code == .shutDown)
        }
        #expect(throws: MetricsError.self) { try client.flush() }
    }

    @Test func releasingTheClientFlushesBestEffort() throws {
        let exporter = MetricsClient.InMemoryExporter()
        do {
            let client = try MetricsClient(.inMemory(serviceName: "s", exporter: exporter))
            try client.counter("released")
        }
        #expect(exporter.metrics(named: "released").count == 1)
        #expect(exporter.isShutDown)
    }

    @Test func exporterFailureIsTyped() throws {
        struct Failing: MetricsClientExporter {
            struct Down: Error {}
            func export(_ snapshot: MetricsClient.Snapshot) throws { throw Down() }
            func shutdown() {}
        }
        let client = try MetricsClient(.init(serviceName: "s", exportInterval: nil, exporter: Failing()))
        try client.counter("c")
        do {
            try client.flush()
            Issue.record("export failure swallowed")
        } catch {
            #expect(error.code == .exportFailed)
        }
    }

    @Test func periodicExportRunsOnItsInterval() async throws {
        let exporter = MetricsClient.InMemoryExporter()
        let client = try MetricsClient(.init(serviceName: "s", exportInterval: .milliseconds(20), exporter: exporter))
        try client.counter("tick")
        // Bounded wait: up to 2 s for the first periodic export.
        for _ in 0..<200 where exporter.snapshots.isEmpty {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(exporter.metrics(named: "tick").count == 1)
        try client.shutdown()
    }

    @Test func concurrentRecordingLosesNothing() async throws {
        let (client, exporter) = try makeClient()
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for _ in 0..<1000 {
                        try? client.counter("hits", tags: ["worker": "w\(worker % 2)"])
                        try? client.recordDuration("lat", .milliseconds(worker))
                    }
                }
            }
            group.addTask {
                for _ in 0..<20 { try? client.flush() }
            }
        }
        try client.shutdown()
        let total = exporter.metrics(named: "hits").flatMap { sumPoints($0) }.reduce(0) { $0 + $1.value }
        #expect(total == 8000)
        let points: [MetricsClient.HistogramPoint] = exporter.metrics(named: "lat").flatMap { histogramPoints($0) }
        let count = points.reduce(UInt64(0)) { $0 + $1.count }
        #expect(count == 8000)
    }
}
