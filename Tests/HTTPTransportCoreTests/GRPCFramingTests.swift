@testable import HTTPTransportCore
import OTLPTestSupport
import Testing

/// Stands in for gzip where a test sends and receives only uncompressed messages.
struct NoGzip: GzipCodec {
    func compress(_ input: [UInt8]) throws(GzipError) -> [UInt8] {
        throw GzipError(kind: .internalError, message: "no gzip in this test")
    }

    func decompress(_ input: [UInt8], limit: Int) throws(GzipError) -> [UInt8] {
        throw GzipError(kind: .internalError, message: "no gzip in this test")
    }
}

/// A codec whose "compression" puts a marker byte in front, so a test sees that it ran.
struct MarkerGzip: GzipCodec {
    static let marker: UInt8 = 0xC0

    func compress(_ input: [UInt8]) throws(GzipError) -> [UInt8] { [Self.marker] + input }

    func decompress(_ input: [UInt8], limit: Int) throws(GzipError) -> [UInt8] {
        guard input.first == Self.marker else { throw GzipError(kind: .corrupt, message: "no marker") }
        guard input.count - 1 <= limit else { throw GzipError(kind: .tooLarge, message: "over \(limit)") }
        return Array(input.dropFirst())
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
            #expect(GRPCFraming.interpret(response(status: status, body: []), maxMessageBytes: 100, gzip: NoGzip()).code == code)
        }
    }

    @Test func trailersOnlyResponseCarriesTheStatusInHeaders() {
        let result = GRPCFraming.interpret(
            response(headers: [HTTPField("grpc-status", "8"), HTTPField("grpc-message", "slow%20down")], trailers: [], body: []),
            maxMessageBytes: 100, gzip: NoGzip())
        #expect(result.code == .resourceExhausted)
        #expect(result.message == "slow down")
    }

    @Test func missingStatusOrMessageIsInternal() {
        #expect(GRPCFraming.interpret(response(trailers: [], body: []), maxMessageBytes: 100, gzip: NoGzip()).code == .internalError)
        #expect(GRPCFraming.interpret(response(body: []), maxMessageBytes: 100, gzip: NoGzip()).code == .internalError)
        #expect(GRPCFraming.interpret(response(body: [0, 0, 0, 0, 9, 1]), maxMessageBytes: 100, gzip: NoGzip()).code == .internalError)
    }

    @Test func oversizedUncompressedMessageIsResourceExhausted() {
        let result = GRPCFraming.interpret(response(body: GRPCFraming.frame(Array(repeating: 1, count: 200), compressed: false)),
                                           maxMessageBytes: 100, gzip: NoGzip())
        #expect(result.code == .resourceExhausted)
    }

    @Test func statusDetailsAreBase64Decoded() {
        let result = GRPCFraming.interpret(
            response(trailers: [HTTPField("grpc-status", "14"), HTTPField("grpc-status-details-bin", "AAH/")], body: []),
            maxMessageBytes: 100, gzip: NoGzip())
        #expect(result.statusDetails == [0, 1, 255])
    }

    @Test func unaryCallOverTheInMemoryTransportSendsGRPCHeaders() async throws {
        let transport = InMemoryHTTPTransport { request in
            .success(HTTP2Response(status: 200, headers: [HTTPField("content-type", "application/grpc")],
                                   trailers: [HTTPField("grpc-status", "0")], body: GRPCFraming.frame(request.body.suffix(2), compressed: false)))
        }
        let client = GRPCClient(transport: transport, gzip: NoGzip())
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

    @Test func gzipMessagesGoThroughTheClientsCodecBothWays() async throws {
        // The server echoes the compressed frame, marked as gzip.
        let transport = InMemoryHTTPTransport { request in
            .success(HTTP2Response(status: 200, headers: [HTTPField("content-type", "application/grpc"), HTTPField("grpc-encoding", "gzip")],
                                   trailers: [HTTPField("grpc-status", "0")], body: request.body))
        }
        let client = GRPCClient(transport: transport, gzip: MarkerGzip())
        let response = try await client.unary(path: "/s/M", message: [7, 8], compression: .gzip).get()
        #expect(response.code == .ok)
        #expect(response.payload == [7, 8])
        let request = try #require(transport.requests.first)
        #expect(request.body == [1, 0, 0, 0, 3, MarkerGzip.marker, 7, 8])
        #expect(request.headers.contains(HTTPField("grpc-encoding", "gzip")))
    }
}
