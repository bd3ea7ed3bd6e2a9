import OTLPProto
import OTLPWire
import Testing

/// Optional fields (singular messages, proto3 `optional` scalars, oneofs) are stored in a
/// `ProtoOptional` and read and written through a property of the `Optional` type.
@Suite struct OptionalFieldTests {
    @Test func optionalFieldsStartAbsentAndAreSetReadAndClearedThroughTheirOptionalProperty() throws {
        var span = TraceV1Span()
        #expect(span.status == nil)
        span.status = TraceV1Status(message: "bad", code: .error)
        #expect(span.status?.message == "bad")
        span.status?.message = "worse"  // mutated in place through the property
        #expect(span.status == TraceV1Status(message: "worse", code: .error))
        span.status = nil
        #expect(span.status == nil)
        #expect(span == TraceV1Span())
    }

    @Test func optionalFieldsSetByTheMemberwiseInitializerRoundTripThroughTheWire() throws {
        let span = TraceV1Span(name: "op", status: TraceV1Status(code: .ok))
        var point = MetricsV1HistogramDataPoint()
        point.sum = 0  // present although zero: encoded
        var keyValue = CommonV1KeyValue(key: "k")
        keyValue.value = CommonV1AnyValue(value: .intValue(7))
        keyValue.value?.value = .stringValue("seven")

        #expect(try TraceV1Span(serializedBytes: span.serializedBytes()) == span)
        let decodedPoint = try MetricsV1HistogramDataPoint(serializedBytes: point.serializedBytes())
        #expect(decodedPoint.sum == 0)
        #expect(decodedPoint.min == nil)
        let decodedKeyValue = try CommonV1KeyValue(serializedBytes: keyValue.serializedBytes())
        #expect(decodedKeyValue.value?.value == .stringValue("seven"))
    }
}
