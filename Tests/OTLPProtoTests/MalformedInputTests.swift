import Foundation
import OTLPProto
import OTLPTestSupport
import Testing

/// Length-delimited field `number` holding `content`.
func ld(_ number: UInt32, _ content: [UInt8]) -> [UInt8] {
    varint(UInt64(number << 3 | 2)) + varint(UInt64(content.count)) + content
}

func varint(_ value: UInt64) -> [UInt8] {
    var v = value, out: [UInt8] = []
    while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
    out.append(UInt8(v))
    return out
}

/// The malformed-input corpus: every case is a typed error of the expected kind, never a crash,
/// hang or huge allocation — and the reference rejects it too.
@Suite struct MalformedInputTests {
    typealias Traces = CollectorTraceV1ExportTraceServiceRequest
    typealias Metrics = CollectorMetricsV1ExportMetricsServiceRequest

    /// AnyValue nested `levels` deep through array values (two messages per level), optionally
    /// inside one kvlist level (three messages), inside a span attribute.
    static func deepTraces(levels: Int, kvlist: Bool = false) -> [UInt8] {
        var value = ld(1, Array("leaf".utf8))  // AnyValue.string_value
        for _ in 0..<levels { value = ld(5, ld(1, value)) }  // AnyValue.array_value → ArrayValue.values
        if kvlist { value = ld(6, ld(1, ld(1, Array("x".utf8)) + ld(2, value))) }  // kvlist_value → values → KeyValue.value
        let span = ld(9, ld(1, Array("k".utf8)) + ld(2, value))  // Span.attributes → KeyValue{key, value}
        return ld(1, ld(2, ld(2, span)))  // request.resource_spans → scope_spans → spans
    }

    /// A histogram data point's bytes inside a metrics request.
    static func inHistogramPoint(_ point: [UInt8]) -> [UInt8] {
        ld(1, ld(2, ld(2, ld(9, ld(1, point)))))  // resource_metrics → scope_metrics → metrics → histogram → data_points
    }

    static let traceCorpus: [(name: String, bytes: [UInt8], code: ProtoDecodingError.Code)] = [
        ("length prefix missing", [0x0A], .truncated),
        ("varint cut short", [0x10, 0x80], .truncated),
        ("tag varint cut short", [0x80], .truncated),
        ("fixed64 cut short", [0x11, 1, 2, 3], .truncated),
        ("fixed32 cut short", [0x15, 1], .truncated),
        ("wire type 6", [0x0E, 0x00], .invalidWireType),
        ("wire type 7", [0x0F, 0x00], .invalidWireType),
        ("end-group without start", [0x0C], .invalidWireType),
        ("group never closed", [0x13, 0x08, 0x01], .truncated),
        ("group closed by another field", [0x13, 0x24], .invalidWireType),
        ("varint of 11 bytes", [0x10] + [UInt8](repeating: 0x80, count: 10) + [0x01], .overlongVarint),
        ("varint of 10 bytes continuing", [0x10] + [UInt8](repeating: 0xFF, count: 10) + [0x01], .overlongVarint),
        ("length past end", [0x0A, 0x05, 0x00], .lengthPastEnd),
        ("length of 2^62", [0x0A] + varint(1 << 62), .lengthPastEnd),
        ("nested length past its parent", ld(1, [0x1A, 0x09, 0x41]), .lengthPastEnd),
        ("invalid UTF-8 in schema_url", ld(1, ld(3, [0xC3, 0x28])), .invalidUTF8),
        ("UTF-8 surrogate in span name", ld(1, ld(2, ld(2, ld(5, [0xED, 0xA0, 0x80])))), .invalidUTF8),
        ("field number 0", [0x02, 0x00], .invalidFieldNumber),
        ("nesting 200 levels deep", deepTraces(levels: 200), .depthLimitExceeded),
        ("span event with truncated time", ld(1, ld(2, ld(2, ld(11, [0x09, 1, 2])))), .truncated),
    ]

    static let metricsCorpus: [(name: String, bytes: [UInt8], code: ProtoDecodingError.Code)] = [
        ("packed fixed64 run of 3 bytes", inHistogramPoint([0x32, 0x03, 1, 2, 3]), .truncated),
        ("packed double run past its point", inHistogramPoint([0x3A, 0x10, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F]), .lengthPastEnd),
        ("packed varint run ending mid-varint",
         ld(1, ld(2, ld(2, ld(10, ld(1, ld(8, [0x12, 0x01, 0x80])))))), .truncated),
    ]

    @Test(arguments: 0..<traceCorpus.count)
    func malformedTraceInputIsATypedError(index: Int) {
        let (name, bytes, code) = Self.traceCorpus[index]
        #expect(throws: ProtoDecodingError.self, "\(name)") { _ = try Traces(serializedBytes: bytes) }
        do { _ = try Traces(serializedBytes: bytes) } catch { #expect(error.code == code, "\(name): \(error)") }
    }

    @Test(arguments: 0..<metricsCorpus.count)
    func malformedMetricsInputIsATypedError(index: Int) {
        let (name, bytes, code) = Self.metricsCorpus[index]
        do {
            _ = try Metrics(serializedBytes: bytes)
            Issue.record("\(name): decoded without error")
        } catch { #expect(error.code == code, "\(name): \(error)") }
    }

    @Test func aRepeatedFieldWithANonMinimallyEncodedTagDecodesEveryElement() throws {
        // `values` = 1 four times, the third tag written in two bytes (0x8A 0x00): valid protobuf,
        // which the one-byte run scan stops at and the merge loop reads on from.
        let kv = ld(1, Array("k".utf8))
        let bytes = ld(1, kv) + ld(1, kv) + [0x8A, 0x00] + varint(UInt64(kv.count)) + kv + ld(1, kv)
        let list = try CommonV1KeyValueList(serializedBytes: bytes)
        #expect(list.values.map(\.key) == ["k", "k", "k", "k"])
    }

    @Test(PythonPeers.trait) func theReferenceRejectsTheSameCorpus() throws {
        let traceVerdicts = try ReferencePeer.rejects(.traces, Self.traceCorpus.map(\.bytes))
        for (case_, rejected) in zip(Self.traceCorpus, traceVerdicts) { #expect(rejected, "reference accepts: \(case_.name)") }
        #expect(traceVerdicts.count == Self.traceCorpus.count)
        let metricVerdicts = try ReferencePeer.rejects(.metrics, Self.metricsCorpus.map(\.bytes))
        for (case_, rejected) in zip(Self.metricsCorpus, metricVerdicts) { #expect(rejected, "reference accepts: \(case_.name)") }
    }

    @Test(PythonPeers.trait) func theDepthLimitBoundaryIsTheReferences() throws {
        // Innermost AnyValue at depth 5 + 3 + 2 * levels (the request is depth 0):
        // 46 levels → depth 100 (accepted), 47 → 102 (rejected), as upb does.
        let atLimit = Self.deepTraces(levels: 46, kvlist: true)
        let overLimit = Self.deepTraces(levels: 47, kvlist: true)
        let request = try Traces(serializedBytes: atLimit)
        #expect(request.serializedBytes() == atLimit)
        do {
            _ = try Traces(serializedBytes: overLimit)
            Issue.record("decoded past the depth limit")
        } catch { #expect(error.code == .depthLimitExceeded) }
        #expect(try ReferencePeer.rejects(.traces, [atLimit, overLimit]) == [false, true])
        // A lower limit is honoured.
        #expect(throws: ProtoDecodingError.self) {
            _ = try Traces(serializedBytes: atLimit, options: .init(maxDepth: 50))
        }
    }

    @Test(PythonPeers.trait) func bitsBeyond64InATenByteVarintAreDroppedLikeTheReference() throws {
        // Span.dropped_attributes_count (uint32 field 10) as a 10-byte varint with a 10th byte of 0x7F.
        let tenBytes: [UInt8] = [0x50] + [UInt8](repeating: 0xFF, count: 9) + [0x7F]
        let input = ld(1, ld(2, ld(2, tenBytes)))
        let request = try Traces(serializedBytes: input)
        #expect(request.resourceSpans[0].scopeSpans[0].spans[0].droppedAttributesCount == UInt32.max)
        #expect(try ReferencePeer.rejects(.traces, [input]) == [false])
    }

    @Test func inputOverTheSizeLimitIsRejectedBeforeDecoding() throws {
        let bytes = Self.deepTraces(levels: 3)
        do {
            _ = try Traces(serializedBytes: bytes, options: .init(maxMessageSize: bytes.count - 1))
            Issue.record("decoded")
        } catch { #expect(error.code == .sizeLimitExceeded) }
        _ = try Traces(serializedBytes: bytes, options: .init(maxMessageSize: bytes.count))
    }

    @Test(PythonPeers.trait) func everyTruncationAndRandomMutationOfValidInputIsHandled() throws {
        // Never a crash or hang: each input either decodes or throws a typed error; decoded
        // results re-encode without trapping.
        let samples = try ReferencePeer.generate(.traces, seed: 77, count: 20)
        var generator = SplitMix64(seed: 77)
        var errors = 0, decoded = 0
        for sample in samples {
            var inputs: [[UInt8]] = (0..<sample.binary.count).map { Array(sample.binary.prefix($0)) }
            for _ in 0..<50 {
                var mutated = sample.binary
                guard !mutated.isEmpty else { break }
                for _ in 0..<(1 + Int(generator.next() % 4)) {
                    mutated[Int(generator.next() % UInt64(mutated.count))] = UInt8(truncatingIfNeeded: generator.next())
                }
                inputs.append(mutated)
            }
            for input in inputs {
                do {
                    let message = try Traces(serializedBytes: input)
                    _ = message.serializedBytes()
                    decoded += 1
                } catch {
                    errors += 1
                }
            }
        }
        #expect(errors > 0 && decoded > 0)
    }

    static let jsonCorpus: [(name: String, json: String)] = [
        ("unterminated array", "{\"resourceSpans\": ["),
        ("trailing garbage", "{} x"),
        ("object where array expected", "{\"resourceSpans\": {}}"),
        ("number where string expected", "{\"resourceSpans\": [{\"schemaUrl\": 5}]}"),
        ("trace id not hex", "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"zz\"}]}]}]}"),
        ("trace id odd length", "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"spanId\":\"abc\"}]}]}]}"),
        ("int64 out of range", "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"startTimeUnixNano\":\"18446744073709551616\"}]}]}]}"),
        ("uint32 negative", "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"droppedAttributesCount\":-1}]}]}]}"),
        ("bad base64", "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"k\",\"value\":{\"bytesValue\":\"***\"}}]}}]}"),
        ("unknown enum name", "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"kind\":\"SPAN_KIND_NOPE\"}]}]}]}"),
        ("invalid escape", "{\"resourceSpans\":[{\"schemaUrl\":\"\\q\"}]}"),
        ("lone surrogate", "{\"resourceSpans\":[{\"schemaUrl\":\"\\ud800\"}]}"),
        ("nested too deep", String(repeating: "[", count: 500)),
        ("empty input", ""),
    ]

    @Test(arguments: 0..<jsonCorpus.count)
    func malformedJSONIsATypedError(index: Int) {
        let (name, json) = Self.jsonCorpus[index]
        do {
            _ = try Traces(jsonString: json)
            Issue.record("\(name): decoded without error")
        } catch {
            #expect([.invalidJSON, .depthLimitExceeded, .invalidUTF8].contains(error.code), "\(name): \(error)")
        }
    }

    @Test func jsonAcceptsNumbersForInt64AndIgnoresUnknownKeys() throws {
        let json = """
            {"unknown": {"x": [1, 2]}, "resourceSpans":[{"scopeSpans":[{"spans":[
              {"startTimeUnixNano": 1700000000000000000, "endTimeUnixNano": "1700000000000000001",
               "trace_id": "000102030405060708090a0b0c0d0e0f", "kind": "SPAN_KIND_SERVER", "name": null}]}]}]}
            """
        let request = try Traces(jsonString: json)
        let span = try #require(request.resourceSpans.first?.scopeSpans.first?.spans.first)
        #expect(span.startTimeUnixNano == 1_700_000_000_000_000_000)
        #expect(span.endTimeUnixNano == 1_700_000_000_000_000_001)
        #expect(span.traceId == Array(0..<16))
        #expect(span.kind == .server)
        #expect(span.name == "")
    }
}

/// A small deterministic generator for seeded mutations.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
