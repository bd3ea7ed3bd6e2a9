// The server side: a listening socket and one poll-driven I/O thread serving many connections,
// each HTTP/2 with prior knowledge (nghttp2 server session) or HTTP/1.1, detected from its
// first bytes. Requests go to one synchronous handler on that thread.
public import HTTPTransportCore
import OTLPSync
#if canImport(Glibc)
import Glibc
#endif

/// Settings of an ``HTTPServer``. The limits protect the server from broken or hostile clients:
/// a client past a limit gets an error response or a closed connection, and is counted in
/// ``HTTPServerStatistics``.
public struct HTTPServerConfiguration: Sendable {
    /// Address to listen on: an IPv4 or IPv6 literal, or a host name. Default `127.0.0.1`.
    public var host: String
    /// Port to listen on; 0 (default) picks a free port (see ``HTTPServer/port``).
    public var port: UInt16
    /// Largest request body, after the transport framing (Content-Length or chunked; the HTTP/2
    /// DATA payloads). Default 4 MiB, the OpenTelemetry Collector's gRPC default
    /// (`max_recv_msg_size_mib`). Larger: 413, or gRPC RESOURCE_EXHAUSTED for `application/grpc`.
    public var maxRequestBodyBytes: Int
    /// Largest request header section (HTTP/1.1, then 431) or header list (HTTP/2, counted as
    /// RFC 9113 does: names + values + 32 per field; then the stream is reset). Default 16 KiB.
    public var maxHeaderListBytes: Int
    /// SETTINGS_MAX_CONCURRENT_STREAMS announced to HTTP/2 clients. Default 100.
    public var maxConcurrentStreams: Int
    /// Open connections at most; more are accepted and closed at once. Default 1024.
    public var maxConnections: Int
    /// A connection with no request in progress and no bytes received for this long is closed
    /// (HTTP/2: GOAWAY first). Default 60 s.
    public var idleTimeout: Duration
    /// A request must arrive completely within this time of its first byte, or the connection
    /// is closed (slow clients holding connections open). Default 30 s.
    public var requestReadTimeout: Duration
    /// HTTP/2 receive window per stream (SETTINGS_INITIAL_WINDOW_SIZE). Default 1 MiB.
    public var initialStreamWindow: Int
    /// HTTP/2 receive window of the connection. Default 16 MiB.
    public var connectionWindow: Int
    /// TLS on every connection (ALPN `h2` or `http/1.1`), optionally requiring client
    /// certificates. Default `nil`: cleartext (h2c with prior knowledge, HTTP/1.1).
    public var tls: HTTPServerTLSConfiguration?

    public init(host: String = "127.0.0.1", port: UInt16 = 0, maxRequestBodyBytes: Int = 4 << 20,
                maxHeaderListBytes: Int = 16 << 10, maxConcurrentStreams: Int = 100, maxConnections: Int = 1024,
                idleTimeout: Duration = .seconds(60), requestReadTimeout: Duration = .seconds(30),
                initialStreamWindow: Int = 1 << 20, connectionWindow: Int = 16 << 20, tls: HTTPServerTLSConfiguration? = nil) {
        self.tls = tls
        self.host = host
        self.port = port
        self.maxRequestBodyBytes = maxRequestBodyBytes
        self.maxHeaderListBytes = maxHeaderListBytes
        self.maxConcurrentStreams = maxConcurrentStreams
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.requestReadTimeout = requestReadTimeout
        self.initialStreamWindow = initialStreamWindow
        self.connectionWindow = connectionWindow
    }
}

/// The protocol a request arrived on.
public enum HTTPServerProtocol: Sendable, Hashable {
    case http1
    case http2
}

/// A complete request as the handler sees it.
public struct HTTPServerRequest: Sendable {
    /// `:method` / the request line's method.
    public var method: String
    /// `:path` / the request target (origin form, with any query).
    public var path: String
    /// Header fields (names lower-case; HTTP/2 pseudo-headers left out).
    public var headers: [HTTPField]
    /// The body, as received (not decompressed).
    public var body: [UInt8]
    /// HTTP/1.1 or HTTP/2.
    public var httpProtocol: HTTPServerProtocol
    /// A number identifying the connection within this server (for tests that check reuse).
    public var connectionID: Int

    public init(method: String, path: String, headers: [HTTPField] = [], body: [UInt8] = [],
                httpProtocol: HTTPServerProtocol = .http2, connectionID: Int = 0) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.httpProtocol = httpProtocol
        self.connectionID = connectionID
    }

    /// The first header value named `name` (lower-case).
    public func value(_ name: String) -> String? { headers.first { $0.name == name }?.value }
}

/// The handler's answer.
public struct HTTPServerResponse: Sendable {
    /// What happens to the connection.
    public enum Disposition: Sendable, Hashable {
        /// Send the response (the default).
        case respond
        /// Close the connection without answering.
        case closeConnection
        /// HTTP/2: GOAWAY naming the previous stream as the last processed one (so this request
        /// counts as not processed), then close. HTTP/1.1: close without answering.
        case goAway
    }

    public var status: Int
    /// Response headers (lower-case names for HTTP/2). `content-length` is added on HTTP/1.1.
    public var headers: [HTTPField]
    public var body: [UInt8]
    /// HTTP/2 trailers (gRPC status). With an empty body they are sent in the one HEADERS frame
    /// (a gRPC Trailers-Only response). HTTP/1.1 drops them.
    public var trailers: [HTTPField]
    /// Wait this long before answering (the I/O thread serves others meanwhile).
    public var delay: Duration?
    public var disposition: Disposition

    public init(status: Int, headers: [HTTPField] = [], body: [UInt8] = [], trailers: [HTTPField] = [],
                delay: Duration? = nil, disposition: Disposition = .respond) {
        self.status = status
        self.headers = headers
        self.body = body
        self.trailers = trailers
        self.delay = delay
        self.disposition = disposition
    }
}

/// Handles one request on the server's I/O thread: keep it short (decode, record, answer).
public typealias HTTPServerHandler = @Sendable (HTTPServerRequest) -> HTTPServerResponse

/// What the server has seen, for tests and for `otlp collect`'s summary.
public struct HTTPServerStatistics: Sendable, Hashable, CustomStringConvertible {
    /// Connections accepted (including those closed at once over `maxConnections`).
    public var connectionsAccepted = 0
    /// Connections closed at once because `maxConnections` were open.
    public var connectionsRefused = 0
    /// Connections open now.
    public var openConnections = 0
    /// Requests passed to the handler.
    public var requests = 0
    /// Connections closed for a protocol violation: garbage bytes, a malformed HTTP/1.1 request,
    /// an HTTP/2 error (bad frames, floods), an unsupported version.
    public var protocolErrors = 0
    /// Requests refused for a body over `maxRequestBodyBytes`.
    public var oversizedRequests = 0
    /// Requests refused for a header section over `maxHeaderListBytes`.
    public var oversizedHeaders = 0
    /// Connections closed by `requestReadTimeout` (a request not complete in time).
    public var slowRequestTimeouts = 0
    /// Connections closed by `idleTimeout`.
    public var idleTimeouts = 0
    /// TLS handshakes that failed (not TLS, no or an untrusted client certificate, no common version).
    public var tlsHandshakeFailures = 0

    public init() {}

    /// Connections or requests refused for misbehaviour (everything but idle timeouts).
    public var rejected: Int {
        connectionsRefused + protocolErrors + oversizedRequests + oversizedHeaders + slowRequestTimeouts + tlsHandshakeFailures
    }

    public var description: String {
        "accepted=\(connectionsAccepted) refused=\(connectionsRefused) open=\(openConnections) requests=\(requests) "
            + "protocol_errors=\(protocolErrors) oversized=\(oversizedRequests) oversized_headers=\(oversizedHeaders) "
            + "slow=\(slowRequestTimeouts) idle=\(idleTimeouts) tls_failures=\(tlsHandshakeFailures)"
    }
}

/// An HTTP server for HTTP/2 (h2c with prior knowledge, as gRPC uses, or TLS with ALPN h2) and
/// HTTP/1.1, on one listening socket and one I/O thread of its own (poll).
///
/// The socket is bound when the server is made (``port`` is known at once); the thread runs
/// until ``shutdown()``. Requests are answered by the handler, called on that thread; a delayed
/// answer (``HTTPServerResponse/delay``) does not hold the thread.
public final class HTTPServer: Sendable {
    /// The bound port (the chosen one when the configuration asked for 0).
    public let port: UInt16
    /// The host the server listens on.
    public let host: String
    private let loop: ServerLoop

    /// Binds, listens and starts the I/O thread.
    /// - Throws: `TransportError` `.invalidConfiguration` (bad address, unreadable certificate or
    ///   key), `.ioError` (bind/listen).
    public init(configuration: HTTPServerConfiguration, handler: @escaping HTTPServerHandler) throws(TransportError) {
        let listener = try ListeningSocket(host: configuration.host, port: configuration.port)
        port = listener.port
        host = configuration.host
        loop = try ServerLoop(configuration: configuration, listener: listener, handler: handler)
        try loop.start()
    }

    deinit { loop.stop() }

    /// A snapshot of the counters.
    public var statistics: HTTPServerStatistics { loop.statistics.withLock { $0 } }

    /// `host:port` (IPv6 in brackets).
    public var authority: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Stops listening and closes every connection; returns at once (the thread ends soon after).
    public func shutdown() { loop.stop() }

    /// Stops listening, closes every connection and waits until the I/O thread has ended,
    /// without blocking the caller's thread.
    public func shutdownAndWait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.stop(whenDone: { continuation.resume() })
        }
    }
}

// MARK: - Listening socket

/// A bound, listening, non-blocking TCP socket.
final class ListeningSocket {
    let handle: SocketHandle
    let port: UInt16

    init(host: String, port: UInt16) throws(TransportError) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            throw TransportError(.invalidConfiguration, "cannot resolve listen address \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(result) }
        var lastError = TransportError(.ioError, "no address to listen on for \(host)")
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let info = node {
            node = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd < 0 { lastError = POSIXErrors.error(.ioError, "socket", errno: errno); continue }
            let handle = SocketHandle(fd: fd)
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
                lastError = POSIXErrors.error(.ioError, "bind \(host):\(port)", errno: errno)
                continue
            }
            guard listen(fd, 511) == 0 else {
                lastError = POSIXErrors.error(.ioError, "listen", errno: errno)
                continue
            }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let named = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard named == 0 else { lastError = POSIXErrors.error(.ioError, "getsockname", errno: errno); continue }
            let family = storage.ss_family
            let networkPort: UInt16 = withUnsafePointer(to: &storage) { pointer in
                if family == sa_family_t(AF_INET6) {
                    return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port }
                }
                return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port }
            }
            self.handle = handle
            self.port = UInt16(bigEndian: networkPort)
            return
        }
        throw lastError
    }

    /// Accepts one pending connection: its descriptor (non-blocking), nil when none is pending.
    func accept() -> Int32? {
        while true {
            // accept4 is hidden behind _GNU_SOURCE in Glibc's module: accept, then set the flags.
            let fd = Glibc.accept(handle.fd, nil, nil)
            if fd >= 0 {
                setNonBlockingCloseOnExec(fd)
                var one: Int32 = 1
                _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                return fd
            }
            if errno == EINTR || errno == ECONNABORTED { continue }
            return nil
        }
    }
}

// MARK: - The I/O thread

/// The server's thread and everything it owns.
final class ServerLoop: @unchecked Sendable {
    // Immutable after init, or touched only by the I/O thread (below), or behind a lock.
    let configuration: HTTPServerConfiguration
    let handler: HTTPServerHandler
    let statistics = LockedValue(HTTPServerStatistics())
    let tlsContext: ServerTLSContext?
    private let listener: ListeningSocket
    /// Polled by the I/O thread; written by `stop`.
    private let wakePipe: WakePipe

    private struct Shared {
        var stopping = false
        var finished = false
        var whenDone: [@Sendable () -> Void] = []
    }
    private let shared = LockedValue(Shared())

    // MARK: I/O thread only
    private var connections: [HTTPServerConnection] = []
    private var nextConnectionID = 1
    let inputCapacity = 256 << 10
    let input: UnsafeMutableRawPointer
    private var acceptPausedUntil: UInt64 = 0

    init(configuration: HTTPServerConfiguration, listener: ListeningSocket, handler: @escaping HTTPServerHandler) throws(TransportError) {
        self.configuration = configuration
        self.listener = listener
        self.handler = handler
        tlsContext = try configuration.tls.map { (tls) throws(TransportError) in try ServerTLSContext(configuration: tls) }
        wakePipe = try WakePipe()
        input = UnsafeMutableRawPointer.allocate(byteCount: inputCapacity, alignment: 16)
    }

    deinit {
        input.deallocate()
    }

    func start() throws(TransportError) {
        pthread_detach(try startThread { self.run() })
    }

    /// Asks the thread to stop; `whenDone` runs once it has (at once if it already has).
    func stop(whenDone: (@Sendable () -> Void)? = nil) {
        let runNow = shared.withLock { state -> Bool in
            state.stopping = true
            if state.finished { return true }
            if let whenDone { state.whenDone.append(whenDone) }
            return false
        }
        if runNow { whenDone?() }
        wakePipe.wake()
    }

    func count(_ update: (inout HTTPServerStatistics) -> Void) {
        statistics.withLock { update(&$0) }
    }

    private func run() {
        var pipeOnly = sigset_t()
        sigemptyset(&pipeOnly)
        sigaddset(&pipeOnly, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeOnly, nil)
        var fds: [pollfd] = []
        while !shared.withLock({ $0.stopping }) {
            let now = monotonicNanos()
            var deadline = now &+ 1_000_000_000
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: wakePipe.readFD, events: Int16(POLLIN), revents: 0))
            fds.append(pollfd(fd: now >= acceptPausedUntil ? listener.handle.fd : -1, events: Int16(POLLIN), revents: 0))
            for connection in connections {
                var events: Int16 = 0
                if connection.wantsRead { events |= Int16(POLLIN) }
                if connection.wantsWrite { events |= Int16(POLLOUT) }
                // Nothing wanted (an answer held back by its delay): leave the socket out, or a
                // hung-up peer would wake poll at once, again and again, until the timer fires.
                fds.append(pollfd(fd: events == 0 ? -1 : connection.fd, events: events, revents: 0))
                if let next = connection.nextDeadline { deadline = min(deadline, next) }
            }
            if acceptPausedUntil > now { deadline = min(deadline, acceptPausedUntil) }
            let n = poll(&fds, nfds_t(fds.count), pollTimeout(until: deadline, now: monotonicNanos(), cap: 1000))
            if n < 0 && errno != EINTR { break }
            if fds[0].revents != 0 { wakePipe.drain() }
            if fds[1].revents != 0 { acceptAll() }
            // Connections accepted in this turn were not polled: fds covers the earlier ones.
            for index in 0..<min(connections.count, fds.count - 2) {
                let revents = fds[index + 2].revents
                guard revents != 0 else { continue }
                let connection = connections[index]
                if revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 { connection.readAvailable() }
                if revents & Int16(POLLOUT) != 0 { connection.flush() }
            }
            let after = monotonicNanos()
            var index = 0
            while index < connections.count {
                let connection = connections[index]
                connection.tick(now: after)
                connection.flush()
                if connection.isFinished {
                    connection.close()
                    connections.remove(at: index)
                    count { $0.openConnections -= 1 }
                } else {
                    index += 1
                }
            }
        }
        for connection in connections { connection.close() }
        count { $0.openConnections -= connections.count }
        connections.removeAll()
        listener.handle.close()
        let callbacks = shared.withLock { state -> [@Sendable () -> Void] in
            state.finished = true
            defer { state.whenDone.removeAll() }
            return state.whenDone
        }
        for callback in callbacks { callback() }
    }

    private func acceptAll() {
        while let fd = listener.accept() {
            if connections.count >= configuration.maxConnections {
                // Counted before the close, so a client that sees the close sees the count.
                count { $0.connectionsAccepted += 1; $0.connectionsRefused += 1 }
                _ = close(fd)
                continue
            }
            let connection = HTTPServerConnection(loop: self, fd: fd, id: nextConnectionID, now: monotonicNanos())
            if let tlsContext {
                do throws(TransportError) {
                    try connection.startTLS(tlsContext)
                } catch {
                    count { $0.connectionsAccepted += 1; $0.tlsHandshakeFailures += 1 }
                    connection.close()
                    continue
                }
            }
            nextConnectionID += 1
            connections.append(connection)
            count { $0.connectionsAccepted += 1; $0.openConnections += 1 }
        }
        if errno == EMFILE || errno == ENFILE {
            // Out of descriptors: the pending connection stays queued; try again shortly rather
            // than spin on a listener that stays readable.
            acceptPausedUntil = monotonicNanos() &+ 100_000_000
        }
    }
}
