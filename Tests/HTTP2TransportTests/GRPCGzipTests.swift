import HTTP2Transport
@testable import HTTPTransportCore
import Testing

/// gRPC responses compressed with gzip, inflated by the zlib codec.
@Suite("gRPC gzip on zlib")
struct GRPCGzipTests {
    func response(headers: [HTTPField], body: [UInt8]) -> HTTP2Response {
        HTTP2Response(status: 200, headers: headers, trailers: [HTTPField("grpc-status", "0")], body: body)
    }

    @Test func gzipResponseIsInflatedAndCapped() throws {
        let message = Array(repeating: UInt8(ascii: "z"), count: 10_000)
        let compressed = try Gzip.compress(message)
        let gzipHeaders = [HTTPField("content-type", "application/grpc"), HTTPField("grpc-encoding", "gzip")]
        let ok = GRPCFraming.interpret(response(headers: gzipHeaders, body: GRPCFraming.frame(compressed, compressed: true)),
                                       maxMessageBytes: 20_000, gzip: ZlibGzip())
        #expect(ok.code == .ok)
        #expect(ok.payload == message)
        let bomb = GRPCFraming.interpret(response(headers: gzipHeaders, body: GRPCFraming.frame(compressed, compressed: true)),
                                         maxMessageBytes: 5_000, gzip: ZlibGzip())
        #expect(bomb.code == .resourceExhausted)
        let unknown = GRPCFraming.interpret(
            response(headers: [HTTPField("grpc-encoding", "snappy")], body: GRPCFraming.frame(compressed, compressed: true)),
            maxMessageBytes: 20_000, gzip: ZlibGzip())
        #expect(unknown.code == .internalError)
        let corrupt = GRPCFraming.interpret(
            response(headers: gzipHeaders, body: GRPCFraming.frame(Array(compressed.prefix(20)), compressed: true)),
            maxMessageBytes: 20_000, gzip: ZlibGzip())
        #expect(corrupt.code == .internalError)
    }
}
