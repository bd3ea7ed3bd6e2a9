import Foundation
import HTTP2Transport
import HTTPTransportCore
import OTLPTestSupport
import Testing

/// TLS verification matrix against nghttpd, openssl s_server and the Python collector, with
/// certificates made by `openssl` once per suite.
@Suite("TLS")
struct TLSTests {
    static let certificates = Task { try await offPool { try TestCertificates.generate() } }

    func tlsConfiguration(port: UInt16, host: String = "localhost", _ adjust: (inout TLSOptions) -> Void = { _ in })
        async throws -> HTTP2ClientConfiguration {
        var tls = TLSOptions(caFile: try await Self.certificates.value.caCert)
        adjust(&tls)
        return HTTP2ClientConfiguration(endpoint: Endpoint(host: host, port: port, useTLS: true), tls: tls,
                                        connectTimeout: .seconds(3))
    }

    func get(_ configuration: HTTP2ClientConfiguration) async -> Result<HTTP2Response, TransportError> {
        do {
            let client = try HTTP2Client(configuration: configuration)
            defer { client.shutdown(graceful: false) }
            return .success(try await client.execute(HTTP2Request(method: "GET", path: "/hello.txt", timeout: .seconds(3))))
        } catch {
            return .failure(error)
        }
    }

    func expectFailure(_ result: Result<HTTP2Response, TransportError>, _ code: TransportError.Code,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        switch result {
        case .success(let response): Issue.record("expected \(code), got HTTP \(response.status)", sourceLocation: sourceLocation)
        case .failure(let error):
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            #expect(!error.isRetryable, sourceLocation: sourceLocation)
        }
    }

    @Test func trustedCertificateVerifiesByHostNameAndByIPAddress() async throws {
        let certs = try await Self.certificates.value
        let server = try await offPool { try NghttpdPeer(tls: (certs.serverCert, certs.serverKey)) }
        defer { server.stop() }
        for host in ["localhost", "127.0.0.1"] {
            let response = try await get(tlsConfiguration(port: server.port, host: host)).get()
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self) == "hello from nghttpd\n")
        }
    }

    @Test func certificateFromUntrustedCAIsRejected() async throws {
        let certs = try await Self.certificates.value
        let server = try await offPool { try NghttpdPeer(tls: (certs.untrustedCert, certs.serverKey)) }
        defer { server.stop() }
        expectFailure(await get(try await tlsConfiguration(port: server.port)), .certificateVerificationFailed)
        // ... but the explicit insecure option accepts it.
        let insecure = await get(try await tlsConfiguration(port: server.port) { $0.insecure = true })
        #expect((try? insecure.get().status) == 200)
    }

    @Test func certificateForAnotherHostNameIsRejected() async throws {
        let certs = try await Self.certificates.value
        let server = try await offPool { try NghttpdPeer(tls: (certs.wrongNameCert, certs.serverKey)) }
        defer { server.stop() }
        expectFailure(await get(try await tlsConfiguration(port: server.port)), .certificateVerificationFailed)
        expectFailure(await get(try await tlsConfiguration(port: server.port, host: "127.0.0.1")), .certificateVerificationFailed)
        // The server name can be overridden to the certificate's name.
        let renamed = await get(try await tlsConfiguration(port: server.port, host: "127.0.0.1") { $0.serverName = "wrong.example" })
        #expect((try? renamed.get().status) == 200)
    }

    @Test func expiredCertificateIsRejected() async throws {
        let certs = try await Self.certificates.value
        let server = try await offPool { try NghttpdPeer(tls: (certs.expiredCert, certs.serverKey)) }
        defer { server.stop() }
        expectFailure(await get(try await tlsConfiguration(port: server.port)), .certificateVerificationFailed)
    }

    @Test func systemTrustStoreDoesNotTrustTheTestCA() async throws {
        let certs = try await Self.certificates.value
        let server = try await offPool { try NghttpdPeer(tls: (certs.serverCert, certs.serverKey)) }
        defer { server.stop() }
        expectFailure(await get(try await tlsConfiguration(port: server.port) { $0.caFile = nil }), .certificateVerificationFailed)
    }

    @Test func serverWithoutALPNh2IsRejected() async throws {
        let certs = try await Self.certificates.value
        let server = try await offPool { try OpenSSLServerPeer(cert: certs.serverCert, key: certs.serverKey) }
        defer { server.stop() }
        expectFailure(await get(try await tlsConfiguration(port: server.port)), .alpnMismatch)
    }

    @Test func clientCertificateRequiredByServerIsSent() async throws {
        let certs = try await Self.certificates.value
        let server = try await offPool { try NghttpdPeer(tls: (certs.serverCert, certs.serverKey), requireClientCertificate: true) }
        defer { server.stop() }
        let without = await get(try await tlsConfiguration(port: server.port))
        if case .success(let response) = without { Issue.record("no client certificate but got HTTP \(response.status)") }
        let with = await get(try await tlsConfiguration(port: server.port) {
            $0.clientCertificateFile = certs.clientCert
            $0.clientKeyFile = certs.clientKey
        })
        #expect((try? with.get().status) == 200, "\(with)")
    }

    @Test func clientCertificateWithoutKeyIsAConfigurationError() async throws {
        let certs = try await Self.certificates.value
        var configuration = try await tlsConfiguration(port: 1)
        configuration.tls.clientCertificateFile = certs.clientCert
        #expect(throws: TransportError.self) { try HTTP2Client(configuration: configuration) }
        configuration.tls.clientCertificateFile = nil
        configuration.tls.clientKeyFile = certs.clientKey
        #expect(throws: TransportError.self) { try HTTP2Client(configuration: configuration) }
        configuration.tls.caFile = "/nonexistent/ca.pem"
        configuration.tls.clientKeyFile = nil
        do {
            _ = try HTTP2Client(configuration: configuration)
            Issue.record("missing CA file accepted")
        } catch {
            #expect(error.code == .invalidConfiguration)
        }
    }

    @Test(PythonPeers.trait) func grpcOverTLSWithMutualAuthenticationAgainstTheCollector() async throws {
        let certs = try await Self.certificates.value
        let collector = try await offPool { try CollectorPeer(tls: (certs.serverCert, certs.serverKey), clientCA: certs.caCert) }
        defer { collector.stop() }
        var configuration = try await tlsConfiguration(port: collector.port)
        configuration.tls.clientCertificateFile = certs.clientCert
        configuration.tls.clientKeyFile = certs.clientKey
        let client = try GRPCClient(configuration: configuration)
        defer { client.shutdown() }
        let response = try await client.unary(path: tracePath, message: TestProto.traceRequest(spans: 4), timeout: .seconds(5)).get()
        #expect(response.code == .ok)
        #expect(response.trailer("x-items") == "4")

        let anonymous = try GRPCClient(configuration: try await tlsConfiguration(port: collector.port))
        defer { anonymous.shutdown() }
        let refused = await anonymous.unary(path: tracePath, message: TestProto.traceRequest(spans: 1), timeout: .seconds(3))
        if case .success(let response) = refused, response.code == .ok { Issue.record("call without client certificate succeeded") }
    }
}
