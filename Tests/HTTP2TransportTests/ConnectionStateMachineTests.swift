@testable import HTTP2Transport
import Testing

/// The stream-admission state machine, without sockets.
@Suite("connection state machine")
struct ConnectionStateMachineTests {
    typealias Action = ConnectionStateMachine.Action

    @Test func requestsQueueUntilConnectedThenStart() {
        var machine = ConnectionStateMachine(maxConcurrentStreams: 10)
        #expect(machine.enqueue(1, deadline: 100).isEmpty)
        #expect(machine.enqueue(2, deadline: 100).isEmpty)
        #expect(machine.connected() == [.start(1), .start(2)])
        #expect(machine.enqueue(3, deadline: 100) == [.start(3)])
    }

    /// The connection's per-request path appends to its own action list: the appending forms must
    /// keep what is already there and add exactly what the returning forms return.
    @Test func appendingFormsKeepEarlierActionsAndAddTheSameOnesAsReturningForms() {
        var returning = ConnectionStateMachine(maxConcurrentStreams: 1)
        var appending = ConnectionStateMachine(maxConcurrentStreams: 1)
        _ = returning.connected()
        _ = appending.connected()
        var actions: [Action] = [.fail(99, TransportError(.shutdown, "earlier"))]
        let expectedFirst = returning.enqueue(1, deadline: .max)
        appending.enqueue(1, deadline: .max, into: &actions)
        #expect(expectedFirst == [.start(1)])
        #expect(actions == [.fail(99, TransportError(.shutdown, "earlier"))] + expectedFirst)
        returning.streamOpened(1, streamID: 1)
        appending.streamOpened(1, streamID: 1)
        // Over the limit: queued, nothing added.
        #expect(returning.enqueue(2, deadline: .max).isEmpty)
        appending.enqueue(2, deadline: .max, into: &actions)
        #expect(actions.count == 2)
        // Closing the stream admits the queued request in both.
        let expectedAfterClose = returning.streamClosed(1)
        appending.streamClosed(1, into: &actions)
        #expect(expectedAfterClose == [.start(2)])
        #expect(Array(actions.dropFirst(2)) == expectedAfterClose)
        // An unknown stream adds nothing.
        appending.streamClosed(42, into: &actions)
        #expect(actions.count == 3)
        // After shutdown the appending form fails a new request the same way.
        _ = returning.shutdownGracefully()
        _ = appending.shutdownGracefully()
        let expectedRefusal = returning.enqueue(3, deadline: .max)
        appending.enqueue(3, deadline: .max, into: &actions)
        #expect(Array(actions.dropFirst(3)) == expectedRefusal)
        #expect(expectedRefusal.count == 1)
    }

    @Test func peerMaxConcurrentStreamsLimitsOpenStreamsAndQueuesTheRest() {
        var machine = ConnectionStateMachine(maxConcurrentStreams: 100)
        _ = machine.connected()
        #expect(machine.peerSettings(maxConcurrentStreams: 1).isEmpty)
        #expect(machine.enqueue(1, deadline: .max) == [.start(1)])
        machine.streamOpened(1, streamID: 1)
        #expect(machine.enqueue(2, deadline: .max).isEmpty)
        #expect(machine.enqueue(3, deadline: .max).isEmpty)
        #expect(machine.queuedCount == 2)
        #expect(machine.streamClosed(1) == [.start(2)])
        machine.streamOpened(2, streamID: 3)
        #expect(machine.streamClosed(3) == [.start(3)])
        // Raising the limit admits waiting requests at once.
        machine.streamOpened(3, streamID: 5)
        _ = machine.enqueue(4, deadline: .max)
        _ = machine.enqueue(5, deadline: .max)
        #expect(machine.peerSettings(maxConcurrentStreams: 3) == [.start(4), .start(5)])
    }

    @Test func ourOwnLimitAppliesWhenThePeerAllowsMore() {
        var machine = ConnectionStateMachine(maxConcurrentStreams: 2)
        _ = machine.connected()
        _ = machine.peerSettings(maxConcurrentStreams: 1000)
        #expect(machine.enqueue(1, deadline: .max) == [.start(1)])
        #expect(machine.enqueue(2, deadline: .max) == [.start(2)])
        #expect(machine.enqueue(3, deadline: .max).isEmpty)
    }

    @Test func goAwayFailsQueuedRequestsAsRetryableAndRefusesNewOnes() {
        var machine = ConnectionStateMachine(maxConcurrentStreams: 1)
        _ = machine.connected()
        _ = machine.enqueue(1, deadline: .max)
        machine.streamOpened(1, streamID: 1)
        _ = machine.enqueue(2, deadline: .max)
        let actions = machine.goAway(lastStreamID: 1)
        guard case .fail(2, let error) = actions.first else { Issue.record("\(actions)"); return }
        #expect(error.isRetryable)
        #expect(!machine.acceptsRequests)
        guard case .fail(3, _) = machine.enqueue(3, deadline: .max).first else { Issue.record("accepted after GOAWAY"); return }
        #expect(!machine.isFinished)  // stream 1 still running
        #expect(machine.streamClosed(1).isEmpty)
        #expect(machine.isFinished)
    }

    @Test func connectionLossFailsEverythingRetryably() {
        var machine = ConnectionStateMachine(maxConcurrentStreams: 1)
        _ = machine.connected()
        _ = machine.enqueue(1, deadline: .max)
        machine.streamOpened(1, streamID: 1)
        _ = machine.enqueue(2, deadline: .max)
        let actions = machine.connectionFailed(TransportError(.connectionClosed, "lost"))
        #expect(actions.count == 2)
        #expect(actions.allSatisfy { if case .fail(_, let error) = $0 { error.isRetryable } else { false } })
        #expect(machine.isFinished)
    }

    /// Opens `count` streams (ids 1, 3, 5 ...) for requests 1...count with deadline 10.
    func machineWithOpenStreams(_ count: Int, budget: ConnectionStateMachine.ResetBudget) -> ConnectionStateMachine {
        var machine = ConnectionStateMachine(maxConcurrentStreams: count, resetBudget: budget)
        _ = machine.connected()
        for id in 1...RequestID(count) {
            _ = machine.enqueue(id, deadline: 10)
            machine.streamOpened(id, streamID: Int32(2 * id - 1))
        }
        return machine
    }

    @Test func streamsPastTheirDeadlineAreResetNoFasterThanTheBudgetAllows() {
        let second: UInt64 = 1_000_000_000
        let start: UInt64 = 20
        var machine = machineWithOpenStreams(5, budget: .init(burst: 2, perSecond: 4))
        let first = machine.expire(now: start)
        // Two resets in the burst; the other three requests end now, their streams stay open.
        #expect(first == [.cancelStream(1, 1), .cancelStream(3, 2), .abandonStream(3), .abandonStream(4), .abandonStream(5)])
        #expect(machine.unresetCount == 3)
        #expect(machine.activeCount == 5)
        // The next token is earned a quarter second later.
        #expect(machine.nextDeadline == start + second / 4)
        #expect(machine.expire(now: start + second / 4 - 1).isEmpty)
        #expect(machine.expire(now: start + second / 4) == [.resetStream(5)])
        // Stream 7 finished on its own: it is not reset.
        _ = machine.streamClosed(7)
        #expect(machine.expire(now: start + second) == [.resetStream(9)])
        #expect(machine.unresetCount == 0)
        #expect(machine.nextDeadline == nil)
    }

    @Test func streamsAbandonedAtTheirDeadlineDoNotHoldAClosingConnectionOpen() {
        var machine = machineWithOpenStreams(3, budget: .init(burst: 1, perSecond: 1))
        _ = machine.expire(now: 20)  // one reset, two abandoned
        #expect(machine.unresetCount == 2)
        #expect(!machine.isFinished)
        _ = machine.shutdownGracefully()
        #expect(machine.isFinished)
    }

    @Test func aClosingConnectionWaitsForStreamsWhoseRequestsAreStillWaiting() {
        var machine = machineWithOpenStreams(2, budget: .default)
        _ = machine.shutdownGracefully()
        #expect(!machine.isFinished)
        _ = machine.expire(now: 20)  // both past their deadline: reset
        #expect(machine.isFinished)
    }

    @Test func theResetBudgetRefillsOnlyUpToItsBurst() {
        var machine = machineWithOpenStreams(4, budget: .init(burst: 2, perSecond: 10))
        _ = machine.expire(now: 0)
        // An hour idle earns no more than the burst.
        let actions = machine.expire(now: 3_600_000_000_000)
        #expect(actions == [.cancelStream(1, 1), .cancelStream(3, 2), .abandonStream(3), .abandonStream(4)])
    }

    @Test func deadlinesFailQueuedRequestsAndCancelOpenStreamsOnce() {
        var machine = ConnectionStateMachine(maxConcurrentStreams: 1)
        _ = machine.connected()
        _ = machine.enqueue(1, deadline: 50)
        machine.streamOpened(1, streamID: 1)
        _ = machine.enqueue(2, deadline: 40)
        _ = machine.enqueue(3, deadline: 500)
        #expect(machine.nextDeadline == 40)
        #expect(machine.expire(now: 10).isEmpty)
        let actions = machine.expire(now: 60)
        #expect(actions.count == 2)
        #expect(actions.contains(.cancelStream(1, 1)))
        #expect(actions.contains { if case .fail(2, let error) = $0 { error.code == .deadlineExceeded } else { false } })
        #expect(machine.expire(now: 70).isEmpty)  // not cancelled twice
        #expect(machine.nextDeadline == 500)
        // The cancelled stream frees its slot only when it closes.
        #expect(machine.streamClosed(1) == [.start(3)])
    }

    @Test func gracefulShutdownLetsQueuedRequestsFinish() {
        var machine = ConnectionStateMachine(maxConcurrentStreams: 1)
        _ = machine.connected()
        _ = machine.enqueue(1, deadline: .max)
        machine.streamOpened(1, streamID: 1)
        _ = machine.enqueue(2, deadline: .max)
        #expect(machine.shutdownGracefully().isEmpty)
        #expect(!machine.acceptsRequests)
        #expect(machine.streamClosed(1) == [.start(2)])
        machine.streamOpened(2, streamID: 3)
        #expect(!machine.isFinished)
        _ = machine.streamClosed(3)
        #expect(machine.isFinished)
    }
}

@Suite("gRPC framing")
struct GRPCFramingTests {
    func response(status: Int = 200, headers: [HTTPField] = [HTTPField("content-type", "application/grpc")],
                  trailers: [HTTPField] = [HTTPField("grpc-status", "0")], body: [UInt8]) -> HTTP2Response {
        HTTP2Response(status: status, headers: headers, trailers: trailers, body: body)
    }

    @Test func frameHasFlagAndBigEndianLength() {
        #expect(GRPCFraming.frame([1, 2, 3], compressed: false) == [0, 0, 0, 0, 3, 1, 2, 3])
        #expect(GRPCFraming.frame(Array(repeating: 9, count: 300), compressed: true).prefix(5) == [1, 0, 0, 1, 44])
    }

    @Test func framingInPlaceGivesTheSameBytesAsCopyingIntoAFrame() {
        for message in [[], [1, 2, 3], [UInt8](repeating: 7, count: 70_000)] as [[UInt8]] {
            let framed = GRPCFramedMessage(headroomAndMessage: [0xEE, 0xEE, 0xEE, 0xEE, 0xEE] + message)
            #expect(framed?.bytes == GRPCFraming.frame(message, compressed: false))
            #expect(framed?.messageCount == message.count)
        }
        #expect(GRPCFramedMessage(headroomAndMessage: [0, 0, 0, 0]) == nil, "no room for the prefix")
    }

    @Test func timeoutHeaderUsesAtMostEightDigitsAndRoundsUp() {
        #expect(GRPCFraming.timeoutHeader(.milliseconds(1500)) == "1500000u")
        #expect(GRPCFraming.timeoutHeader(.nanoseconds(5)) == "5n")
        #expect(GRPCFraming.timeoutHeader(.seconds(10)) == "10000000u")
        #expect(GRPCFraming.timeoutHeader(.seconds(1000)) == "1000000m")
        #expect(GRPCFraming.timeoutHeader(.seconds(200_000)) == "200000S")
    }

    @Test func grpcMessageIsPercentDecoded() {
        #expect(GRPCFraming.percentDecode("a%20b%25c%C3%BC") == "a b%cü")
        #expect(GRPCFraming.percentDecode("bad%zz%4") == "bad%zz%4")
    }

    @Test func nonOKHTTPStatusMapsAsTheSpecSays() {
        let expected: [Int: GRPCStatusCode] = [400: .internalError, 401: .unauthenticated, 403: .permissionDenied,
                                               404: .unimplemented, 429: .unavailable, 502: .unavailable,
                                               503: .unavailable, 504: .unavailable, 500: .unknown]
        for (status, code) in expected {
            #expect(GRPCFraming.interpret(response(status: status, body: []), maxMessageBytes: 100).code == code)
        }
    }

    @Test func trailersOnlyResponseCarriesTheStatusInHeaders() {
        let result = GRPCFraming.interpret(
            response(headers: [HTTPField("grpc-status", "8"), HTTPField("grpc-message", "slow%20down")], trailers: [], body: []),
            maxMessageBytes: 100)
        #expect(result.code == .resourceExhausted)
        #expect(result.message == "slow down")
    }

    @Test func missingStatusOrMessageIsInternal() {
        #expect(GRPCFraming.interpret(response(trailers: [], body: []), maxMessageBytes: 100).code == .internalError)
        #expect(GRPCFraming.interpret(response(body: []), maxMessageBytes: 100).code == .internalError)
        #expect(GRPCFraming.interpret(response(body: [0, 0, 0, 0, 9, 1]), maxMessageBytes: 100).code == .internalError)
    }

    @Test func gzipResponseIsInflatedAndCapped() throws {
        let message = Array(repeating: UInt8(ascii: "z"), count: 10_000)
        let compressed = try Gzip.compress(message)
        let gzipHeaders = [HTTPField("content-type", "application/grpc"), HTTPField("grpc-encoding", "gzip")]
        let ok = GRPCFraming.interpret(response(headers: gzipHeaders, body: GRPCFraming.frame(compressed, compressed: true)),
                                       maxMessageBytes: 20_000)
        #expect(ok.code == .ok)
        #expect(ok.payload == message)
        let bomb = GRPCFraming.interpret(response(headers: gzipHeaders, body: GRPCFraming.frame(compressed, compressed: true)),
                                         maxMessageBytes: 5_000)
        #expect(bomb.code == .resourceExhausted)
        let unknown = GRPCFraming.interpret(
            response(headers: [HTTPField("grpc-encoding", "snappy")], body: GRPCFraming.frame(compressed, compressed: true)),
            maxMessageBytes: 20_000)
        #expect(unknown.code == .internalError)
        let corrupt = GRPCFraming.interpret(
            response(headers: gzipHeaders, body: GRPCFraming.frame(Array(compressed.prefix(20)), compressed: true)),
            maxMessageBytes: 20_000)
        #expect(corrupt.code == .internalError)
    }

    @Test func oversizedUncompressedMessageIsResourceExhausted() {
        let result = GRPCFraming.interpret(response(body: GRPCFraming.frame(Array(repeating: 1, count: 200), compressed: false)),
                                           maxMessageBytes: 100)
        #expect(result.code == .resourceExhausted)
    }

    @Test func statusDetailsAreBase64Decoded() {
        let result = GRPCFraming.interpret(
            response(trailers: [HTTPField("grpc-status", "14"), HTTPField("grpc-status-details-bin", "AAH/")], body: []),
            maxMessageBytes: 100)
        #expect(result.statusDetails == [0, 1, 255])
    }

    @Test func unaryCallOverTheInMemoryTransportSendsGRPCHeaders() async throws {
        let transport = InMemoryHTTPTransport { request in
            .success(HTTP2Response(status: 200, headers: [HTTPField("content-type", "application/grpc")],
                                   trailers: [HTTPField("grpc-status", "0")], body: GRPCFraming.frame(request.body.suffix(2), compressed: false)))
        }
        let client = GRPCClient(transport: transport)
        let response = try await client.unary(path: "/s/M", metadata: [HTTPField("Authorization", "x")], message: [7, 8],
                                              timeout: .seconds(2)).get()
        #expect(response.code == .ok)
        #expect(response.payload == [7, 8])
        let request = try #require(transport.requests.first)
        #expect(request.path == "/s/M")
        #expect(request.body == [0, 0, 0, 0, 2, 7, 8])
        let names = Dictionary(request.headers.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(names["content-type"] == "application/grpc")
        #expect(names["te"] == "trailers")
        #expect(names["grpc-timeout"] == "2000000u")
        #expect(names["authorization"] == "x")
        #expect(names["user-agent"]?.contains("swift-otlp") == true)
    }
}

@Suite("endpoint and configuration")
struct EndpointTests {
    @Test func urlsParseToSchemeHostAndPort() throws {
        #expect(try Endpoint(url: "http://localhost:4317") == Endpoint(host: "localhost", port: 4317, useTLS: false))
        #expect(try Endpoint(url: "https://collector.example/v1") == Endpoint(host: "collector.example", port: 443, useTLS: true))
        #expect(try Endpoint(url: "http://[::1]:4317").host == "::1")
        #expect(try Endpoint(url: "http://[::1]:4317").authority == "[::1]:4317")
        for bad in ["ftp://x", "http://", "http://host:0", "http://host:99999", "http://[::1", "localhost:4317"] {
            #expect(throws: TransportError.self) { try Endpoint(url: bad) }
        }
    }

    @Test func emptyServerNameIsRejectedBecauseOpenSSLWouldSkipTheCheck() {
        var configuration = HTTP2ClientConfiguration(endpoint: Endpoint(host: "h", port: 1, useTLS: true))
        configuration.tls.serverName = ""
        #expect(throws: TransportError.self) { try configuration.validate() }
    }
}
