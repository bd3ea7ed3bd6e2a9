// One accepted connection of an HTTPServer, driven by the server's I/O thread: protocol
// detection from the first bytes, then HTTP/1.1 (HTTP1RequestParser) or HTTP/2 (nghttp2 server
// session). Every method runs on that thread.
import CNGHTTP2
import HTTPTransportCore
import OTLPSync
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/2 request stream on the server.
final class ServerStream {
    let id: Int32
    let startedAt: UInt64
    var method = ""
    var path = ""
    var headers: [HTTPField] = []
    var body: [UInt8] = []
    var headerBytes = 0
    /// The whole request (END_STREAM) has arrived.
    var requestComplete = false
    /// Answered early with an error (oversized); the rest of its body is discarded.
    var rejected = false
    var responseBody: [UInt8] = []
    var responseOffset = 0
    var responseTrailers: [HTTPField] = []

    init(id: Int32, startedAt: UInt64) {
        self.id = id
        self.startedAt = startedAt
    }

    var isGRPC: Bool { headers.contains { $0.name == "content-type" && $0.value.hasPrefix("application/grpc") } }
}

final class HTTPServerConnection {
    private unowned let loop: ServerLoop
    private let socket: SocketHandle
    let id: Int

    private enum Mode { case detecting, http1, http2 }
    private var mode = Mode.detecting
    private var detectBuffer: [UInt8] = []
    private var parser: HTTP1RequestParser
    private var session: NGHTTP2Session?
    private var tls: ServerTLSSession?
    /// The TLS handshake waits for the socket to be writable.
    private var handshakeWantsWrite = false
    private var streams: [Int32: ServerStream] = [:]
    private let output = ByteBuffer(capacity: 16 << 10)
    private var lastActivity: UInt64
    private var lastWriteProgress: UInt64
    /// When the request in progress (HTTP/1.1 or before detection) began.
    private var requestStartedAt: UInt64?
    private var closeAfterFlush = false
    private var closeNow = false
    private var peerClosed = false
    /// After an HTTP/1.1 error answer: our side is shut down for writing and the client's
    /// remaining bytes are read and dropped until it closes or this time passes, so that a client
    /// still sending its body reads the answer instead of a reset (a lingering close).
    private var lingerUntil: UInt64?
    private var lingerDiscarded = 0
    private static let lingerTime: UInt64 = 2_000_000_000
    private static let maxLingerBytes = 64 << 20
    private var misbehaviourCounted = false
    /// An HTTP/1.1 response held back by its delay; nothing after it is parsed meanwhile.
    private var http1Pending: (deadline: UInt64, response: HTTPServerResponse, keepAlive: Bool)?
    /// HTTP/2 responses held back by their delay.
    private var delayed: [(deadline: UInt64, streamID: Int32, response: HTTPServerResponse)] = []
    /// Reused for building header vectors.
    private var headerBytes: [UInt8] = []
    /// Request-body buffers of answered HTTP/2 requests, reused for the next bodies (at most
    /// `maxSpareBodyBytes` of capacity). A fresh buffer of each request's size made the allocator
    /// hand the memory back to the kernel and fault it in again on every request: at 100 KB
    /// requests that cost more CPU than validating them.
    private var spareBodies: [[UInt8]] = []
    private var spareBodyBytes = 0
    private static let maxSpareBodyBytes = 8 << 20
    /// Smaller bodies are allocated as they come.
    private static let minSpareBodyBytes = 16 << 10

    private static let maxBufferedOutput = 1 << 20
    private let timeouts: ServerConnectionTimeouts

    init(loop: ServerLoop, fd: Int32, id: Int, now: UInt64) {
        self.loop = loop
        socket = SocketHandle(fd: fd)
        self.id = id
        parser = HTTP1RequestParser(maxHeaderBytes: loop.configuration.maxHeaderListBytes,
                                    maxBodyBytes: loop.configuration.maxRequestBodyBytes)
        lastActivity = now
        lastWriteProgress = now
        timeouts = ServerConnectionTimeouts(requestReadTimeout: loop.configuration.requestReadTimeout,
                                            idleTimeout: loop.configuration.idleTimeout)
    }

    var fd: Int32 { socket.fd }

    var wantsRead: Bool {
        if lingerUntil != nil { return !peerClosed }
        return !closeNow && !closeAfterFlush && !peerClosed && http1Pending == nil && output.readableBytes < Self.maxBufferedOutput
    }

    var wantsWrite: Bool { !closeNow && (output.readableBytes > 0 || handshakeWantsWrite) }

    /// Serves the connection over TLS; the handshake must finish within the request read timeout.
    func startTLS(_ context: ServerTLSContext) throws(TransportError) {
        tls = try ServerTLSSession(context: context, fd: socket.fd)
        requestStartedAt = lastActivity
    }

    /// Advances the handshake; false while it is not done (or has failed).
    private func handshake() -> Bool {
        guard let tls, !tls.handshakeDone else { return true }
        do throws(TransportError) {
            switch try tls.handshakeStep() {
            case nil:
                handshakeWantsWrite = false
                requestStartedAt = nil
                return true
            case .wantWrite?:
                handshakeWantsWrite = true
            default:
                handshakeWantsWrite = false
            }
        } catch {
            countMisbehaviour { $0.tlsHandshakeFailures += 1 }
            closeNow = true
        }
        return false
    }

    private func readSome() -> IOResult? {
        if let tls {
            do throws(TransportError) { return try tls.read(into: loop.input, count: loop.inputCapacity) } catch { return nil }
        }
        while true {
            let n = recv(socket.fd, loop.input, loop.inputCapacity, 0)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .closed }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return .wantRead }
            return nil
        }
    }

    private func writeSome(_ pointer: UnsafeRawPointer, count: Int) -> IOResult? {
        if let tls {
            do throws(TransportError) { return try tls.write(from: pointer, count: count) } catch { return nil }
        }
        while true {
            let n = send(socket.fd, pointer, count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .bytes(n) }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return .wantWrite }
            return nil
        }
    }

    var isFinished: Bool {
        if closeNow || socket.fd < 0 { return true }
        if output.readableBytes > 0 { return false }
        if closeAfterFlush {
            guard let lingerUntil else { return true }
            return peerClosed || monotonicNanos() >= lingerUntil
        }
        if let session = session?.session {
            if peerClosed { return true }
            return nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0
        }
        return peerClosed && http1Pending == nil
    }

    /// The next time `tick` has something to do.
    var nextDeadline: UInt64? { timeouts.nextDeadline(timeState) }

    /// The state the time rules look at.
    private var timeState: ServerConnectionTimeouts.State {
        ServerConnectionTimeouts.State(
            lastActivity: lastActivity, lastWriteProgress: lastWriteProgress, hasPendingOutput: output.readableBytes > 0,
            requestStartedAt: http1Pending == nil ? requestStartedAt : nil,
            oldestIncompleteStreamStart: streams.values.lazy.filter { !$0.requestComplete && !$0.rejected }.map(\.startedAt).min(),
            hasOpenRequests: !streams.isEmpty || !delayed.isEmpty || http1Pending != nil,
            nextDelayedAnswer: min(delayed.lazy.map(\.deadline).min() ?? .max, http1Pending?.deadline ?? .max).nilIfMax,
            lingerUntil: lingerUntil)
    }

    func close() {
        if socket.fd >= 0 { tls?.shutdown() }
        tls = nil
        session = nil
        streams.removeAll()
        socket.close()
    }

    private func countMisbehaviour(_ update: (inout HTTPServerStatistics) -> Void) {
        guard !misbehaviourCounted else { return }
        misbehaviourCounted = true
        loop.count(update)
    }

    // MARK: Reading

    func readAvailable() {
        guard !closeNow, socket.fd >= 0 else { return }
        if lingerUntil != nil { discardWhileLingering(); return }
        guard handshake() else { return }
        for _ in 0..<32 {
            switch readSome() {
            case .bytes(let n)?:
                lastActivity = monotonicNanos()
                process(UnsafeRawBufferPointer(start: loop.input, count: n))
                if closeNow || closeAfterFlush || http1Pending != nil { return }
                // Cleartext: a short read drained the socket. TLS reads one record at a time.
                if tls == nil && n < loop.inputCapacity { return }
            case .closed?:
                peerClosed = true
                return
            case .wantRead?, .wantWrite?:
                return
            case nil:
                closeNow = true
                return
            }
        }
    }

    private func process(_ bytes: UnsafeRawBufferPointer) {
        switch mode {
        case .detecting:
            detectBuffer.append(contentsOf: bytes)
            let detected = detectBuffer.withUnsafeBytes { ServerProtocolDetection.detect($0) }
            switch detected {
            case .needMoreBytes:
                if requestStartedAt == nil { requestStartedAt = monotonicNanos() }
            case .http2:
                mode = .http2
                requestStartedAt = nil
                let buffered = detectBuffer
                detectBuffer = []
                startHTTP2()
                buffered.withUnsafeBytes { feedHTTP2($0) }
            case .http1:
                mode = .http1
                parser.feed(detectBuffer)
                detectBuffer = []
                serviceHTTP1()
            }
        case .http1:
            parser.feed(bytes)
            serviceHTTP1()
        case .http2:
            feedHTTP2(bytes)
        }
    }

    // MARK: HTTP/1.1

    private func serviceHTTP1() {
        while http1Pending == nil && !closeAfterFlush && !closeNow {
            let event: HTTP1RequestParser.Event
            do throws(HTTP1RequestError) {
                guard let next = try parser.next() else { break }
                event = next
            } catch {
                switch error.status {
                case 413: countMisbehaviour { $0.oversizedRequests += 1 }
                case 431: countMisbehaviour { $0.oversizedHeaders += 1 }
                default: countMisbehaviour { $0.protocolErrors += 1 }
                }
                writeHTTP1(HTTPServerResponse(status: error.status, headers: [HTTPField("content-type", "text/plain")],
                                              body: Array((error.reason + "\n").utf8)), keepAlive: false)
                closeAfterFlush = true
                requestStartedAt = nil
                return
            }
            switch event {
            case .continueExpected:
                appendOutput("HTTP/1.1 100 Continue\r\n\r\n")
            case .request(let parsed):
                loop.count { $0.requests += 1 }
                let request = HTTPServerRequest(method: parsed.head.method, path: parsed.head.target, headers: parsed.head.headers,
                                                body: parsed.body, httpProtocol: .http1, connectionID: id)
                let response = loop.handler(request)
                if let delay = response.delay, delay > .zero {
                    http1Pending = (monotonicNanos() &+ delay.nanoseconds, response, parsed.head.keepAlive)
                } else {
                    applyHTTP1(response, keepAlive: parsed.head.keepAlive)
                }
            }
        }
        if http1Pending == nil && parser.hasPartialRequest {
            if requestStartedAt == nil { requestStartedAt = monotonicNanos() }
        } else {
            requestStartedAt = nil
        }
    }

    private func applyHTTP1(_ response: HTTPServerResponse, keepAlive: Bool) {
        switch response.disposition {
        case .closeConnection, .goAway:
            closeNow = true
        case .respond:
            writeHTTP1(response, keepAlive: keepAlive)
            if !keepAlive { closeAfterFlush = true }
        }
    }

    private func writeHTTP1(_ response: HTTPServerResponse, keepAlive: Bool) {
        var head = "HTTP/1.1 \(response.status) \(Self.reasonPhrase(response.status))\r\n"
        for field in response.headers where field.name.lowercased() != "content-length" && field.name.lowercased() != "connection" {
            head += "\(field.name): \(field.value)\r\n"
        }
        head += "content-length: \(response.body.count)\r\n"
        if !keepAlive { head += "connection: close\r\n" }
        head += "\r\n"
        appendOutput(head)
        response.body.withUnsafeBytes { if let base = $0.baseAddress { output.append(base, count: $0.count) } }
    }

    private func appendOutput(_ text: String) {
        var text = text
        text.withUTF8 { output.append($0.baseAddress!, count: $0.count) }
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 202: "Accepted"
        case 204: "No Content"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Status"
        }
    }

    // MARK: HTTP/2

    private func startHTTP2() {
        let configuration = loop.configuration
        do throws(TransportError) {
            let session = try NGHTTP2Session(.server, callbacks: .server, owner: self)
            self.session = session
            try session.start(settings: [
                nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                                       value: UInt32(clamping: configuration.maxConcurrentStreams)),
                nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                                       value: UInt32(clamping: configuration.initialStreamWindow)),
                nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
                                       value: UInt32(clamping: configuration.maxHeaderListBytes)),
                nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES.rawValue), value: 1),
            ], connectionWindow: Int32(clamping: configuration.connectionWindow))
        } catch {
            closeNow = true
        }
    }

    private func feedHTTP2(_ bytes: UnsafeRawBufferPointer) {
        guard let session = session?.session, bytes.count > 0 else { return }
        let rc = nghttp2_session_mem_recv(session, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count)
        if rc < 0 {
            // Fatal for the session (flood, bad client magic, callback failure): nghttp2 queued a
            // GOAWAY where it could; send it and close.
            countMisbehaviour { $0.protocolErrors += 1 }
            closeAfterFlush = true
        }
    }

    func beginStream(_ streamID: Int32) {
        streams[streamID] = ServerStream(id: streamID, startedAt: monotonicNanos())
    }

    func receivedHeader(_ streamID: Int32, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let stream = streams[streamID] else { return true }
        stream.headerBytes += name.count + value.count + 32
        if stream.headerBytes > loop.configuration.maxHeaderListBytes {
            // nghttp2 does not enforce our SETTINGS_MAX_HEADER_LIST_SIZE: reset the stream.
            if !stream.rejected { loop.count { $0.oversizedHeaders += 1 } }
            stream.rejected = true
            return false
        }
        if name.first == UInt8(ascii: ":") {
            if name.elementsEqual(":method".utf8) { stream.method = String(decoding: value, as: UTF8.self) }
            else if name.elementsEqual(":path".utf8) { stream.path = String(decoding: value, as: UTF8.self) }
            return true
        }
        stream.headers.append(HTTPField(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        return true
    }

    func receivedData(_ streamID: Int32, _ data: UnsafeBufferPointer<UInt8>) {
        guard let stream = streams[streamID], !stream.rejected else { return }
        let limit = loop.configuration.maxRequestBodyBytes
        if stream.body.count + data.count > limit {
            loop.count { $0.oversizedRequests += 1 }
            stream.rejected = true
            stream.body = []
            let response: HTTPServerResponse
            if stream.isGRPC {
                response = HTTPServerResponse(status: 200, headers: [HTTPField("content-type", "application/grpc")], trailers: [
                    HTTPField("grpc-status", "8"),
                    HTTPField("grpc-message", "request message larger than \(limit) bytes"),
                ])
            } else {
                response = HTTPServerResponse(status: 413, headers: [HTTPField("content-type", "text/plain")],
                                              body: Array("request body larger than \(limit) bytes\n".utf8))
            }
            submitResponse(stream, response)
            return
        }
        if stream.body.isEmpty {
            // Room for the whole body up front (within the limit): from content-length, or from a
            // gRPC message's length prefix; growing by doubling copied large bodies several times.
            var expected = data.count
            if let text = stream.headers.first(where: { $0.name == "content-length" })?.value, let length = Int(text) {
                expected = max(expected, length)
            } else if data.count >= 5 && stream.isGRPC {
                let length = Int(data[1]) << 24 | Int(data[2]) << 16 | Int(data[3]) << 8 | Int(data[4])
                expected = max(expected, 5 + length)
            }
            stream.body = takeBodyBuffer(capacity: min(expected, limit))
        }
        stream.body.append(contentsOf: data)
    }

    func requestComplete(_ streamID: Int32) {
        guard let stream = streams[streamID] else { return }
        stream.requestComplete = true
        guard !stream.rejected else { return }
        loop.count { $0.requests += 1 }
        var body = stream.body
        stream.body = []
        let response: HTTPServerResponse = {
            let request = HTTPServerRequest(method: stream.method, path: stream.path, headers: stream.headers, body: body,
                                            httpProtocol: .http2, connectionID: id)
            return loop.handler(request)
        }()
        recycleBodyBuffer(&body)
        if let delay = response.delay, delay > .zero {
            delayed.append((monotonicNanos() &+ delay.nanoseconds, streamID, response))
        } else {
            applyHTTP2(stream, response)
        }
    }

    /// An empty buffer with room for `capacity` bytes: a spare one when one is large enough.
    private func takeBodyBuffer(capacity: Int) -> [UInt8] {
        if capacity >= Self.minSpareBodyBytes, let index = spareBodies.lastIndex(where: { $0.capacity >= capacity }) {
            let buffer = spareBodies.remove(at: index)
            spareBodyBytes -= buffer.capacity
            return buffer
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(capacity)
        return buffer
    }

    /// Keeps an answered request's body buffer for a later body, within the spare budget.
    private func recycleBodyBuffer(_ body: inout [UInt8]) {
        let capacity = body.capacity
        guard capacity >= Self.minSpareBodyBytes, spareBodyBytes + capacity <= Self.maxSpareBodyBytes else { return }
        // Keeps the storage when nothing else holds it (a handler that kept the body gets its own).
        body.removeAll(keepingCapacity: true)
        spareBodyBytes += body.capacity
        spareBodies.append(body)
        body = []
    }

    private func applyHTTP2(_ stream: ServerStream, _ response: HTTPServerResponse) {
        guard let session = session?.session else { return }
        switch response.disposition {
        case .closeConnection:
            closeNow = true
        case .goAway:
            _ = nghttp2_session_terminate_session2(session, max(stream.id - 2, 0), NGHTTP2_NO_ERROR.rawValue)
        case .respond:
            submitResponse(stream, response)
        }
    }

    private func submitResponse(_ stream: ServerStream, _ response: HTTPServerResponse) {
        guard let session = session?.session else { return }
        var fields = [HTTPField(":status", String(response.status))]
        for field in response.headers { fields.append(HTTPField(field.name.lowercased(), field.value)) }
        let hasBody = !response.body.isEmpty
        if hasBody {
            stream.responseBody = response.body
            stream.responseOffset = 0
            stream.responseTrailers = response.trailers
        } else {
            for field in response.trailers { fields.append(HTTPField(field.name.lowercased(), field.value)) }
        }
        let rc = withHeaderVector(fields) { nva, count -> Int32 in
            if hasBody {
                var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: nghttp2ReadResponseBody)
                return nghttp2_submit_response(session, stream.id, nva, count, &provider)
            }
            return nghttp2_submit_response(session, stream.id, nva, count, nil)
        }
        if rc != 0 {
            _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.id, NGHTTP2_INTERNAL_ERROR.rawValue)
        }
    }

    /// Calls `body` with an `nghttp2_nv` array for `fields`, valid during the call (nghttp2 copies).
    private func withHeaderVector(_ fields: [HTTPField], _ body: (UnsafePointer<nghttp2_nv>, Int) -> Int32) -> Int32 {
        headerBytes.removeAll(keepingCapacity: true)
        var offsets: [(Int, Int, Int, Int)] = []
        offsets.reserveCapacity(fields.count)
        for field in fields {
            let nameStart = headerBytes.count
            headerBytes.append(contentsOf: field.name.utf8)
            let valueStart = headerBytes.count
            headerBytes.append(contentsOf: field.value.utf8)
            offsets.append((nameStart, valueStart - nameStart, valueStart, headerBytes.count - valueStart))
        }
        return headerBytes.withUnsafeMutableBufferPointer { raw -> Int32 in
            let base = raw.baseAddress ?? UnsafeMutablePointer<UInt8>(bitPattern: 1)!
            var vector: [nghttp2_nv] = []
            vector.reserveCapacity(offsets.count)
            for (nameStart, nameCount, valueStart, valueCount) in offsets {
                vector.append(nghttp2_nv(name: base + nameStart, value: base + valueStart, namelen: nameCount, valuelen: valueCount,
                                         flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
            }
            return vector.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
        }
    }

    func readResponseBody(_ streamID: Int32, into buffer: UnsafeMutablePointer<UInt8>, capacity: Int,
                          flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard let stream = streams[streamID] else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
        let count = min(stream.responseBody.count - stream.responseOffset, capacity)
        if count > 0 {
            stream.responseBody.withUnsafeBufferPointer { source in
                buffer.update(from: source.baseAddress! + stream.responseOffset, count: count)
            }
            stream.responseOffset += count
        }
        if stream.responseOffset >= stream.responseBody.count {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            if !stream.responseTrailers.isEmpty, let session = session?.session {
                flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
                let trailers = stream.responseTrailers.map { HTTPField($0.name.lowercased(), $0.value) }
                let rc = withHeaderVector(trailers) { nva, count in nghttp2_submit_trailer(session, streamID, nva, count) }
                if rc != 0 { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
            }
        }
        return count
    }

    /// Our END_STREAM went out. If the client is still sending (an early error answer), reset
    /// the stream with NO_ERROR so it stops (RFC 9113 §8.1).
    func sentEndStream(_ streamID: Int32) {
        guard let stream = streams[streamID], let session = session?.session else { return }
        if !stream.requestComplete {
            _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, NGHTTP2_NO_ERROR.rawValue)
        }
    }

    func sentGoAway(errorCode: UInt32) {
        if errorCode != NGHTTP2_NO_ERROR.rawValue { countMisbehaviour { $0.protocolErrors += 1 } }
    }

    func streamClosed(_ streamID: Int32) {
        streams.removeValue(forKey: streamID)
    }

    // MARK: Timers and writing

    func tick(now: UInt64) {
        guard !closeNow, lingerUntil == nil else { return }
        if !delayed.isEmpty {
            var index = 0
            while index < delayed.count {
                let entry = delayed[index]
                if entry.deadline <= now {
                    delayed.remove(at: index)
                    if let stream = streams[entry.streamID] { applyHTTP2(stream, entry.response) }
                } else {
                    index += 1
                }
            }
        }
        if let pending = http1Pending, pending.deadline <= now {
            http1Pending = nil
            applyHTTP1(pending.response, keepAlive: pending.keepAlive)
            serviceHTTP1()
        }
        switch timeouts.expiry(timeState, now: now) {
        case .none, .lingerOver:
            break
        case .slowRequest:
            countMisbehaviour { $0.slowRequestTimeouts += 1 }
            if mode == .http1 {
                writeHTTP1(HTTPServerResponse(status: 408, body: Array("request not complete in time\n".utf8)), keepAlive: false)
                closeAfterFlush = true
                flush()
            }
            terminateHTTP2(errorCode: NGHTTP2_ENHANCE_YOUR_CALM.rawValue)
            closeNow = true
        case .idle:
            loop.count { $0.idleTimeouts += 1 }
            terminateHTTP2(errorCode: NGHTTP2_NO_ERROR.rawValue)
            closeNow = true
        }
    }

    /// Best effort: a GOAWAY written now, before the connection is closed.
    private func terminateHTTP2(errorCode: UInt32) {
        guard let session = session?.session else { return }
        _ = nghttp2_session_terminate_session(session, errorCode)
        flush()
    }

    func flush() {
        flushOutput()
        if closeAfterFlush && output.readableBytes == 0 && lingerUntil == nil && !closeNow && !peerClosed
            && tls == nil && session == nil && socket.fd >= 0 && shutdown(socket.fd, Int32(SHUT_WR)) == 0 {
            lingerUntil = monotonicNanos() &+ Self.lingerTime
        }
    }

    private func discardWhileLingering() {
        while true {
            let n = recv(socket.fd, loop.input, loop.inputCapacity, 0)
            if n > 0 {
                lingerDiscarded += n
                if lingerDiscarded > Self.maxLingerBytes { closeNow = true; return }
                continue
            }
            if n == 0 { peerClosed = true; return }
            if errno == EINTR { continue }
            if errno != EAGAIN && errno != EWOULDBLOCK { closeNow = true }
            return
        }
    }

    private func flushOutput() {
        guard !closeNow, socket.fd >= 0 else { return }
        if handshakeWantsWrite { _ = handshake() }
        if let tls, !tls.handshakeDone { return }
        while true {
            if let session = session?.session {
                while output.readableBytes < Self.maxBufferedOutput {
                    var pointer: UnsafePointer<UInt8>?
                    let n = nghttp2_session_mem_send(session, &pointer)
                    if n < 0 { closeNow = true; return }
                    if n == 0 { break }
                    output.append(pointer!, count: n)
                }
            }
            if output.readableBytes == 0 { return }
            while output.readableBytes > 0 {
                switch writeSome(output.readPointer, count: output.readableBytes) {
                case .bytes(let n)? where n > 0:
                    output.consume(n)
                    lastWriteProgress = monotonicNanos()
                case .wantRead?, .wantWrite?:
                    return
                default:
                    closeNow = true
                    return
                }
            }
            guard let session = session?.session, nghttp2_session_want_write(session) != 0 else { return }
        }
    }
}

extension UInt64 {
    fileprivate var nilIfMax: UInt64? { self == .max ? nil : self }
}
