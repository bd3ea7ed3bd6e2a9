// A transport answered by a closure, for tests of the layers above HTTPTransportCore: no
// sockets, and every request kept for inspection.
import HTTPTransportCore
import OTLPSync

/// An in-memory `HTTPTransport` for tests of higher layers: a handler answers each request.
public final class InMemoryHTTPTransport: HTTPTransport {
    public typealias Handler = @Sendable (HTTP2Request) -> Result<HTTP2Response, TransportError>
    private let handler: Handler
    private let state = LockedValue<(requests: [HTTP2Request], isShutdown: Bool)>(([], false))

    public init(handler: @escaping Handler) { self.handler = handler }

    /// Every request received so far.
    public var requests: [HTTP2Request] { state.withLock { $0.requests } }

    public func execute(_ request: HTTP2Request, completion: @escaping HTTP2Completion) {
        let isShutdown = state.withLock { state -> Bool in
            if !state.isShutdown { state.requests.append(request) }
            return state.isShutdown
        }
        if isShutdown {
            completion(.failure(TransportError(.shutdown, "transport is shut down", isRetryable: false)))
        } else {
            completion(handler(request))
        }
    }

    public func shutdown(graceful: Bool) { state.withLock { $0.isShutdown = true } }
}
