import Foundation
@testable import OTLPExporter
import OTLPProto
import OTLPTestSupport
import OTLPWire
import Testing
import TelemetryCore
@testable import TelemetryPipeline

@Suite("OTLPConversion")
struct ConversionTests {
    static let scopeA = InstrumentationScope(name: "a", version: "1.0")
    static let scopeB = InstrumentationScope(name: "b")

    static func span(_ name: String, _ scope: InstrumentationScope, parent: SpanID? = nil) -> SpanData {
        var span = SpanData(
            name: name,
            context: SpanContext(traceID: TraceID(hex: "4bf92f3577b34da6a3ce929d0e0e4736")!, spanID: IDGenerator.spanID(),
                                 traceFlags: .sampled, traceState: "k=v"),
            parentSpanID: parent, kind: .client, startTimeUnixNano: 10, endTimeUnixNano: 20,
            attributes: ["s": "x", "i": 1, "d": 0.5, "b": true, "sa": .stringArray(["p", "q"]), "ia": .intArray([1, 2])],
            status: .error(description: "bad"), scope: scope)
        span.events = [SpanEvent(name: "e", timeUnixNano: 15, attributes: ["k": "v"])]
        span.links = [SpanLink(context: SpanContext(traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), isRemote: true))]
        return span
    }

    @Test("spans group by scope in first-appearance order under one resource")
    func spanGrouping() throws {
        let batch = SpanBatch(resource: Resource(serviceName: "svc"), spans: [
            Self.span("1", Self.scopeA), Self.span("2", Self.scopeB), Self.span("3", Self.scopeA, parent: SpanID(7)),
        ])
        let request = batch.makeRequest()
        #expect(request.resourceSpans.count == 1)
        let resourceSpans = try #require(request.resourceSpans.first)
        #expect(resourceSpans.resource?.attributes.first?.key == "service.name")
        #expect(resourceSpans.scopeSpans.map { $0.scope?.name } == ["a", "b"])
        #expect(resourceSpans.scopeSpans[0].spans.map(\.name) == ["1", "3"])
        #expect(resourceSpans.scopeSpans[0].scope?.version == "1.0")
        let third = resourceSpans.scopeSpans[0].spans[1]
        #expect(third.parentSpanId == SpanID(7).bytes)
        #expect(third.kind == .client)
        #expect(third.status?.code == .error && third.status?.message == "bad")
        #expect(third.traceId.count == 16 && third.spanId.count == 8)
        #expect(third.flags == 1)
        #expect(SpanBatch(resource: Resource(serviceName: "svc"), spans: []).makeRequest().resourceSpans.isEmpty)
    }

    @Test("the reference protobuf decoder reads our converted requests with the expected fields", PythonPeers.trait)
    func referenceDecodesConversions() throws {
        let spanRequest = SpanBatch(resource: Resource(serviceName: "svc"), spans: [Self.span("op", Self.scopeA)]).makeRequest()
        let text = String(decoding: try ReferencePeer.toJSON(.traces, binary: spanRequest.serializedBytes()), as: UTF8.self)
        #expect(text.contains("\"traceId\": \"4bf92f3577b34da6a3ce929d0e0e4736\"") || text.contains("\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\""))
        #expect(text.contains("\"kind\":3"))  // SPAN_KIND_CLIENT
        #expect(text.contains("\"status\":{\"message\":\"bad\",\"code\":2}"))  // STATUS_CODE_ERROR
        #expect(text.contains("\"flags\":768"))  // link: remote known + remote
        #expect(text.contains("arrayValue"))

        let log = LogRecordData(
            timeUnixNano: 5, observedTimeUnixNano: 6, severity: .error, severityText: "ERROR", body: "boom",
            attributes: ["k": 1], eventName: "ev", traceID: TraceID(high: 1, low: 1), spanID: SpanID(2),
            traceFlags: .sampled, scope: Self.scopeB)
        let logRequest = LogBatch(resource: Resource(serviceName: "svc"), records: [log]).makeRequest()
        let logText = String(decoding: try ReferencePeer.toJSON(.logs, binary: logRequest.serializedBytes()), as: UTF8.self)
        #expect(logText.contains("\"severityNumber\":17"))  // SEVERITY_NUMBER_ERROR
        #expect(logText.contains("\"traceId\":\"00000000000000010000000000000001\""))
        #expect(logText.contains("\"eventName\""))
        #expect(logText.contains("boom"))

        let metrics = MetricBatch(resource: Resource(serviceName: "svc"), metrics: [
            MetricData(name: "c", description: "d", unit: "1", scope: Self.scopeA, points: .sum(
                isMonotonic: true, temporality: .cumulative,
                points: [NumberDataPoint(attributes: ["a": 1], startTimeUnixNano: 1, timeUnixNano: 2, value: .int(42))])),
            MetricData(name: "h", description: "", unit: "ms", scope: Self.scopeA, points: .histogram(
                temporality: .delta,
                points: [HistogramDataPoint(attributes: [], startTimeUnixNano: 1, timeUnixNano: 2, count: 2, sum: 3, min: 1,
                                            max: 2, explicitBounds: [1], bucketCounts: [1, 1])])),
            MetricData(name: "e", description: "", unit: "", scope: Self.scopeB, points: .exponentialHistogram(
                temporality: .cumulative,
                points: [ExponentialHistogramDataPoint(
                    attributes: [], startTimeUnixNano: 1, timeUnixNano: 2, count: 1, sum: 3, min: 3, max: 3, scale: 0,
                    zeroCount: 0, positiveOffset: 1, positiveBucketCounts: [1], negativeOffset: 0, negativeBucketCounts: [])])),
        ])
        let metricRequest = metrics.makeRequest()
        #expect(metricRequest.resourceMetrics.first?.scopeMetrics.count == 2)
        let metricText = String(decoding: try ReferencePeer.toJSON(.metrics, binary: metricRequest.serializedBytes()), as: UTF8.self)
        #expect(metricText.contains("\"aggregationTemporality\":2,\"isMonotonic\":true"))  // cumulative
        #expect(metricText.contains("\"aggregationTemporality\":1"))  // delta
        #expect(metricText.contains("\"positive\":{\"offset\":1,\"bucketCounts\":[\"1\"]}"))
        #expect(metricText.contains("\"asInt\": \"42\"") || metricText.contains("\"asInt\":\"42\""))
    }
}
