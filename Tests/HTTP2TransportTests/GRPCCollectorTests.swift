import Foundation
import HTTP2Transport
import HTTPTransportCore
import OTLPTestSupport
import Testing

/// gRPC unary calls against the Python grpcio OTLP collector (h2c), one collector per suite.
@Suite("gRPC against the Python collector", PythonPeers.trait)
struct GRPCCollectorTests {
    static let collector = Task { try await offPool { try CollectorPeer() } }
    static let client = Task { () async throws -> GRPCClient in
        let peer = try await collector.value
        return try GRPCClient(configuration: h2cConfiguration(port: peer.port))
    }

    @Test func unaryExportSucceedsAndServerDecodesTheRequest() async throws {
        let client = try await Self.client.value
        let response = try await client.unary(path: tracePath, message: TestProto.traceRequest(spans: 7),
                                              timeout: .seconds(5)).get()
        #expect(response.code == .ok)
        #expect(response.trailer("x-items") == "7")
        #expect(response.payload.isEmpty)  // empty ExportTraceServiceResponse
    }

    @Test(arguments: 1...16)
    func everyErrorStatusCodeIsReportedWithItsMessage(code: Int) async throws {
        let client = try await Self.client.value
        let message = "failed: ü 100% \(code)"
        let response = try await client.unary(
            path: tracePath,
            metadata: [HTTPField("x-test-status", String(code)), HTTPField("x-test-message", message)],
            message: TestProto.traceRequest(spans: 1), timeout: .seconds(5)).get()
        #expect(response.code.rawValue == code)
        #expect(response.message == message)
        #expect(response.payload.isEmpty)
    }

    @Test func statusDetailsBinIsReturnedRaw() async throws {
        let client = try await Self.client.value
        let response = try await client.unary(
            path: tracePath,
            metadata: [HTTPField("x-test-status", "14"), HTTPField("x-test-details", "1")],
            message: TestProto.traceRequest(spans: 1), timeout: .seconds(5)).get()
        #expect(response.code == .unavailable)
        #expect(response.statusDetails == Array("details-".utf8) + [0, 0xFF])
    }

    @Test func callerMetadataAndUserAgentReachTheServer() async throws {
        let client = try await Self.client.value
        let response = try await client.unary(
            path: tracePath, metadata: [HTTPField("Authorization", "Bearer secret-token"), HTTPField("x-tenant", "t1")],
            message: TestProto.traceRequest(spans: 1), timeout: .seconds(5)).get()
        #expect(response.code == .ok)
        #expect(response.header("echo-authorization") == "Bearer secret-token")
        #expect(response.header("echo-x-tenant") == "t1")
        #expect(response.header("echo-user-agent")?.contains("swift-otlp") == true)
    }

    @Test func gzipCompressedRequestAndResponseRoundTrip() async throws {
        let client = try await Self.client.value
        let response = try await client.unary(
            path: tracePath, metadata: [HTTPField("x-test-compress", "gzip"), HTTPField("x-test-partial", "3")],
            message: TestProto.traceRequest(spans: 50, nameSize: 200), timeout: .seconds(5), compression: .gzip).get()
        #expect(response.code == .ok)
        #expect(response.trailer("x-items") == "50")
        #expect(response.header("grpc-encoding") == "gzip", "\(response.headers)")
        // partial_success { rejected_spans: 3, error_message: "partial" }
        #expect(response.payload == TestProto.field(1, [0x08, 3] + TestProto.field(2, Array("partial".utf8))))
    }

    @Test func unknownMethodIsUnimplemented() async throws {
        let client = try await Self.client.value
        let response = try await client.unary(path: "/no.Such/Method", message: [], timeout: .seconds(5)).get()
        #expect(response.code == .unimplemented)
    }

    @Test func slowServerEndsInDeadlineExceededWithinTheDeadline() async throws {
        let client = try await Self.client.value
        let (result, seconds) = await timedCall { done in
            client.unary(path: tracePath, metadata: [HTTPField("x-test-sleep-ms", "3000")],
                         message: TestProto.traceRequest(spans: 1), timeout: .milliseconds(300)) { done($0) }
        }
        // Either the server (which got grpc-timeout) or our own deadline ends the call.
        switch result {
        case .success(let response): #expect(response.code == .deadlineExceeded)
        case .failure(let error):
            #expect(error.code == .deadlineExceeded)
            #expect(error.isRetryable)
        }
        #expect(seconds < 2.5)  // the server sleeps 3 s
        // The connection stays usable.
        let next = try await client.unary(path: tracePath, message: TestProto.traceRequest(spans: 1), timeout: .seconds(5)).get()
        #expect(next.code == .ok)
    }

    @Test func manyConcurrentCallsShareOneConnection() async throws {
        let peer = try await Self.collector.value
        let transport = try HTTP2Client(configuration: h2cConfiguration(port: peer.port))
        let client = GRPCClient(transport: transport)
        defer { client.shutdown() }
        let codes = await withTaskGroup(of: GRPCStatusCode?.self) { group in
            for i in 0..<40 {
                group.addTask {
                    try? await client.unary(path: tracePath, message: TestProto.traceRequest(spans: i % 5 + 1),
                                            timeout: .seconds(10)).get().code
                }
            }
            return await group.reduce(into: [GRPCStatusCode?]()) { $0.append($1) }
        }
        #expect(codes.count == 40)
        #expect(codes.allSatisfy { $0 == .ok })
        #expect(transport.connectionCount == 1)
    }
}

/// A collector limited to one concurrent stream: our client must queue beyond it.
@Suite("MAX_CONCURRENT_STREAMS 1", PythonPeers.trait)
struct MaxConcurrentStreamsTests {
    @Test func tenConcurrentCallsAreQueuedAndAllSucceedOneAtATime() async throws {
        let peer = try await offPool { try CollectorPeer(maxConcurrentStreams: 1) }
        defer { peer.stop() }
        let transport = try HTTP2Client(configuration: h2cConfiguration(port: peer.port))
        let client = GRPCClient(transport: transport)
        defer { client.shutdown() }
        // Warm up so the server's SETTINGS are known before the burst.
        _ = try await client.unary(path: tracePath, message: TestProto.traceRequest(spans: 1), timeout: .seconds(5)).get()
        let responses = await withTaskGroup(of: GRPCResponse?.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    try? await client.unary(path: tracePath, metadata: [HTTPField("x-test-sleep-ms", "30")],
                                            message: TestProto.traceRequest(spans: 1), timeout: .seconds(10)).get()
                }
            }
            return await group.reduce(into: [GRPCResponse?]()) { $0.append($1) }
        }
        #expect(responses.count == 10)
        #expect(responses.allSatisfy { $0?.code == .ok })
        #expect(responses.compactMap { $0?.trailer("x-max-inflight") }.allSatisfy { $0 == "1" })
        #expect(transport.connectionCount == 1)
    }
}

/// The collector goes away and comes back on the same port: in-flight calls fail retryably,
/// the next call reconnects.
@Suite("server restart", PythonPeers.trait)
struct ServerRestartTests {
    @Test func callAfterServerRestartReconnects() async throws {
        let first = try await offPool { try CollectorPeer() }
        let port = first.port
        let transport = try HTTP2Client(configuration: h2cConfiguration(port: port))
        let client = GRPCClient(transport: transport)
        defer { client.shutdown() }
        let ok = try await client.unary(path: tracePath, message: TestProto.traceRequest(spans: 1), timeout: .seconds(5)).get()
        #expect(ok.code == .ok)

        // A call in flight when the server dies fails as retryable.
        async let inFlight = client.unary(path: tracePath, metadata: [HTTPField("x-test-sleep-ms", "5000")],
                                          message: TestProto.traceRequest(spans: 1), timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(300))
        first.stop()
        let lost = await inFlight
        guard case .failure(let error) = lost else {
            Issue.record("call in flight during server death succeeded: \(lost)")
            return
        }
        #expect(error.isRetryable)

        // No server: connect fails, retryable.
        let refused = await client.unary(path: tracePath, message: TestProto.traceRequest(spans: 1), timeout: .seconds(2))
        if case .failure(let error) = refused { #expect(error.isRetryable) } else { Issue.record("expected failure: \(refused)") }

        let second = try await offPool { try CollectorPeer(port: port) }
        defer { second.stop() }
        let again = try await client.unary(path: tracePath, message: TestProto.traceRequest(spans: 2), timeout: .seconds(5)).get()
        #expect(again.code == .ok)
        #expect(again.trailer("x-items") == "2")
        #expect(transport.connectionCount >= 2)
    }
}
