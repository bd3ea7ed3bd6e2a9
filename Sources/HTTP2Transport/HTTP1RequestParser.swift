// HTTP/1.1 request parsing (RFC 9112) for the server side, as a plain state machine fed with
// bytes: request line, header fields, then a body framed by Content-Length or chunked transfer
// coding. Every malformed or oversized input ends in an error naming the status to answer with.
import HTTPTransportCore

/// The head of an HTTP/1.x request.
struct HTTP1RequestHead: Sendable, Equatable {
    var method: String
    var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    var minorVersion: Int
    /// Header fields, names lower-cased.
    var headers: [HTTPField]
    /// Whether the connection stays open after the response (HTTP/1.1 without `Connection: close`,
    /// or HTTP/1.0 with `Connection: keep-alive`).
    var keepAlive: Bool
    /// `Expect: 100-continue`: the client waits for an interim response before the body.
    var expectsContinue: Bool
}

/// A complete request as parsed.
struct HTTP1ParsedRequest: Sendable, Equatable {
    var head: HTTP1RequestHead
    var body: [UInt8]
}

/// A request the parser refuses: the status to answer with (then close the connection).
struct HTTP1RequestError: Error, Sendable, Equatable {
    /// 400 malformed, 413 body too large, 431 header section too large, 501 unknown transfer
    /// coding, 505 unsupported version.
    var status: Int
    var reason: String
}

/// Parses HTTP/1.1 requests one after the other from a connection's bytes.
///
/// Feed bytes with ``feed(_:)``, then call ``next()`` until it returns `nil` (more bytes
/// needed). After an error the parser stays failed: answer with the error's status and close.
struct HTTP1RequestParser {
    /// What ``next()`` found.
    enum Event: Equatable {
        /// A head that asked for `100 Continue`; its body follows (the same request comes again
        /// as `.request` once complete).
        case continueExpected(HTTP1RequestHead)
        /// A complete request.
        case request(HTTP1ParsedRequest)
    }

    private enum State {
        case head
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case failed(HTTP1RequestError)
    }

    let maxHeaderBytes: Int
    let maxBodyBytes: Int
    private var state = State.head
    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var head: HTTP1RequestHead?
    private var body: [UInt8] = []
    private var trailerBytes = 0

    init(maxHeaderBytes: Int = 16 << 10, maxBodyBytes: Int) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }

    /// Whether part of a request has been received and not yet returned (a request in progress).
    var hasPartialRequest: Bool {
        if case .head = state { return readIndex < buffer.count }
        if case .failed = state { return false }
        return true
    }

    /// Adds received bytes.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        if readIndex > 0 && readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
        } else if readIndex > 64 << 10 && readIndex * 2 > buffer.count {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    mutating func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// The next event from the buffered bytes, `nil` if more bytes are needed.
    mutating func next() throws(HTTP1RequestError) -> Event? {
        while true {
            switch state {
            case .failed(let error):
                throw error
            case .head:
                guard let head = try parseHead() else { return nil }
                self.head = head
                body = []
                let framing = try bodyFraming(head)
                switch framing {
                case .none:
                    return .request(finish())
                case .length(let length):
                    body.reserveCapacity(length)
                    state = .fixedBody(remaining: length)
                case .chunked:
                    state = .chunkSize
                }
                if head.expectsContinue { return .continueExpected(head) }
            case .fixedBody(let remaining):
                let available = min(remaining, buffer.count - readIndex)
                if available > 0 {
                    body.append(contentsOf: buffer[readIndex..<(readIndex + available)])
                    readIndex += available
                }
                if remaining - available > 0 {
                    state = .fixedBody(remaining: remaining - available)
                    return nil
                }
                return .request(finish())
            case .chunkSize:
                guard let line = try takeLine(limit: 1024) else { return nil }
                // chunk-size [; extensions]
                var size = 0
                var digits = 0
                for byte in line {
                    guard let value = hexValue(byte) else {
                        if byte == UInt8(ascii: ";") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { break }
                        throw fail(400, "invalid chunk size")
                    }
                    digits += 1
                    guard digits <= 8 else { throw fail(413, "chunk size too large") }
                    size = size << 4 | value
                }
                guard digits > 0 else { throw fail(400, "invalid chunk size") }
                if size == 0 {
                    trailerBytes = 0
                    state = .trailers
                } else {
                    guard body.count + size <= maxBodyBytes else {
                        throw fail(413, "request body exceeds \(maxBodyBytes) bytes")
                    }
                    state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let available = min(remaining, buffer.count - readIndex)
                if available > 0 {
                    body.append(contentsOf: buffer[readIndex..<(readIndex + available)])
                    readIndex += available
                }
                if remaining - available > 0 {
                    state = .chunkData(remaining: remaining - available)
                    return nil
                }
                state = .chunkDataEnd
            case .chunkDataEnd:
                guard let line = try takeLine(limit: 2) else { return nil }
                guard line.isEmpty else { throw fail(400, "chunk data not followed by CRLF") }
                state = .chunkSize
            case .trailers:
                guard let line = try takeLine(limit: maxHeaderBytes) else { return nil }
                if line.isEmpty { return .request(finish()) }
                trailerBytes += line.count
                guard trailerBytes <= maxHeaderBytes else { throw fail(431, "trailer section too large") }
            }
        }
    }

    private mutating func fail(_ status: Int, _ reason: String) -> HTTP1RequestError {
        let error = HTTP1RequestError(status: status, reason: reason)
        state = .failed(error)
        return error
    }

    private mutating func finish() -> HTTP1ParsedRequest {
        let request = HTTP1ParsedRequest(head: head!, body: body)
        head = nil
        body = []
        state = .head
        return request
    }

    private func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 48...57: Int(byte - 48)
        case 65...70: Int(byte - 55)
        case 97...102: Int(byte - 87)
        default: nil
        }
    }

    /// The next CRLF-terminated line (without the CRLF), or nil if incomplete; a line longer than
    /// `limit` fails.
    private mutating func takeLine(limit: Int) throws(HTTP1RequestError) -> ArraySlice<UInt8>? {
        var index = readIndex
        let end = buffer.count
        while index < end {
            if buffer[index] == 10 {
                guard index > readIndex, buffer[index - 1] == 13 else { throw fail(400, "line not terminated by CRLF") }
                let line = buffer[readIndex..<(index - 1)]
                readIndex = index + 1
                return line
            }
            index += 1
            if index - readIndex > limit + 2 { throw fail(400, "line too long") }
        }
        if end - readIndex > limit + 2 { throw fail(400, "line too long") }
        return nil
    }

    private enum Framing { case none, length(Int), chunked }

    private mutating func bodyFraming(_ head: HTTP1RequestHead) throws(HTTP1RequestError) -> Framing {
        var contentLength: Int?
        var transferEncoding: String?
        for field in head.headers {
            switch field.name {
            case "content-length":
                let text = field.value
                guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let value = Int(text) else {
                    throw fail(400, "invalid Content-Length")
                }
                if let contentLength, contentLength != value { throw fail(400, "conflicting Content-Length") }
                contentLength = value
            case "transfer-encoding":
                transferEncoding = (transferEncoding.map { $0 + "," } ?? "") + field.value
            default:
                break
            }
        }
        if let transferEncoding {
            // A request with both is a smuggling attempt (RFC 9112 §6.1): refuse it.
            guard contentLength == nil else { throw fail(400, "both Transfer-Encoding and Content-Length") }
            let codings = transferEncoding.lowercased().split(separator: ",").map { $0.trimmingSpaces }
            guard codings == ["chunked"] else { throw fail(501, "unsupported transfer coding \(transferEncoding)") }
            return .chunked
        }
        guard let contentLength, contentLength > 0 else { return .none }
        guard contentLength <= maxBodyBytes else { throw fail(413, "request body of \(contentLength) bytes exceeds \(maxBodyBytes)") }
        return .length(contentLength)
    }

    /// Parses the request line and header section once the blank line has arrived.
    private mutating func parseHead() throws(HTTP1RequestError) -> HTTP1RequestHead? {
        // Tolerate empty lines before a request line (RFC 9112 §2.2).
        while buffer.count - readIndex >= 2 && buffer[readIndex] == 13 && buffer[readIndex + 1] == 10 { readIndex += 2 }
        let start = readIndex
        let end = buffer.count
        var terminator = -1
        var index = start
        while index + 3 < end {
            if buffer[index + 3] == 10 && buffer[index + 2] == 13 && buffer[index + 1] == 10 && buffer[index] == 13 {
                terminator = index
                break
            }
            index += 1
        }
        if terminator < 0 {
            guard end - start <= maxHeaderBytes else { throw fail(431, "request header section exceeds \(maxHeaderBytes) bytes") }
            // Reject obvious garbage early instead of waiting for a blank line that never comes.
            try checkRequestLinePrefix(buffer[start..<end])
            var index = start
            while index < end {
                if buffer[index] == 10 && (index == start || buffer[index - 1] != 13) { throw fail(400, "line not terminated by CRLF") }
                index += 1
            }
            return nil
        }
        guard terminator - start <= maxHeaderBytes else { throw fail(431, "request header section exceeds \(maxHeaderBytes) bytes") }
        // Every line of the section, the last included, ends in CRLF.
        let section = buffer[start..<(terminator + 2)]
        readIndex = terminator + 4
        var lines = section.split(separator: 10, omittingEmptySubsequences: true).makeIterator()
        guard let requestLine = lines.next() else { throw fail(400, "empty request") }
        guard requestLine.last == 13 else { throw fail(400, "request line not terminated by CRLF") }
        let requestLineText = requestLine.dropLast()
        let parts = requestLineText.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(isTokenByte), !parts[1].isEmpty,
              parts[1].allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw fail(400, "malformed request line")
        }
        let version = parts[2]
        guard version.count == 8, version.starts(with: "HTTP/".utf8) else { throw fail(400, "malformed HTTP version") }
        guard version[version.startIndex + 5] == UInt8(ascii: "1"), version[version.startIndex + 6] == UInt8(ascii: "."),
              let minor = [UInt8(ascii: "0"), UInt8(ascii: "1")].firstIndex(of: version[version.startIndex + 7]) else {
            throw fail(505, "HTTP version \(String(decoding: version, as: UTF8.self)) not supported")
        }
        var headers: [HTTPField] = []
        while let rawLine = lines.next() {
            guard rawLine.last == 13 else { throw fail(400, "header line not terminated by CRLF") }
            let line = rawLine.dropLast()
            guard let first = line.first, first != UInt8(ascii: " "), first != UInt8(ascii: "\t") else {
                throw fail(400, "obsolete line folding or empty header line")
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw fail(400, "header line without a colon") }
            let name = line[line.startIndex..<colon]
            guard !name.isEmpty, name.allSatisfy(isTokenByte) else { throw fail(400, "invalid header name") }
            var value = line[(colon + 1)...]
            while let byte = value.first, byte == 32 || byte == 9 { value = value.dropFirst() }
            while let byte = value.last, byte == 32 || byte == 9 { value = value.dropLast() }
            guard value.allSatisfy({ $0 == 9 || ($0 >= 32 && $0 != 127) }) else { throw fail(400, "invalid header value") }
            headers.append(HTTPField(String(decoding: name, as: UTF8.self).lowercased(), String(decoding: value, as: UTF8.self)))
        }
        let connection = headers.filter { $0.name == "connection" }.map { $0.value.lowercased() }.joined(separator: ",")
        let tokens = connection.split(separator: ",").map { $0.trimmingSpaces }
        let keepAlive = minor == 1 ? !tokens.contains("close") : tokens.contains("keep-alive")
        let expectsContinue = minor == 1 && headers.contains { $0.name == "expect" && $0.value.lowercased() == "100-continue" }
        return HTTP1RequestHead(method: String(decoding: parts[0], as: UTF8.self),
                                target: String(decoding: parts[1], as: UTF8.self),
                                minorVersion: minor, headers: headers, keepAlive: keepAlive, expectsContinue: expectsContinue)
    }

    /// Fails as soon as the bytes so far cannot begin a request line (a method token, then a space).
    private mutating func checkRequestLinePrefix(_ bytes: ArraySlice<UInt8>) throws(HTTP1RequestError) {
        var index = bytes.startIndex
        var count = 0
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: " ") {
                if count == 0 { throw fail(400, "malformed request line") }
                return
            }
            guard isTokenByte(byte), count < 32 else { throw fail(400, "malformed request line") }
            count += 1
            index += 1
        }
    }
}

/// RFC 9110 `tchar`.
private func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 48...57, 65...90, 97...122: true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
         UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
         UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
    default: false
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}

/// Which protocol a server connection speaks, from its first bytes.
enum ServerProtocolDetection: Equatable {
    case needMoreBytes
    /// The HTTP/2 client connection preface (prior knowledge, RFC 9113 §3.4).
    case http2
    /// Anything else: parsed as HTTP/1.x (which rejects garbage).
    case http1

    static let http2Preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    static func detect(_ bytes: UnsafeRawBufferPointer) -> ServerProtocolDetection {
        let count = min(bytes.count, http2Preface.count)
        for index in 0..<count where bytes[index] != http2Preface[index] { return .http1 }
        return count == http2Preface.count ? .http2 : .needMoreBytes
    }
}
