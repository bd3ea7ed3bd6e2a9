import OTLPTestSupport
import Telemetry
import TelemetryCore
import TelemetryPipeline
import Testing
@testable import OTLPExporter

/// Interop: our gRPC, HTTP/protobuf and HTTP/JSON exporters, driven by a provider, into the Python
/// receivers, which decode with the reference implementation (`opentelemetry-proto` on grpcio and
/// protobuf's `json_format`). Every other exporter test uses the embedded collector.
@Suite(.serialized, PythonPeers.trait) struct ReferenceCollectorInteropTests {
    func config(_ signal: TelemetrySignal, _ proto: OTLPProtocol, _ base: String) -> OTLPExporterConfiguration {
        OTLPExporterConfiguration(signal: signal, protocol: proto,
                                  endpoint: proto == .grpc ? base : "\(base)/\(signal.httpPath)", retry: fastRetry)
    }

    @Test(arguments: [OTLPProtocol.grpc, .httpProtobuf, .httpJSON])
    func providerExportsEverySignalIntoTheReferenceCollector(proto: OTLPProtocol) async throws {
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
}
