import OTLPTestSupport
import Telemetry
import TelemetryPipeline
import Testing
@testable import OTLPExporter

@Suite(.serialized) struct PipelineExporterTests {
    func config(_ signal: OTLPSignal, _ proto: OTLPProtocol, _ base: String) -> OTLPExporterConfiguration {
        OTLPExporterConfiguration(signal: signal, protocol: proto,
                                  endpoint: proto == .grpc ? base : "\(base)/\(signal.httpPath)", retry: fastRetry)
    }

    @Test(arguments: [OTLPProtocol.grpc, .httpProtobuf, .httpJSON])
    func providerSpansLogsAndMetricsArriveOnceWithContent(proto: OTLPProtocol) async throws {
        let receiver = try OTLPReceiverPeer(proto == .grpc ? .grpc : .http, detail: true)
        defer { receiver.stop() }
        let spans = try OTLPSpanExporter(configuration: config(.traces, proto, receiver.endpoint))
        let logs = try OTLPLogExporter(configuration: config(.logs, proto, receiver.endpoint))
        let metrics = try OTLPMetricExporter(configuration: config(.metrics, proto, receiver.endpoint))
        let provider = TelemetryProvider(resource: Resource(serviceName: "pipeline-test"), spanExporters: [spans],
                                         metricExporters: [metrics], logExporters: [logs])
        let tracer = provider.tracer("t")
        for i in 0..<50 {
            let span = tracer.startSpan("span-\(i)", kind: .client, attributes: [Attribute("i", .int(Int64(i)))])
            span.end()
        }
        let logger = provider.logger("l")
        logger.warn("careful", attributes: [Attribute("k", .string("v"))])
        provider.meter("m").counter("hits", of: Int64.self).add(5)
        try await provider.shutdown(timeout: .seconds(20))
        #expect(await receiver.wait { $0.acceptedKeys("traces").count >= 50 && !$0.acceptedKeys("logs").isEmpty && !$0.acceptedKeys("metrics").isEmpty })
        #expect(receiver.acceptedKeys("traces").sorted() == (0..<50).map { "span-\($0)" }.sorted())
        #expect(receiver.acceptedKeys("logs") == ["careful"])
        #expect(receiver.acceptedKeys("metrics").contains("hits:5"))
        let span = receiver.accepted.first { $0.signal == "traces" }?.items.first as? [String: Any]
        #expect(span?["kind"] as? Int == 3)  // SPAN_KIND_CLIENT
        #expect((span?["resource"] as? [String: Any])?["service.name"] as? String == "pipeline-test")
        #expect(spans.exporter.counts.exported == 50 && spans.exporter.counts.failed == 0)
        #expect(logs.exporter.counts.exported == 1)
    }

    @Test func batchOverTheSizeCapIsSplitNotDropped() async throws {
        let receiver = try OTLPReceiverPeer(.grpc)
        defer { receiver.stop() }
        // ~40 bytes per span: a 512-byte cap forces the 64-span batch into several requests.
        let spans = try OTLPSpanExporter(configuration: config(.traces, .grpc, receiver.endpoint),
                                         options: OTLPExportOptions(maxRequestBytes: 512))
        var resourceSpans: [SpanData] = []
        for i in 0..<64 {
            resourceSpans.append(SpanData(name: "split-\(i)", context: SpanContext(traceID: IDGenerator.traceID(), spanID: IDGenerator.spanID(),
                                                                                    traceFlags: .sampled, traceState: "", isRemote: false),
                                          parentSpanID: nil, kind: .internal, startTimeUnixNano: 1, scope: InstrumentationScope(name: "s")))
        }
        try await spans.export(SpanBatch(resource: Resource(serviceName: "split"), spans: resourceSpans))
        #expect(await receiver.wait { $0.acceptedKeys("traces").count >= 64 })
        #expect(receiver.acceptedKeys("traces").sorted() == (0..<64).map { "split-\($0)" }.sorted())
        #expect(receiver.calls.count >= 4)
        #expect(spans.exporter.counts.exported == 64 && spans.exporter.counts.dropped == 0)
    }
}
