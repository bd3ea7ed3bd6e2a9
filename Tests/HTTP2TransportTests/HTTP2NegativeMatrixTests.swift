import Foundation
import HTTP2Transport
import HTTPTransportCore
import OTLPSync
import OTLPTestSupport
import Testing

/// The HTTP/2 negative cases a client must survive (GOAWAY in its phases, RST_STREAM with each
/// error code, floods, MAX_CONCURRENT_STREAMS 0 and lowered), against scripted peers that write
/// raw frames, and a rapid-reset self-check against nghttpd. Each request ends in a response or
/// a typed error long before its (generous) deadline; the peer counts the TCP connections it
/// accepted, so reusing a connection that is still good is checked too.
@Suite("HTTP/2 negative matrix")
struct HTTP2NegativeMatrixTests {
    /// A deadline far beyond what any case needs: a case that hangs fails on it, one that works
    /// never comes near it even under ThreadSanitizer on a busy machine.
    static let generous: Duration = .seconds(60)

    func makeClient(_ server: HostileServer) throws -> HTTP2Client {
        try HTTP2Client(configuration: h2cConfiguration(port: server.port) { $0.connectTimeout = .seconds(10) })
    }

    func send(_ client: HTTP2Client, body: [UInt8] = Array("hello".utf8), timeout: Duration = generous) async
        -> (Result<HTTP2Response, TransportError>, Double) {
        await timedExecute(client, HTTP2Request(path: "/", body: body, timeout: timeout))
    }

    func expectBody(_ outcome: (Result<HTTP2Response, TransportError>, Double), _ body: String,
                    sourceLocation: SourceLocation = #_sourceLocation) {
        switch outcome.0 {
        case .success(let response):
            #expect(response.status == 200, sourceLocation: sourceLocation)
            #expect(String(decoding: response.body, as: UTF8.self) == body, sourceLocation: sourceLocation)
        case .failure(let error):
            Issue.record("expected HTTP 200 \(body), got \(error)", sourceLocation: sourceLocation)
        }
    }

    func expectError(_ outcome: (Result<HTTP2Response, TransportError>, Double), _ code: TransportError.Code,
                     sourceLocation: SourceLocation = #_sourceLocation) -> TransportError? {
        switch outcome.0 {
        case .success(let response):
            Issue.record("expected \(code), got HTTP \(response.status)", sourceLocation: sourceLocation)
            return nil
        case .failure(let error):
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            return error
        }
    }

    /// Waits (polling, up to 20 s) until `condition` holds; records an issue if it never does.
    func eventually(_ what: String, sourceLocation: SourceLocation = #_sourceLocation, _ condition: () -> Bool) async {
        let start = ContinuousClock.now
        while !condition() {
            if ContinuousClock.now - start > .seconds(20) {
                Issue.record("never happened: \(what)", sourceLocation: sourceLocation)
                return
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    // MARK: GOAWAY

    @Test func twoPhaseGoAwayFinishesTheStreamInFlightAndSendsNewRequestsOnANewConnection() async throws {
        let server = try HostileServer { frame in
            if frame.connection == 1 {
                // First GOAWAY: no new streams, last-stream-id 2^31-1 (RFC 9113 section 6.8);
                // the real one once our stream is answered.
                if frame.isHeaders { return PeerReply(bytes: Frame.goAway(lastStream: 0x7FFF_FFFF)) }
                if frame.endsStream {
                    return PeerReply(bytes: Frame.response(frame.stream, body: Array("first".utf8))
                                     + Frame.goAway(lastStream: frame.stream))
                }
                return .none
            }
            return frame.endsStream ? PeerReply(bytes: Frame.response(frame.stream, body: Array("second".utf8))) : .none
        }
        defer { server.stop() }
        let client = try makeClient(server)
        defer { client.shutdown(graceful: false) }
        expectBody(await send(client), "first")
        expectBody(await send(client), "second")
        #expect(server.acceptedConnections == 2)
        #expect(client.connectionCount == 2)
        // The drained connection is closed by us, not left open.
        await eventually("the first connection closed by the client") { server.connectionsClosedByClient >= 1 }
    }

    @Test func goAwayAfterOurHeadersThatCoversOurStreamStillDeliversItsResponse() async throws {
        let server = try HostileServer { frame in
            if frame.isHeaders { return PeerReply(bytes: Frame.goAway(lastStream: frame.stream)) }
            return frame.endsStream ? PeerReply(bytes: Frame.response(frame.stream)) : .none
        }
        defer { server.stop() }
        let client = try makeClient(server)
        defer { client.shutdown(graceful: false) }
        expectBody(await send(client), "ok")
        #expect(server.acceptedConnections == 1)
    }

    @Test func goAwayWhileOurBodyIsSentThatExcludesOurStreamIsSentAgainOnANewConnection() async throws {
        // 200 KB: more than the default 64 KiB window, so the first peer's GOAWAY (last stream 0)
        // arrives while our DATA is still going out.
        let body = [UInt8](repeating: 0x5A, count: 200_000)
        let received = LockedValue(0)
        let server = try HostileServer(greeting: { connection in
            connection == 1 ? PeerReply(bytes: Frame.settings() + Frame.settingsAck)
                : PeerReply(bytes: Frame.settings([(4, 1 << 20)]) + Frame.settingsAck + Frame.windowUpdate(0, increment: 1 << 20))
        }) { frame in
            if frame.connection == 1 { return frame.isHeaders ? PeerReply(bytes: Frame.goAway(lastStream: 0)) : .none }
            if frame.type == 0 { received.withLock { $0 += frame.payload.count } }
            return frame.endsStream ? PeerReply(bytes: Frame.response(frame.stream)) : .none
        }
        defer { server.stop() }
        let client = try makeClient(server)
        defer { client.shutdown(graceful: false) }
        expectBody(await send(client, body: body), "ok")
        #expect(server.acceptedConnections == 2)
        #expect(received.withLock { $0 } == body.count)
    }

    @Test func goAwayThenCloseMidResponseFailsRetryablyAndTheNextRequestUsesANewConnection() async throws {
        let server = try HostileServer { frame in
            if frame.connection == 1 {
                // Our stream was processed (last stream = ours), the response is cut off.
                return frame.isHeaders
                    ? PeerReply(bytes: Frame.headers200(frame.stream) + Frame.goAway(lastStream: frame.stream), close: true) : .none
            }
            return frame.endsStream ? PeerReply(bytes: Frame.response(frame.stream)) : .none
        }
        defer { server.stop() }
        let client = try makeClient(server)
        defer { client.shutdown(graceful: false) }
        let outcome = await send(client)
        if let error = expectError(outcome, .connectionClosed) { #expect(error.isRetryable) }
        #expect(outcome.1 < 30, "took \(outcome.1) s")
        expectBody(await send(client), "ok")
        #expect(server.acceptedConnections == 2)
    }

    @Test func goAwayThenCloseBeforeOurStreamIsSentAgainOnANewConnection() async throws {
        let server = try HostileServer { frame in
            if frame.connection == 1 {
                return frame.isHeaders ? PeerReply(bytes: Frame.goAway(lastStream: 0), close: true) : .none
            }
            return frame.endsStream ? PeerReply(bytes: Frame.response(frame.stream)) : .none
        }
        defer { server.stop() }
        let client = try makeClient(server)
        defer { client.shutdown(graceful: false) }
        expectBody(await send(client), "ok")
        #expect(server.acceptedConnections == 2)
    }

    // MARK: RST_STREAM

    enum ResetPhase: String, Sendable, CaseIterable {
        /// Before any response frame.
        case beforeResponse
        /// After `:status 200` and part of the body.
        case duringResponseData
        /// After the complete response (END_STREAM), while our request body is still going out.
        case afterCompleteResponse
    }

    struct ResetCase: Sendable, CustomTestStringConvertible {
        let code: UInt32
        let name: String
        let phase: ResetPhase
        var testDescription: String { "RST_STREAM \(name) \(phase.rawValue)" }

        static let codes: [(UInt32, String)] = [
            (H2Error.noError, "NO_ERROR"), (H2Error.internalError, "INTERNAL_ERROR"),
            (H2Error.refusedStream, "REFUSED_STREAM"), (H2Error.cancel, "CANCEL"),
            (H2Error.enhanceYourCalm, "ENHANCE_YOUR_CALM"),
        ]
        static let all: [ResetCase] = ResetPhase.allCases.flatMap { phase in codes.map { ResetCase(code: $0.0, name: $0.1, phase: phase) } }
    }

    /// The first request's stream is reset; every later one is answered. What the first request
    /// comes to follows gRPC's mapping of RST_STREAM codes: a complete response stands whatever
    /// follows it; REFUSED_STREAM is sent again at once on a new stream; CANCEL and
    /// ENHANCE_YOUR_CALM fail retryably; NO_ERROR before END_STREAM and INTERNAL_ERROR fail for
    /// good. In every case the connection stays in use.
    @Test(arguments: ResetCase.all)
    func rstStreamOutcomeFollowsItsErrorCodeAndTheConnectionIsReused(_ reset: ResetCase) async throws {
        let headersSeen = LockedValue(0)
        let server = try HostileServer(greeting: { _ in
            // A large connection window: the afterCompleteResponse request's body must not use
            // it up for the requests after it (its stream window stays at 64 KiB).
            PeerReply(bytes: Frame.settings() + Frame.settingsAck + Frame.windowUpdate(0, increment: 1 << 24))
        }) { frame in
            guard frame.isHeaders else { return .none }
            let number = headersSeen.withLock { $0 += 1; return $0 }
            guard number == 1 else { return PeerReply(bytes: Frame.response(frame.stream, body: Array("answer \(number)".utf8))) }
            let rst = Frame.rstStream(frame.stream, error: reset.code)
            switch reset.phase {
            case .beforeResponse: return PeerReply(bytes: rst)
            case .duringResponseData: return PeerReply(bytes: Frame.headers200(frame.stream) + Frame.data(frame.stream, Array("par".utf8)) + rst)
            case .afterCompleteResponse: return PeerReply(bytes: Frame.response(frame.stream, body: Array("complete".utf8)) + rst)
            }
        }
        defer { server.stop() }
        let client = try makeClient(server)
        defer { client.shutdown(graceful: false) }
        // A 200 KB body outlives the 64 KiB stream window, so a reset after the complete
        // response meets a stream we are still sending on.
        let body = reset.phase == .afterCompleteResponse ? [UInt8](repeating: 1, count: 200_000) : Array("hello".utf8)
        let first = await send(client, body: body)
        if reset.phase == .afterCompleteResponse {
            expectBody(first, "complete")
        } else if reset.code == H2Error.refusedStream {
            expectBody(first, "answer 2")
        } else if let error = expectError(first, .streamReset) {
            #expect(error.http2ErrorCode == reset.code)
            #expect(error.isRetryable == (reset.code == H2Error.cancel || reset.code == H2Error.enhanceYourCalm), "\(error)")
        }
        #expect(first.1 < 30, "took \(first.1) s")
        let next = await send(client)
        expectBody(next, "answer \(headersSeen.withLock { $0 })")
        #expect(server.acceptedConnections == 1)
        #expect(client.connectionCount == 1)
    }

    // MARK: Floods

    @Test func pingFloodIsAnsweredWithinBoundedMemoryOrCutAndNeverHangs() async throws {
        // Endless PINGs written before the peer reads anything: our ACKs pile up until the
        // socket buffers, our 1 MiB output buffer and nghttp2's 1000 queued ACKs are full; then
        // nghttp2 reports a flood and we close. The peer's small receive buffer keeps the
        // socket's share small.
        let pings = (0..<1000).flatMap { Frame.ping(UInt64($0)) }
        let server = try HostileServer(receiveBuffer: 8192, greeting: { _ in
            PeerReply(bytes: Frame.settings() + Frame.settingsAck + pings, repeats: 1_000_000)
        }) { frame in
            frame.endsStream ? PeerReply(bytes: Frame.response(frame.stream)) : .none
        }
        defer { server.stop() }
        let client = try makeClient(server)
        defer { client.shutdown(graceful: false) }
        let outcome = await send(client)
        if let error = expectError(outcome, .protocolError) { #expect(error.message.contains("Flood"), "\(error)") }
        #expect(outcome.1 < 50, "took \(outcome.1) s")
    }

    @Test func zeroLengthContinuationFloodClosesTheConnectionWithAProtocolError() async throws {
        let continuation = Frame.make(type: 9, stream: 1, payload: [])
        let chunk = (0..<1000).flatMap { _ in continuation }
        let server = try HostileServer { frame in
            // HEADERS without END_HEADERS, then empty CONTINUATION frames without end.
            frame.isHeaders
                ? PeerReply(bytes: Frame.make(type: 1, flags: 0, stream: frame.stream, payload: [0x88]) + chunk, repeats: 10_000)
                : .none
        }
        defer { server.stop() }
        let client = try makeClient(server)
        defer { client.shutdown(graceful: false) }
        let outcome = await send(client)
        _ = expectError(outcome, .protocolError)
        #expect(outcome.1 < 50, "took \(outcome.1) s")
    }

    // MARK: MAX_CONCURRENT_STREAMS

    @Test func maxConcurrentStreamsZeroEndsTheRequestAtItsDeadlineWithATypedError() async throws {
        let headersSeen = LockedValue(0)
        let server = try HostileServer(greeting: { _ in PeerReply(bytes: Frame.settings([(3, 0)]) + Frame.settingsAck) }) { frame in
            // A stream opened before our SETTINGS arrived is refused, as a real server does;
            // 3 s late, so a retry that restarted the request's timeout would show.
            guard frame.isHeaders else { return .none }
            headersSeen.withLock { $0 += 1 }
            return PeerReply(later: (.seconds(3), { Frame.rstStream(frame.stream, error: H2Error.refusedStream) }))
        }
        defer { server.stop() }
        let client = try makeClient(server)
        defer { client.shutdown(graceful: false) }
        let outcome = await send(client, timeout: .seconds(6))
        if let error = expectError(outcome, .deadlineExceeded) {
            #expect(error.message.contains("waiting for a stream"), "\(error)")
        }
        // At its own deadline (6 s), not 3 s + 6 s: the refused request is sent again with what
        // was left of its timeout.
        #expect(outcome.1 >= 5.9 && outcome.1 < 8.5, "took \(outcome.1) s")
        // At most the one stream opened before the peer's SETTINGS were known.
        #expect(headersSeen.withLock { $0 } <= 1)
    }

    @Test func loweredMaxConcurrentStreamsLetsStreamsInFlightFinishAndQueuesNewOnes() async throws {
        // Initially 2 streams. The peer answers stream 1 (a warm-up) at once. When requests A
        // and B hold two streams, it lowers the limit to 1 and answers A; it answers B 300 ms
        // after we acknowledged that SETTINGS. C must wait until B is done: the peer records
        // any stream opened while another of its streams was still open after the lowering.
        struct PeerState { var open: Set<UInt32> = []; var headers = 0; var acks = 0; var lowered = false; var violations: [String] = [] }
        let peer = LockedValue(PeerState())
        let server = try HostileServer(greeting: { _ in PeerReply(bytes: Frame.settings([(3, 2)]) + Frame.settingsAck) }) { frame in
            peer.withLock { state -> PeerReply in
                if frame.isSettingsAck {
                    state.acks += 1
                    // The second ACK is for the lowered limit: now answer B.
                    if state.acks == 2, let b = state.open.min() {
                        return PeerReply(later: (.milliseconds(300), {
                            peer.withLock { _ = $0.open.remove(b) }
                            return Frame.response(b, body: Array("B".utf8))
                        }))
                    }
                    return .none
                }
                guard frame.isHeaders else { return .none }
                state.headers += 1
                if state.lowered && !state.open.isEmpty {
                    state.violations.append("stream \(frame.stream) opened while \(state.open.sorted()) open")
                }
                switch state.headers {
                case 1: return PeerReply(bytes: Frame.response(frame.stream, body: Array("warm".utf8)))
                case 2: state.open.insert(frame.stream); return .none
                case 3:
                    // Both streams open: lower the limit to 1 and answer A.
                    state.lowered = true
                    let a = state.open.removeFirst()
                    state.open.insert(frame.stream)
                    return PeerReply(bytes: Frame.settings([(3, 1)]) + Frame.response(a, body: Array("A".utf8)))
                default: return PeerReply(bytes: Frame.response(frame.stream, body: Array("C".utf8)))
                }
            }
        }
        defer { server.stop() }
        let client = try makeClient(server)
        defer { client.shutdown(graceful: false) }
        expectBody(await send(client), "warm")
        async let a = send(client)
        async let b = send(client)
        async let c = send(client)
        let results = await [a, b, c]
        let bodies = results.compactMap { try? $0.0.get() }.map { String(decoding: $0.body, as: UTF8.self) }
        #expect(bodies.sorted() == ["A", "B", "C"], "\(results.map(\.0))")
        #expect(peer.withLock { $0.violations } == [])
        #expect(peer.withLock { $0.acks } == 2)
        #expect(server.acceptedConnections == 1)
    }

    // MARK: Rapid reset

    /// A retry storm of requests with 1 ms deadlines against nghttpd, whose nghttp2 answers more
    /// than 1000 stream resets in a burst (then 33 a second) with GOAWAY: we must stay within
    /// what it tolerates, so the connection survives the storm and serves the next request.
    @Test func retryStormWithOneMillisecondDeadlinesDoesNotGetUsGoAwayed() async throws {
        let server = try await offPool { try NghttpdPeer() }
        defer { server.stop() }
        // A 256 KiB file: a response takes longer than 1 ms to arrive, so deadlines pass while
        // streams are open.
        try Data(repeating: 0x62, count: 256 << 10).write(to: server.htdocs.appendingPathComponent("big.bin"))
        let client = try HTTP2Client(configuration: h2cConfiguration(port: server.port) { $0.connectTimeout = .seconds(10) })
        defer { client.shutdown(graceful: false) }
        let warm = try await client.execute(HTTP2Request(method: "GET", path: "/hello.txt", timeout: .seconds(30)))
        #expect(warm.status == 200)

        struct Tally { var deadline = 0; var ok = 0; var other: [String] = [] }
        let tally = LockedValue(Tally())
        for _ in 0..<30 {
            let wave = 100
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let left = LockedValue(wave)
                for _ in 0..<wave {
                    client.execute(HTTP2Request(method: "GET", path: "/big.bin", timeout: .milliseconds(1))) { result in
                        tally.withLock { tally in
                            switch result {
                            case .success: tally.ok += 1
                            case .failure(let error) where error.code == .deadlineExceeded: tally.deadline += 1
                            case .failure(let error): tally.other.append("\(error)")
                            }
                        }
                        if left.withLock({ $0 -= 1; return $0 }) == 0 { done.resume() }
                    }
                }
            }
        }
        let seen = tally.withLock { $0 }
        #expect(seen.other.isEmpty, "\(seen.other.prefix(3))")
        #expect(seen.deadline > 1000, "only \(seen.deadline) requests passed their deadline: the storm did not test resets")
        let after = try await client.execute(HTTP2Request(method: "GET", path: "/hello.txt", timeout: .seconds(30)))
        #expect(after.status == 200)
        #expect(client.connectionCount == 1, "nghttpd closed the connection during the storm")
    }
}
