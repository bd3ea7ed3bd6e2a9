// A reconnecting HTTP/2 client.
public import HTTPTransportCore
import OTLPSync
import Synchronization

/// An HTTP/2 client on one connection at a time (h2c or TLS), reconnecting when the connection
/// is lost or the server sent GOAWAY. Thread-safe; many requests may be in flight.
///
/// Requests refused by the server without being processed (REFUSED_STREAM, or above a GOAWAY's
/// last stream) are sent once more on a new connection before their error is reported.
public final class HTTP2Client: HTTPTransport {
    private struct State {
        var connection: HTTP2Connection?
        var isShutdown = false
        var connectionsMade = 0
    }

    /// The configuration this client was made with.
    public let configuration: HTTP2ClientConfiguration
    private let tlsContext: TLSContext?
    private let state = LockedValue(State())

    /// Validates the configuration and loads TLS material; connects lazily on the first request.
    public init(configuration: HTTP2ClientConfiguration) throws(TransportError) {
        try configuration.validate()
        self.configuration = configuration
        tlsContext = configuration.endpoint.useTLS ? try TLSContext(options: configuration.tls) : nil
    }

    deinit { shutdown(graceful: false) }

    /// How many connections this client has opened so far (for tests and diagnostics).
    public var connectionCount: Int { state.withLock { $0.connectionsMade } }

    public func execute(_ request: HTTP2Request, completion: @escaping HTTP2Completion) {
        execute(request, retryUnprocessed: true, completion: completion)
    }

    private func execute(_ request: HTTP2Request, retryUnprocessed: Bool, completion: @escaping HTTP2Completion) {
        let wrapped: HTTP2Completion
        if retryUnprocessed {
            let started = monotonicNanos()
            wrapped = { [weak self] result in
                if case .failure(let error) = result, error.code == .goAway, let self {
                    // Sent again within what is left of the request's own deadline.
                    var again = request
                    if let timeout = request.timeout {
                        let elapsed = Duration.nanoseconds(Int64(clamping: monotonicNanos() &- started))
                        guard elapsed < timeout else { completion(result); return }
                        again.timeout = timeout - elapsed
                    }
                    self.execute(again, retryUnprocessed: false, completion: completion)
                } else {
                    completion(result)
                }
            }
        } else {
            wrapped = completion
        }
        for _ in 0..<3 {
            let connection: HTTP2Connection
            switch currentConnection() {
            case .success(let current): connection = current
            case .failure(let error): completion(.failure(error)); return
            }
            if connection.submit(request, completion: wrapped) { return }
        }
        completion(.failure(TransportError(.connectionClosed, "could not submit on a fresh connection")))
    }

    private func currentConnection() -> Result<HTTP2Connection, TransportError> {
        state.withLock { state -> Result<HTTP2Connection, TransportError> in
            if state.isShutdown { return .failure(TransportError(.shutdown, "client is shut down", isRetryable: false)) }
            if let connection = state.connection, connection.isAccepting { return .success(connection) }
            if let old = state.connection { old.shutdown(graceful: true) }
            do throws(TransportError) {
                let connection = try HTTP2Connection(configuration: configuration, tlsContext: tlsContext)
                try connection.start()
                state.connection = connection
                state.connectionsMade += 1
                return .success(connection)
            } catch {
                state.connection = nil
                return .failure(error)
            }
        }
    }

    public func shutdown(graceful: Bool) {
        let connection = state.withLock { state -> HTTP2Connection? in
            state.isShutdown = true
            defer { state.connection = nil }
            return state.connection
        }
        guard let connection else { return }
        connection.shutdown(graceful: graceful)
        connection.join()
    }
}
