import Dispatch
import OTLPProto
@testable import OTLPWire
import Testing

/// One-shot encodes (`serializedBytes()`) reuse their table of nested lengths between calls: a
/// reused table, larger or smaller than needed and left full of another message's lengths, must
/// give exactly the bytes of an encoder that never saw another message, also with several threads
/// encoding at once.
@Suite struct SizerTableReuseTests {
    typealias Traces = CollectorTraceV1ExportTraceServiceRequest

    static func request(spans: Int, attributes: Int, seed: Int) -> Traces {
        let list = (0..<spans).map { index in
            TraceV1Span(
                traceId: [UInt8](repeating: UInt8(truncatingIfNeeded: seed), count: 16),
                spanId: [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 8),
                name: "span \(seed) \(index)",
                attributes: (0..<attributes).map { key in
                    CommonV1KeyValue(key: "k\(key)", value: CommonV1AnyValue(value: .stringValue(String(repeating: "v", count: (index + key) % 300))))
                })
        }
        return Traces(resourceSpans: [TraceV1ResourceSpans(scopeSpans: [TraceV1ScopeSpans(spans: list)])])
    }

    static func freshBytes(_ message: Traces) -> [UInt8] {
        let encoder = ProtoEncoder()
        encoder.encode(message)
        return encoder.withEncodedBytes { Array($0) }
    }

    @Test func reusedTablesOfEverySizeGiveTheBytesOfAFreshEncoder() throws {
        // Large, small, larger than ever, empty, then large again: each reuse starts from a table
        // holding the previous message's lengths.
        let shapes = [(600, 8), (3, 1), (2000, 4), (0, 0), (1, 20), (600, 8)]
        for (seed, shape) in shapes.enumerated() {
            let message = Self.request(spans: shape.0, attributes: shape.1, seed: seed)
            #expect(message.serializedBytes() == Self.freshBytes(message), "shape \(shape)")
        }
        #expect(SizerTableCache.shared.cachedTableCount >= 1)
        #expect(SizerTableCache.shared.cachedTableCount <= SizerTableCache.maximumCachedTables)
    }

    @Test func concurrentEncodesEachGetTheirOwnTable() throws {
        let messages = (0..<8).map { Self.request(spans: 50 + 40 * $0, attributes: $0 % 5, seed: $0) }
        let expected = messages.map(Self.freshBytes)
        let mismatches = ManagedCounter()
        DispatchQueue.concurrentPerform(iterations: 64) { iteration in
            let index = iteration % messages.count
            if messages[index].serializedBytes() != expected[index] { mismatches.increment() }
        }
        #expect(mismatches.value == 0)
        #expect(SizerTableCache.shared.cachedTableCount <= SizerTableCache.maximumCachedTables)
    }
}

/// A counter several threads bump.
final class ManagedCounter: @unchecked Sendable {
    private let lock = DispatchSemaphore(value: 1)
    private var count = 0
    func increment() { lock.wait(); count += 1; lock.signal() }
    var value: Int { lock.wait(); defer { lock.signal() }; return count }

    /// An empty message encodes to an empty array without initializing an array of capacity 0:
    /// that would write the count of the standard library's shared empty-array storage, racing
    /// with every thread reading the count of an empty array (ThreadSanitizer runs this suite).
    @Test func emptyMessagesEncodedOnManyThreadsShareNoWrittenStorage() {
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            var total = 0
            for _ in 0..<2000 {
                let bytes = CollectorTraceV1ExportTraceServiceRequest().serializedBytes()
                let empty: [Int] = []
                total += bytes.count + empty.count + (thread & 0)
            }
            #expect(total == 0)
        }
    }
}
