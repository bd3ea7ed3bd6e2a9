import Testing
@testable import HTTP2Transport
import HTTPTransportCore

/// The client's receive path driven without a socket (what the `http2-client` fuzz target does):
/// server bytes go through the connection's own nghttp2 callbacks and state machine.
@Suite struct ReceivePathTests {
    static func frame(_ type: UInt8, _ flags: UInt8, _ stream: UInt32, _ payload: [UInt8] = []) -> [UInt8] {
        let length = UInt32(payload.count)
        return [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags,
                UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
    }

    /// HPACK literal header field without indexing, literal name, no Huffman coding.
    static func literal(_ name: String, _ value: String) -> [UInt8] {
        [0, UInt8(name.utf8.count)] + Array(name.utf8) + [UInt8(value.utf8.count)] + Array(value.utf8)
    }

    final class Results: @unchecked Sendable {
        // Completions run on the test's thread, inside the calls below.
        var all: [Result<HTTP2Response, TransportError>] = []
    }

    func run(_ server: [UInt8], maxResponseBodyBytes: Int = 1024) throws -> [Result<HTTP2Response, TransportError>] {
        let configuration = HTTP2ClientConfiguration(endpoint: Endpoint(host: "collector.invalid", port: 4317, useTLS: false),
                                                     maxResponseBodyBytes: maxResponseBodyBytes)
        let connection = try HTTP2Connection(configuration: configuration, tlsContext: nil)
        let results = Results()
        #expect(connection.submit(HTTP2Request(path: "/p", body: [1, 2, 3])) { results.all.append($0) })
        try connection.startWithoutSocket()
        var failure: TransportError?
        do {
            let written = try server.withUnsafeBytes { try connection.receiveWithoutSocket($0) }
            #expect(!written.isEmpty, "the client acknowledges the server's SETTINGS")
        } catch let error as TransportError {
            failure = error
        }
        connection.closeWithoutSocket(failure)
        return results.all
    }

    static let settings = frame(4, 0, 0)

    @Test func responseFedWithoutASocketCompletesTheRequestOnce() throws {
        let server = Self.settings
            + Self.frame(1, 4, 1, [0x88] + Self.literal("content-type", "application/grpc"))
            + Self.frame(0, 0, 1, [0, 0, 0, 0, 2, 0x68, 0x69])
            + Self.frame(1, 5, 1, Self.literal("grpc-status", "0"))
        let results = try run(server)
        #expect(results.count == 1)
        let response = try #require(try? results.first?.get())
        #expect(response.status == 200)
        #expect(response.body == [0, 0, 0, 0, 2, 0x68, 0x69])
        #expect(response.trailers == [HTTPField("grpc-status", "0")])
    }

    @Test func bodyOverTheLimitFailsTheRequestOnce() throws {
        let server = Self.settings + Self.frame(1, 4, 1, [0x88])
            + Self.frame(0, 0, 1, [UInt8](repeating: 0x78, count: 300)) + Self.frame(1, 5, 1, Self.literal("grpc-status", "0"))
        let results = try run(server, maxResponseBodyBytes: 256)
        #expect(results.count == 1)
        #expect(throws: TransportError.self) { try results.first?.get() }
    }

    @Test func garbageFromTheServerFailsTheRequestOnce() throws {
        let results = try run(Array("HTTP/1.1 400 Bad Request\r\n\r\n".utf8))
        #expect(results.count == 1)
        if case .failure(let error) = results.first { #expect(error.code == .protocolError) } else { Issue.record("not a failure") }
    }
}
