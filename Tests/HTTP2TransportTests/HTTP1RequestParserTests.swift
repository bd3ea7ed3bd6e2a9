// The server's HTTP/1.1 request parser and protocol detection, without sockets.
import Testing
@testable import HTTP2Transport
import HTTPTransportCore

@Suite struct HTTP1RequestParserTests {
    func parse(_ text: String, maxBody: Int = 1 << 20, chunkSize: Int = .max) -> [Result<HTTP1RequestParser.Event, HTTP1RequestError>] {
        var parser = HTTP1RequestParser(maxHeaderBytes: 1024, maxBodyBytes: maxBody)
        var events: [Result<HTTP1RequestParser.Event, HTTP1RequestError>] = []
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + chunkSize)
            parser.feed(Array(bytes[offset..<end]))
            offset = end
            while true {
                do throws(HTTP1RequestError) {
                    guard let event = try parser.next() else { break }
                    events.append(.success(event))
                } catch {
                    events.append(.failure(error))
                    return events
                }
            }
        }
        return events
    }

    func requests(_ events: [Result<HTTP1RequestParser.Event, HTTP1RequestError>]) -> [HTTP1ParsedRequest] {
        events.compactMap { if case .success(.request(let request)) = $0 { request } else { nil } }
    }

    @Test func pipelinedRequestsArriveWholeWhateverTheChunking() {
        let text = "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
            + "POST /v1/logs HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nx-trailer: 1\r\n\r\n"
            + "GET / HTTP/1.0\r\n\r\n"
        for chunkSize in [1, 2, 7, 1000] {
            let parsed = requests(parse(text, chunkSize: chunkSize))
            #expect(parsed.map(\.head.target) == ["/v1/traces", "/v1/logs", "/"], "chunk size \(chunkSize)")
            #expect(parsed.map { String(decoding: $0.body, as: UTF8.self) } == ["hello", "abcde", ""])
            #expect(parsed.map(\.head.keepAlive) == [true, true, false])
            #expect(parsed.first?.head.headers.first == HTTPField("host", "x"))
        }
    }

    @Test func expectContinueIsReportedBeforeTheBody() {
        let events = parse("POST /v1/traces HTTP/1.1\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\n", chunkSize: .max)
        guard case .success(.continueExpected(let head))? = events.first else { Issue.record("\(events)"); return }
        #expect(head.target == "/v1/traces" && events.count == 1)
    }

    @Test(arguments: [
        ("GARBAGE\u{01}\r\n\r\n", 400),
        ("\u{16}\u{03}\u{01}\u{02}\u{00}", 400),  // a TLS ClientHello on the cleartext port
        ("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", 505),
        ("POST / HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\ncontent-length: -1\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\ncontent-length: 2000000\r\n\r\n", 413),
        ("POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nFFFFFFFFF\r\n", 413),
        ("POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", 400),
        ("POST / HTTP/1.1\r\nx: a\r\n folded\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nbad name: a\r\n\r\n", 400),
        ("POST / HTTP/1.1\nx: a\n\n", 400),
    ])
    func malformedRequestsFailWithTheRightStatus(text: String, status: Int) {
        let events = parse(text)
        guard case .failure(let error)? = events.last else { Issue.record("no error for \(text.debugDescription): \(events)"); return }
        #expect(error.status == status, "\(text.debugDescription): \(error.reason)")
    }

    @Test func aHeaderSectionPastTheLimitIs431EvenWithoutItsEnd() {
        let events = parse("POST / HTTP/1.1\r\nx: " + String(repeating: "a", count: 2000))
        guard case .failure(let error)? = events.last else { Issue.record("\(events)"); return }
        #expect(error.status == 431)
    }

    @Test func aPartialRequestIsVisibleForTheReadTimeout() throws {
        var parser = HTTP1RequestParser(maxBodyBytes: 100)
        #expect(!parser.hasPartialRequest)
        parser.feed(Array("POST / HTTP/1.1\r\ncontent-length: 3\r\n\r\nab".utf8))
        #expect(try parser.next() == nil)
        #expect(parser.hasPartialRequest)
        parser.feed(Array("c".utf8))
        #expect(try parser.next() != nil)
        #expect(!parser.hasPartialRequest)
    }

    @Test func detectionNeedsOnlyTheFirstDifferingByte() {
        func detect(_ text: String) -> ServerProtocolDetection { Array(text.utf8).withUnsafeBytes { ServerProtocolDetection.detect($0) } }
        #expect(detect("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") == .http2)
        #expect(detect("PRI * HTTP/2.0\r\n") == .needMoreBytes)
        #expect(detect("POST") == .http1)
        #expect(detect("PRI * HTTP/1.1") == .http1)
        #expect(detect("") == .needMoreBytes)
    }
}
