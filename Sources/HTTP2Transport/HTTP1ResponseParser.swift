// HTTP/1.1 response parsing (RFC 9112) as a plain state machine fed with bytes: status line,
// header fields, then a body framed by Content-Length, chunked transfer coding, or the close.
import HTTPTransportCore

/// Parses one HTTP/1.1 response. Feed bytes with ``feed(_:)`` until it returns a response;
/// ``finishAtEOF()`` completes a body delimited by the connection's close.
struct HTTP1ResponseParser {
    enum State {
        case head
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case done
    }

    let maxHeaderBytes: Int
    let maxBodyBytes: Int
    let isHeadRequest: Bool
    private(set) var state = State.head
    private var buffer: [UInt8] = []
    private var status = 0
    private var headers: [HTTPField] = []
    private var body: [UInt8] = []
    /// Whether the server said `Connection: close` (or spoke HTTP/1.0 without keep-alive).
    private(set) var closeAfter = false

    init(maxHeaderBytes: Int = 64 << 10, maxBodyBytes: Int, isHeadRequest: Bool = false) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
        self.isHeadRequest = isHeadRequest
    }

    /// Bytes received after the complete response (a well-behaved server sends none).
    var leftoverBytes: Int { buffer.count }

    /// Whether any byte of a response has been seen.
    var hasStarted: Bool { status != 0 || !buffer.isEmpty }

    /// Adds received bytes; returns the response once it is complete.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> HTTP2Response? {
        buffer.append(contentsOf: bytes)
        return try advance()
    }

    mutating func feed(_ bytes: [UInt8]) throws(TransportError) -> HTTP2Response? {
        buffer.append(contentsOf: bytes)
        return try advance()
    }

    /// The peer closed the connection: completes a close-delimited body, else fails.
    mutating func finishAtEOF() throws(TransportError) -> HTTP2Response {
        if case .untilClose = state {
            state = .done
            return HTTP2Response(status: status, headers: headers, body: body)
        }
        throw TransportError(.connectionClosed, hasStarted ? "connection closed in the middle of a response"
                                                           : "connection closed before a response")
    }

    private func protocolError(_ text: String) -> TransportError {
        TransportError(.protocolError, "HTTP/1.1: \(text)", isRetryable: false)
    }

    /// Index just past the next CRLF (or bare LF) in `buffer` from `from`, with the line's end.
    private func lineEnd(from: Int) -> (lineEnd: Int, next: Int)? {
        var i = from
        while i < buffer.count {
            if buffer[i] == 10 {
                let end = i > from && buffer[i - 1] == 13 ? i - 1 : i
                return (end, i + 1)
            }
            i += 1
        }
        return nil
    }

    private mutating func appendBody(_ slice: ArraySlice<UInt8>) throws(TransportError) {
        if body.count + slice.count > maxBodyBytes {
            throw TransportError(.responseTooLarge, "response body larger than \(maxBodyBytes) bytes", isRetryable: false)
        }
        body.append(contentsOf: slice)
    }

    private mutating func advance() throws(TransportError) -> HTTP2Response? {
        var position = 0
        defer { if position > 0 { buffer.removeFirst(position) } }
        while true {
            switch state {
            case .head:
                // Find the blank line ending the head.
                var cursor = position
                var lines: [ArraySlice<UInt8>] = []
                var complete = false
                while let (end, next) = lineEnd(from: cursor) {
                    if end == cursor { cursor = next; complete = true; break }
                    lines.append(buffer[cursor..<end])
                    cursor = next
                }
                if !complete {
                    if buffer.count - position > maxHeaderBytes {
                        throw TransportError(.headerListTooLarge, "response head larger than \(maxHeaderBytes) bytes", isRetryable: false)
                    }
                    return nil
                }
                if cursor - position > maxHeaderBytes {
                    throw TransportError(.headerListTooLarge, "response head larger than \(maxHeaderBytes) bytes", isRetryable: false)
                }
                position = cursor
                guard let statusLine = lines.first else { throw protocolError("empty status line") }
                let parts = statusLine.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: false)
                guard parts.count >= 2, parts[0].starts(with: Array("HTTP/1.".utf8)), parts[0].count == 8,
                      parts[1].count == 3, parts[1].allSatisfy({ $0 >= 48 && $0 <= 57 }),
                      let code = Int(String(decoding: parts[1], as: UTF8.self)), code >= 100 else {
                    throw protocolError("malformed status line '\(String(decoding: statusLine.prefix(80), as: UTF8.self))'")
                }
                let isHTTP10 = parts[0].last == UInt8(ascii: "0")
                var fields: [HTTPField] = []
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else {
                        throw protocolError("malformed header line")
                    }
                    let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
                    guard name.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else { throw protocolError("malformed header name") }
                    let value = String(decoding: line[(colon + 1)...], as: UTF8.self)
                    fields.append(HTTPField(name, value.trimmingCharacters(" \t")))
                }
                if (100..<200).contains(code) { continue }  // interim response: skip it, read the next head
                status = code
                headers = fields
                let connection = fields.filter { $0.name == "connection" }.map { $0.value.lowercased() }
                closeAfter = connection.contains { $0.contains("close") } || (isHTTP10 && !connection.contains { $0.contains("keep-alive") })
                let transferEncoding = fields.first { $0.name == "transfer-encoding" }?.value.lowercased()
                let lengths = Set(fields.filter { $0.name == "content-length" }.map(\.value))
                if isHeadRequest || code == 204 || code == 304 {
                    state = .fixedBody(remaining: 0)
                } else if let transferEncoding {
                    guard transferEncoding.hasSuffix("chunked") else {
                        closeAfter = true
                        state = .untilClose
                        continue
                    }
                    state = .chunkSize
                } else if let lengthText = lengths.first {
                    // 1*DIGIT (RFC 9110 §8.6): `Int(_:)` alone would also take a sign.
                    guard lengths.count == 1, !lengthText.isEmpty, lengthText.utf8.count <= 18,
                          lengthText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let length = Int(lengthText) else {
                        throw protocolError("invalid Content-Length")
                    }
                    if length > maxBodyBytes {
                        throw TransportError(.responseTooLarge, "response body of \(length) bytes exceeds \(maxBodyBytes)", isRetryable: false)
                    }
                    state = .fixedBody(remaining: length)
                } else {
                    closeAfter = true
                    state = .untilClose
                }
            case .fixedBody(let remaining):
                let take = min(remaining, buffer.count - position)
                try appendBody(buffer[position..<(position + take)])
                position += take
                if remaining - take > 0 { state = .fixedBody(remaining: remaining - take); return nil }
                state = .done
                return HTTP2Response(status: status, headers: headers, body: body)
            case .chunkSize:
                guard let (end, next) = lineEnd(from: position) else {
                    if buffer.count - position > 1024 { throw protocolError("chunk size line too long") }
                    return nil
                }
                let line = buffer[position..<end]
                let sizeText = line.prefix { $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: " ") }
                // 1*HEXDIG (RFC 9112 §7.1): `Int(_:radix:)` alone would also take a sign.
                guard !sizeText.isEmpty, sizeText.count <= 15, sizeText.allSatisfy(\.isHexDigitASCII),
                      let size = Int(String(decoding: sizeText, as: UTF8.self), radix: 16) else {
                    throw protocolError("invalid chunk size")
                }
                position = next
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let take = min(remaining, buffer.count - position)
                try appendBody(buffer[position..<(position + take)])
                position += take
                if remaining - take > 0 { state = .chunkData(remaining: remaining - take); return nil }
                state = .chunkDataEnd
            case .chunkDataEnd:
                guard let (end, next) = lineEnd(from: position) else {
                    if buffer.count - position > 2 { throw protocolError("missing CRLF after chunk") }
                    return nil
                }
                guard end == position else { throw protocolError("missing CRLF after chunk") }
                position = next
                state = .chunkSize
            case .trailers:
                guard let (end, next) = lineEnd(from: position) else {
                    if buffer.count - position > maxHeaderBytes { throw protocolError("trailers too large") }
                    return nil
                }
                let lineStart = position
                position = next
                if end == lineStart {  // an empty line ends the trailers
                    state = .done
                    return HTTP2Response(status: status, headers: headers, body: body)
                }
            case .untilClose:
                try appendBody(buffer[position...])
                position = buffer.count
                return nil
            case .done:
                if position < buffer.count { closeAfter = true }  // unexpected extra bytes: don't reuse
                return nil
            }
        }
    }
}

extension UInt8 {
    var isHexDigitASCII: Bool { (48...57).contains(self) || (65...70).contains(self) || (97...102).contains(self) }
}

extension String {
    func trimmingCharacters(_ set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
