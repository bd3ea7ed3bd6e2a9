// HTTPTransportCore: what the layers above a transport need to talk to any transport, in Swift
// only: the `HTTPTransport` protocol, requests and responses, `TransportError`, client
// configuration values, and gRPC unary calls over any `HTTPTransport` (framing, status and
// trailer handling). The implementation on sockets, nghttp2, OpenSSL and zlib is
// `HTTP2Transport`; gzip reaches the core only through the `GzipCodec` protocol.
//
// Errors: every failure is a `TransportError` with a `Code` and `isRetryable`. gRPC statuses —
// including client-side ones such as INTERNAL for a malformed response or RESOURCE_EXHAUSTED for
// one over the size cap — come back as `GRPCResponse`, not as errors.

/// Sends HTTP requests. Implemented by `HTTP2Transport`'s `HTTP2Client`, `HTTP1Client` and
/// `NegotiatingHTTPClient` (real connections), and by `OTLPTestSupport`'s
/// `InMemoryHTTPTransport` (tests of higher layers).
///
/// Errors: every failure is a `TransportError`; `isRetryable` says whether sending again may help.
public protocol HTTPTransport: Sendable {
    /// Sends `request`; `completion` is called exactly once (possibly on another thread).
    func execute(_ request: HTTP2Request, completion: @escaping HTTP2Completion)
    /// Stops the transport. Graceful: in-flight requests finish first. Later requests fail
    /// with `TransportError.Code.shutdown`. Blocks until connections are closed.
    func shutdown(graceful: Bool)
}

extension HTTPTransport {
    /// Sends `request` and waits for the complete response.
    public func execute(_ request: HTTP2Request) async throws(TransportError) -> HTTP2Response {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<HTTP2Response, TransportError>, Never>) in
            execute(request) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }
}
