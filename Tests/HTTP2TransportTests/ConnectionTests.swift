import Foundation
import HTTP2Transport
import HTTPTransportCore
import OTLPTestSupport
import Testing

/// Connection-level behaviour against nghttpd and the hostile server: DNS, IPv6, shutdown, keepalive.
@Suite("connection")
struct ConnectionTests {
    @Test func plainHTTP2RequestOverIPv6Loopback() async throws {
        let server = try await offPool { try NghttpdPeer(address: "::1") }
        defer { server.stop() }
        let client = try HTTP2Client(configuration: HTTP2ClientConfiguration(endpoint: try Endpoint(url: "http://[::1]:\(server.port)")))
        defer { client.shutdown(graceful: true) }
        let response = try await client.execute(HTTP2Request(method: "GET", path: "/hello.txt", timeout: .seconds(3)))
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self) == "hello from nghttpd\n")
    }

    @Test func postBodyIsEchoedIntactIncludingLargeBodies() async throws {
        let server = try await offPool { try NghttpdPeer() }
        defer { server.stop() }
        let client = try HTTP2Client(configuration: h2cConfiguration(port: server.port))
        defer { client.shutdown(graceful: true) }
        for size in [0, 1, 16_384, 1_000_000] {
            var body = [UInt8](repeating: 0x5A, count: size)
            if size > 0 { body[size / 2] = 1; body[size - 1] = 2 }
            let response = try await client.execute(HTTP2Request(path: "/hello.txt", body: body, timeout: .seconds(5)))
            #expect(response.status == 200)
            #expect(response.body == body, "size \(size)")
        }
    }

    @Test func unknownHostIsADNSFailure() async throws {
        let client = try HTTP2Client(configuration: HTTP2ClientConfiguration(
            endpoint: Endpoint(host: "no-such-host.invalid", port: 4317, useTLS: false)))
        defer { client.shutdown(graceful: false) }
        do {
            _ = try await client.execute(HTTP2Request(path: "/", timeout: .seconds(5)))
            Issue.record("resolved an .invalid host")
        } catch {
            #expect(error.code == .dnsFailure)
        }
    }

    @Test(PythonPeers.trait) func gracefulShutdownLetsInFlightRequestsFinishAndRefusesNewOnes() async throws {
        let collector = try await offPool { try CollectorPeer() }
        defer { collector.stop() }
        let transport = try HTTP2Client(configuration: h2cConfiguration(port: collector.port))
        let client = GRPCClient(transport: transport)
        async let slow = client.unary(path: tracePath, metadata: [HTTPField("x-test-sleep-ms", "300")],
                                      message: TestProto.traceRequest(spans: 1), timeout: .seconds(5))
        try await Task.sleep(for: .milliseconds(100))
        client.shutdown(graceful: true)  // blocks until the connection is closed
        let finished = await slow
        #expect((try? finished.get().code) == .ok, "\(finished)")
        let after = await client.unary(path: tracePath, message: TestProto.traceRequest(spans: 1), timeout: .seconds(1))
        guard case .failure(let error) = after else { Issue.record("request after shutdown: \(after)"); return }
        #expect(error.code == .shutdown)
        #expect(!error.isRetryable)
    }

    @Test func keepalivePingWithoutAnswerClosesTheConnectionBeforeTheDeadline() async throws {
        // Sends SETTINGS, then ignores everything (no PING ACK, no response).
        let server = try HostileServer(trigger: .immediately) { Frame.settings() + Frame.settingsAck }
        defer { server.stop() }
        let client = try HTTP2Client(configuration: h2cConfiguration(port: server.port) {
            $0.keepaliveInterval = .milliseconds(200)
            $0.keepaliveTimeout = .milliseconds(300)
        })
        defer { client.shutdown(graceful: false) }
        let (result, seconds) = await timedExecute(client, HTTP2Request(path: "/", body: [1], timeout: .seconds(10)))
        guard case .failure(let error) = result else { Issue.record("\(result)"); return }
        #expect(error.code == .connectionClosed, "\(error)")
        #expect(error.isRetryable)
        #expect(seconds < 5)  // the request deadline is 10 s
    }
}
