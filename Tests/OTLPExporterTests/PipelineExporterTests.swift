import OTLPProto
import OTLPTestSupport
import OTLPTesting
import Telemetry
import TelemetryCore
import TelemetryPipeline
import Testing
@testable import OTLPExporter

/// A provider's pipeline exporters into the embedded collector.
@Suite(.serialized) struct PipelineExporterTests {
    func config(_ signal: TelemetrySignal, _ proto: OTLPProtocol, _ base: String) -> OTLPExporterConfiguration {
        OTLPExporterConfiguration(signal: signal, protocol: proto,
                                  endpoint: proto == .grpc ? base : "\(base)/\(signal.httpPath)", retry: fastRetry)
    }

    @Test(arguments: [OTLPProtocol.grpc, .httpProtobuf, .httpJSON])
    func providerSpansLogsAndMetricsArriveOnceWithContent(proto: OTLPProtocol) async throws {
        let collector = try OTLPTestCollector.started(grpc: proto == .grpc)
        let spans = try OTLPSpanExporter(configuration: config(.traces, proto, collector.endpoint))
        let logs = try OTLPLogExporter(configuration: config(.logs, proto, collector.endpoint))
        let metrics = try OTLPMetricExporter(configuration: config(.metrics, proto, collector.endpoint))
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
        #expect(collector.spanNames.sorted() == (0..<50).map { "span-\($0)" }.sorted())
        #expect(collector.logBodies == ["careful"])
        #expect(collector.metricKeys.contains("hits:5"))
        let encoding: OTLPTestCollector.Encoding = switch proto {
        case .grpc: .grpc
        case .httpJSON: .httpJSON
        default: .httpProtobuf
        }
        #expect(collector.requests.allSatisfy { $0.encoding == encoding })
        let span = try #require(collector.spans.first { $0.span.name == "span-7" })
        #expect(span.span.kind == .client)
        #expect(span.span.attributes.text(of: "i") == "7")
        #expect(span.resource.flatMap { $0.attributes.text(of: "service.name") } == "pipeline-test")
        #expect(span.scope?.name == "t")
        let log = try #require(collector.logRecords.first)
        #expect(log.record.attributes.text(of: "k") == "v")
        #expect(spans.exporter.counts.exported == 50 && spans.exporter.counts.failed == 0)
        #expect(logs.exporter.counts.exported == 1)
        await collector.stop()
    }

    @Test func batchOverTheSizeCapIsSplitNotDropped() async throws {
        let collector = try OTLPTestCollector.started(grpc: true)
        // ~40 bytes per span: a 512-byte cap forces the 64-span batch into several requests.
        let spans = try OTLPSpanExporter(configuration: config(.traces, .grpc, collector.endpoint),
                                         options: OTLPExportOptions(maxRequestBytes: 512))
        var resourceSpans: [SpanData] = []
        for i in 0..<64 {
            resourceSpans.append(SpanData(name: "split-\(i)", context: SpanContext(traceID: IDGenerator.traceID(), spanID: IDGenerator.spanID(),
                                                                                    traceFlags: .sampled, traceState: "", isRemote: false),
                                          parentSpanID: nil, kind: .internal, startTimeUnixNano: 1, scope: InstrumentationScope(name: "s")))
        }
        try await spans.export(SpanBatch(resource: Resource(serviceName: "split"), spans: resourceSpans))
        #expect(collector.spanNames.sorted() == (0..<64).map { "split-\($0)" }.sorted())
        #expect(collector.counters.requests >= 4)
        #expect(spans.exporter.counts.exported == 64 && spans.exporter.counts.dropped == 0)
        await collector.stop()
    }
}
