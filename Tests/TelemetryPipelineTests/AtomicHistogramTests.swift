import Atomics
import Foundation
import OTLPSync
import Testing
import TelemetryCore
@testable import TelemetryPipeline

/// The lock-free histogram behind attribute-free explicit-bucket histogram records, driven
/// directly: takes far more often than a pipeline's collections, to exercise the hot/cold flip.
@Suite("AtomicHistogram", .serialized)  // each test keeps several threads busy (see AtomicSumTests)
struct AtomicHistogramTests {
    private let scope = InstrumentationScope(name: "tests")

    /// One stripe: both producers share one hot/cold pair; eight: each has its own (the default).
    @Test(arguments: [1, 8])
    func takesRacingRecordsAreConsistentSnapshotsThatAddUpToEveryRecord(stripes: Int) async throws {
        let bounds: [Double] = [1, 2, 4, 8, 16, 32, 64]
        let histogram = AtomicHistogram(bounds: bounds, stripes: stripes)
        let producers = 2
        let takesWanted = 20_000 * stressScale
        let stop = ManagedAtomic<Bool>(false)
        let recorded = (0..<producers).map { _ in ManagedAtomic<Int>(0) }
        // The taker spins on its own thread, not the cooperative pool; producers record until it
        // has taken `takesWanted` non-empty snapshots, so every take races records.
        // Also bounded in time: three spinning threads on two cores (much slower under
        // ThreadSanitizer) would otherwise hold the machine from every test run beside them.
        let deadline = monotonicNanos() &+ 3_000_000_000
        async let takes = offPool { () -> [AtomicHistogram.Taken] in
            var taken: [AtomicHistogram.Taken] = []
            while taken.count < takesWanted && (taken.count < 200 || monotonicNanos() < deadline) {
                if let snapshot = histogram.take() { taken.append(snapshot) }
            }
            // Relaxed: only a stop signal; the final take below happens after the producers joined.
            stop.store(true, ordering: .relaxed)
            return taken
        }
        await runOnThreadsAsync(producers) { producer in
            var index = 0
            while !stop.load(ordering: .relaxed) {  // Relaxed: see the taker.
                histogram.record(Double((index &+ producer) % 100))
                index += 1
            }
            recorded[producer].store(index, ordering: .relaxed)  // Read after the threads joined.
        }
        var taken = await takes
        if let last = histogram.take() { taken.append(last) }
        #expect(histogram.take() == nil)
        // Each take saw whole records only: its count is the sum of its buckets.
        for snapshot in taken {
            #expect(snapshot.count == snapshot.bucketCounts.reduce(0, +))
            #expect(snapshot.count > 0 && snapshot.min <= snapshot.max && snapshot.sum <= 99 * Double(snapshot.count))
        }
        var expectedBuckets = [UInt64](repeating: 0, count: bounds.count + 1)
        var expectedSum = 0.0
        var total = 0
        for producer in 0..<producers {
            let count = recorded[producer].load(ordering: .relaxed)
            total += count
            for index in 0..<count {
                let value = Double((index + producer) % 100)
                expectedBuckets[bounds.firstIndex { value <= $0 } ?? bounds.count] += 1
                expectedSum += value
            }
        }
        #expect(taken.reduce(0) { $0 + $1.count } == UInt64(total))
        #expect(taken.reduce(into: [UInt64](repeating: 0, count: bounds.count + 1)) { total, snapshot in
            for (index, count) in snapshot.bucketCounts.enumerated() { total[index] += count }
        } == expectedBuckets)
        #expect(taken.reduce(0) { $0 + $1.sum } == expectedSum)  // integers: exact in any order
        #expect(taken.map(\.min).min() == 0)
        #expect(taken.map(\.max).max() == 99)
        #expect(histogram.recordedCount == total)
    }

    @Test func aTakeResetsMinAndMaxForTheNextOne() {
        let histogram = AtomicHistogram(bounds: [10])
        histogram.record(3)
        histogram.record(30)
        let first = histogram.take()
        #expect(first?.min == 3)
        #expect(first?.max == 30)
        #expect(first?.bucketCounts == [1, 1])
        histogram.record(5)
        let second = histogram.take()
        #expect(second?.min == 5)
        #expect(second?.max == 5)
        #expect(second?.sum == 5)
        #expect(second?.bucketCounts == [1, 0])
        // Ignored values (as the worker's aggregation ignores them) are not records.
        for value: Double in [-1, .nan, .infinity, -.infinity] { histogram.record(value) }
        #expect(histogram.take() == nil)
        #expect(histogram.recordedCount == 3)
    }

    @Test func onlyExplicitBucketHistogramsGetOne() async throws {
        let pipeline = Pipeline(resource: Resource(serviceName: "tests"))
        let explicit = pipeline.registerInstrument(InstrumentDescriptor(
            name: "h", kind: .histogram, isDouble: true, scope: scope, histogramAggregation: .explicitBuckets([1, 2])))
        let exponential = pipeline.registerInstrument(InstrumentDescriptor(
            name: "e", kind: .histogram, isDouble: true, scope: scope, histogramAggregation: .base2Exponential()))
        let counter = pipeline.registerInstrument(InstrumentDescriptor(name: "c", kind: .counter, isDouble: false, scope: scope))
        let histogram = try #require(pipeline.histogramAccumulator(for: explicit))
        #expect(histogram.bounds == [1, 2])
        #expect(pipeline.histogramAccumulator(for: explicit) === histogram)
        #expect(pipeline.histogramAccumulator(for: exponential) == nil)
        #expect(pipeline.histogramAccumulator(for: counter) == nil)
        #expect(pipeline.histogramAccumulator(for: 99) == nil)
        try await pipeline.shutdown(deadline: .now + .seconds(10))
    }
}
