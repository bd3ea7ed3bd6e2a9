import Atomics
import Foundation
import Testing
import TelemetryCore
@testable import TelemetryPipeline

/// The striped running sum behind attribute-free counter adds, driven directly. Serialized: each
/// test keeps several threads busy, and suites running beside this one (under ThreadSanitizer on
/// two cores) must still get their pipeline workers scheduled.
@Suite("AtomicSum", .serialized)
struct AtomicSumTests {
    @Test func threadsGetDistinctStripeIndicesThatStayTheSame() {
        let threads = 8
        let indices = (0..<threads).map { _ in ManagedAtomic<Int>(-1) }
        let stable = ManagedAtomic<Bool>(true)
        runOnThreads(threads) { thread in
            let first = ThreadStripe.current
            // Relaxed: read after the threads joined.
            indices[thread].store(first, ordering: .relaxed)
            for _ in 0..<1000 where ThreadStripe.current != first { stable.store(false, ordering: .relaxed) }
        }
        let seen = indices.map { $0.load(ordering: .relaxed) }
        #expect(seen.allSatisfy { $0 >= 0 })
        #expect(Set(seen).count == threads)
        let allStable = stable.load(ordering: .relaxed)
        #expect(allStable)
    }

    @Test(arguments: [2, 4, 64])
    func moreThreadsThanStripesStillSumExactly(stripes: Int) {
        let integers = AtomicSum(isDouble: false, stripes: stripes)
        let doubles = AtomicSum(isDouble: true, stripes: stripes)
        let threads = 6
        let perThread = 50_000 * stressScale
        runOnThreads(threads) { thread in
            for index in 0..<perThread {
                integers.add(Int64(thread + 1))
                doubles.add(index & 1 == 0 ? 0.25 : -0.125)  // exact in binary: any order sums exactly
            }
        }
        #expect(integers.take() == .int(Int64(perThread * (1...threads).reduce(0, +))))
        #expect(doubles.take() == .double(Double(threads * perThread / 2) * 0.125))
        #expect(integers.addedCount == threads * perThread)
        #expect(integers.take() == nil)
    }

    @Test func takesWhileAddingAddUpToEveryAdd() async {
        let sum = AtomicSum(isDouble: false, stripes: 4)
        let perThread = 200_000 * stressScale
        let done = ManagedAtomic<Int>(0)
        let taker = Task.detached { () -> Int64 in
            var total: Int64 = 0
            // Relaxed: a stop signal; the last take below runs after both producers finished.
            while done.load(ordering: .relaxed) < 2 {
                if case .int(let value)? = sum.take() { total += value }
                usleep(20)  // take often, but leave the cores to the producers
            }
            if case .int(let value)? = sum.take() { total += value }
            return total
        }
        runOnThreads(2) { _ in
            for _ in 0..<perThread { sum.add(Int64(3)) }
            done.wrappingIncrement(ordering: .relaxed)
        }
        #expect(await taker.value == Int64(2 * perThread * 3))
    }
}
