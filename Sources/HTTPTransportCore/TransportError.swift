/// A failure of the transport: the request did not produce an HTTP/2 response (or a gRPC status).
///
/// `isRetryable` says whether sending the same request again (on a new connection if needed)
/// may succeed. Errors that reflect our own configuration or a request the peer rejected as
/// malformed are not retryable; connection loss, refused streams and GOAWAY are.
public struct TransportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure. Extensible: new codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable, Hashable {
            case invalidConfiguration, dnsFailure, connectFailed, connectTimeout, tlsHandshakeFailed,
                 alpnMismatch, certificateVerificationFailed, connectionClosed, goAway, streamReset,
                 deadlineExceeded, protocolError, responseTooLarge, headerListTooLarge, shutdown,
                 ioError, internalError
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }
        public var description: String { value.rawValue }

        /// The configuration is unusable (bad URL, missing file, cert without key ...).
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The host name could not be resolved.
        public static let dnsFailure = Code(.dnsFailure)
        /// No TCP connection could be made to any resolved address.
        public static let connectFailed = Code(.connectFailed)
        /// TCP connect or TLS handshake did not finish within the connect timeout.
        public static let connectTimeout = Code(.connectTimeout)
        /// The TLS handshake failed for a reason other than certificate verification.
        public static let tlsHandshakeFailed = Code(.tlsHandshakeFailed)
        /// The server did not select ALPN `h2`.
        public static let alpnMismatch = Code(.alpnMismatch)
        /// The server's certificate was not trusted or did not match the host name.
        public static let certificateVerificationFailed = Code(.certificateVerificationFailed)
        /// The connection was closed or lost while the request was queued or in flight.
        public static let connectionClosed = Code(.connectionClosed)
        /// The server sent GOAWAY before processing this stream.
        public static let goAway = Code(.goAway)
        /// The server reset this stream (RST_STREAM).
        public static let streamReset = Code(.streamReset)
        /// The request's deadline passed before a complete response arrived.
        public static let deadlineExceeded = Code(.deadlineExceeded)
        /// The peer violated HTTP/2 (garbage, bad frames, flow-control errors ...).
        public static let protocolError = Code(.protocolError)
        /// The response body exceeded the configured maximum.
        public static let responseTooLarge = Code(.responseTooLarge)
        /// The response header list exceeded the configured maximum.
        public static let headerListTooLarge = Code(.headerListTooLarge)
        /// The client was shut down.
        public static let shutdown = Code(.shutdown)
        /// A socket read or write failed.
        public static let ioError = Code(.ioError)
        /// A bug or resource failure inside the transport (e.g. out of memory in nghttp2).
        public static let internalError = Code(.internalError)
    }

    /// What went wrong.
    public var code: Code
    /// Human-readable detail (errno text, OpenSSL error queue, nghttp2 error string ...).
    public var message: String
    /// Whether retrying the same request may succeed.
    public var isRetryable: Bool
    /// The HTTP/2 error code (RFC 9113 section 7) of the RST_STREAM or GOAWAY that caused a
    /// `streamReset` or `goAway`, when the peer sent one. `0xB` (ENHANCE_YOUR_CALM) asks the
    /// client to send less: the exporters back off before retrying.
    public var http2ErrorCode: UInt32?

    public init(_ code: Code, _ message: String, isRetryable: Bool? = nil, http2ErrorCode: UInt32? = nil) {
        self.code = code
        self.message = message
        self.isRetryable = isRetryable ?? TransportError.defaultRetryable(code)
        self.http2ErrorCode = http2ErrorCode
    }

    static func defaultRetryable(_ code: Code) -> Bool {
        switch code {
        case .dnsFailure, .connectFailed, .connectTimeout, .connectionClosed, .goAway, .streamReset,
             .deadlineExceeded, .ioError, .protocolError:
            return true
        default:
            return false
        }
    }

    public var description: String {
        "\(code)\(isRetryable ? " (retryable)" : ""): \(message)"
    }
}
