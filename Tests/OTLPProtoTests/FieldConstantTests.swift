import OTLPProto
import OTLPWire
import Testing

/// The generated `FieldNumber` and `Tag` constants name the numbers and tags the codec writes, so
/// hand-written encoders built on them produce the same bytes as the generated ones.
@Suite struct FieldConstantTests {
    /// The first tag of a message that has only one field set.
    static func firstTag(_ message: some ProtoMessage) throws -> UInt32? {
        let bytes = message.serializedBytes()
        return try bytes.withUnsafeBytes { raw throws(ProtoDecodingError) in
            var reader = ProtoReader(raw)
            return try reader.nextTag()
        }
    }

    @Test func tagConstantsAreTheTagsTheCodecWritesForEachWireType() throws {
        // length-delimited bytes, fixed64, varint enum, nested message
        #expect(try Self.firstTag(TraceV1Span(traceId: [1])) == TraceV1Span.Tag.traceId)
        #expect(try Self.firstTag(TraceV1Span(startTimeUnixNano: 5)) == TraceV1Span.Tag.startTimeUnixNano)
        #expect(try Self.firstTag(TraceV1Span(kind: .server)) == TraceV1Span.Tag.kind)
        #expect(try Self.firstTag(TraceV1Span(status: TraceV1Status(code: .ok))) == TraceV1Span.Tag.status)
        // fixed32 and a field number past 15 (a two-byte tag)
        #expect(try Self.firstTag(TraceV1Span(flags: 1)) == TraceV1Span.Tag.flags)
        #expect(TraceV1Span.Tag.flags > 0x7F)
        // packed repeated fixed64, proto3 optional double
        #expect(try Self.firstTag(MetricsV1HistogramDataPoint(bucketCounts: [1, 2])) == MetricsV1HistogramDataPoint.Tag.bucketCounts)
        #expect(try Self.firstTag(MetricsV1HistogramDataPoint(sum: 0)) == MetricsV1HistogramDataPoint.Tag.sum)
        // oneof members
        #expect(try Self.firstTag(CommonV1AnyValue(value: .intValue(3))) == CommonV1AnyValue.Tag.intValue)
        #expect(try Self.firstTag(CommonV1AnyValue(value: .stringValue("s"))) == CommonV1AnyValue.Tag.stringValue)
    }

    @Test func fieldNumbersAreTheProtoFieldNumbers() {
        #expect(TraceV1Span.FieldNumber.traceId == 1)
        #expect(TraceV1Span.FieldNumber.flags == 16)
        #expect(LogsV1LogRecord.FieldNumber.traceId == 9)
        #expect(CommonV1AnyValue.FieldNumber.bytesValue == 7)
        #expect(UInt32(TraceV1Span.FieldNumber.flags) == TraceV1Span.Tag.flags >> 3)
    }
}
