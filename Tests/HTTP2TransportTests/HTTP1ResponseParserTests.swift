import Testing
@testable import HTTP2Transport
import HTTPTransportCore

@Suite struct HTTP1ResponseParserTests {
    func parse(_ text: String, maxBody: Int = 1 << 20, chunkSize: Int = 1) throws(TransportError) -> HTTP2Response? {
        var parser = HTTP1ResponseParser(maxBodyBytes: maxBody)
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            let end = min(bytes.count, index + chunkSize)
            if let response = try parser.feed(Array(bytes[index..<end])) { return response }
            index = end
        }
        return nil
    }

    @Test func parsesContentLengthResponsesFedByteByByte() throws {
        let response = try parse("HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 3\r\n\r\nabc")
        #expect(response?.status == 200)
        #expect(response?.body == Array("abc".utf8))
        #expect(response?.value("content-type") == "application/x-protobuf")
    }

    @Test func parsesChunkedBodiesWithTrailersAndSkipsInterimResponses() throws {
        let text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 429 Too Many Requests\r\nRetry-After: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "4;ext=1\r\nslow\r\n3\r\n do\r\n0\r\nX-Trailer: t\r\n\r\n"
        for size in [1, 7, 1000] {
            let response = try parse(text, chunkSize: size)
            #expect(response?.status == 429)
            #expect(response?.body == Array("slow do".utf8))
            #expect(response?.value("retry-after") == "5")
        }
    }

    @Test func rejectsOversizedBodiesAndHeads() {
        #expect(throws: TransportError.self) { try parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", maxBody: 10) }
        #expect(throws: TransportError.self) {
            try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFF\r\n" + String(repeating: "x", count: 255) + "\r\n0\r\n\r\n", maxBody: 10, chunkSize: 64)
        }
        #expect(throws: TransportError.self) {
            try parse("HTTP/1.1 200 OK\r\nX: " + String(repeating: "y", count: 70_000) + "\r\n\r\n", chunkSize: 4096)
        }
    }

    @Test func rejectsMalformedResponsesWithTypedErrors() {
        for text in ["garbage\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
                     "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"] {
            #expect(throws: TransportError.self, "\(text)") { try parse(text, chunkSize: 1000) }
        }
    }

    /// Found by the fuzz target: `Int(_:radix:)` reads a sign, and a negative size trapped.
    @Test func signedChunkSizesAreProtocolErrorsNotCrashes() {
        for size in ["-400", "+3", "-0", "0x3"] {
            let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\nabc\r\n0\r\n\r\n"
            for chunkSize in [1, 1000] {
                #expect(throws: TransportError.self, "\(size)") { try parse(text, chunkSize: chunkSize) }
                do { _ = try parse(text, chunkSize: chunkSize) } catch { #expect(error.code == .protocolError, "\(size)") }
            }
        }
    }

    @Test func signedContentLengthsAreRejected() {
        for length in ["+3", "-0", " 3 3"] {
            let text = "HTTP/1.1 200 OK\r\nContent-Length: \(length)\r\n\r\nabc"
            #expect(throws: TransportError.self, "\(length)") { try parse(text, chunkSize: 1000) }
        }
    }

    @Test func closeDelimitedBodyEndsAtEOFAndIsNotReused() throws {
        var parser = HTTP1ResponseParser(maxBodyBytes: 100)
        #expect(try parser.feed(Array("HTTP/1.0 200 OK\r\n\r\npartial body".utf8)) == nil)
        let response = try parser.finishAtEOF()
        #expect(response.body == Array("partial body".utf8))
        #expect(parser.closeAfter)
        var truncated = HTTP1ResponseParser(maxBodyBytes: 100)
        _ = try truncated.feed(Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".utf8))
        #expect(throws: TransportError.self) { try truncated.finishAtEOF() }
    }
}
