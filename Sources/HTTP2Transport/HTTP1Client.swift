// A small HTTP/1.1 client with keep-alive for OTLP/HTTP on cleartext endpoints, on the
// transport's socket layer. Each request runs on a Dispatch worker with blocking, deadline-bound
// poll()/read()/write(); idle connections are kept for reuse.
import OTLPSync
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Configuration of an ``HTTP1Client``.
public struct HTTP1ClientConfiguration: Sendable, Hashable {
    /// Where to connect. Must be `http://` (cleartext); for `https://` use `HTTP2Client` (ALPN h2).
    public var endpoint: Endpoint
    /// Deadline for DNS + TCP connect. Default 10 s.
    public var connectTimeout: Duration
    /// Maximum response body. Default 4 MiB.
    public var maxResponseBodyBytes: Int
    /// Maximum response head (status line + header fields). Default 64 KiB.
    public var maxHeaderBytes: Int
    /// Idle keep-alive connections kept for reuse. Default 4.
    public var maxIdleConnections: Int
    /// `user-agent` header value.
    public var userAgent: String

    public init(endpoint: Endpoint, connectTimeout: Duration = .seconds(10), maxResponseBodyBytes: Int = 4 << 20,
                maxHeaderBytes: Int = 64 << 10, maxIdleConnections: Int = 4, userAgent: String = "swift-otlp/0.1") {
        self.endpoint = endpoint
        self.connectTimeout = connectTimeout
        self.maxResponseBodyBytes = maxResponseBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxIdleConnections = maxIdleConnections
        self.userAgent = userAgent
    }
}

/// One HTTP/1.1 connection (used by one request at a time).
final class HTTP1Connection: @unchecked Sendable {
    // Only ever used by the one request that took it out of the pool.
    let socket: SocketHandle
    private(set) var requestsServed = 0

    init(socket: SocketHandle) { self.socket = socket }

    /// Waits until `fd` is ready for `events` or the deadline passes.
    private func wait(_ events: Int16, deadline: UInt64?) throws(TransportError) {
        var pfd = pollfd(fd: socket.fd, events: events, revents: 0)
        while true {
            let now = monotonicNanos()
            if let deadline, now >= deadline { throw TransportError(.deadlineExceeded, "HTTP/1.1 request timed out") }
            let n = poll(&pfd, 1, pollTimeout(until: deadline, now: now, cap: 1000))
            if n < 0 {
                if errno == EINTR { continue }
                throw POSIXErrors.error(.ioError, "poll", errno: errno)
            }
            if n > 0 { return }
        }
    }

    /// Sends `head` + `body` and reads the response. `reusable` is false when the connection
    /// must be closed afterwards.
    func roundTrip(head: [UInt8], body: [UInt8], deadline: UInt64?, maxBodyBytes: Int, maxHeaderBytes: Int,
                   isHead: Bool) throws(TransportError) -> (response: HTTP2Response, reusable: Bool, sentAll: Bool) {
        for chunk in [head, body] where !chunk.isEmpty {
            var offset = 0
            while offset < chunk.count {
                let n = chunk.withUnsafeBytes { send(socket.fd, $0.baseAddress! + offset, chunk.count - offset, Int32(MSG_NOSIGNAL)) }
                if n > 0 { offset += n; continue }
                let code = errno
                if n < 0 && (code == EAGAIN || code == EWOULDBLOCK) { try wait(Int16(POLLOUT), deadline: deadline); continue }
                if n < 0 && code == EINTR { continue }
                throw POSIXErrors.error(code == EPIPE || code == ECONNRESET ? .connectionClosed : .ioError, "HTTP/1.1 write", errno: code)
            }
        }
        var parser = HTTP1ResponseParser(maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes, isHeadRequest: isHead)
        var storage = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = storage.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 {
                let fed = storage.withUnsafeBytes { raw in
                    Result { () throws(TransportError) in try parser.feed(UnsafeRawBufferPointer(rebasing: raw[0..<n])) }
                }
                let response = try fed.get()
                if let response {
                    requestsServed += 1
                    return (response, !parser.closeAfter && parser.leftoverBytes == 0, true)
                }
                continue
            }
            if n == 0 {
                return (try parser.finishAtEOF(), false, true)
            }
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK { try wait(Int16(POLLIN), deadline: deadline); continue }
            if code == EINTR { continue }
            throw POSIXErrors.error(code == ECONNRESET ? .connectionClosed : .ioError, "HTTP/1.1 read", errno: code)
        }
    }
}

/// An HTTP/1.1 client with keep-alive, conforming to ``HTTPTransport`` so OTLP/HTTP can run on
/// it or on ``HTTP2Client`` alike. Requests run concurrently, each on its own connection
/// (idle ones are reused). A request on a reused connection that the server had already closed
/// is sent once more on a new connection.
public final class HTTP1Client: HTTPTransport {
    public let configuration: HTTP1ClientConfiguration
    private struct State {
        var idle: [HTTP1Connection] = []
        var isShutdown = false
    }
    private let state = LockedValue(State())
    private let queue = DispatchQueue(label: "swift-otlp.http1", attributes: .concurrent)

    /// - Throws: `TransportError.invalidConfiguration` for an `https://` endpoint.
    public init(configuration: HTTP1ClientConfiguration) throws(TransportError) {
        guard !configuration.endpoint.useTLS else {
            throw TransportError(.invalidConfiguration, "HTTP1Client is cleartext only; use HTTP2Client for https:// (ALPN h2)")
        }
        self.configuration = configuration
    }

    public func execute(_ request: HTTP2Request, completion: @escaping HTTP2Completion) {
        queue.async { completion(self.perform(request)) }
    }

    public func shutdown(graceful: Bool) {
        let idle = state.withLock { s -> [HTTP1Connection] in
            s.isShutdown = true
            defer { s.idle.removeAll() }
            return s.idle
        }
        for connection in idle { connection.socket.close() }
    }

    private func head(for request: HTTP2Request) -> [UInt8] {
        var text = "\(request.method) \(request.path.isEmpty ? "/" : request.path) HTTP/1.1\r\n"
        text += "host: \(configuration.endpoint.authority)\r\n"
        var hasUserAgent = false
        for field in request.headers {
            let name = field.name.lowercased()
            if name == "host" || name == "content-length" || name == "connection" || name == "transfer-encoding" { continue }
            if name == "user-agent" { hasUserAgent = true }
            // Header values were validated by the caller; strip CR/LF defensively (no header injection).
            let value = field.value.filter { $0 != "\r" && $0 != "\n" }
            text += "\(name): \(value)\r\n"
        }
        if !hasUserAgent { text += "user-agent: \(configuration.userAgent)\r\n" }
        if !request.body.isEmpty || request.method == "POST" || request.method == "PUT" {
            text += "content-length: \(request.body.count)\r\n"
        }
        text += "\r\n"
        return Array(text.utf8)
    }

    private func perform(_ request: HTTP2Request) -> Result<HTTP2Response, TransportError> {
        let start = monotonicNanos()
        let deadline = request.timeout.map { start &+ $0.nanoseconds }
        let head = head(for: request)
        let maxBody = request.maxResponseBodyBytes ?? configuration.maxResponseBodyBytes
        var triedFresh = false
        while true {
            let pooled = state.withLock { s -> (HTTP1Connection?, Bool) in
                (s.isShutdown ? nil : s.idle.popLast(), s.isShutdown)
            }
            if pooled.1 { return .failure(TransportError(.shutdown, "HTTP/1.1 client is shut down", isRetryable: false)) }
            let connection: HTTP1Connection
            if let reused = pooled.0, !triedFresh {
                connection = reused
            } else {
                triedFresh = true
                let connectDeadline = min(deadline ?? .max, start &+ configuration.connectTimeout.nanoseconds)
                do {
                    connection = HTTP1Connection(socket: try SocketHandle.connect(
                        host: configuration.endpoint.host, port: configuration.endpoint.port, deadline: connectDeadline))
                } catch {
                    return .failure(error)
                }
            }
            do {
                let (response, reusable, _) = try connection.roundTrip(
                    head: head, body: request.body, deadline: deadline, maxBodyBytes: maxBody,
                    maxHeaderBytes: configuration.maxHeaderBytes, isHead: request.method == "HEAD")
                if reusable {
                    let keep = state.withLock { s -> Bool in
                        guard !s.isShutdown, s.idle.count < configuration.maxIdleConnections else { return false }
                        s.idle.append(connection)
                        return true
                    }
                    if !keep { connection.socket.close() }
                } else {
                    connection.socket.close()
                }
                return .success(response)
            } catch {
                connection.socket.close()
                // A kept-alive connection the server closed meanwhile: once more on a new one.
                if connection.requestsServed > 0 && !triedFresh
                    && (error.code == .connectionClosed || error.code == .ioError) {
                    triedFresh = true
                    continue
                }
                return .failure(error)
            }
        }
    }
}
