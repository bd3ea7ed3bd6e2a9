import Atomics
import Foundation
import Testing
@testable import TelemetryPipeline

/// The queue behind the signal rings and the span block pool (the rings' own behaviour is in
/// `RingBufferTests`, the pool's in `PooledSpanRecordTests`).
@Suite("BoundedSequencedQueue")
struct BoundedSequencedQueueTests {
    /// A distinct, non-null address for a token (never dereferenced).
    static func address(_ token: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: (token + 1) << 4)!
    }

    static func token(_ address: UnsafeMutableRawPointer) -> Int { Int(bitPattern: address) >> 4 - 1 }

    @Test("both consumer paths dequeue in enqueue order and return each element's position")
    func dequeuesInEnqueueOrder() {
        let single = BoundedSequencedQueue<MovedElementSlots<Int>>(minimumCapacity: 8)
        let multi = BoundedSequencedQueue<MovedElementSlots<Int>>(minimumCapacity: 8)
        defer { single.deallocate(); multi.deallocate() }
        for value in 0..<6 {
            #expect(single.enqueue(value * 10, countingDrop: true) == value)
            #expect(multi.enqueue(value * 10, countingDrop: true) == value)
        }
        var drained: [Int] = []
        #expect(single.drainSingleConsumer(maxCount: 4) { drained.append($0) } == 4)
        #expect(drained == [0, 10, 20, 30])
        #expect(single.dequeueSingleConsumer() == 40)
        #expect(single.dequeueSingleConsumer() == 50)
        #expect(single.dequeueSingleConsumer() == nil)
        for position in 0..<6 {
            let taken = multi.dequeueMultiConsumer()
            #expect(taken?.element == position * 10)
            #expect(taken?.position == position)
        }
        #expect(multi.dequeueMultiConsumer() == nil)
        #expect(single.count == 0 && multi.count == 0)
    }

    @Test("a full queue refuses an element and counts the drop only when asked to")
    func fullQueueCountsDropOnlyWhenAsked() {
        let queue = BoundedSequencedQueue<MovedElementSlots<Int>>(minimumCapacity: 4)
        defer { queue.deallocate() }
        for value in 0..<4 { #expect(queue.enqueue(value, countingDrop: true) != nil) }
        #expect(queue.count == 4)
        #expect(queue.enqueue(4, countingDrop: false) == nil)
        #expect(queue.droppedCount == 0)
        #expect(queue.enqueue(5, countingDrop: true) == nil)
        #expect(queue.droppedCount == 1)
        queue.countDrop()
        #expect(queue.droppedCount == 2)
        #expect(queue.enqueuedCount == 4)
        // One slot emptied by either consumer path: exactly one enqueue fits again.
        #expect(queue.dequeueMultiConsumer()?.element == 0)
        #expect(queue.enqueue(6, countingDrop: true) == 4)
        #expect(queue.enqueue(7, countingDrop: true) == nil)
        #expect(queue.dequeueSingleConsumer() == 1)
        #expect(queue.enqueue(8, countingDrop: true) == 5)
        var rest: [Int] = []
        queue.drainSingleConsumer(maxCount: .max) { rest.append($0) }
        #expect(rest == [2, 3, 6, 8])
        #expect(queue.droppedCount == 3)
    }

    @Test("peek sees the element queued at a position and nothing at an empty or dequeued one")
    func peekSeesOnlyQueuedPositions() {
        let queue = BoundedSequencedQueue<AtomicPointerSlots>(minimumCapacity: 4)
        defer { queue.deallocate() }
        #expect(queue.peek(at: 0) == nil)
        for token in 0..<3 { queue.enqueue(Self.address(token), countingDrop: true) }
        #expect(queue.peek(at: 2) == Self.address(2))
        #expect(queue.peek(at: 3) == nil)
        let taken = queue.dequeueMultiConsumer()
        #expect(taken.map { Self.token($0.element) } == 0)
        #expect(queue.peek(at: 0) == nil)
        #expect(queue.peek(at: 1) == Self.address(1))
    }

    @Test("many threads taking and giving back through the multi-consumer path lose and duplicate nothing",
          arguments: [2, 4])
    func multiConsumerTakeAndGiveBackKeepsEveryTokenOnce(threads: Int) async {
        let tokens = 32
        let rounds = 20_000 * stressScale
        let queue = SharedQueue<AtomicPointerSlots>(minimumCapacity: 64)
        for token in 0..<tokens { queue.queue.enqueue(Self.address(token), countingDrop: true) }
        // A token's flag is set while a thread holds it: two holders at once would be a duplicate.
        let held = (0..<tokens).map { _ in ManagedAtomic<Bool>(false) }
        let duplicates = ManagedAtomic<Int>(0)
        await runOnThreadsAsync(threads) { _ in
            var taken = 0
            while taken < rounds {
                guard let entry = queue.queue.dequeueMultiConsumer() else {
                    sched_yield()  // every token is held by another thread
                    continue
                }
                taken += 1
                // As the pool's take does: peek ahead while others take and give back.
                if let ahead = queue.queue.peek(at: entry.position &+ 2) { _ = Self.token(ahead) }
                let token = Self.token(entry.element)
                if held[token].exchange(true, ordering: .relaxed) { duplicates.wrappingIncrement(ordering: .relaxed) }
                held[token].store(false, ordering: .relaxed)
                // A consumer preempted between claiming a slot and emptying it makes the queue
                // look full to the producer a lap later, however few tokens are out: retry.
                while queue.queue.enqueue(entry.element, countingDrop: false) == nil { sched_yield() }
            }
        }
        #expect(duplicates.load(ordering: .relaxed) == 0)
        #expect(queue.queue.enqueuedCount == tokens + threads * rounds)
        var returned: [Int] = []
        while let entry = queue.queue.dequeueMultiConsumer() { returned.append(Self.token(entry.element)) }
        #expect(returned.sorted() == Array(0..<tokens))
    }

    @Test("producers and consumers on the multi-consumer path deliver every element exactly once")
    func multiConsumerTransferDeliversEachElementOnce() async {
        let producers = 2
        let consumers = 2
        let perProducer = 20_000 * stressScale
        let total = producers * perProducer
        let queue = SharedQueue<MovedElementSlots<Int>>(minimumCapacity: 16)  // small: producers find it full often
        let seen = (0..<total).map { _ in ManagedAtomic<Int>(0) }
        let delivered = ManagedAtomic<Int>(0)
        await runOnThreadsAsync(producers + consumers) { index in
            if index < producers {
                for sequence in 0..<perProducer {
                    while queue.queue.enqueue(index * perProducer + sequence, countingDrop: false) == nil { sched_yield() }
                }
            } else {
                while delivered.load(ordering: .relaxed) < total {
                    guard let entry = queue.queue.dequeueMultiConsumer() else {
                        sched_yield()
                        continue
                    }
                    seen[entry.element].wrappingIncrement(ordering: .relaxed)
                    delivered.wrappingIncrement(ordering: .relaxed)
                }
            }
        }
        #expect(delivered.load(ordering: .relaxed) == total)
        #expect(seen.allSatisfy { $0.load(ordering: .relaxed) == 1 })
        #expect(queue.queue.droppedCount == 0)
        #expect(queue.queue.dequeueMultiConsumer() == nil)
    }
}

/// A queue shared with test threads, freed with the last reference (as the ring and the pool do).
final class SharedQueue<Slots: SequencedQueueSlots>: @unchecked Sendable {
    let queue: BoundedSequencedQueue<Slots>
    init(minimumCapacity: Int) { queue = BoundedSequencedQueue(minimumCapacity: minimumCapacity) }
    deinit { queue.deallocate() }
}
