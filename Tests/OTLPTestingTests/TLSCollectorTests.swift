// The collector over TLS: our exporters (gRPC over ALPN h2, OTLP/HTTP over ALPN h2 or
// http/1.1), mutual TLS, and clients that fail the handshake.
import Foundation
import OTLPExporter
import OTLPTestSupport
import OTLPTesting
import TelemetryCore
import TelemetryPipeline
import Testing

@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs the openssl command to make test certificates"))
struct TLSCollectorTests {
    func tlsCollector(_ certificates: TestCertificates, clientCA: Bool) async throws -> OTLPTestCollector {
        var configuration = OTLPTestCollector.Configuration()
        configuration.server.tls = HTTPServerTLSConfiguration(certificateFile: certificates.serverCert, privateKeyFile: certificates.serverKey,
                                                              clientCAFile: clientCA ? certificates.caCert : nil)
        return try await OTLPTestCollector.start(configuration: configuration)
    }

    func exporterConfiguration(_ signal: TelemetrySignal, _ proto: OTLPProtocol, _ endpoint: String, _ certificates: TestCertificates,
                               clientCertificate: Bool) -> OTLPExporterConfiguration {
        let identity = clientCertificate ? OTLPTLSConfiguration.ClientIdentity(certificateFile: certificates.clientCert, privateKeyFile: certificates.clientKey) : nil
        return OTLPExporterConfiguration(signal: signal, protocol: proto, endpoint: endpoint, timeout: .seconds(60),
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
                                                             collector.httpURL(for: .logs)!], timeout: 120) }
        #expect(output.stdoutText == "200 1.1", "\(output.stderrText)")
        #expect(collector.requests.map(\.httpProtocol) == [.http1])
        await collector.stop()
    }
}

/// TLS with the certificate authority the collector generates itself (no openssl command needed).
@Suite struct GeneratedCertificateTests {
    func configuration(_ signal: TelemetrySignal, _ proto: OTLPProtocol, _ endpoint: String, _ authority: TestCertificateAuthority,
                       clientCertificate: Bool) -> OTLPExporterConfiguration {
        let identity = clientCertificate ? OTLPTLSConfiguration.ClientIdentity(certificateFile: authority.clientCertificateFile,
                                                                               privateKeyFile: authority.clientKeyFile) : nil
        return OTLPExporterConfiguration(signal: signal, protocol: proto, endpoint: endpoint, timeout: .seconds(60),
                                         tls: OTLPTLSConfiguration(caCertificateFile: authority.caCertificateFile, clientIdentity: identity),
                                         retry: OTLPRetryPolicy(initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(50),
                                                                multiplier: 1.5, jitter: 0.1, maxElapsedTime: .milliseconds(300)))
    }

    @Test func exportersTrustTheGeneratedCAAndPresentItsClientCertificate() async throws {
        let collector = try await OTLPTestCollector.start(configuration: .init(tls: .generated(requireClientCertificate: true)))
        let authority = try #require(collector.certificates)
        #expect(collector.grpcEndpoint?.hasPrefix("https://127.0.0.1:") == true)
        let grpc = try OTLPGRPCExporter(configuration: configuration(.metrics, .grpc, collector.grpcEndpoint!, authority, clientCertificate: true))
        let http = try OTLPHTTPExporter(configuration: configuration(.traces, .httpJSON, collector.httpURL(for: .traces)!, authority, clientCertificate: true))
        let anonymous = try OTLPGRPCExporter(configuration: configuration(.logs, .grpc, collector.grpcEndpoint!, authority, clientCertificate: false))
        defer { grpc.shutdown(); http.shutdown(); anonymous.shutdown() }
        await grpc.export(encodedRequest: Fixtures.metrics(name: "mtls", values: [1]).serializedBytes(), itemCount: 1)
        await http.export(encodedRequest: Fixtures.traces(["mtls"]).jsonBytes(), itemCount: 1)
        await anonymous.export(encodedRequest: Fixtures.logs(["no certificate"]).serializedBytes(), itemCount: 1)
        #expect(grpc.counts.exported == 1 && http.counts.exported == 1)
        #expect(anonymous.counts.exported == 0 && collector.logRecords.isEmpty)
        #expect(collector.metricPoints.map(\.metricName) == ["mtls"] && collector.spans.map(\.span.name) == ["mtls"])
        await collector.stop()
    }

    @Test func theGeneratedFilesAreRemovedWithTheCollector() async throws {
        var directory: String?
        do {
            let collector = try OTLPTestCollector(http: false, configuration: .init(tls: .generated(requireClientCertificate: false)))
            directory = collector.certificates?.directory
            #expect(FileManager.default.fileExists(atPath: try #require(collector.certificates?.serverKeyFile)))
            await collector.stop()
        }
        #expect(directory.map { !FileManager.default.fileExists(atPath: $0) } == true)
    }
}
