import Foundation
import HTTP2Transport
import HTTPTransportCore
import OTLPTestSupport
import Testing

/// HTTP/1.1 over TLS and the ALPN choice between HTTP/1.1 and HTTP/2, against the Python
/// OTLP/HTTP receiver serving HTTPS (`http_receiver.py --tls-cert`) and nghttpd, with
/// certificates made by `openssl` once per suite.
@Suite("HTTP/1.1 over TLS")
struct HTTP1TLSTests {
    static let certificates = Task { try await offPool { try TestCertificates.generate() } }

    func receiver(cert: KeyPath<TestCertificates, String> = \.serverCert, alpn: [String] = ["http/1.1"],
                  clientCA: Bool = false) async throws -> OTLPReceiverPeer {
        let certs = try await Self.certificates.value
        let certFile = certs[keyPath: cert]
        return try await offPool {
            try OTLPReceiverPeer(.http, tls: (certFile, certs.serverKey), alpn: alpn,
                                 clientCA: clientCA ? certs.caCert : nil)
        }
    }

    func http1Configuration(port: UInt16, host: String = "localhost",
                            _ adjust: (inout TLSOptions) -> Void = { _ in }) async throws -> HTTP1ClientConfiguration {
        var tls = TLSOptions(caFile: try await Self.certificates.value.caCert)
        adjust(&tls)
        return HTTP1ClientConfiguration(endpoint: Endpoint(host: host, port: port, useTLS: true), tls: tls,
                                        connectTimeout: .seconds(3))
    }

    static let tracePost = HTTP2Request(method: "POST", path: "/v1/traces",
                                        headers: [HTTPField("content-type", "application/x-protobuf")],
                                        body: TestProto.traceRequest(spans: 2), timeout: .seconds(5))

    func post(_ client: any HTTPTransport) async -> Result<HTTP2Response, TransportError> {
        do { return .success(try await client.execute(Self.tracePost)) } catch { return .failure(error) }
    }

    func post(_ configuration: HTTP1ClientConfiguration) async -> Result<HTTP2Response, TransportError> {
        do {
            let client = try HTTP1Client(configuration: configuration)
            defer { client.shutdown(graceful: false) }
            return await post(client)
        } catch {
            return .failure(error)
        }
    }

    func expectNonRetryable(_ result: Result<HTTP2Response, TransportError>, _ code: TransportError.Code,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        switch result {
        case .success(let response): Issue.record("expected \(code), got HTTP \(response.status)", sourceLocation: sourceLocation)
        case .failure(let error):
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            #expect(!error.isRetryable, "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test(PythonPeers.trait) func http1ClientPostsOverTLSAndKeepsTheConnectionAlive() async throws {
        let server = try await receiver()
        defer { server.stop() }
        let client = try HTTP1Client(configuration: try await http1Configuration(port: server.port))
        defer { client.shutdown(graceful: false) }
        for _ in 0..<3 {
            let response = try await post(client).get()
            #expect(response.status == 200)
        }
        await server.settle(calls: 3, accepted: 3)
        #expect(server.calls.count == 3)
        #expect(server.calls.allSatisfy { $0.tlsProtocol == "http/1.1" }, "\(server.calls)")
        #expect(server.acceptedKeys("traces").count == 6)
        let peers = Set(server.lines(key: "peer").compactMap { $0 as? Int })
        #expect(peers.count == 1, "three requests on one kept-alive TLS connection, saw client ports \(peers)")
    }

    @Test(PythonPeers.trait) func http1ClientVerifiesByIPAddressToo() async throws {
        let server = try await receiver()
        defer { server.stop() }
        let response = try await post(try await http1Configuration(port: server.port, host: "127.0.0.1")).get()
        #expect(response.status == 200)
    }

    @Test(PythonPeers.trait) func untrustedCAIsRejectedOverHTTP1UnlessInsecure() async throws {
        let server = try await receiver(cert: \.untrustedCert)
        defer { server.stop() }
        expectNonRetryable(await post(try await http1Configuration(port: server.port)), .certificateVerificationFailed)
        let insecure = await post(try await http1Configuration(port: server.port) { $0.insecure = true })
        #expect((try? insecure.get().status) == 200, "\(insecure)")
        await server.settle(calls: 1, accepted: 1)
        #expect(server.calls.count == 1, "only the insecure request reached the server")
    }

    @Test(PythonPeers.trait) func wrongHostNameAndSystemTrustStoreAreRejectedOverHTTP1() async throws {
        let server = try await receiver(cert: \.wrongNameCert)
        defer { server.stop() }
        expectNonRetryable(await post(try await http1Configuration(port: server.port)), .certificateVerificationFailed)
        let trusted = try await receiver()
        defer { trusted.stop() }
        expectNonRetryable(await post(try await http1Configuration(port: trusted.port) { $0.caFile = nil }),
                           .certificateVerificationFailed)
    }

    @Test(PythonPeers.trait) func clientCertificateIsSentOverHTTP1WhenRequired() async throws {
        let certs = try await Self.certificates.value
        let server = try await receiver(clientCA: true)
        defer { server.stop() }
        let without = await post(try await http1Configuration(port: server.port))
        if case .success(let response) = without { Issue.record("no client certificate but got HTTP \(response.status)") }
        let with = await post(try await http1Configuration(port: server.port) {
            $0.clientCertificateFile = certs.clientCert
            $0.clientKeyFile = certs.clientKey
        })
        #expect((try? with.get().status) == 200, "\(with)")
    }

    @Test(PythonPeers.trait) func serverClosingDuringALargeTLSUploadFailsTheRequestInsteadOfRaisingSIGPIPE() async throws {
        // Under TLS 1.3 the client finishes its handshake before the server checks the (missing)
        // client certificate; the server then closes while we write 8 MiB. OpenSSL's write(2)
        // would raise SIGPIPE and kill the test process unless the client suppresses it.
        let server = try await receiver(clientCA: true)
        defer { server.stop() }
        let client = try HTTP1Client(configuration: try await http1Configuration(port: server.port))
        defer { client.shutdown(graceful: false) }
        let big = HTTP2Request(method: "POST", path: "/v1/traces", headers: [HTTPField("content-type", "application/x-protobuf")],
                               body: [UInt8](repeating: 0, count: 8 << 20), timeout: .seconds(5))
        for _ in 0..<3 {
            do {
                let response = try await client.execute(big)
                Issue.record("no client certificate but got HTTP \(response.status)")
            } catch {
                #expect(error.code != .deadlineExceeded, "\(error)")
            }
        }
    }

    @Test func clientCertificateWithoutKeyIsAConfigurationErrorForHTTP1() async throws {
        let certs = try await Self.certificates.value
        var configuration = try await http1Configuration(port: 1)
        configuration.tls.clientCertificateFile = certs.clientCert
        #expect(throws: TransportError.self) { try HTTP1Client(configuration: configuration) }
        configuration.tls.clientCertificateFile = nil
        configuration.tls.serverName = ""
        #expect(throws: TransportError.self) { try HTTP1Client(configuration: configuration) }
    }

    func negotiating(port: UInt16) async throws -> NegotiatingHTTPClient {
        let http1 = try await http1Configuration(port: port)
        let http2 = HTTP2ClientConfiguration(endpoint: http1.endpoint, tls: http1.tls, connectTimeout: .seconds(3))
        return try NegotiatingHTTPClient(http1: http1, http2: http2)
    }

    @Test(PythonPeers.trait, arguments: [["http/1.1"], []])
    func negotiationFallsBackToHTTP1WhenTheServerDoesNotSelectH2(alpn: [String]) async throws {
        let server = try await receiver(alpn: alpn)
        defer { server.stop() }
        let client = try await negotiating(port: server.port)
        defer { client.shutdown(graceful: false) }
        #expect(client.negotiatedVersion == nil)
        // Concurrent first requests: one sets up the connection, the others wait for it.
        let statuses = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<4 { group.addTask { (try? await self.post(client).get().status) ?? -1 } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses == [200, 200, 200, 200])
        #expect(client.negotiatedVersion == "http/1.1")
        await server.settle(calls: 4, accepted: 4)
        #expect(server.calls.count == 4)
        #expect(server.calls.allSatisfy { $0.tlsProtocol == (alpn.first ?? "") }, "\(server.calls)")
    }

    @Test func negotiationUsesHTTP2WhenTheServerSelectsH2() async throws {
        let certs = try await Self.certificates.value
        let server = try await offPool { try NghttpdPeer(tls: (certs.serverCert, certs.serverKey)) }
        defer { server.stop() }
        let client = try await negotiating(port: server.port)
        defer { client.shutdown(graceful: false) }
        for _ in 0..<2 {
            let response = try await client.execute(HTTP2Request(method: "GET", path: "/hello.txt", timeout: .seconds(3)))
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self) == "hello from nghttpd\n")
        }
        #expect(client.negotiatedVersion == "h2")
    }

    @Test(PythonPeers.trait) func negotiationFailureIsTypedAndTheNextRequestTriesAgain() async throws {
        let server = try await receiver(cert: \.untrustedCert)
        defer { server.stop() }
        let client = try await negotiating(port: server.port)
        defer { client.shutdown(graceful: false) }
        expectNonRetryable(await post(client), .certificateVerificationFailed)
        expectNonRetryable(await post(client), .certificateVerificationFailed)
        #expect(client.negotiatedVersion == nil)
    }

    @Test(PythonPeers.trait) func http2ClientStillRequiresH2FromAnHTTP1OnlyTLSServer() async throws {
        // The gRPC path: HTTP2Client offers only h2 and must refuse a server that does not select it.
        let server = try await receiver(alpn: ["http/1.1"])
        defer { server.stop() }
        let http1 = try await http1Configuration(port: server.port)
        let client = try HTTP2Client(configuration: HTTP2ClientConfiguration(endpoint: http1.endpoint, tls: http1.tls,
                                                                              connectTimeout: .seconds(3)))
        defer { client.shutdown(graceful: false) }
        expectNonRetryable(await post(client), .alpnMismatch)
        #expect(server.calls.isEmpty)
    }
}
