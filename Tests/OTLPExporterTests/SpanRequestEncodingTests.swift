@testable import OTLPExporter
import OTLPProto
import Testing
import TelemetryCore
@testable import TelemetryPipeline

/// The exporter's direct span encoding must be byte-for-byte the generated encoding of
/// `SpanBatch.makeRequest()` (which the codec tests hold to the reference protobuf).
@Suite("Direct span request encoding")
struct SpanRequestEncodingTests {
    /// A small deterministic generator (SplitMix64), so failures reproduce.
    struct SeededRandom: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func text(_ random: inout SeededRandom) -> String {
        switch Int.random(in: 0..<6, using: &random) {
        case 0: return ""
        case 1: return "é✓ \(random.next() % 1000)"
        case 2: return String(repeating: "long-", count: Int.random(in: 26...400, using: &random))  // 2- and 3-byte lengths
        default: return "k\(random.next() % 100_000)"
        }
    }

    static func value(_ random: inout SeededRandom) -> AttributeValue {
        switch Int.random(in: 0..<9, using: &random) {
        case 0: return .string(text(&random))
        case 1: return .bool(Bool.random(using: &random))
        case 2: return .int(Int64(bitPattern: random.next()) >> Int64.random(in: 0...63, using: &random))
        case 3: return .double([0.0, -0.0, .nan, .infinity, 1.5, -2e300][Int.random(in: 0..<6, using: &random)])
        case 4: return .bytes((0..<Int.random(in: 0..<20, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
        case 5: return .stringArray((0..<Int.random(in: 0..<4, using: &random)).map { _ in text(&random) })
        case 6: return .boolArray((0..<Int.random(in: 0..<4, using: &random)).map { _ in Bool.random(using: &random) })
        case 7: return .intArray((0..<Int.random(in: 0..<4, using: &random)).map { _ in Int64(bitPattern: random.next()) })
        default: return .doubleArray((0..<Int.random(in: 0..<4, using: &random)).map { _ in Double(Int64(bitPattern: random.next())) / 7 })
        }
    }

    static func attributes(_ random: inout SeededRandom, max: Int) -> [Attribute] {
        (0..<Int.random(in: 0...max, using: &random)).map { _ in Attribute(text(&random), value(&random)) }
    }

    static func context(_ random: inout SeededRandom) -> SpanContext {
        SpanContext(
            traceID: TraceID(high: random.next(), low: random.next() >> Int.random(in: 0...63, using: &random)),
            spanID: SpanID(random.next()), traceFlags: Bool.random(using: &random) ? .sampled : [],
            traceState: Bool.random(using: &random) ? "" : "vendor=\(random.next() % 1000),other=x",
            isRemote: Bool.random(using: &random))
    }

    static func span(_ random: inout SeededRandom, scopes: [InstrumentationScope]) -> SpanData {
        let statuses: [SpanStatus] = [.unset, .ok, .error(description: ""), .error(description: text(&random))]
        let kinds: [SpanKind] = [.internal, .server, .client, .producer, .consumer]
        return SpanData(
            name: text(&random), context: context(&random),
            parentSpanID: Bool.random(using: &random) ? SpanID(random.next() >> 1) : nil,
            kind: kinds[Int.random(in: 0..<5, using: &random)],
            startTimeUnixNano: Bool.random(using: &random) ? 0 : random.next(),
            endTimeUnixNano: Bool.random(using: &random) ? 0 : random.next(),
            attributes: attributes(&random, max: 12),
            droppedAttributesCount: Bool.random(using: &random) ? 0 : UInt32.random(in: 1...300, using: &random),
            events: (0..<Int.random(in: 0...3, using: &random)).map { _ in
                SpanEvent(name: text(&random), timeUnixNano: Bool.random(using: &random) ? 0 : random.next(),
                          attributes: attributes(&random, max: 3),
                          droppedAttributesCount: Bool.random(using: &random) ? 0 : 7)
            },
            droppedEventsCount: Bool.random(using: &random) ? 0 : 2,
            links: (0..<Int.random(in: 0...2, using: &random)).map { _ in
                SpanLink(context: context(&random), attributes: attributes(&random, max: 2),
                         droppedAttributesCount: Bool.random(using: &random) ? 0 : 1)
            },
            droppedLinksCount: Bool.random(using: &random) ? 0 : 1000,
            status: statuses[Int.random(in: 0..<4, using: &random)],
            scope: scopes[Int.random(in: 0..<scopes.count, using: &random)])
    }

    @Test("randomized batches encode to exactly the bytes of makeRequest().serializedBytes()", arguments: 0..<40)
    func directEncodingMatchesGeneratedEncoding(seed: UInt64) {
        var random = SeededRandom(state: seed)
        let scopes = [
            InstrumentationScope(name: "a"),
            InstrumentationScope(name: "b", version: "1.0", attributes: ["scope.key": "v"]),
            InstrumentationScope(name: ""),
        ]
        let resource = Resource(serviceName: "svc-\(seed)", attributes: Self.attributes(&random, max: 4))
        let spans = (0..<Int.random(in: 0...60, using: &random)).map { _ in Self.span(&random, scopes: scopes) }
        let batch = SpanBatch(resource: resource, spans: spans)
        let expected = batch.makeRequest().serializedBytes()
        let direct = batch.encodedExportRequest()
        #expect(direct == expected, "seed \(seed): \(direct.count) bytes vs \(expected.count)")
        // With room for a gRPC frame prefix: zeros, then the same bytes.
        let withHeadroom = batch.encodedExportRequest(headroom: 5)
        #expect(withHeadroom.prefix(5).allSatisfy { $0 == 0 } && Array(withHeadroom.dropFirst(5)) == expected)
        #expect(batch.makeRequest().encodedBytes(headroom: 3) == [0, 0, 0] + expected)
    }

    @Test("a sub-range of a batch encodes like a batch of just those spans")
    func subRangeMatchesSlicedBatch() {
        var random = SeededRandom(state: 99)
        let scopes = [InstrumentationScope(name: "a"), InstrumentationScope(name: "b")]
        let spans = (0..<30).map { _ in Self.span(&random, scopes: scopes) }
        let resource = Resource(serviceName: "svc")
        let expected = SpanBatch(resource: resource, spans: Array(spans[7..<19])).makeRequest().serializedBytes()
        #expect(SpanBatch(resource: resource, spans: spans).encodedExportRequest(range: 7..<19) == expected)
    }

    @Test("spans read in their pooled blocks encode exactly like the same spans in an array", arguments: 0..<20)
    func recordBatchesEncodeLikeArrayBatches(seed: UInt64) throws {
        var random = SeededRandom(state: seed &+ 1000)
        let scopes = [InstrumentationScope(name: "a"), InstrumentationScope(name: "b", version: "2")]
        let resource = Resource(serviceName: "svc-\(seed)")
        // Unique keys, so that setting them one by one keeps every attribute.
        let spans = (0..<Int.random(in: 1...40, using: &random)).map { _ in
            var span = Self.span(&random, scopes: scopes)
            span.attributes = span.attributes.enumerated().map { Attribute("\($0.offset).\($0.element.key)", $0.element.value) }
            return span
        }
        let pool = SpanRecordPool(minimumCapacity: 64)
        let records = spans.map { span in
            // The first attributes inline in the block, the rest (past its capacity) in the array.
            let record = pool.take()
            record.initialize(with: span)
            record.removeAllAttributes()
            for attribute in span.attributes { _ = record.setAttribute(attribute.key, attribute.value, countLimit: .max) }
            return record
        }
        #expect(records.contains { $0.attributeCount > SpanRecord.inlineAttributeCapacity } || spans.allSatisfy { $0.attributes.count <= 8 })
        let batch = SpanBatch(resource: resource, pooled: SpanRecordList(records: records, pool: pool))
        #expect(batch.count == spans.count)
        let expected = SpanBatch(resource: resource, spans: spans).makeRequest().serializedBytes()
        // Copied out of the blocks (compared through their encoding: NaN values are not equal).
        let copied = batch.spans
        #expect(copied.map { $0.attributes.map(\.key) } == spans.map { $0.attributes.map(\.key) })
        #expect(SpanBatch(resource: resource, spans: copied).makeRequest().serializedBytes() == expected)
        #expect(batch.encodedExportRequest() == expected, "seed \(seed)")
        #expect(batch.makeRequest().serializedBytes() == expected)
        let range = (spans.count / 3)..<(spans.count - spans.count / 4)
        #expect(batch.encodedExportRequest(range: range, headroom: 5)
                == [0, 0, 0, 0, 0] + SpanBatch(resource: resource, spans: Array(spans[range])).makeRequest().serializedBytes())
    }

    @Test("an empty batch encodes to an empty request")
    func emptyBatchIsEmptyRequest() {
        #expect(SpanBatch(resource: Resource(serviceName: "s"), spans: []).encodedExportRequest() == [])
    }
}

@Suite("Direct log request encoding")
struct LogRequestEncodingTests {
    typealias Random = SpanRequestEncodingTests.SeededRandom

    static func record(_ random: inout Random, scopes: [InstrumentationScope]) -> LogRecordData {
        let severities: [Severity?] = [nil, .trace, .info, .error, Severity(rawValue: 0), Severity(rawValue: -3), Severity(rawValue: 99)]
        return LogRecordData(
            timeUnixNano: Bool.random(using: &random) ? 0 : random.next(),
            observedTimeUnixNano: Bool.random(using: &random) ? 0 : random.next(),
            severity: severities[Int.random(in: 0..<severities.count, using: &random)],
            severityText: [nil, "", "WARN"][Int.random(in: 0..<3, using: &random)],
            body: Bool.random(using: &random) ? nil : SpanRequestEncodingTests.value(&random),
            attributes: SpanRequestEncodingTests.attributes(&random, max: 6),
            droppedAttributesCount: Bool.random(using: &random) ? 0 : 3,
            eventName: [nil, "", "codex.tool_result"][Int.random(in: 0..<3, using: &random)],
            traceID: [nil, .invalid, TraceID(high: random.next(), low: random.next())][Int.random(in: 0..<3, using: &random)],
            spanID: [nil, .invalid, SpanID(random.next())][Int.random(in: 0..<3, using: &random)],
            traceFlags: Bool.random(using: &random) ? .sampled : [],
            scope: scopes[Int.random(in: 0..<scopes.count, using: &random)])
    }

    @Test("randomized log batches encode to exactly the bytes of makeRequest().serializedBytes()", arguments: 0..<40)
    func directEncodingMatchesGeneratedEncoding(seed: UInt64) {
        var random = Random(state: seed &+ 1000)
        let scopes = [InstrumentationScope(name: "a"), InstrumentationScope(name: "b", version: "2", attributes: ["k": 1])]
        let records = (0..<Int.random(in: 0...60, using: &random)).map { _ in Self.record(&random, scopes: scopes) }
        let batch = LogBatch(resource: Resource(serviceName: "svc"), records: records)
        let expected = batch.makeRequest().serializedBytes()
        #expect(batch.encodedExportRequest() == expected, "seed \(seed)")
        if records.count > 4 {
            let part = LogBatch(resource: batch.resource, records: Array(records[2..<records.count - 1]))
            #expect(batch.encodedExportRequest(range: 2..<records.count - 1) == part.makeRequest().serializedBytes())
        }
    }
}
