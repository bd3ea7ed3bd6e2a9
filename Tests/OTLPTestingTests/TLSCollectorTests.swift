// The collector over TLS: our exporters (gRPC over ALPN h2, OTLP/HTTP over ALPN h2 or
// http/1.1), mutual TLS, and clients that fail the handshake.
import Foundation
import OTLPExporter
import OTLPTesting
import OTLPTestSupport
import Testing

@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs the openssl command to make test certificates"))
struct TLSCollectorTests {
    func tlsCollector(_ certificates: TestCertificates, clientCA: Bool) async throws -> OTLPTestCollector {
        var configuration = OTLPTestCollector.Configuration()
        configuration.server.tls = HTTPServerTLSConfiguration(certificateFile: certificates.serverCert, privateKeyFile: certificates.serverKey,
                                                              clientCAFile: clientCA ? certificates.caCert : nil)
        return try await OTLPTestCollector.start(configuration: configuration)
    }

    func exporterConfiguration(_ signal: OTLPSignal, _ proto: OTLPProtocol, _ endpoint: String, _ certificates: TestCertificates,
                               clientCertificate: Bool) -> OTLPExporterConfiguration {
        let identity = clientCertificate ? OTLPTLSConfiguration.ClientIdentity(certificateFile: certificates.clientCert, privateKeyFile: certificates.clientKey) : nil
        return OTLPExporterConfiguration(signal: signal, protocol: proto, endpoint: endpoint, timeout: .seconds(30),
                                         tls: OTLPTLSConfiguration(caCertificateFile: certificates.caCert, clientIdentity: identity),
                                         retry: OTLPRetryPolicy(initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(50),
                                                                multiplier: 1.5, jitter: 0.1, maxElapsedTime: .milliseconds(300)))
    }

    @Test(arguments: [false, true])
    func exportersDeliverOverTLSAndMutualTLS(mutual: Bool) async throws {
        let certificates = try TestCertificates.generate()
        defer { certificates.remove() }
        let collector = try await tlsCollector(certificates, clientCA: mutual)
        #expect(collector.grpcEndpoint?.hasPrefix("https://") == true)
        let grpc = try OTLPGRPCExporter(configuration: exporterConfiguration(.traces, .grpc, collector.grpcEndpoint!, certificates, clientCertificate: mutual))
        let http = try OTLPHTTPExporter(configuration: exporterConfiguration(.logs, .httpProtobuf, collector.httpURL(for: .logs)!, certificates, clientCertificate: mutual))
        defer { grpc.shutdown(); http.shutdown() }
        await grpc.export(encodedRequest: Fixtures.traces(["over-tls"]).serializedBytes(), itemCount: 1)
        await http.export(encodedRequest: Fixtures.logs(["over-tls"]).serializedBytes(), itemCount: 1)
        #expect(grpc.counts.exported == 1 && http.counts.exported == 1)
        #expect(collector.spans.map(\.span.name) == ["over-tls"] && collector.logRecords.count == 1)
        // The HTTP exporter offers h2 and http/1.1; the collector picks h2.
        #expect(collector.requests.map(\.httpProtocol) == [.http2, .http2])
        await collector.stop()
    }

    @Test func aClientWithoutACertificateIsRefusedByMutualTLSAndCounted() async throws {
        let certificates = try TestCertificates.generate()
        defer { certificates.remove() }
        let collector = try await tlsCollector(certificates, clientCA: true)
        let anonymous = try OTLPGRPCExporter(configuration: exporterConfiguration(.traces, .grpc, collector.grpcEndpoint!, certificates, clientCertificate: false))
        defer { anonymous.shutdown() }
        await anonymous.export(encodedRequest: Fixtures.traces(["refused"]).serializedBytes(), itemCount: 1)
        #expect(anonymous.counts.exported == 0)
        #expect(collector.spans.isEmpty)
        #expect((collector.transportStatistics.grpc?.tlsHandshakeFailures ?? 0) >= 1)
        await collector.stop()
    }

    @Test func cleartextBytesOnTheTLSPortFailTheHandshakeAndOthersAreServed() async throws {
        let certificates = try TestCertificates.generate()
        defer { certificates.remove() }
        let collector = try await tlsCollector(certificates, clientCA: false)
        let plain = try RawClient(port: collector.httpPort!)
        plain.send(http1Post(path: "/v1/logs", contentType: "application/x-protobuf", body: []))
        #expect(try await plain.closedByServer())
        #expect(collector.transportStatistics.http?.tlsHandshakeFailures == 1)
        let http = try OTLPHTTPExporter(configuration: exporterConfiguration(.logs, .httpJSON, collector.httpURL(for: .logs)!, certificates, clientCertificate: false))
        defer { http.shutdown() }
        await http.export(encodedRequest: Fixtures.logs(["after"]).jsonBytes(), itemCount: 1)
        #expect(http.counts.exported == 1)
        await collector.stop()
    }

    @Test func curlOverHTTP1WithTLSIsServed() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else { return }
        let certificates = try TestCertificates.generate()
        defer { certificates.remove() }
        let collector = try await tlsCollector(certificates, clientCA: false)
        let file = certificates.directory.appendingPathComponent("body.json")
        try Data(Fixtures.logs(["curl-tls"]).jsonBytes()).write(to: file)
        let output = try await offPool { try ChildProcess.run("/usr/bin/curl", ["-sS", "--http1.1", "--cacert", certificates.caCert, "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                                                             "-H", "content-type: application/json", "--data-binary", "@\(file.path)",
                                                             collector.httpURL(for: .logs)!], timeout: 30) }
        #expect(output.stdoutText == "200 1.1", "\(output.stderrText)")
        #expect(collector.requests.map(\.httpProtocol) == [.http1])
        await collector.stop()
    }
}
