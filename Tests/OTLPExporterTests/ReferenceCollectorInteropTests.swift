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
    @Test(arguments: [OTLPProtocol.grpc, .httpProtobuf, .httpJSON])
    func providerExportsEverySignalIntoTheReferenceCollector(proto: OTLPProtocol) async throws {
        let receiver = try OTLPReceiverPeer(proto == .grpc ? .grpc : .http, detail: true)
        defer { receiver.stop() }
        let workload = try ProviderWorkload(proto: proto, endpoint: receiver.endpoint)
        try await workload.run()
        #expect(await receiver.wait { $0.acceptedKeys("traces").count >= 50 && !$0.acceptedKeys("logs").isEmpty && !$0.acceptedKeys("metrics").isEmpty })
        #expect(receiver.acceptedKeys("traces").sorted() == (0..<50).map { "span-\($0)" }.sorted())
        #expect(receiver.acceptedKeys("logs") == ["careful"])
        #expect(receiver.acceptedKeys("metrics").contains("hits:5"))
        let span = receiver.accepted.first { $0.signal == "traces" }?.items.first as? [String: Any]
        #expect(span?["kind"] as? Int == 3)  // SPAN_KIND_CLIENT
        #expect((span?["resource"] as? [String: Any])?["service.name"] as? String == "pipeline-test")
        #expect(workload.exportedEverything)
    }
}
