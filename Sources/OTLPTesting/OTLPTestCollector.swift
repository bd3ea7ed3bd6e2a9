// An embedded OTLP collector for tests: OTLP/gRPC and OTLP/HTTP receivers on ephemeral ports,
// decoded requests, flattened views, waits, counters and scripted faults.
import HTTP2Transport
import HTTPTransportCore
import OTLPProto
import OTLPSync

/// An OTLP collector inside the test process.
///
/// ```swift
/// let collector = try await OTLPTestCollector.start()
/// // export to collector.grpcEndpoint! (gRPC) or collector.httpURL(for: .traces)! (OTLP/HTTP)
/// let spans = try await collector.waitFor(spans: 3, timeout: .seconds(5))
/// await collector.stop()
/// ```
///
/// It serves `/opentelemetry.proto.collector.{trace,metrics,logs}.v1.*Service/Export` over
/// HTTP/2 (h2c, prior knowledge; gzip `grpc-encoding`) and OTLP/HTTP `POST /v1/{traces,metrics,logs}`
/// (HTTP/1.1 or h2c; `application/x-protobuf` or `application/json`; gzip `content-encoding`),
/// each on its own port, served by one I/O thread per port; with `server.tls` in the
/// configuration, over TLS (ALPN h2 or http/1.1, optional client certificates). Waiting never blocks a thread: waits
/// are continuations resumed from the server threads.
public final class OTLPTestCollector: Sendable {
    /// Settings of a collector.
    public struct Configuration: Sendable {
        /// Address to listen on. Default `127.0.0.1`.
        public var host: String
        /// Port of the gRPC receiver; 0 (default) picks a free one.
        public var grpcPort: UInt16
        /// Port of the OTLP/HTTP receiver; 0 (default) picks a free one.
        public var httpPort: UInt16
        /// Largest request: the HTTP body, the gRPC message, and each after gzip decompression.
        /// Default 4 MiB, as the OpenTelemetry Collector's gRPC receiver.
        public var maxRequestBytes: Int
        /// Transport limits and TLS (`server.tls`: certificate, key, optional client CA for mTLS;
        /// both receivers then speak TLS only). `host`, `port` and `maxRequestBodyBytes` are set
        /// from the above.
        public var server: HTTPServerConfiguration
        /// TLS with certificates generated for this collector (see ``OTLPTestCollector/certificates``);
        /// default `.none` (cleartext, unless `server.tls` is set).
        public var tls: TLSMode
        /// Keep every accepted request and its flattened items (default). `false` keeps counts only
        /// (a long-running `otlp collect`).
        public var keepsRequests: Bool
        /// Called for every accepted request, on a server thread, before waiters are resumed.
        public var onRequest: (@Sendable (ReceivedRequest) -> Void)?
        /// The identities of the items received, for the duplicate counters (see ``ItemLedger``);
        /// `nil` (default): a ledger of this collector's own. Pass one ledger to the collectors
        /// that replace each other on a port to count re-sent items across a restart.
        public var ledger: ItemLedger?
        /// Record every accepted item's identity in the ledger and count repeats (default). `false`
        /// counts no duplicates; with `keepsRequests` off and no `onRequest`, binary requests are
        /// then validated and counted without being decoded into messages (the fastest way to
        /// count, as `otlp collect --no-duplicates`).
        public var countsDuplicates: Bool

        public init(host: String = "127.0.0.1", grpcPort: UInt16 = 0, httpPort: UInt16 = 0, maxRequestBytes: Int = 4 << 20,
                    server: HTTPServerConfiguration = HTTPServerConfiguration(), tls: TLSMode = .none, keepsRequests: Bool = true,
                    onRequest: (@Sendable (ReceivedRequest) -> Void)? = nil, ledger: ItemLedger? = nil,
                    countsDuplicates: Bool = true) {
            self.ledger = ledger
            self.countsDuplicates = countsDuplicates
            self.tls = tls
            self.host = host
            self.grpcPort = grpcPort
            self.httpPort = httpPort
            self.maxRequestBytes = maxRequestBytes
            self.server = server
            self.keepsRequests = keepsRequests
            self.onRequest = onRequest
        }
    }

    /// How the collector does TLS.
    public enum TLSMode: Sendable, Hashable {
        /// No generated certificates: cleartext, or `server.tls` as configured.
        case none
        /// A certificate authority made in process for this collector (``TestCertificateAuthority``):
        /// the receivers serve its `localhost` certificate; with `requireClientCertificate`,
        /// clients must present a certificate it signed (its client certificate is one).
        case generated(requireClientCertificate: Bool)
    }

    /// A wait that did not complete.
    public struct WaitError: Error, Sendable, CustomStringConvertible {
        /// What was awaited, what had arrived.
        public var description: String
    }

    private struct Waiter {
        let id: Int
        let isSatisfied: @Sendable (State) -> Bool
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var requests: [ReceivedRequest] = []
        var spans: [ReceivedSpan] = []
        var metricPoints: [ReceivedMetricPoint] = []
        var logRecords: [ReceivedLogRecord] = []
        var counters = Counters()
        var faults: [(signal: Signal?, fault: Fault)] = []
        var waiters: [Waiter] = []
        var nextWaiterID = 0
        var stopped = false
    }

    private let state = LockedValue(State())
    private let configuration: Configuration
    /// The identities of the items received (``Configuration/ledger`` or a ledger of its own).
    public let ledger: ItemLedger
    private let grpcServer: HTTPServer?
    private let httpServer: HTTPServer?
    /// The generated certificate authority with `tls: .generated`: trust `caCertificateFile`;
    /// `clientCertificateFile` / `clientKeyFile` for mutual TLS. Its files are deleted with the collector.
    public let certificates: TestCertificateAuthority?

    /// Starts the receivers asked for, each on its own port.
    /// - Throws: `TransportError` when a port cannot be bound.
    public static func start(grpc: Bool = true, http: Bool = true, configuration: Configuration = Configuration()) async throws -> OTLPTestCollector {
        try OTLPTestCollector(grpc: grpc, http: http, configuration: configuration)
    }

    /// Starts the receivers synchronously (binding is immediate); ``start(grpc:http:configuration:)``
    /// is the async form.
    public init(grpc: Bool = true, http: Bool = true, configuration: Configuration = Configuration()) throws {
        var configuration = configuration
        if case .generated(let requireClientCertificate) = configuration.tls {
            let authority = try TestCertificateAuthority.generate()
            certificates = authority
            configuration.server.tls = HTTPServerTLSConfiguration(
                certificateFile: authority.serverCertificateFile, privateKeyFile: authority.serverKeyFile,
                clientCAFile: requireClientCertificate ? authority.caCertificateFile : nil)
        } else {
            certificates = nil
        }
        self.configuration = configuration
        ledger = configuration.ledger ?? ItemLedger()
        let box = HandlerBox()
        func server(port: UInt16) throws(TransportError) -> HTTPServer {
            var settings = configuration.server
            settings.host = configuration.host
            settings.port = port
            // Room for the gRPC prefix; the message itself is checked against maxRequestBytes.
            settings.maxRequestBodyBytes = configuration.maxRequestBytes + 5
            return try HTTPServer(configuration: settings) { request in box.handle(request) }
        }
        grpcServer = grpc ? try server(port: configuration.grpcPort) : nil
        httpServer = http ? try server(port: configuration.httpPort) : nil
        box.collector.withLock { $0 = WeakCollector(value: self) }
    }

    deinit {
        grpcServer?.shutdown()
        httpServer?.shutdown()
        certificates?.remove()
    }

    // MARK: Endpoints

    /// The gRPC receiver's port, nil when not started.
    public var grpcPort: UInt16? { grpcServer?.port }
    /// The OTLP/HTTP receiver's port, nil when not started.
    public var httpPort: UInt16? { httpServer?.port }
    /// `http://HOST:PORT` of the gRPC receiver (h2c), `https://` with TLS.
    public var grpcEndpoint: String? { grpcServer.map { "\(scheme)://\($0.authority)" } }
    /// `http://HOST:PORT` (`https://` with TLS) of the OTLP/HTTP receiver (append `/v1/traces` ...,
    /// or use ``httpURL(for:)``).
    public var httpEndpoint: String? { httpServer.map { "\(scheme)://\($0.authority)" } }
    private var scheme: String { configuration.server.tls == nil ? "http" : "https" }
    /// The OTLP/HTTP URL of a signal, e.g. `http://127.0.0.1:PORT/v1/traces`.
    public func httpURL(for signal: Signal) -> String? { httpEndpoint.map { $0 + signal.httpPath } }

    // MARK: What arrived

    /// Accepted requests, in arrival order.
    public var requests: [ReceivedRequest] { state.withLock { $0.requests } }
    /// Every span of the accepted requests.
    public var spans: [ReceivedSpan] { state.withLock { $0.spans } }
    /// Every metric data point of the accepted requests.
    public var metricPoints: [ReceivedMetricPoint] { state.withLock { $0.metricPoints } }
    /// Every log record of the accepted requests.
    public var logRecords: [ReceivedLogRecord] { state.withLock { $0.logRecords } }

    /// The counters, including the transport's rejections.
    public var counters: Counters {
        var counters = state.withLock { $0.counters }
        counters.transportRejections = (grpcServer?.statistics.rejected ?? 0) + (httpServer?.statistics.rejected ?? 0)
        return counters
    }

    /// The transport counters of the gRPC and the OTLP/HTTP receiver.
    public var transportStatistics: (grpc: HTTPServerStatistics?, http: HTTPServerStatistics?) {
        (grpcServer?.statistics, httpServer?.statistics)
    }

    /// Forgets what arrived and zeroes the request counters (faults stay queued).
    public func reset() {
        state.withLock { state in
            state.requests.removeAll()
            state.spans.removeAll()
            state.metricPoints.removeAll()
            state.logRecords.removeAll()
            state.counters = Counters()
        }
    }

    // MARK: Faults

    /// Queues faults: each answers one export request in place of the normal answer, in order.
    /// With `signal`, only requests of that signal take them.
    public func enqueueFaults(_ faults: [Fault], signal: Signal? = nil) {
        state.withLock { state in
            for fault in faults { state.faults.append((signal, fault)) }
        }
    }

    /// Queues one fault (see ``enqueueFaults(_:signal:)``).
    public func enqueueFault(_ fault: Fault, signal: Signal? = nil) { enqueueFaults([fault], signal: signal) }

    /// Faults not yet used.
    public var pendingFaults: Int { state.withLock { $0.faults.count } }

    // MARK: Waiting

    /// Waits until at least `count` spans have arrived; returns all spans so far.
    /// - Throws: ``WaitError`` after `timeout`, `CancellationError` when cancelled.
    @discardableResult
    public func waitFor(spans count: Int, timeout: Duration = .seconds(30)) async throws -> [ReceivedSpan] {
        try await wait(timeout: timeout, what: "\(count) spans") { $0.counters.spans >= count }
        return spans
    }

    /// Waits until at least `count` metric data points have arrived; returns all so far.
    @discardableResult
    public func waitFor(metricPoints count: Int, timeout: Duration = .seconds(30)) async throws -> [ReceivedMetricPoint] {
        try await wait(timeout: timeout, what: "\(count) metric points") { $0.counters.metricPoints >= count }
        return metricPoints
    }

    /// Waits until at least `count` log records have arrived; returns all so far.
    @discardableResult
    public func waitFor(logRecords count: Int, timeout: Duration = .seconds(30)) async throws -> [ReceivedLogRecord] {
        try await wait(timeout: timeout, what: "\(count) log records") { $0.counters.logRecords >= count }
        return logRecords
    }

    /// Waits until at least `count` export requests (accepted or not) have arrived.
    public func waitFor(requests count: Int, timeout: Duration = .seconds(30)) async throws {
        try await wait(timeout: timeout, what: "\(count) requests") { $0.counters.requests >= count }
    }

    private func wait(timeout: Duration, what: String, until isSatisfied: @escaping @Sendable (State) -> Bool) async throws {
        let id = state.withLock { state -> Int in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        let timer = Task { [weak self] in
            try await Task.sleep(for: timeout)
            self?.expireWaiter(id, WaitError(description: "timed out after \(timeout) waiting for \(what); have \(self?.counters.description ?? "")"))
        }
        defer { timer.cancel() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome = state.withLock { state -> Result<Void, any Error>? in
                    if isSatisfied(state) { return .success(()) }
                    if state.stopped { return .failure(WaitError(description: "collector stopped while waiting for \(what)")) }
                    state.waiters.append(Waiter(id: id, isSatisfied: isSatisfied, continuation: continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            expireWaiter(id, CancellationError())
        }
    }

    private func expireWaiter(_ id: Int, _ error: any Error) {
        let waiter = state.withLock { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(throwing: error)
    }

    // MARK: Stopping

    /// Stops both receivers (closing every connection) and fails pending waits.
    public func stop() async {
        if let grpcServer { await grpcServer.shutdownAndWait() }
        if let httpServer { await httpServer.shutdownAndWait() }
        let waiters = state.withLock { state -> [Waiter] in
            state.stopped = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.continuation.resume(throwing: WaitError(description: "collector stopped")) }
    }

    // MARK: Serving (server threads)

    func handle(_ request: HTTPServerRequest) -> HTTPServerResponse {
        let signal = OTLPReceiver.signal(of: request)
        let fault: Fault? = signal == nil ? nil : state.withLock { state in
            guard let index = state.faults.firstIndex(where: { $0.signal == nil || $0.signal == signal }) else { return nil }
            return state.faults.remove(at: index).fault
        }
        // Keeping counts only, with nobody to hand requests to and no duplicates to count, binary
        // bodies are validated and counted without building messages.
        let countsOnly = !configuration.keepsRequests && configuration.onRequest == nil && !configuration.countsDuplicates
        let outcome = OTLPReceiver.handle(request, fault: fault, maxMessageBytes: configuration.maxRequestBytes, countsOnly: countsOnly)
        if let accepted = outcome.accepted { configuration.onRequest?(accepted) }
        let keeps = configuration.keepsRequests
        let items = keeps || configuration.countsDuplicates ? outcome.accepted?.payload.receivedItems : nil
        let repeated = configuration.countsDuplicates ? items.map { ledger.record($0) } : nil
        let satisfied = state.withLock { state -> [Waiter] in
            if let repeated {
                state.counters.duplicateSpans += repeated.spans
                state.counters.duplicateMetricPoints += repeated.metricPoints
                state.counters.duplicateLogRecords += repeated.logRecords
            }
            if let signal = outcome.signal {
                state.counters.requests += 1
                state.counters.requestsBySignal[signal, default: 0] += 1
            }
            if outcome.rejected { state.counters.rejectedRequests += 1 }
            if let accepted = outcome.accepted {
                Self.count(accepted.payload.itemCount, of: accepted.payload.signal, into: &state.counters)
                if keeps, let items {
                    state.spans += items.spans
                    state.metricPoints += items.metricPoints
                    state.logRecords += items.logRecords
                    state.requests.append(accepted)
                }
            } else if let items = outcome.countedItems, let signal = outcome.signal {
                Self.count(items, of: signal, into: &state.counters)
            }
            guard !state.waiters.isEmpty else { return [] }
            var ready: [Waiter] = []
            var waiting: [Waiter] = []
            for waiter in state.waiters {
                if waiter.isSatisfied(state) { ready.append(waiter) } else { waiting.append(waiter) }
            }
            state.waiters = waiting
            return ready
        }
        for waiter in satisfied { waiter.continuation.resume() }
        return outcome.response
    }

    private static func count(_ items: Int, of signal: Signal, into counters: inout Counters) {
        switch signal {
        case .traces: counters.spans += items
        case .metrics: counters.metricPoints += items
        case .logs: counters.logRecords += items
        }
    }
}

/// The servers are made before the collector exists; their handler reaches it through this box
/// (weakly: the collector owns the servers).
private final class HandlerBox: Sendable {
    let collector = LockedValue(WeakCollector(value: nil))

    func handle(_ request: HTTPServerRequest) -> HTTPServerResponse {
        guard let collector = collector.withLock({ $0.value }) else {
            return HTTPServerResponse(status: 503, body: Array("collector stopped\n".utf8))
        }
        return collector.handle(request)
    }
}

private struct WeakCollector {
    weak var value: OTLPTestCollector?
}
