// Broken and hostile clients against the embedded collector: each gets an error response or
// a closed connection, is counted, and a well-behaved client is still served afterwards.
import Foundation
import HTTP2Transport
import HTTPTransportCore
import OTLPProto
import OTLPTesting
import OTLPTestSupport
import Testing

/// A well-behaved gRPC export through our client; returns the gRPC status.
func healthyGRPCExport(_ collector: OTLPTestCollector) async throws -> GRPCStatusCode {
    let client = try GRPCClient(configuration: HTTP2ClientConfiguration(endpoint: Endpoint(host: "127.0.0.1", port: try #require(collector.grpcPort), useTLS: false)))
    defer { client.shutdown() }
    let result = await client.unary(path: OTLPTestCollector.Signal.traces.grpcPath,
                                    message: Fixtures.traces(["healthy"]).serializedBytes(), timeout: .seconds(60))
    return try result.get().code
}

/// A well-behaved OTLP/HTTP export over a raw HTTP/1.1 connection; returns the status.
func healthyHTTPExport(_ collector: OTLPTestCollector) async throws -> Int? {
    let client = try RawClient(port: try #require(collector.httpPort))
    client.send(http1Post(path: "/v1/logs", contentType: "application/x-protobuf", body: Fixtures.logs(["healthy"]).serializedBytes()))
    return try await client.response()?.status
}

@Suite struct HostileClientTests {
    static let garbage: [UInt8] = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) }

    @Test func garbageBytesGetA400AndACloseAndAreCounted() async throws {
        let collector = try await OTLPTestCollector.start()
        for port in [collector.grpcPort!, collector.httpPort!] {
            let client = try RawClient(port: port)
            client.send(Self.garbage)
            let answer = try await client.receiveUntilClosed()
            #expect(answer.closed)
            #expect(String(decoding: answer.bytes.prefix(12), as: UTF8.self) == "HTTP/1.1 400")
        }
        #expect(collector.transportStatistics.grpc?.protocolErrors == 1)
        #expect(collector.transportStatistics.http?.protocolErrors == 1)
        #expect(collector.counters.rejected == 2)
        #expect(try await healthyGRPCExport(collector) == .ok)
        #expect(try await healthyHTTPExport(collector) == 200)
        await collector.stop()
    }

    @Test func aBadHTTP2PrefaceClosesTheConnectionAndIsCounted() async throws {
        let collector = try await OTLPTestCollector.start(http: false)
        let client = try RawClient(port: collector.grpcPort!)
        client.send(Array("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0])
        let answer = try await client.receiveUntilClosed()
        #expect(answer.closed)
        #expect(String(decoding: answer.bytes.prefix(12), as: UTF8.self) == "HTTP/1.1 505")
        // A valid preface followed by a frame that is not SETTINGS: GOAWAY(PROTOCOL_ERROR), closed.
        let second = try RawClient(port: collector.grpcPort!)
        second.send(ServerProtocolPreface.bytes + [0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8])  // PING first
        let goAway = try await second.receiveUntilClosed()
        #expect(goAway.closed)
        #expect(goAway.bytes.count >= 9)
        #expect(collector.transportStatistics.grpc?.protocolErrors == 2)
        #expect(try await healthyGRPCExport(collector) == .ok)
        await collector.stop()
    }

    @Test func anOversizedGRPCMessageIsResourceExhaustedAndTheConnectionStaysUsable() async throws {
        var configuration = OTLPTestCollector.Configuration()
        configuration.maxRequestBytes = 64 << 10
        let collector = try await OTLPTestCollector.start(http: false, configuration: configuration)
        let client = try GRPCClient(configuration: HTTP2ClientConfiguration(endpoint: Endpoint(host: "127.0.0.1", port: try #require(collector.grpcPort), useTLS: false)))
        defer { client.shutdown() }
        let big = Fixtures.traces((0..<4000).map { "span-with-a-long-name-\($0)" }).serializedBytes()
        #expect(big.count > 64 << 10)
        let rejected = try await client.unary(path: OTLPTestCollector.Signal.traces.grpcPath, message: big, timeout: .seconds(60)).get()
        #expect(rejected.code == .resourceExhausted)
        let accepted = try await client.unary(path: OTLPTestCollector.Signal.traces.grpcPath,
                                              message: Fixtures.traces(["small"]).serializedBytes(), timeout: .seconds(60)).get()
        #expect(accepted.code == .ok)
        #expect(collector.transportStatistics.grpc?.oversizedRequests == 1)
        #expect(collector.spans.map(\.span.name) == ["small"])
        await collector.stop()
    }

    @Test func anOversizedHTTPBodyIs413() async throws {
        var configuration = OTLPTestCollector.Configuration()
        configuration.maxRequestBytes = 1024
        let collector = try await OTLPTestCollector.start(grpc: false, configuration: configuration)
        let client = try RawClient(port: collector.httpPort!)
        client.send(http1Post(path: "/v1/traces", contentType: "application/x-protobuf", body: [UInt8](repeating: 0x0A, count: 4096)))
        #expect(try await client.response()?.status == 413)
        #expect(collector.counters.rejected == 1)
        #expect(try await healthyHTTPExport(collector) == 200)
        await collector.stop()
    }

    @Test func aClientStillSendingAnOversizedBodyReadsThe413() async throws {
        var configuration = OTLPTestCollector.Configuration()
        configuration.maxRequestBytes = 1 << 20
        let collector = try await OTLPTestCollector.start(grpc: false, configuration: configuration)
        let client = try RawClient(port: collector.httpPort!)
        // 16 MiB, more than the socket buffers hold: the server answers after the head and must
        // keep reading (and dropping) the rest, or the client's writes would end in a reset.
        let request = http1Post(path: "/v1/traces", contentType: "application/x-protobuf", body: [UInt8](repeating: 0x0A, count: 16 << 20))
        let sent = try await offPool { client.send(request) }
        #expect(sent)
        let response = try await client.response()
        #expect(response?.status == 413)
        #expect(response?.head.lowercased().contains("connection: close") == true)
        #expect(collector.transportStatistics.http?.oversizedRequests == 1)
        await collector.stop()
    }

    @Test func aGzipBombIsRefusedWithinTheSizeLimit() async throws {
        var configuration = OTLPTestCollector.Configuration()
        configuration.maxRequestBytes = 1 << 20
        let collector = try await OTLPTestCollector.start(configuration: configuration)
        let bomb = try Gzip.compress([UInt8](repeating: 0, count: 64 << 20), level: 9)
        #expect(bomb.count < 128 << 10)
        let http = try RawClient(port: collector.httpPort!)
        http.send(http1Post(path: "/v1/traces", contentType: "application/x-protobuf", body: bomb, extraHeaders: ["content-encoding: gzip"]))
        #expect(try await http.response()?.status == 413)
        let client = try GRPCClient(configuration: HTTP2ClientConfiguration(endpoint: Endpoint(host: "127.0.0.1", port: try #require(collector.grpcPort), useTLS: false)))
        defer { client.shutdown() }
        let answer = try await client.transport.execute(HTTP2Request(path: OTLPTestCollector.Signal.traces.grpcPath, headers: [
            HTTPField("content-type", "application/grpc"), HTTPField("grpc-encoding", "gzip"), HTTPField("te", "trailers"),
        ], body: Fixtures.grpcFrame(bomb, compressed: true), timeout: .seconds(60)))
        #expect(answer.value("grpc-status") == String(GRPCStatusCode.resourceExhausted.rawValue))
        #expect(collector.counters.rejectedRequests == 2)
        #expect(try await healthyHTTPExport(collector) == 200)
        await collector.stop()
    }

    @Test func invalidProtobufAndJSONAre400AndInvalidArgument() async throws {
        let collector = try await OTLPTestCollector.start()
        let http = try RawClient(port: collector.httpPort!)
        http.send(http1Post(path: "/v1/traces", contentType: "application/x-protobuf", body: [0x0A, 0xFF, 0xFF, 0xFF, 0x0F]))
        let protobuf = try await http.response()
        #expect(protobuf?.status == 400)
        http.send(http1Post(path: "/v1/traces", contentType: "application/json", body: Array("{\"resourceSpans\": [".utf8)))
        let json = try await http.response()
        #expect(json?.status == 400)
        #expect(json?.head.lowercased().contains("content-type: application/json") == true)
        let jsonBody = String(decoding: json?.body ?? [], as: UTF8.self)
        #expect(jsonBody.contains("\"code\":3"))
        let client = try GRPCClient(configuration: HTTP2ClientConfiguration(endpoint: Endpoint(host: "127.0.0.1", port: try #require(collector.grpcPort), useTLS: false)))
        defer { client.shutdown() }
        let grpc = try await client.unary(path: OTLPTestCollector.Signal.metrics.grpcPath, message: [0x0A, 0x05, 0x01], timeout: .seconds(60)).get()
        #expect(grpc.code == .invalidArgument)
        #expect(collector.counters.rejectedRequests == 3 && collector.counters.requests == 3)
        await collector.stop()
    }

    @Test func wrongContentTypeIs415UnknownPathIs404WrongMethodIs405() async throws {
        let collector = try await OTLPTestCollector.start()
        let http = try RawClient(port: collector.httpPort!)
        http.send(http1Post(path: "/v1/traces", contentType: "text/plain", body: Array("hello".utf8)))
        #expect(try await http.response()?.status == 415)
        http.send(http1Post(path: "/v1/nothing", contentType: "application/x-protobuf", body: []))
        #expect(try await http.response()?.status == 404)
        http.send(Array("GET /v1/traces HTTP/1.1\r\nhost: x\r\n\r\n".utf8))
        #expect(try await http.response()?.status == 405)
        let client = try GRPCClient(configuration: HTTP2ClientConfiguration(endpoint: Endpoint(host: "127.0.0.1", port: try #require(collector.grpcPort), useTLS: false)))
        defer { client.shutdown() }
        let unknown = try await client.unary(path: "/opentelemetry.proto.collector.trace.v1.TraceService/Nope", message: [], timeout: .seconds(60)).get()
        #expect(unknown.code == .unimplemented)
        let wrongType = try await client.transport.execute(HTTP2Request(path: OTLPTestCollector.Signal.traces.grpcPath, headers: [
            HTTPField("content-type", "application/json")], body: Array("{}".utf8), timeout: .seconds(60)))
        #expect(wrongType.status == 415)
        #expect(collector.counters.rejectedRequests == 5)
        await collector.stop()
    }

    @Test func aSlowlorisConnectionIsClosedAtTheReadTimeoutWhileOthersAreServed() async throws {
        var configuration = OTLPTestCollector.Configuration()
        // Long enough that the healthy clients below are served first even on a loaded machine.
        configuration.server.requestReadTimeout = .seconds(5)
        let collector = try await OTLPTestCollector.start(configuration: configuration)
        let slowHTTP = try RawClient(port: collector.httpPort!, receiveTimeout: 120)
        let slowGRPC = try RawClient(port: collector.grpcPort!, receiveTimeout: 120)
        slowHTTP.send("POST /v1/traces HTTP/1.1\r\nhost: x\r\n")
        slowGRPC.send("PRI * HTTP/2.0\r\n")
        let start = ContinuousClock.now
        // Meanwhile well-behaved clients are served, before the slow ones time out.
        #expect(try await healthyHTTPExport(collector) == 200)
        #expect(try await healthyGRPCExport(collector) == .ok)
        for _ in 0..<3 { slowHTTP.send("x-slow: 1\r\n"); try await Task.sleep(for: .milliseconds(100)) }
        #expect(try await slowHTTP.closedByServer())
        #expect(try await slowGRPC.closedByServer())
        // Closed by the read timeout, not before it. No upper bound: the whole package runs in one
        // process, where this task may resume a minute late; the closes themselves were seen above.
        #expect(ContinuousClock.now - start >= .seconds(5))
        #expect(collector.transportStatistics.http?.slowRequestTimeouts == 1)
        #expect(collector.transportStatistics.grpc?.slowRequestTimeouts == 1)
        await collector.stop()
    }

    @Test func anIdleConnectionIsClosedAtTheIdleTimeout() async throws {
        var configuration = OTLPTestCollector.Configuration()
        configuration.server.idleTimeout = .milliseconds(300)
        let collector = try await OTLPTestCollector.start(grpc: false, configuration: configuration)
        let idle = try RawClient(port: collector.httpPort!)
        #expect(try await idle.closedByServer())
        #expect(collector.transportStatistics.http?.idleTimeouts == 1)
        #expect(collector.counters.rejected == 0)
        await collector.stop()
    }

    @Test func anOversizedHeaderSectionIs431() async throws {
        let collector = try await OTLPTestCollector.start(grpc: false)
        let client = try RawClient(port: collector.httpPort!)
        client.send("POST /v1/traces HTTP/1.1\r\nx-big: " + String(repeating: "a", count: 32 << 10) + "\r\n\r\n")
        #expect(try await client.response()?.status == 431)
        #expect(collector.transportStatistics.http?.oversizedHeaders == 1)
        await collector.stop()
    }

    @Test func aStreamFloodFromH2loadIsServedWithinTheStreamLimitAndOthersStillGetThrough() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/h2load") else {
            Issue.record("h2load (Debian nghttp2-client) is not installed; tools/setup.sh installs it")
            return
        }
        var configuration = OTLPTestCollector.Configuration()
        configuration.keepsRequests = false
        let collector = try await OTLPTestCollector.start(http: false, configuration: configuration)
        let body = FileManager.default.temporaryDirectory.appendingPathComponent("h2load-body-\(getpid()).bin")
        try Data(Fixtures.grpcFrame(Fixtures.traces(["flood-1", "flood-2", "flood-3", "flood-4"]).serializedBytes())).write(to: body)
        defer { try? FileManager.default.removeItem(at: body) }
        // 1000 streams opened at once on one connection; the server allows 100 concurrently.
        let output = try await offPool { try ChildProcess.run("/usr/bin/h2load", [
            "-n", "20000", "-c", "2", "-m", "1000", "-d", body.path,
            "-H", "content-type: application/grpc", "-H", "te: trailers",
            "\(collector.grpcEndpoint!)\(OTLPTestCollector.Signal.traces.grpcPath)",
        ], timeout: 300) }
        #expect(output.status == 0, "\(output.stderrText)")
        #expect(output.stdoutText.contains("20000 succeeded"), "\(output.stdoutText)")
        #expect(collector.counters.spans == 80_000)
        #expect(try await healthyGRPCExport(collector) == .ok)
        await collector.stop()
    }

    @Test func aRapidResetFloodEndsInGoAwayAndIsCounted() async throws {
        let collector = try await OTLPTestCollector.start(http: false)
        let client = try RawClient(port: collector.grpcPort!)
        var bytes = ServerProtocolPreface.bytes + H2Frames.settings
        for index in 0..<3000 {
            let stream = UInt32(2 * index + 1)
            bytes += H2Frames.headers(stream: stream) + H2Frames.reset(stream: stream)
        }
        client.send(bytes)
        let answer = try await client.receiveUntilClosed()
        #expect(answer.closed)
        // Somewhere in what came back: a GOAWAY frame (type 7) with an error code.
        var index = 0
        var goAwayError: UInt32?
        while index + 9 <= answer.bytes.count {
            let length = Int(answer.bytes[index]) << 16 | Int(answer.bytes[index + 1]) << 8 | Int(answer.bytes[index + 2])
            if answer.bytes[index + 3] == 7, index + 9 + 8 <= answer.bytes.count {
                let code = answer.bytes[(index + 13)..<(index + 17)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                goAwayError = code
            }
            index += 9 + length
        }
        #expect(goAwayError != nil && goAwayError != 0, "no GOAWAY with an error in \(answer.bytes.count) bytes")
        #expect(collector.transportStatistics.grpc?.protocolErrors == 1)
        #expect(collector.counters.requests == 0)
        #expect(try await healthyGRPCExport(collector) == .ok)
        await collector.stop()
    }

    @Test func anHTTP2HeaderListOverTheLimitResetsOnlyThatStream() async throws {
        var configuration = OTLPTestCollector.Configuration()
        configuration.server.maxHeaderListBytes = 4096
        let collector = try await OTLPTestCollector.start(http: false, configuration: configuration)
        let client = try RawClient(port: collector.grpcPort!)
        client.send(ServerProtocolPreface.bytes + H2Frames.settings
                    + H2Frames.headers(stream: 1, extraName: "x-big", extraValue: String(repeating: "a", count: 8000)))
        // Read frames until a RST_STREAM (type 3) for stream 1 arrives.
        let answer = try await offPool {
            client.receive { bytes in
                var index = 0
                while index + 9 <= bytes.count {
                    let length = Int(bytes[index]) << 16 | Int(bytes[index + 1]) << 8 | Int(bytes[index + 2])
                    if bytes[index + 3] == 3 && bytes[index + 8] == 1 { return true }
                    index += 9 + length
                }
                return false
            }
        }
        #expect(!answer.closed, "the connection should stay open; only the stream is reset")
        #expect(collector.transportStatistics.grpc?.oversizedHeaders == 1)
        #expect(collector.counters.requests == 0)
        #expect(try await healthyGRPCExport(collector) == .ok)
        await collector.stop()
    }

    @Test func manyConnectionsBeyondTheLimitAreRefusedAndCounted() async throws {
        var configuration = OTLPTestCollector.Configuration()
        configuration.server.maxConnections = 4
        let collector = try await OTLPTestCollector.start(grpc: false, configuration: configuration)
        var clients: [RawClient] = []
        for _ in 0..<4 { clients.append(try RawClient(port: collector.httpPort!)) }
        // Let the server accept the four before the fifth arrives.
        for client in clients { client.send(http1Post(path: "/v1/logs", contentType: "application/x-protobuf", body: [])) }
        for client in clients { #expect(try await client.response()?.status == 200) }
        let refused = try RawClient(port: collector.httpPort!)
        #expect(try await refused.closedByServer())
        #expect(collector.transportStatistics.http?.connectionsRefused == 1)
        clients.removeAll()
        // The closed connections free their places once the server's I/O thread has seen them
        // close: wait for that (bounded), then a new connection is served.
        let deadline = ContinuousClock.now + .seconds(20)
        while collector.transportStatistics.http?.openConnections ?? 0 > 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(collector.transportStatistics.http?.openConnections == 0)
        #expect(try await healthyHTTPExport(collector) == 200)
        await collector.stop()
    }
}

/// HTTP/2 frames written by hand (RFC 9113 §4.1), for clients that break the rules.
enum H2Frames {
    static func frame(type: UInt8, flags: UInt8, stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        let length = UInt32(payload.count)
        return [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags,
                UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
    }

    static let settings = frame(type: 4, flags: 0, stream: 0, [])
    /// HEADERS (END_HEADERS) for POST / with HPACK static-table entries and a literal :authority.
    static func headers(stream: UInt32) -> [UInt8] {
        frame(type: 1, flags: 0x4, stream: stream, [0x83, 0x86, 0x84, 0x01, 0x01, UInt8(ascii: "x")])
    }
    /// HPACK integer with an `prefixBits`-bit prefix (RFC 7541 §5.1).
    static func hpackInteger(_ value: Int, prefixBits: Int, firstByte: UInt8 = 0) -> [UInt8] {
        let limit = (1 << prefixBits) - 1
        if value < limit { return [firstByte | UInt8(value)] }
        var bytes = [firstByte | UInt8(limit)]
        var rest = value - limit
        while rest >= 128 { bytes.append(UInt8(rest & 0x7F) | 0x80); rest >>= 7 }
        bytes.append(UInt8(rest))
        return bytes
    }
    /// HEADERS (END_HEADERS, END_STREAM) for POST / with one extra literal header.
    static func headers(stream: UInt32, extraName: String, extraValue: String) -> [UInt8] {
        let literal = [UInt8(0)] + hpackInteger(extraName.utf8.count, prefixBits: 7) + Array(extraName.utf8)
            + hpackInteger(extraValue.utf8.count, prefixBits: 7) + Array(extraValue.utf8)
        return frame(type: 1, flags: 0x5, stream: stream, [0x83, 0x86, 0x84, 0x01, 0x01, UInt8(ascii: "x")] + literal)
    }
    /// RST_STREAM CANCEL.
    static func reset(stream: UInt32) -> [UInt8] { frame(type: 3, flags: 0, stream: stream, [0, 0, 0, 8]) }
}

enum ServerProtocolPreface {
    static let bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
}
