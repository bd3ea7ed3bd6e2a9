import Foundation
import OTLPProto
import OTLPTestSupport
import Testing

/// Golden vectors written by `tools/golden_vectors.py` with the reference encoder: edge cases
/// (-0.0, NaN, zero values in oneofs and `optional` fields, unknown enum values, empty but
/// present messages, extreme integers) must decode and re-encode byte for byte, and our
/// OTLP/JSON must equal the reference JSON.
@Suite struct GoldenVectorTests {
    static let directory = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/OTLPProtoTests/Golden")

    func load(_ name: String) throws -> (binary: [UInt8], json: [UInt8]) {
        (try [UInt8](Data(contentsOf: Self.directory.appendingPathComponent(name + ".binpb"))),
         try [UInt8](Data(contentsOf: Self.directory.appendingPathComponent(name + ".json"))))
    }

    func check<M: JSONMessage>(_ type: M.Type, _ name: String) throws {
        let (binary, json) = try load(name)
        let message = try M(serializedBytes: binary)
        #expect(message.serializedBytes() == binary, "\(name): binary round trip")
        #expect(message.serializedSize == binary.count)
        let fromJSON = try M(jsonBytes: json)
        #expect(fromJSON.serializedBytes() == binary, "\(name): JSON decode")
        let difference = try JSONComparison.difference(json: message.jsonBytes(), json)
        #expect(difference == nil, "\(name): \(difference ?? "")")
    }

    @Test func tracesEdgeCases() throws { try check(CollectorTraceV1ExportTraceServiceRequest.self, "traces_edge") }
    @Test func emptyRequest() throws { try check(CollectorTraceV1ExportTraceServiceRequest.self, "traces_empty") }
    @Test func metricsEdgeCases() throws { try check(CollectorMetricsV1ExportMetricsServiceRequest.self, "metrics_edge") }
    @Test func logsEdgeCases() throws { try check(CollectorLogsV1ExportLogsServiceRequest.self, "logs_edge") }

    static func kv(_ key: String, _ value: CommonV1AnyValue.Value?) -> CommonV1KeyValue {
        CommonV1KeyValue(key: key, value: value.map { CommonV1AnyValue(value: $0) })
    }

    /// The traces vector built field by field in Swift encodes to the reference's exact bytes.
    @Test func tracesBuiltInSwiftEncodeToTheReferenceBytes() throws {
        let traceId = Array(UInt8(1)...16)
        let spanId = Array(UInt8(0xA0)...0xA7)
        let attributes: [CommonV1KeyValue] = [
            Self.kv("empty string", .stringValue("")),
            Self.kv("false", .boolValue(false)),
            Self.kv("zero int", .intValue(0)),
            Self.kv("negative zero", .doubleValue(-0.0)),
            Self.kv("nan", .doubleValue(.nan)),
            Self.kv("infinity", .doubleValue(.infinity)),
            Self.kv("empty bytes", .bytesValue([])),
            Self.kv("bytes", .bytesValue([0x00, 0xFF, 0x10])),
            Self.kv("min int", .intValue(.min)),
            Self.kv("negative strindex", .stringValueStrindex(-1)),
            Self.kv("array", .arrayValue(CommonV1ArrayValue(values: [
                CommonV1AnyValue(value: .stringValue("in array")), CommonV1AnyValue(value: .intValue(-1)),
            ]))),
            Self.kv("kvlist", .kvlistValue(CommonV1KeyValueList(values: [Self.kv("inner", .boolValue(true))]))),
            Self.kv("empty array", .arrayValue(CommonV1ArrayValue())),
            Self.kv("empty kvlist", .kvlistValue(CommonV1KeyValueList())),
            Self.kv("no value", nil),
        ]
        var span = TraceV1Span(
            traceId: traceId, spanId: spanId, traceState: "k=v", parentSpanId: [UInt8](repeating: 0, count: 8),
            name: "héllo ✓ span", kind: .server, startTimeUnixNano: 1, endTimeUnixNano: .max,
            attributes: [Self.kv("http.method", .stringValue("GET"))], droppedAttributesCount: .max,
            status: TraceV1Status(message: "boom", code: .error), flags: 0x301)
        span.events = [TraceV1Span.Event(timeUnixNano: 5, name: "event", attributes: [Self.kv("k", .intValue(7))],
                                          droppedAttributesCount: 1)]
        span.links = [TraceV1Span.Link(traceId: traceId, spanId: spanId, attributes: [Self.kv("l", .boolValue(true))], flags: 1)]
        let request = CollectorTraceV1ExportTraceServiceRequest(resourceSpans: [
            TraceV1ResourceSpans(
                resource: ResourceV1Resource(attributes: attributes, droppedAttributesCount: 3),
                scopeSpans: [TraceV1ScopeSpans(
                    scope: CommonV1InstrumentationScope(name: "golden", version: "1.0"),
                    spans: [span,
                            TraceV1Span(name: "unknown kind", kind: .init(rawValue: 99)),
                            TraceV1Span(name: "empty status", status: TraceV1Status())])],
                schemaUrl: "https://opentelemetry.io/schemas/1.26.0"),
        ])
        let (binary, _) = try load("traces_edge")
        #expect(request.serializedBytes() == binary)
        let encoder = ProtoEncoder(initialCapacity: 16)
        encoder.encode(request)
        #expect(encoder.bytes == binary)
        var appended: [UInt8] = [0, 0, 0, 0, 0]
        encoder.encode(request, appendingTo: &appended)
        #expect(appended == [0, 0, 0, 0, 0] + binary)
        #expect(TraceV1Span.SpanKind(rawValue: 99) == .unrecognized(99))
    }
}
