// One HTTP/2 connection driven by its own I/O thread (poll on the socket and a wake-up pipe).
import CNGHTTP2
import HTTPTransportCore
import OTLPSync
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The state of one request on the I/O thread: the request, the response as it arrives.
final class RequestContext: @unchecked Sendable {
    // Created by the submitting thread, then handed to the I/O thread through the locked queue;
    // from then on only the I/O thread touches it.
    let id: RequestID
    let request: HTTP2Request
    let deadline: UInt64
    let completion: HTTP2Completion
    let maxBodyBytes: Int
    var bodyOffset = 0
    var streamID: Int32 = -1
    var status = 0
    var headers: [HTTPField] = []
    var trailers: [HTTPField] = []
    var body: [UInt8] = []
    var headerBytes = 0
    var headersComplete = false
    var endStreamReceived = false
    var error: TransportError?
    var completed = false

    init(id: RequestID, request: HTTP2Request, deadline: UInt64, maxBodyBytes: Int, completion: @escaping HTTP2Completion) {
        self.id = id
        self.request = request
        self.deadline = deadline
        self.maxBodyBytes = maxBodyBytes
        self.completion = completion
    }

    func readBody(into buffer: UnsafeMutablePointer<UInt8>, capacity: Int) -> Int {
        let remaining = request.body.count - bodyOffset
        let count = min(remaining, capacity)
        if count > 0 {
            request.body.withUnsafeBufferPointer { source in
                buffer.update(from: source.baseAddress! + bodyOffset, count: count)
            }
            bodyOffset += count
        }
        return count
    }
}

/// One HTTP/2 connection (h2c or TLS) with its own I/O thread.
///
/// Requests are submitted from any thread; the I/O thread connects (DNS, TCP, TLS), opens streams
/// as the peer's MAX_CONCURRENT_STREAMS allows, and calls each request's completion once.
/// A closed connection (lost, GOAWAY, shut down) accepts no more requests: `HTTP2Client` makes a
/// new one.
final class HTTP2Connection: @unchecked Sendable {
    // MARK: Shared between threads (behind `shared`)
    private struct Shared {
        var queue: [RequestContext] = []
        var sleeping = false
        var accepting = true
        var closed = false
        var shutdown: ShutdownRequest?
        var nextID: RequestID = 1
    }
    private enum ShutdownRequest { case graceful, immediate }

    private let shared = LockedValue(Shared())
    /// Polled by the I/O thread; written by submitting threads when it sleeps.
    private let wakePipe: WakePipe
    let configuration: HTTP2ClientConfiguration
    private let tlsContext: TLSContext?
    private var thread: pthread_t?
    private let threadMutex = LockedValue(false)  // joined?

    // MARK: I/O-thread only
    private var socket: SocketHandle?
    private var tls: TLSConnection?
    private var session: NGHTTP2Session?
    private var machine: ConnectionStateMachine
    private var requests: [RequestID: RequestContext] = [:]
    private var streams: [Int32: RequestContext] = [:]
    private var pendingActions: [ConnectionStateMachine.Action] = []
    private let output = ByteBuffer(capacity: 256 << 10)
    private let inputCapacity = 256 << 10
    private let input: UnsafeMutableRawPointer
    private var connectionError: TransportError?
    private var lastReadAt: UInt64 = 0
    private var pingSentAt: UInt64?
    private var drainedLocally = false
    /// No request deadline falls before this time: `expire` is skipped until then (it walks all streams).
    private var nextExpiryCheck: UInt64 = .max
    /// `:scheme` and `:authority`, fixed for the connection.
    private let scheme: String
    private let authority: String
    /// Reused per request (I/O thread): header names and values back to back, their offsets, and
    /// the nghttp2_nv array pointing into them. Reusing them keeps stream opening allocation-free.
    private var headerBytes: [UInt8] = []
    private var headerOffsets: [(nameStart: Int, nameCount: Int, valueStart: Int, valueCount: Int)] = []
    private var headerVector: [nghttp2_nv] = []
    /// Swapped with the shared submission queue so draining it does not allocate.
    private var drained: [RequestContext] = []
    /// Swapped with `pendingActions` while they run.
    private var actionScratch: [ConnectionStateMachine.Action] = []
    private var processingActions = false

    init(configuration: HTTP2ClientConfiguration, tlsContext: TLSContext?) throws(TransportError) {
        self.configuration = configuration
        self.tlsContext = tlsContext
        machine = ConnectionStateMachine(maxConcurrentStreams: configuration.maxConcurrentStreams)
        scheme = configuration.endpoint.useTLS ? "https" : "http"
        authority = configuration.endpoint.authority
        wakePipe = try WakePipe()
        input = UnsafeMutableRawPointer.allocate(byteCount: inputCapacity, alignment: 16)
    }

    /// Starts the I/O thread (which connects). Call once.
    func start() throws(TransportError) {
        thread = try startThread { self.run() }
    }

    deinit {
        if let thread {
            let joined = threadMutex.withLock { $0 }
            if !joined {
                if pthread_equal(thread, pthread_self()) != 0 { pthread_detach(thread) }
                else { pthread_join(thread, nil) }
            }
        }
        input.deallocate()
    }

    /// Whether new requests may be submitted (not closed, not going away, not shutting down).
    var isAccepting: Bool { shared.withLock { $0.accepting } }
    /// Whether the I/O thread has finished.
    var isClosed: Bool { shared.withLock { $0.closed } }

    /// Queues a request. Returns `false` (and does not call `completion`) if this connection no
    /// longer accepts requests; the caller should use a new connection.
    func submit(_ request: HTTP2Request, completion: @escaping HTTP2Completion) -> Bool {
        let now = monotonicNanos()
        let deadline = request.timeout.map { now &+ $0.nanoseconds } ?? .max
        let maxBody = request.maxResponseBodyBytes ?? configuration.maxResponseBodyBytes
        let wake: Bool? = shared.withLock { state in
            guard state.accepting else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.queue.append(RequestContext(id: id, request: request, deadline: deadline == 0 ? 1 : deadline,
                                              maxBodyBytes: maxBody, completion: completion))
            if state.sleeping { state.sleeping = false; return true }
            return false
        }
        guard let wake else { return false }
        if wake { wakeUp() }
        return true
    }

    /// Stops accepting requests. Graceful: queued and in-flight requests finish first, then
    /// GOAWAY and close. Immediate: they fail with `shutdown`.
    func shutdown(graceful: Bool) {
        let wake = shared.withLock { state -> Bool in
            state.accepting = false
            if state.shutdown != .immediate { state.shutdown = graceful ? .graceful : .immediate }
            state.sleeping = false
            return true
        }
        if wake { wakeUp() }
    }

    /// Waits for the I/O thread to end (call after `shutdown`). Not from the I/O thread itself.
    func join() {
        guard let thread, pthread_equal(thread, pthread_self()) == 0 else { return }
        let alreadyJoined = threadMutex.withLock { joined -> Bool in
            defer { joined = true }
            return joined
        }
        if !alreadyJoined { pthread_join(thread, nil) }
    }

    private func wakeUp() {
        wakePipe.wake()
    }

    // MARK: - I/O thread

    private func run() {
        nameCurrentThread("otlp-h2-io")
        // OpenSSL writes with write(2), which raises SIGPIPE on a closed socket. SIGPIPE is sent to
        // the writing thread: blocking it here turns it into EPIPE without touching the process's
        // signal handling.
        var pipeOnly = sigset_t()
        sigemptyset(&pipeOnly)
        sigaddset(&pipeOnly, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeOnly, nil)
        let connectDeadline = monotonicNanos() &+ configuration.connectTimeout.nanoseconds
        do throws(TransportError) {
            try establish(deadline: connectDeadline)
            try startSession()
            lastReadAt = monotonicNanos()
            pendingActions += machine.connected()
            try loop()
        } catch {
            fail(error)
        }
        finishThread()
    }

    /// DNS, TCP connect and TLS handshake, servicing submissions and deadlines meanwhile.
    private func establish(deadline: UInt64) throws(TransportError) {
        let endpoint = configuration.endpoint
        drainSubmissions()
        let socket = try SocketHandle.connect(host: endpoint.host, port: endpoint.port, deadline: deadline)
        self.socket = socket
        if let tlsContext {
            let tls = try TLSConnection(context: tlsContext, fd: socket.fd, host: endpoint.host)
            self.tls = tls
            while let wait = try tls.handshakeStep() {
                let now = monotonicNanos()
                if now >= deadline { throw TransportError(.connectTimeout, "TLS handshake with \(endpoint.authority) timed out") }
                drainSubmissions()
                processActions()
                if let shutdown = shared.withLock({ $0.shutdown }), shutdown == .immediate {
                    throw TransportError(.shutdown, "client shut down while connecting")
                }
                let limit = min(deadline, machine.nextDeadline ?? .max)
                var fds = [pollfd(fd: socket.fd, events: Int16(wait == .wantWrite ? POLLOUT : POLLIN), revents: 0),
                           pollfd(fd: wakePipe.readFD, events: Int16(POLLIN), revents: 0)]
                _ = poll(&fds, 2, pollTimeout(until: limit, now: now, cap: 100))
                if fds[1].revents != 0 { wakePipe.drain() }
                pendingActions += machine.expire(now: monotonicNanos())
                processActions()
            }
        }
    }

    private func startSession() throws(TransportError) {
        let session = try NGHTTP2Session(.client, callbacks: .client, owner: self)
        self.session = session
        try session.start(settings: [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                                   value: UInt32(configuration.initialStreamWindow)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
                                   value: UInt32(clamping: configuration.maxHeaderListBytes)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: 100),
            // RFC 9218: no RFC 7540 priority tree (cheaper stream scheduling in nghttp2).
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES.rawValue), value: 1),
        ], connectionWindow: configuration.connectionWindow)
    }

    private func loop() throws(TransportError) {
        guard let socket, let session = session?.session else { return }
        while true {
            drainSubmissions()
            let now = monotonicNanos()
            if now >= nextExpiryCheck {
                pendingActions += machine.expire(now: now)
                nextExpiryCheck = machine.nextDeadline ?? .max
            }
            try keepalive(now: now)
            processActions()
            try flush(session: session)
            if let connectionError { throw connectionError }
            if nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0
                && output.readableBytes == 0 && !machine.isFinished {
                throw TransportError(.protocolError, "HTTP/2 session ended by a protocol error")
            }
            if machine.isFinished && output.readableBytes == 0 {
                if !drainedLocally && machine.state != .closed {
                    drainedLocally = true
                    nghttp2_session_terminate_session(session, NGHTTP2_NO_ERROR.rawValue)
                    try flush(session: session)
                }
                tls?.shutdown()
                return
            }
            // Sleep until the socket, a submission or the next deadline.
            let wantsWrite = output.readableBytes > 0
            var timeoutTarget: UInt64? = nextExpiryCheck == .max ? nil : nextExpiryCheck
            if let interval = configuration.keepaliveInterval {
                let next = pingSentAt.map { $0 &+ configuration.keepaliveTimeout.nanoseconds }
                    ?? (lastReadAt &+ interval.nanoseconds)
                timeoutTarget = min(timeoutTarget ?? .max, next)
            }
            let mayBlock = shared.withLock { state -> Bool in
                if !state.queue.isEmpty || state.shutdown != nil && !shutdownSeen { return false }
                state.sleeping = true
                return true
            }
            var fds = [pollfd(fd: socket.fd, events: Int16(POLLIN) | (wantsWrite ? Int16(POLLOUT) : 0), revents: 0),
                       pollfd(fd: wakePipe.readFD, events: Int16(POLLIN), revents: 0)]
            let timeout = mayBlock ? pollTimeout(until: timeoutTarget, now: monotonicNanos()) : 0
            let n = poll(&fds, 2, timeout)
            shared.withLock { $0.sleeping = false }
            if n < 0 && errno != EINTR { throw POSIXErrors.error(.ioError, "poll", errno: errno) }
            if fds[1].revents != 0 { wakePipe.drain() }
            if fds[0].revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 { try readAvailable(session: session) }
        }
    }

    private var shutdownSeen = false

    /// Moves submitted requests into the state machine; applies a shutdown request once.
    private func drainSubmissions() {
        // `drained` is empty here; after the swap the shared queue reuses its storage.
        let shutdown = shared.withLock { state -> ShutdownRequest? in
            swap(&state.queue, &drained)
            return state.shutdown
        }
        for index in drained.indices {
            let context = drained[index]
            requests[context.id] = context
            nextExpiryCheck = min(nextExpiryCheck, context.deadline)
            machine.enqueue(context.id, deadline: context.deadline, into: &pendingActions)
        }
        drained.removeAll(keepingCapacity: true)
        if let shutdown, !shutdownSeen {
            shutdownSeen = true
            switch shutdown {
            case .graceful: pendingActions += machine.shutdownGracefully()
            case .immediate:
                pendingActions += machine.connectionFailed(TransportError(.shutdown, "client shut down", isRetryable: false))
            }
        }
    }

    private func keepalive(now: UInt64) throws(TransportError) {
        guard let interval = configuration.keepaliveInterval, let session = session?.session else { return }
        if let sentAt = pingSentAt {
            if now >= sentAt &+ configuration.keepaliveTimeout.nanoseconds {
                throw TransportError(.connectionClosed, "no PING acknowledgement within the keepalive timeout")
            }
        } else if now >= lastReadAt &+ interval.nanoseconds {
            _ = nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil)
            pingSentAt = now
        }
    }

    /// Runs the state machine's actions (and those they cause) until none are left.
    private func processActions() {
        // Not re-entrant: a nested call leaves new actions to the outer loop.
        guard !processingActions else { return }
        processingActions = true
        defer { processingActions = false }
        while !pendingActions.isEmpty {
            // Swap with the (empty) scratch array: both keep their storage, nothing is allocated.
            swap(&pendingActions, &actionScratch)
            defer { actionScratch.removeAll(keepingCapacity: true) }
            for action in actionScratch {
                switch action {
                case .start(let id):
                    guard let context = requests[id] else { continue }
                    startStream(context)
                case .fail(let id, let error):
                    if let context = requests[id] { finish(context, .failure(error)) }
                case .cancelStream(let streamID, let id):
                    if let session = session?.session {
                        _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, NGHTTP2_CANCEL.rawValue)
                    }
                    if let context = requests[id] {
                        finish(context, .failure(TransportError(.deadlineExceeded, "no complete response before the deadline")))
                    }
                case .abandonStream(let id):
                    if let context = requests[id] {
                        finish(context, .failure(TransportError(.deadlineExceeded, "no complete response before the deadline")))
                    }
                case .resetStream(let streamID):
                    if let session = session?.session {
                        _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, NGHTTP2_CANCEL.rawValue)
                    }
                }
            }
        }
    }

    private func startStream(_ context: RequestContext) {
        guard let session = session?.session else { return }
        // Every name and value goes into one reused byte array that stays alive for the submit
        // call (nghttp2 copies them).
        headerBytes.removeAll(keepingCapacity: true)
        headerOffsets.removeAll(keepingCapacity: true)
        appendHeader(":method", context.request.method)
        appendHeader(":scheme", scheme)
        appendHeader(":authority", authority)
        appendHeader(":path", context.request.path)
        for field in context.request.headers { appendHeader(field.name, field.value) }
        let contextPointer = Unmanaged.passUnretained(context).toOpaque()
        let hasBody = !context.request.body.isEmpty
        let streamID: Int32 = headerBytes.withUnsafeMutableBufferPointer { raw -> Int32 in
            let base = raw.baseAddress ?? UnsafeMutablePointer<UInt8>(bitPattern: 1)!
            headerVector.removeAll(keepingCapacity: true)
            for offsets in headerOffsets {
                headerVector.append(nghttp2_nv(name: base + offsets.nameStart, value: base + offsets.valueStart,
                                               namelen: offsets.nameCount, valuelen: offsets.valueCount,
                                               flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
            }
            return headerVector.withUnsafeBufferPointer { nva -> Int32 in
                if !hasBody {
                    return nghttp2_submit_request(session, nil, nva.baseAddress, nva.count, nil, contextPointer)
                }
                var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: contextPointer), read_callback: nghttp2ReadBody)
                return nghttp2_submit_request(session, nil, nva.baseAddress, nva.count, &provider, contextPointer)
            }
        }
        if streamID < 0 {
            pendingActions += machine.streamOpenFailed(context.id, NGHTTP2Errors.error("nghttp2_submit_request", code: Int(streamID)))
            return
        }
        context.streamID = streamID
        streams[streamID] = context
        machine.streamOpened(context.id, streamID: streamID)
    }

    private func appendHeader(_ name: String, _ value: String) {
        let nameStart = headerBytes.count
        headerBytes.append(contentsOf: name.utf8)
        let valueStart = headerBytes.count
        headerBytes.append(contentsOf: value.utf8)
        headerOffsets.append((nameStart, valueStart - nameStart, valueStart, headerBytes.count - valueStart))
    }

    private func finish(_ context: RequestContext, _ result: Result<HTTP2Response, TransportError>) {
        guard !context.completed else { return }
        context.completed = true
        requests.removeValue(forKey: context.id)
        context.completion(result)
    }

    /// Serialises nghttp2's pending frames into `output` and writes as much as the socket takes.
    private func flush(session: OpaquePointer) throws(TransportError) {
        while true {
            try serializeFrames(session: session)
            if output.readableBytes == 0 { return }
            var wrote = false
            while output.readableBytes > 0 {
                switch try writeSome(output.readPointer, count: output.readableBytes) {
                case .bytes(let n): output.consume(n); wrote = true
                case .wantRead, .wantWrite: return
                case .closed: throw TransportError(.connectionClosed, "connection closed by peer")
                }
            }
            if !wrote || nghttp2_session_want_write(session) == 0 { return }
        }
    }

    /// Moves nghttp2's pending frames into `output` (up to 1 MiB) and runs the actions sending
    /// them caused.
    private func serializeFrames(session: OpaquePointer) throws(TransportError) {
        while output.readableBytes < (1 << 20) {
            var pointer: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &pointer)
            if n < 0 { throw NGHTTP2Errors.error("nghttp2_session_mem_send", code: n) }
            if n == 0 { break }
            output.append(pointer!, count: n)
        }
        processActions()  // mem_send may close streams (e.g. after RST_STREAM)
    }

    private func writeSome(_ pointer: UnsafeRawPointer, count: Int) throws(TransportError) -> IOResult {
        if let tls { return try tls.write(from: pointer, count: count) }
        guard let fd = socket?.fd else { return .closed }
        while true {
            let n = send(fd, pointer, count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .bytes(n) }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return .wantWrite }
            throw POSIXErrors.error(.connectionClosed, "send", errno: code)
        }
    }

    private func readSome() throws(TransportError) -> IOResult {
        if let tls { return try tls.read(into: input, count: inputCapacity) }
        guard let fd = socket?.fd else { return .closed }
        while true {
            let n = recv(fd, input, inputCapacity, 0)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .closed }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return .wantRead }
            throw POSIXErrors.error(.connectionClosed, "recv", errno: code)
        }
    }

    private func readAvailable(session: OpaquePointer) throws(TransportError) {
        for _ in 0..<16 {
            switch try readSome() {
            case .bytes(let n):
                lastReadAt = monotonicNanos()
                try consume(UnsafeRawBufferPointer(start: input, count: n), session: session)
                if n < inputCapacity && tls == nil { return }
            case .wantRead, .wantWrite: return
            case .closed:
                throw TransportError(.connectionClosed, "connection closed by peer")
            }
        }
    }

    /// Hands bytes read from the peer to nghttp2 (whose callbacks run now) and runs the actions
    /// they caused; throws what ends the connection.
    private func consume(_ bytes: UnsafeRawBufferPointer, session: OpaquePointer) throws(TransportError) {
        guard let base = bytes.baseAddress else { return }
        let rc = nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        processActions()
        if rc < 0 {
            throw TransportError(.protocolError, "HTTP/2 protocol error from peer: \(NGHTTP2Errors.describe(rc))")
        }
        if let connectionError { throw connectionError }
    }

    /// Fails everything and marks the connection closed.
    private func fail(_ error: TransportError) {
        shared.withLock { $0.accepting = false }
        drainSubmissions()
        pendingActions += machine.connectionFailed(error)
        processActions()
        for context in Array(requests.values) { finish(context, .failure(error)) }
    }

    private func finishThread() {
        if connectionError == nil, !machine.isFinished { fail(TransportError(.connectionClosed, "connection closed")) }
        // Anything that raced in after the last drain.
        let leftovers = shared.withLock { state -> [RequestContext] in
            state.accepting = false
            state.closed = true
            let leftovers = state.queue
            state.queue.removeAll()
            return leftovers
        }
        for context in leftovers {
            context.completion(.failure(TransportError(.connectionClosed, "connection closed before the request was sent")))
        }
        for context in Array(requests.values) {
            finish(context, .failure(TransportError(.connectionClosed, "connection closed")))
        }
        streams.removeAll()
        session = nil
        tls = nil
        socket?.close()
        socket = nil
    }

    // MARK: - nghttp2 events (called from the callbacks during mem_recv / mem_send)

    /// A received header field. Returns false to reset the stream (header list too large).
    func receivedHeader(_ context: RequestContext, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) -> Bool {
        context.headerBytes += name.count + value.count + 32
        if context.headerBytes > configuration.maxHeaderListBytes {
            if context.error == nil {
                context.error = TransportError(.headerListTooLarge,
                                               "response header list exceeds \(configuration.maxHeaderListBytes) bytes")
            }
            return false
        }
        if name.count == 7 && name.elementsEqual(":status".utf8) {
            var status = 0
            for byte in value where byte >= 48 && byte <= 57 { status = status * 10 + Int(byte - 48) }
            if status >= 200 { context.status = status; context.headers.removeAll() }
            return true
        }
        if name.first == UInt8(ascii: ":") { return true }
        let field = HTTPField(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
        if context.headersComplete { context.trailers.append(field) } else { context.headers.append(field) }
        return true
    }

    func receivedStreamFrame(_ context: RequestContext, isHeaders: Bool, endStream: Bool) {
        if isHeaders && context.status >= 200 { context.headersComplete = true }
        if endStream { context.endStreamReceived = true }
    }

    func receivedData(_ context: RequestContext, _ data: UnsafeBufferPointer<UInt8>) {
        guard context.error == nil else { return }
        if context.body.count + data.count > context.maxBodyBytes {
            context.error = TransportError(.responseTooLarge, "response body exceeds \(context.maxBodyBytes) bytes")
            if let session = session?.session {
                _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), context.streamID, NGHTTP2_CANCEL.rawValue)
            }
            return
        }
        context.body.append(contentsOf: data)
    }

    func streamClosed(_ streamID: Int32, errorCode: UInt32) {
        if let context = streams.removeValue(forKey: streamID), !context.completed {
            if let error = context.error {
                finish(context, .failure(error))
            } else if context.endStreamReceived && context.status >= 200 {
                finish(context, .success(HTTP2Response(status: context.status, headers: context.headers,
                                                       trailers: context.trailers, body: context.body)))
            } else {
                finish(context, .failure(Self.streamResetError(errorCode)))
            }
        }
        machine.streamClosed(streamID, into: &pendingActions)
    }

    /// The error of a stream the peer reset before a complete response. What is retried follows
    /// gRPC's mapping of RST_STREAM codes (PROTOCOL-HTTP2.md, "Errors") and the OTLP
    /// specification's retryable gRPC codes: REFUSED_STREAM (UNAVAILABLE: not processed) is a
    /// `goAway`, sent again at once on a new stream; CANCEL (CANCELLED) is retryable;
    /// ENHANCE_YOUR_CALM (RESOURCE_EXHAUSTED, the server asking for less load) is retryable and
    /// carries its code so the exporters back off first; NO_ERROR before END_STREAM,
    /// INTERNAL_ERROR and every other code (INTERNAL, PERMISSION_DENIED) are not retried.
    static func streamResetError(_ errorCode: UInt32) -> TransportError {
        if errorCode == NGHTTP2_REFUSED_STREAM.rawValue {
            return TransportError(.goAway, "stream refused by the server (not processed)", http2ErrorCode: errorCode)
        }
        let retryable = errorCode == NGHTTP2_CANCEL.rawValue || errorCode == NGHTTP2_ENHANCE_YOUR_CALM.rawValue
        return TransportError(.streamReset, "stream reset: \(NGHTTP2Errors.http2ErrorName(errorCode))",
                              isRetryable: retryable, http2ErrorCode: errorCode)
    }

    func receivedSettings() {
        guard let session = session?.session else { return }
        let value = nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
        pendingActions += machine.peerSettings(maxConcurrentStreams: Int(clamping: value))
    }

    func receivedGoAway(lastStreamID: Int32, errorCode: UInt32) {
        shared.withLock { $0.accepting = false }
        pendingActions += machine.goAway(lastStreamID: lastStreamID)
    }

    func receivedPingAck() { pingSentAt = nil }

    /// nghttp2 sent GOAWAY: with an error code it found the peer violating HTTP/2 (bad frame,
    /// flood, CONTINUATION limit ...) and ends the session.
    func sentGoAway(errorCode: UInt32) {
        if errorCode != NGHTTP2_NO_ERROR.rawValue && connectionError == nil {
            connectionError = TransportError(.protocolError, "peer violated HTTP/2; sent GOAWAY \(NGHTTP2Errors.http2ErrorName(errorCode))")
        }
    }
}

// MARK: - Without a socket

extension HTTP2Connection {
    /// Plays the I/O thread without a socket or a thread, for the receive path's fuzz target and
    /// tests: starts the session (its SETTINGS are queued for ``receiveWithoutSocket(_:)`` to
    /// return) and admits the requests submitted so far. Never combined with ``start()``.
    func startWithoutSocket() throws(TransportError) {
        try startSession()
        lastReadAt = monotonicNanos()
        pendingActions += machine.connected()
        drainSubmissions()
        processActions()
    }

    /// One turn of the I/O thread's loop with `bytes` as what the socket read: admits submitted
    /// requests, writes what is pending, gives the session `bytes` through the same code as the
    /// I/O thread, and writes what that caused. Returns everything written. Throws what would end
    /// the connection; then call ``closeWithoutSocket(_:)``.
    func receiveWithoutSocket(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> [UInt8] {
        guard let session = session?.session else { throw TransportError(.connectionClosed, "no session") }
        drainSubmissions()
        processActions()
        try serializeFrames(session: session)
        try consume(bytes, session: session)
        try serializeFrames(session: session)
        let written = Array(UnsafeRawBufferPointer(start: output.readPointer, count: output.readableBytes))
        output.consume(written.count)
        if let connectionError { throw connectionError }
        return written
    }

    /// Ends the connection as the I/O thread does when it stops (with `error` if one ended it):
    /// every request not completed yet completes now.
    func closeWithoutSocket(_ error: TransportError?) {
        if let error { fail(error) }
        finishThread()
    }
}
