import Foundation
import HTTP2Transport
import OTLPTestSupport
import Testing
@testable import OTLPExporter

/// OTLP/HTTP over https against the Python receiver serving HTTP/1.1 over TLS, and the gRPC
/// exporter's refusal of a TLS server without h2. Certificates are made by `openssl`.
@Suite(.serialized) struct HTTPSExporterTests {
    static let certificates = Task { try TestCertificates.generate() }

    func exporter(_ signal: OTLPSignal, _ receiver: OTLPReceiverPeer, json: Bool = false,
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

    @Test func untrustedCAIsRejectedOnceAndNotRetried() async throws {
        let receiver = try await receiver(cert: \.untrustedCert, alpn: ["http/1.1"])
        defer { receiver.stop() }
        let traces = try await exporter(.traces, receiver)
        defer { traces.shutdown() }
        let result = await traces.export(encodedRequest: TestRequests.traces(["never"]), itemCount: 1)
        guard case .rejected(let reason, let attempts) = result else {
            Issue.record("expected a non-retryable rejection, got \(result)")
            return
        }
        #expect(attempts == 1)
        #expect(reason.contains("certificateVerificationFailed"), "\(reason)")
        #expect(traces.counts.exported == 0)
        try await Task.sleep(for: .milliseconds(200))
        #expect(receiver.calls.isEmpty)
    }

    @Test func grpcExporterRejectsATLSServerWithoutH2() async throws {
        let receiver = try await receiver(alpn: ["http/1.1"])
        defer { receiver.stop() }
        let ca = try await Self.certificates.value.caCert
        let config = OTLPExporterConfiguration(signal: .traces, protocol: .grpc, endpoint: receiver.endpoint,
                                               timeout: .seconds(5), tls: OTLPTLSConfiguration(caCertificateFile: ca),
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
        #expect(receiver.calls.isEmpty)
    }
}
