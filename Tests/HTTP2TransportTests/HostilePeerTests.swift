import Foundation
import HTTP2Transport
import HTTPTransportCore
import OTLPTestSupport
import Testing

/// A peer that misbehaves must end each request in a typed error within its deadline — never a
/// crash, hang or unbounded memory.
@Suite("hostile peers")
struct HostilePeerTests {
    /// Sends one POST with a 1 s deadline and returns the outcome and how long it took.
    func call(_ server: HostileServer, body: [UInt8] = Array("hello".utf8), tls: Bool = false,
              timeout: Duration = .seconds(1), _ adjust: (inout HTTP2ClientConfiguration) -> Void = { _ in }) async throws
        -> (Result<HTTP2Response, TransportError>, Double) {
        var configuration = h2cConfiguration(port: server.port) {
            $0.connectTimeout = .seconds(1)
            $0.endpoint.useTLS = tls
            $0.tls.insecure = tls
        }
        adjust(&configuration)
        let client = try HTTP2Client(configuration: configuration)
        defer { client.shutdown(graceful: false) }
        return await timedExecute(client, HTTP2Request(path: "/", body: body, timeout: timeout))
    }

    func expectFailure(_ outcome: (Result<HTTP2Response, TransportError>, Double), _ codes: [TransportError.Code],
                       within limit: Double = 5, sourceLocation: SourceLocation = #_sourceLocation) {
        switch outcome.0 {
        case .success(let response): Issue.record("expected failure, got HTTP \(response.status)", sourceLocation: sourceLocation)
        case .failure(let error): #expect(codes.contains(error.code), "\(error)", sourceLocation: sourceLocation)
        }
        #expect(outcome.1 < limit, "took \(outcome.1) s", sourceLocation: sourceLocation)
    }

    @Test func garbageInsteadOfHTTP2IsAProtocolError() async throws {
        let server = try HostileServer(trigger: .immediately) {
            var generator = SystemRandomNumberGenerator()
            return (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        }
        defer { server.stop() }
        expectFailure(try await call(server), [.protocolError, .connectionClosed])
    }

    @Test func oversizedFrameIsAProtocolError() async throws {
        let server = try HostileServer {
            Frame.settings() + Frame.settingsAck
                + Frame.make(type: 0, stream: 1, payload: [UInt8](repeating: 0x41, count: 64 << 10), length: (1 << 24) - 1)
        }
        defer { server.stop() }
        expectFailure(try await call(server), [.protocolError, .streamReset, .connectionClosed])
    }

    @Test func hpackBombHitsTheHeaderListLimit() async throws {
        let server = try HostileServer {
            // :status 200, then a 4000-byte header added to the dynamic table, then 2000 one-byte
            // references to it: 8 MB of decoded headers from a 6 KB frame.
            var block: [UInt8] = [0x88, 0x40, 6] + Array("x-bomb".utf8) + [0x7F, 0xA1, 0x1E]
            block += [UInt8](repeating: UInt8(ascii: "b"), count: 4000)
            block += [UInt8](repeating: 0xBE, count: 2000)
            return Frame.settings() + Frame.settingsAck + Frame.make(type: 1, flags: 0x4, stream: 1, payload: block)
        }
        defer { server.stop() }
        expectFailure(try await call(server), [.headerListTooLarge])
    }

    @Test func endlessContinuationFramesAreCut() async throws {
        let server = try HostileServer {
            var bytes = Frame.settings() + Frame.settingsAck + Frame.make(type: 1, flags: 0, stream: 1, payload: [0x88])
            let field: [UInt8] = [0x00, 3] + Array("x-c".utf8) + [1, UInt8(ascii: "v")]
            for _ in 0..<20_000 { bytes += Frame.make(type: 9, flags: 0, stream: 1, payload: field) }
            return bytes
        }
        defer { server.stop() }
        // A 60 s deadline: the cut must come from the header limits, not the clock. (Under
        // ThreadSanitizer, with the whole package running beside it on two cores, reading the
        // 20,000 frames took over 10 s.)
        expectFailure(try await call(server, timeout: .seconds(60)),
                      [.protocolError, .headerListTooLarge, .streamReset, .connectionClosed], within: 90)
    }

    @Test func settingsWithTooManyEntriesIsAProtocolError() async throws {
        let server = try HostileServer(trigger: .immediately) {
            Frame.settings((0..<200).map { _ in (UInt16(3), UInt32(100)) })
        }
        defer { server.stop() }
        expectFailure(try await call(server), [.protocolError, .connectionClosed])
    }

    @Test func settingsFloodIsCut() async throws {
        // Endless SETTINGS written before the peer reads anything (and a small receive buffer):
        // our ACKs back up until nghttp2's queue of 1000 is full, and it reports a flood. The
        // deadline is far away, so only the cut itself ends the request in time.
        let floodChunk = (0..<1000).flatMap { _ in Frame.settings() }
        let server = try HostileServer(receiveBuffer: 8192, greeting: { _ in PeerReply(bytes: floodChunk, repeats: 1_000_000) }) { _ in .none }
        defer { server.stop() }
        let outcome = try await call(server, timeout: .seconds(60))
        expectFailure(outcome, [.protocolError], within: 50)
        if case .failure(let error) = outcome.0 { #expect(error.message.contains("Flood"), "\(error)") }
    }

    @Test func windowThatNeverOpensEndsAtTheDeadline() async throws {
        let server = try HostileServer(trigger: .immediately) {
            Frame.settings([(4, 0)]) + Frame.settingsAck  // INITIAL_WINDOW_SIZE 0
        }
        defer { server.stop() }
        expectFailure(try await call(server, body: [UInt8](repeating: 7, count: 200_000)), [.deadlineExceeded])
    }

    @Test func serverThatNeverAnswersEndsAtTheDeadline() async throws {
        let server = try HostileServer(trigger: .never) { [] }
        defer { server.stop() }
        expectFailure(try await call(server), [.deadlineExceeded])
    }

    @Test func tlsHandshakeThatNeverAnswersEndsAtTheConnectTimeout() async throws {
        let server = try HostileServer(trigger: .never) { [] }
        defer { server.stop() }
        expectFailure(try await call(server, tls: true), [.connectTimeout, .deadlineExceeded])
    }

    @Test func oversizedResponseBodyIsRejected() async throws {
        let server = try await offPool { try NghttpdPeer() }
        defer { server.stop() }
        try Data(repeating: 0x61, count: 3 << 20).write(to: server.htdocs.appendingPathComponent("big.bin"))
        let client = try HTTP2Client(configuration: h2cConfiguration(port: server.port) { $0.maxResponseBodyBytes = 1 << 20 })
        defer { client.shutdown(graceful: false) }
        do {
            _ = try await client.execute(HTTP2Request(method: "GET", path: "/big.bin", timeout: .seconds(3)))
            Issue.record("3 MiB body accepted with a 1 MiB cap")
        } catch {
            #expect(error.code == .responseTooLarge)
        }
        // The same connection still serves a small request.
        let small = try await client.execute(HTTP2Request(method: "GET", path: "/hello.txt", timeout: .seconds(3)))
        #expect(small.status == 200)
        #expect(client.connectionCount == 1)
    }

    @Test func goAwayBeforeOurStreamFailsRetryablyAfterOneRetryOnANewConnection() async throws {
        let server = try HostileServer {
            // GOAWAY last-stream-id 0, NO_ERROR: stream 1 was not processed.
            Frame.settings() + Frame.settingsAck + Frame.make(type: 7, payload: [0, 0, 0, 0, 0, 0, 0, 0])
        }
        defer { server.stop() }
        let client = try HTTP2Client(configuration: h2cConfiguration(port: server.port))
        defer { client.shutdown(graceful: false) }
        do {
            _ = try await client.execute(HTTP2Request(path: "/", body: [1], timeout: .seconds(2)))
            Issue.record("request above GOAWAY's last stream succeeded")
        } catch {
            #expect(error.code == .goAway, "\(error)")
            #expect(error.isRetryable)
        }
        #expect(client.connectionCount == 2)
    }

    @Test func rstStreamFailsThatStreamWithStreamReset() async throws {
        let server = try HostileServer {
            Frame.settings() + Frame.settingsAck + Frame.make(type: 3, stream: 1, payload: [0, 0, 0, 2])  // INTERNAL_ERROR
        }
        defer { server.stop() }
        let outcome = try await call(server)
        expectFailure(outcome, [.streamReset])
        if case .failure(let error) = outcome.0 { #expect(error.message.contains("INTERNAL_ERROR")) }
    }
}
