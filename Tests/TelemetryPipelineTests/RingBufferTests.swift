import OTLPTestSupport
import Atomics
import Foundation
import Testing
import TelemetryCore
@testable import TelemetryPipeline

@Suite("MPSCRingBuffer")
struct RingBufferTests {
    @Test("capacity rounds up to a power of two")
    func capacityRoundsUp() {
        #expect(MPSCRingBuffer<Int>(minimumCapacity: 1).capacity == 2)
        #expect(MPSCRingBuffer<Int>(minimumCapacity: 2).capacity == 2)
        #expect(MPSCRingBuffer<Int>(minimumCapacity: 3).capacity == 4)
        #expect(MPSCRingBuffer<Int>(minimumCapacity: 2048).capacity == 2048)
        #expect(MPSCRingBuffer<Int>(minimumCapacity: 2049).capacity == 4096)
    }

    @Test("holds exactly capacity elements, then drops and counts")
    func fullAtCapacityExactly() {
        let ring = MPSCRingBuffer<Int>(minimumCapacity: 8)
        for value in 0..<8 { #expect(ring.push(value) == value) }
        #expect(ring.count == 8)
        #expect(ring.push(99) == nil)
        #expect(ring.push(100) == nil)
        #expect(ring.droppedCount == 2)
        #expect(ring.acceptedCount == 8)
        #expect(ring.pop() == 0)
        // One slot freed: exactly one push fits again, never falsely full.
        #expect(ring.push(8) == 8)
        #expect(ring.push(9) == nil)
        var drained: [Int] = []
        ring.drain { drained.append($0) }
        #expect(drained == Array(1...8))
        #expect(ring.pop() == nil)
        #expect(ring.count == 0)
    }

    @Test("never falsely empty or full across many laps")
    func wrapsAroundManyLaps() {
        let ring = MPSCRingBuffer<Int>(minimumCapacity: 4)
        var next = 0
        var expected = 0
        for round in 0..<1000 {
            let batch = round % 5  // 0...4 items: empty, partial and full rings
            for _ in 0..<batch {
                #expect(ring.push(next) != nil)
                next += 1
            }
            if batch == 4 { #expect(ring.push(-1) == nil) }
            for _ in 0..<batch {
                #expect(ring.pop() == expected)
                expected += 1
            }
            #expect(ring.pop() == nil)
        }
        #expect(ring.droppedCount == 200)
    }

    @Test("drain honours maxCount and keeps order")
    func drainMaxCount() {
        let ring = MPSCRingBuffer<Int>(minimumCapacity: 16)
        for value in 0..<10 { ring.push(value) }
        var first: [Int] = []
        #expect(ring.drain(maxCount: 4) { first.append($0) } == 4)
        #expect(first == [0, 1, 2, 3])
        var rest: [Int] = []
        #expect(ring.drain { rest.append($0) } == 6)
        #expect(rest == Array(4..<10))
    }

    @Test("elements are released exactly once: popped, dropped and left in the ring at deinit")
    func elementLifetime() {
        let counters = LifetimeCounters()
        do {
            let ring = MPSCRingBuffer<LifetimeTracked>(minimumCapacity: 8)
            for value in 0..<12 { ring.push(LifetimeTracked(value, counters)) }  // 4 dropped
            #expect(ring.droppedCount == 4)
            for _ in 0..<3 { _ = ring.pop() }  // popped, released by the caller
            // 5 remain in the ring and must be released by its deinit.
            #expect(counters.live.load(ordering: .relaxed) == 5)
        }
        #expect(counters.live.load(ordering: .relaxed) == 0)
        #expect(counters.destroyed.load(ordering: .relaxed) == 12)
    }
}

/// Concurrency stress suites (run under ThreadSanitizer too, with the whole package: tools/test.sh).
@Suite("RingBufferStress")
struct RingBufferStressTests {
    /// Encodes (producer, sequence) in one integer.
    static func encode(_ producer: Int, _ sequence: Int) -> Int { producer << 32 | sequence }

    @Test("N producers x M items: every item delivered once, per-producer order kept", arguments: [1, 2, 4])
    func exactDeliveryWithRetry(producers: Int) async {
        let itemsPerProducer = 20_000 * stressScale
        let ring = MPSCRingBuffer<Int>(minimumCapacity: 64)  // small: producers hit "full" often
        let finished = ManagedAtomic<Int>(0)
        let received = ResultBox()
        let consumerDone = DispatchSemaphore(value: 0)
        Thread {
            var lastSeen = [Int](repeating: -1, count: producers)
            var total = 0
            var orderViolations = 0
            while true {
                if let value = ring.pop() {
                    let producer = value >> 32
                    let sequence = value & 0xFFFF_FFFF
                    if sequence != lastSeen[producer] + 1 { orderViolations += 1 }
                    lastSeen[producer] = sequence
                    total += 1
                } else if finished.load(ordering: .acquiring) == producers {
                    // All producers are done: whatever is left is visible now.
                    while let value = ring.pop() {
                        let producer = value >> 32
                        let sequence = value & 0xFFFF_FFFF
                        if sequence != lastSeen[producer] + 1 { orderViolations += 1 }
                        lastSeen[producer] = sequence
                        total += 1
                    }
                    break
                }
            }
            received.set(total: total, violations: orderViolations, last: lastSeen)
            consumerDone.signal()
        }.start()
        await runOnThreadsAsync(producers) { producer in
            for sequence in 0..<itemsPerProducer {
                while ring.push(Self.encode(producer, sequence)) == nil {
                    sched_yield()  // full: retry so that every item is delivered
                }
            }
            finished.wrappingIncrement(ordering: .releasing)
        }
        await offPool { consumerDone.wait() }
        let result = received.get()
        #expect(result.total == producers * itemsPerProducer)
        #expect(result.violations == 0)
        #expect(result.last == [Int](repeating: itemsPerProducer - 1, count: producers))
        #expect(ring.acceptedCount == producers * itemsPerProducer)
        #expect(ring.pop() == nil)
    }

    @Test("producers that never retry: accepted + dropped == attempted, delivered == accepted")
    func exactAccountingWithDrops() async {
        let producers = 3
        let itemsPerProducer = 20_000 * stressScale
        let ring = MPSCRingBuffer<Int>(minimumCapacity: 32)
        let finished = ManagedAtomic<Int>(0)
        let received = ResultBox()
        let consumerDone = DispatchSemaphore(value: 0)
        Thread {
            var lastSeen = [Int](repeating: -1, count: producers)
            var total = 0
            var orderViolations = 0
            func take(_ value: Int) {
                let producer = value >> 32
                let sequence = value & 0xFFFF_FFFF
                if sequence <= lastSeen[producer] { orderViolations += 1 }  // gaps allowed (drops)
                lastSeen[producer] = sequence
                total += 1
            }
            while true {
                if let value = ring.pop() {
                    take(value)
                } else if finished.load(ordering: .acquiring) == producers {
                    while let value = ring.pop() { take(value) }
                    break
                }
            }
            received.set(total: total, violations: orderViolations, last: lastSeen)
            consumerDone.signal()
        }.start()
        let acceptedByProducers = ManagedAtomic<Int>(0)
        await runOnThreadsAsync(producers) { producer in
            var accepted = 0
            for sequence in 0..<itemsPerProducer where ring.push(Self.encode(producer, sequence)) != nil {
                accepted += 1
            }
            acceptedByProducers.wrappingIncrement(by: accepted, ordering: .relaxed)
            finished.wrappingIncrement(ordering: .releasing)
        }
        await offPool { consumerDone.wait() }
        let result = received.get()
        let accepted = acceptedByProducers.load(ordering: .relaxed)
        #expect(accepted + ring.droppedCount == producers * itemsPerProducer)
        #expect(ring.acceptedCount == accepted)
        #expect(result.total == accepted)
        #expect(result.violations == 0)
    }

    @Test("concurrent push/pop of objects: nothing leaked, nothing released twice")
    func concurrentElementLifetime() async {
        let counters = LifetimeCounters()
        let producers = 2
        let itemsPerProducer = 10_000 * stressScale
        let popped = ManagedAtomic<Int>(0)
        do {
            let ring = MPSCRingBuffer<LifetimeTracked>(minimumCapacity: 16)
            let stop = ManagedAtomic<Bool>(false)
            let consumerDone = DispatchSemaphore(value: 0)
            Thread {
                var count = 0
                while !stop.load(ordering: .acquiring) {
                    if ring.pop() != nil { count += 1 }
                }
                popped.store(count, ordering: .relaxed)
                consumerDone.signal()
            }.start()
            await runOnThreadsAsync(producers) { producer in
                for value in 0..<itemsPerProducer { ring.push(LifetimeTracked(producer * itemsPerProducer + value, counters)) }
            }
            stop.store(true, ordering: .releasing)
            await offPool { consumerDone.wait() }
            #expect(ring.acceptedCount + ring.droppedCount == producers * itemsPerProducer)
            #expect(popped.load(ordering: .relaxed) + ring.count == ring.acceptedCount)
        }
        // The leftovers are released by the ring's deinit (once the finished threads have let go of
        // their closures, which hold the ring); the dropped ones at the failed push.
        #expect(await eventually { counters.live.load(ordering: .relaxed) == 0 })
        #expect(counters.destroyed.load(ordering: .relaxed) == producers * itemsPerProducer)
    }
}

/// A tiny lock-protected result holder for handing results from a test thread back.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var total = 0
    private var violations = 0
    private var last: [Int] = []
    func set(total: Int, violations: Int, last: [Int]) {
        lock.lock(); defer { lock.unlock() }
        self.total = total; self.violations = violations; self.last = last
    }
    func get() -> (total: Int, violations: Int, last: [Int]) {
        lock.lock(); defer { lock.unlock() }
        return (total, violations, last)
    }
}
