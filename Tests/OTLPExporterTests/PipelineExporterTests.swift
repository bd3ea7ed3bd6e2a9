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
    @Test(arguments: [OTLPProtocol.grpc, .httpProtobuf, .httpJSON])
    func providerSpansLogsAndMetricsArriveOnceWithContent(proto: OTLPProtocol) async throws {
        let collector = try OTLPTestCollector.started(grpc: proto == .grpc)
        let workload = try ProviderWorkload(proto: proto, endpoint: collector.endpoint)
        try await workload.run()
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
        #expect(workload.exportedEverything)
        await collector.stop()
    }

    @Test func batchOverTheSizeCapIsSplitNotDropped() async throws {
        let collector = try OTLPTestCollector.started(grpc: true)
        // ~40 bytes per span: a 512-byte cap forces the 64-span batch into several requests.
        let spans = try OTLPSpanExporter(configuration: OTLPExporterConfiguration(signal: .traces, protocol: .grpc, endpoint: collector.endpoint, retry: fastRetry),
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
