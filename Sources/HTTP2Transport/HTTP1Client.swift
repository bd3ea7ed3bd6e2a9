// A small HTTP/1.1 client with keep-alive for OTLP/HTTP, cleartext or TLS, on the transport's
// socket and TLS layers. Each request runs on a Dispatch worker with blocking, deadline-bound
// poll()/read()/write(); idle connections are kept for reuse.
import Dispatch
public import HTTPTransportCore
import OTLPSync
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` with SIGPIPE blocked on the calling thread, then discards a SIGPIPE it raised and
/// restores the thread's mask. OpenSSL writes with write(2), which raises SIGPIPE on a socket the
/// peer closed; the signal goes to the writing thread, here a shared Dispatch worker whose mask we
/// must leave as we found it. Blocked, the write fails with EPIPE instead.
func withSIGPIPESuppressed<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
    var pipeOnly = sigset_t()
    sigemptyset(&pipeOnly)
    sigaddset(&pipeOnly, SIGPIPE)
    var old = sigset_t()
    pthread_sigmask(SIG_BLOCK, &pipeOnly, &old)
    if sigismember(&old, SIGPIPE) == 1 { return try body() }  // already blocked by an outer caller
    defer {
        var pending = sigset_t()
        sigpending(&pending)
        if sigismember(&pending, SIGPIPE) == 1 {
            var zero = timespec()
            _ = sigtimedwait(&pipeOnly, nil, &zero)
        }
        pthread_sigmask(SIG_SETMASK, &old, nil)
    }
    return try body()
}

/// One HTTP/1.1 connection, cleartext or TLS (used by one request at a time).
final class HTTP1Connection: @unchecked Sendable {
    // Only ever used by the one request (or probe) that took it out of the pool.
    let socket: SocketHandle
    private var tls: TLSConnection?
    private(set) var requestsServed = 0

    init(socket: SocketHandle) { self.socket = socket }

    /// The ALPN protocol the TLS server selected; `nil` for cleartext or when it selected none.
    var negotiatedProtocol: String? { tls?.negotiatedProtocol }

    /// Connects (DNS + TCP) and, with `tlsContext`, runs the TLS handshake, all before `deadline`.
    static func open(endpoint: Endpoint, tlsContext: TLSContext?, deadline: UInt64) throws(TransportError) -> HTTP1Connection {
        let connection = HTTP1Connection(socket: try SocketHandle.connect(host: endpoint.host, port: endpoint.port, deadline: deadline))
        guard let tlsContext else { return connection }
        do {
            let tls = try TLSConnection(context: tlsContext, fd: connection.socket.fd, host: endpoint.host)
            connection.tls = tls
            while let want = try tls.handshakeStep() {
                try connection.wait(want == .wantRead ? Int16(POLLIN) : Int16(POLLOUT), deadline: deadline,
                                    timeout: TransportError(.connectTimeout, "TLS handshake with \(endpoint.authority) timed out"))
            }
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    /// Shuts the socket down in both directions without closing it, from another thread: a
    /// request blocked in `poll` or `recv` on it wakes and fails with the connection closed. The
    /// caller must know the owner has not closed the socket yet (``HTTP1Client`` calls it under
    /// its lock while the connection is registered as busy).
    func abort() {
        _ = Glibc.shutdown(socket.fd, Int32(SHUT_RDWR))
    }

    /// Sends TLS close_notify (when TLS is up and healthy) and closes the socket.
    func close() {
        if let tls { withSIGPIPESuppressed { tls.shutdown() } }
        socket.close()
    }

    /// Waits until `fd` is ready for `events` or the deadline passes (then throws `timeout`).
    private func wait(_ events: Int16, deadline: UInt64?,
                      timeout: @autoclosure () -> TransportError = TransportError(.deadlineExceeded, "HTTP/1.1 request timed out"))
        throws(TransportError) {
        var pfd = pollfd(fd: socket.fd, events: events, revents: 0)
        while true {
            let now = monotonicNanos()
            if let deadline, now >= deadline { throw timeout() }
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
                if let tls {
                    let result = try chunk.withUnsafeBytes { raw in
                        Result { () throws(TransportError) in try tls.write(from: raw.baseAddress! + offset, count: chunk.count - offset) }
                    }.get()
                    switch result {
                    case .bytes(let n): offset += n
                    case .wantRead: try wait(Int16(POLLIN), deadline: deadline)
                    case .wantWrite: try wait(Int16(POLLOUT), deadline: deadline)
                    case .closed: throw TransportError(.connectionClosed, "HTTP/1.1 write: TLS connection closed")
                    }
                    continue
                }
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
            var n: Int
            if let tls {
                let result = try storage.withUnsafeMutableBytes { raw in
                    Result { () throws(TransportError) in try tls.read(into: raw.baseAddress!, count: raw.count) }
                }.get()
                switch result {
                case .bytes(let count): n = count
                case .closed: n = 0
                case .wantRead: try wait(Int16(POLLIN), deadline: deadline); continue
                case .wantWrite: try wait(Int16(POLLOUT), deadline: deadline); continue
                }
            } else {
                n = storage.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress!, $0.count, 0) }
            }
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

/// An HTTP/1.1 client with keep-alive, cleartext or TLS, conforming to ``HTTPTransport`` so
/// OTLP/HTTP can run on it or on ``HTTP2Client`` alike. Over TLS it offers ALPN `http/1.1`
/// (a server that selects no protocol is accepted too) and verifies the server as
/// ``HTTP2Client`` does. Requests run concurrently, each on its own connection
/// (idle ones are reused). A request on a reused connection that the server had already closed
/// is sent once more on a new connection.
public final class HTTP1Client: HTTPTransport {
    public let configuration: HTTP1ClientConfiguration
    private struct State {
        var idle: [HTTP1Connection] = []
        /// Connections a request is using, so that a shutdown that is not graceful can abort them.
        var busy: [ObjectIdentifier: HTTP1Connection] = [:]
        var isShutdown = false
        var abortsRequests = false
    }
    private let state = LockedValue(State())
    private let queue = DispatchQueue(label: "swift-otlp.http1", attributes: .concurrent)
    private let tlsContext: TLSContext?

    /// - Throws: `TransportError.invalidConfiguration` when the TLS options are unusable
    ///   (client certificate without key, unreadable CA file, empty server name ...).
    public init(configuration: HTTP1ClientConfiguration) throws(TransportError) {
        self.configuration = configuration
        if configuration.endpoint.useTLS {
            if let serverName = configuration.tls.serverName, serverName.isEmpty {
                // OpenSSL treats an empty name as "no host-name check": refuse it.
                throw TransportError(.invalidConfiguration, "TLS server name must not be empty")
            }
            tlsContext = try TLSContext(options: configuration.tls, alpnProtocols: ["http/1.1"], requiresH2: false)
        } else {
            tlsContext = nil
        }
    }

    /// Puts an open connection (one that served no request yet) into the idle pool, or closes it.
    func adopt(_ connection: HTTP1Connection) {
        let keep = state.withLock { s -> Bool in
            guard !s.isShutdown, s.idle.count < configuration.maxIdleConnections else { return false }
            s.idle.append(connection)
            return true
        }
        if !keep { connection.close() }
    }

    public func execute(_ request: HTTP2Request, completion: @escaping HTTP2Completion) {
        queue.async { completion(withSIGPIPESuppressed { self.perform(request) }) }
    }

    /// Closes the idle connections; no request starts afterwards. Requests in flight finish
    /// (`graceful`) or fail at once with their connection shut down (`graceful: false`).
    public func shutdown(graceful: Bool) {
        let idle = state.withLock { s -> [HTTP1Connection] in
            s.isShutdown = true
            if !graceful {
                s.abortsRequests = true
                // Under the lock: a busy connection's owner closes it only after taking it out of
                // `busy` under this lock, so its socket is still open here.
                for connection in s.busy.values { connection.abort() }
            }
            defer { s.idle.removeAll() }
            return s.idle
        }
        for connection in idle { connection.close() }
    }

    /// Registers a connection as busy; `false` (and the connection closed) after an aborting shutdown.
    private func checkOut(_ connection: HTTP1Connection) -> Bool {
        let registered = state.withLock { s -> Bool in
            guard !s.abortsRequests else { return false }
            s.busy[ObjectIdentifier(connection)] = connection
            return true
        }
        if !registered { connection.close() }
        return registered
    }

    private func checkIn(_ connection: HTTP1Connection) {
        state.withLock { s in _ = s.busy.removeValue(forKey: ObjectIdentifier(connection)) }
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
            var fromPool = false
            if let reused = pooled.0, !triedFresh {
                connection = reused
                fromPool = true
            } else {
                triedFresh = true
                let connectDeadline = min(deadline ?? .max, start &+ configuration.connectTimeout.nanoseconds)
                do {
                    connection = try HTTP1Connection.open(endpoint: configuration.endpoint, tlsContext: tlsContext,
                                                          deadline: connectDeadline)
                } catch {
                    return .failure(error)
                }
            }
            guard checkOut(connection) else {
                return .failure(TransportError(.shutdown, "HTTP/1.1 client is shut down", isRetryable: false))
            }
            do {
                let roundTrip = Result { () throws(TransportError) in
                    try connection.roundTrip(
                        head: head, body: request.body, deadline: deadline, maxBodyBytes: maxBody,
                        maxHeaderBytes: configuration.maxHeaderBytes, isHead: request.method == "HEAD")
                }
                checkIn(connection)
                let (response, reusable, _) = try roundTrip.get()
                if reusable {
                    let keep = state.withLock { s -> Bool in
                        guard !s.isShutdown, s.idle.count < configuration.maxIdleConnections else { return false }
                        s.idle.append(connection)
                        return true
                    }
                    if !keep { connection.close() }
                } else {
                    connection.close()
                }
                return .success(response)
            } catch {
                connection.close()
                // A kept-alive connection the server closed meanwhile: once more on a new one.
                // (Pooled: kept alive after a request, or the negotiating client's TLS probe.)
                if fromPool && !triedFresh
                    && (error.code == .connectionClosed || error.code == .ioError) {
                    triedFresh = true
                    continue
                }
                return .failure(error)
            }
        }
    }
}

/// An `https://` client that lets the server choose the HTTP version: the first connection
/// offers ALPN `h2` and `http/1.1`. When the server selects `h2`, that connection is closed and
/// every request goes to an ``HTTP2Client`` (which then requires `h2`); when it selects
/// `http/1.1` or nothing, the connection is kept and every request goes to an ``HTTP1Client``
/// over TLS with keep-alive. The choice is made once and kept. Requests that arrive while the
/// first connection is being set up wait for it; if it fails they all fail with its error
/// (retryable or not, as the error says) and the next request tries again.
public final class NegotiatingHTTPClient: HTTPTransport {
    private struct State {
        var chosen: (any HTTPTransport)?
        var probing = false
        var waiting: [(HTTP2Request, HTTP2Completion)] = []
        var isShutdown = false
    }
    private let state = LockedValue(State())
    private let http1: HTTP1Client
    private let http2Configuration: HTTP2ClientConfiguration
    private let probeContext: TLSContext
    private let queue = DispatchQueue(label: "swift-otlp.negotiate")

    /// - Parameters:
    ///   - http1: used when the server selects `http/1.1` or no ALPN protocol. Its endpoint must
    ///     be `https://`; its TLS options are used for the first connection too.
    ///   - http2: used when the server selects `h2`; same endpoint.
    /// - Throws: `TransportError.invalidConfiguration` for a cleartext endpoint or unusable TLS options.
    public init(http1: HTTP1ClientConfiguration, http2: HTTP2ClientConfiguration) throws(TransportError) {
        guard http1.endpoint.useTLS, http2.endpoint.useTLS else {
            throw TransportError(.invalidConfiguration, "NegotiatingHTTPClient needs an https:// endpoint")
        }
        try http2.validate()
        self.http1 = try HTTP1Client(configuration: http1)
        self.http2Configuration = http2
        probeContext = try TLSContext(options: http1.tls, alpnProtocols: ["h2", "http/1.1"], requiresH2: false)
    }

    /// The HTTP version chosen so far: `"h2"`, `"http/1.1"`, or `nil` before the first connection.
    public var negotiatedVersion: String? {
        state.withLock { s -> String? in
            guard let chosen = s.chosen else { return nil }
            return chosen is HTTP2Client ? "h2" : "http/1.1"
        }
    }

    public func execute(_ request: HTTP2Request, completion: @escaping HTTP2Completion) {
        enum Action { case forward(any HTTPTransport), probe, wait, shutdown }
        let action = state.withLock { s -> Action in
            if s.isShutdown { return .shutdown }
            if let chosen = s.chosen { return .forward(chosen) }
            if s.probing { s.waiting.append((request, completion)); return .wait }
            s.probing = true
            return .probe
        }
        switch action {
        case .forward(let transport): transport.execute(request, completion: completion)
        case .wait: break
        case .shutdown: completion(.failure(TransportError(.shutdown, "HTTPS client is shut down", isRetryable: false)))
        case .probe: queue.async { self.probe(request, completion) }
        }
    }

    private func probe(_ request: HTTP2Request, _ completion: @escaping HTTP2Completion) {
        let start = monotonicNanos()
        let deadline = min(request.timeout.map { start &+ $0.nanoseconds } ?? .max,
                           start &+ http1.configuration.connectTimeout.nanoseconds)
        let chosen: Result<any HTTPTransport, TransportError>
        do throws(TransportError) {
            let connection = try withSIGPIPESuppressed { () throws(TransportError) in
                try HTTP1Connection.open(endpoint: http1.configuration.endpoint, tlsContext: probeContext, deadline: deadline)
            }
            if connection.negotiatedProtocol == "h2" {
                connection.close()
                chosen = .success(try HTTP2Client(configuration: http2Configuration))
            } else {
                http1.adopt(connection)
                chosen = .success(http1)
            }
        } catch {
            chosen = .failure(error)
        }
        let (waiting, isShutdown) = state.withLock { s -> ([(HTTP2Request, HTTP2Completion)], Bool) in
            s.probing = false
            if case .success(let transport) = chosen, !s.isShutdown { s.chosen = transport }
            defer { s.waiting.removeAll() }
            return (s.waiting, s.isShutdown)
        }
        let all = [(request, completion)] + waiting
        switch chosen {
        case .success(let transport) where !isShutdown:
            for (request, completion) in all { transport.execute(request, completion: completion) }
        case .success(let transport):
            if transport is HTTP2Client { transport.shutdown(graceful: false) }
            for (_, completion) in all {
                completion(.failure(TransportError(.shutdown, "HTTPS client is shut down", isRetryable: false)))
            }
        case .failure(let error):
            for (_, completion) in all { completion(.failure(error)) }
        }
    }

    public func shutdown(graceful: Bool) {
        let chosen = state.withLock { s -> (any HTTPTransport)? in
            s.isShutdown = true
            return s.chosen
        }
        if let chosen, chosen is HTTP2Client { chosen.shutdown(graceful: graceful) }
        http1.shutdown(graceful: graceful)
    }
}
