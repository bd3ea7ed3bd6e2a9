import Foundation
import HTTP2Transport
@testable import OTLPExporter
import OTLPTestSupport
import OTLPTesting
import TelemetryCore
import TelemetryPipeline
import Testing

/// OTLP/HTTP over https into the embedded collector (its in-process test CA; ALPN selects h2),
/// and the exporters' refusals: an untrusted server certificate, a TLS server without h2.
@Suite(.serialized) struct HTTPSExporterTests {
    func exporter(_ signal: TelemetrySignal, _ endpoint: String, json: Bool = false, compression: OTLPCompression = .none,
                  caFile: String) throws -> OTLPHTTPExporter {
        let config = OTLPExporterConfiguration(signal: signal, protocol: json ? .httpJSON : .httpProtobuf,
                                               endpoint: "\(endpoint)/\(signal.httpPath)", timeout: .seconds(5),
                                               compression: compression,
                                               tls: OTLPTLSConfiguration(caCertificateFile: caFile), retry: fastRetry)
        return try OTLPHTTPExporter(configuration: config)
    }

    func tlsCollector() throws -> (OTLPTestCollector, ca: String) {
        let collector = try OTLPTestCollector(grpc: false, http: true, configuration: .init(tls: .generated(requireClientCertificate: false)))
        return (collector, try #require(collector.certificates).caCertificateFile)
    }

    @Test func protobufAndJSONExportsOverHTTPSReachTheCollectorOverH2ExactlyOnce() async throws {
        let (collector, ca) = try tlsCollector()
        let endpoint = try #require(collector.httpEndpoint)
        #expect(endpoint.hasPrefix("https://"))
        let traces = try exporter(.traces, endpoint, caFile: ca)
        let metrics = try exporter(.metrics, endpoint, caFile: ca)
        let logs = try exporter(.logs, endpoint, json: true, compression: .gzip, caFile: ca)
        defer { traces.shutdown(); metrics.shutdown(); logs.shutdown() }
        for i in 0..<5 {
            let result = await traces.export(encodedRequest: TestRequests.traces(["t\(i)a", "t\(i)b"]), itemCount: 2)
            #expect(result == .delivered(partialSuccess: nil, attempts: 1), "\(result)")
        }
        #expect(await metrics.export(encodedRequest: TestRequests.metrics(name: "m", values: [3, 4]), itemCount: 2).isDelivered)
        #expect(await logs.export(encodedRequest: JSONRequests.logs(["json over tls"]), itemCount: 1).isDelivered)
        #expect(traces.counts.exported == 10 && metrics.counts.exported == 2 && logs.counts.exported == 1)
        #expect(collector.counters.requests == 7 && collector.counters.rejected == 0)
        #expect(collector.spanNames == (0..<5).flatMap { ["t\($0)a", "t\($0)b"] })
        #expect(collector.metricKeys == ["m:3", "m:4"])
        #expect(collector.logBodies == ["json over tls"])
        let requests = collector.requests
        #expect(requests.allSatisfy { $0.httpProtocol == .http2 }, "ALPN offers h2 first")
        #expect(requests.map(\.encoding) == Array(repeating: .httpProtobuf, count: 6) + [.httpJSON])
        #expect(requests.last?.compressed == true)
        let connections = Set(requests.map(\.connectionID))
        #expect(connections.count == 3, "one kept-alive TLS connection per exporter, saw \(connections)")
        await collector.stop()
    }

    @Test func untrustedCAIsRejectedOnceAndNotRetried() async throws {
        let (collector, _) = try tlsCollector()
        let otherAuthority = try TestCertificateAuthority.generate()
        defer { otherAuthority.remove() }
        let traces = try exporter(.traces, try #require(collector.httpEndpoint), caFile: otherAuthority.caCertificateFile)
        defer { traces.shutdown() }
        let result = await traces.export(encodedRequest: TestRequests.traces(["never"]), itemCount: 1)
        guard case .rejected(let reason, let attempts) = result else {
            Issue.record("expected a non-retryable rejection, got \(result)")
            return
        }
        #expect(attempts == 1)
        #expect(reason.contains("certificateVerificationFailed"), "\(reason)")
        #expect(traces.counts.exported == 0)
        #expect(collector.counters.requests == 0)
        await collector.stop()
    }

    @Test func grpcExporterRejectsATLSServerWithoutH2() async throws {
        // `openssl s_server` selects no ALPN protocol.
        let authority = try TestCertificateAuthority.generate()
        defer { authority.remove() }
        let server = try OpenSSLServerPeer(cert: authority.serverCertificateFile, key: authority.serverKeyFile)
        defer { server.stop() }
        let config = OTLPExporterConfiguration(signal: .traces, protocol: .grpc, endpoint: "https://localhost:\(server.port)",
                                               timeout: .seconds(5), tls: OTLPTLSConfiguration(caCertificateFile: authority.caCertificateFile),
                                               retry: fastRetry)
        let traces = try OTLPGRPCExporter(configuration: config)
        defer { traces.shutdown() }
        let result = await traces.export(encodedRequest: TestRequests.traces(["never"]), itemCount: 1)
        guard case .rejected(let reason, let attempts) = result else {
            Issue.record("expected a non-retryable rejection, got \(result)")
            return
        }
        #expect(attempts == 1)
        #expect(reason.contains("alpnMismatch"), "\(reason)")
    }
}

/// Interop: OTLP/HTTP over https into the Python receiver (reference `opentelemetry-proto`)
/// serving HTTP/1.1 over TLS, with ALPN `http/1.1` only or with no ALPN at all, which the embedded
/// collector (ALPN h2 first) does not do. Certificates are made by `openssl`.
@Suite(.serialized, PythonPeers.trait) struct HTTPSInteropTests {
    static let certificates = Task { try TestCertificates.generate() }

    func exporter(_ signal: TelemetrySignal, _ receiver: OTLPReceiverPeer, json: Bool = false,
                  compression: OTLPCompression = .none, caFile: String? = nil) async throws -> OTLPHTTPExporter {
        let ca = try await Self.certificates.value.caCert
        let config = OTLPExporterConfiguration(signal: signal, protocol: json ? .httpJSON : .httpProtobuf,
                                               endpoint: "\(receiver.endpoint)/\(signal.httpPath)", timeout: .seconds(5),
                                               compression: compression,
                                               tls: OTLPTLSConfiguration(caCertificateFile: caFile ?? ca), retry: fastRetry)
        return try OTLPHTTPExporter(configuration: config)
    }

    func receiver(cert: KeyPath<TestCertificates, String> = \.serverCert, alpn: [String]) async throws -> OTLPReceiverPeer {
        let certs = try await Self.certificates.value
        return try OTLPReceiverPeer(.http, detail: true, tls: (certs[keyPath: cert], certs.serverKey), alpn: alpn)
    }

    @Test func protobufExportsOverHTTPSReachAnHTTP1OnlyCollectorExactlyOnce() async throws {
        let receiver = try await receiver(alpn: ["http/1.1"])
        defer { receiver.stop() }
        #expect(receiver.endpoint.hasPrefix("https://"))
        let traces = try await exporter(.traces, receiver)
        let metrics = try await exporter(.metrics, receiver)
        let logs = try await exporter(.logs, receiver, compression: .gzip)
        defer { traces.shutdown(); metrics.shutdown(); logs.shutdown() }
        for i in 0..<5 {
            let result = await traces.export(encodedRequest: TestRequests.traces(["t\(i)a", "t\(i)b"]), itemCount: 2)
            #expect(result == .delivered(partialSuccess: nil, attempts: 1), "\(result)")
        }
        #expect(await metrics.export(encodedRequest: TestRequests.metrics(name: "m", values: [3, 4]), itemCount: 2).isDelivered)
        #expect(await logs.export(encodedRequest: TestRequests.logs(["tls log"]), itemCount: 1).isDelivered)
        await receiver.settle(calls: 7, accepted: 7)
        #expect(traces.counts.exported == 10 && metrics.counts.exported == 2 && logs.counts.exported == 1)
        #expect(receiver.acceptedKeys("traces") == (0..<5).flatMap { ["t\($0)a", "t\($0)b"] })
        #expect(receiver.acceptedKeys("metrics") == ["m:3", "m:4"])
        #expect(receiver.acceptedKeys("logs") == ["tls log"])
        #expect(receiver.calls.count == 7)
        #expect(receiver.calls.allSatisfy { $0.tlsProtocol == "http/1.1" && $0.contentType == "application/x-protobuf" },
                "\(receiver.calls)")
        let peers = Set(receiver.lines(key: "peer").compactMap { $0 as? Int })
        #expect(peers.count == 3, "one kept-alive TLS connection per exporter, saw client ports \(peers)")
    }

    @Test func jsonExportsOverHTTPSReachACollectorWithoutALPNExactlyOnce() async throws {
        let receiver = try await receiver(alpn: [])
        defer { receiver.stop() }
        let traces = try await exporter(.traces, receiver, json: true)
        let logs = try await exporter(.logs, receiver, json: true)
        defer { traces.shutdown(); logs.shutdown() }
        #expect(await traces.export(encodedRequest: JSONRequests.traces(["j1", "j2"]), itemCount: 2)
                == .delivered(partialSuccess: nil, attempts: 1))
        #expect(await logs.export(encodedRequest: JSONRequests.logs(["json over tls"]), itemCount: 1).isDelivered)
        await receiver.settle(calls: 2, accepted: 2)
        #expect(receiver.acceptedKeys("traces") == ["j1", "j2"])
        #expect(receiver.acceptedKeys("logs") == ["json over tls"])
        let first = receiver.accepted.first { $0.signal == "traces" }?.items.first as? [String: Any]
        #expect(first?["trace_id"] as? String == "0102030405060708090a0b0c0d0e0f10")
        #expect(receiver.calls.count == 2)
        #expect(receiver.calls.allSatisfy { $0.tlsProtocol == "" && $0.contentType == "application/json" }, "\(receiver.calls)")
    }
}
