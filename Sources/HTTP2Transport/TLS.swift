// TLS on the connection's socket via OpenSSL (SSL_set_fd on the non-blocking socket).
import COpenSSL
import HTTPTransportCore
#if canImport(Glibc)
import Glibc
#endif

/// Owns an `SSL_CTX` configured from `TLSOptions`: TLS 1.2+, the given ALPN offer, verification
/// on unless insecure.
final class TLSContext: @unchecked Sendable {
    // Immutable after init; OpenSSL allows sharing a configured SSL_CTX across threads.
    let context: OpaquePointer
    let options: TLSOptions
    /// Protocols offered in ALPN, in preference order.
    let alpnProtocols: [String]
    /// The handshake fails with `alpnMismatch` unless the server selects `h2` (gRPC, HTTP2Client).
    let requiresH2: Bool

    /// - Parameters:
    ///   - alpnProtocols: offered in this order; `["h2"]` (default) for HTTP/2-only clients,
    ///     `["h2", "http/1.1"]` to let the server choose, `["http/1.1"]` for HTTP/1.1 only.
    ///   - requiresH2: fail the handshake unless `h2` is selected. Default true.
    init(options: TLSOptions, alpnProtocols: [String] = ["h2"], requiresH2: Bool = true) throws(TransportError) {
        OpenSSLErrors.clearQueue()
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw OpenSSLErrors.error(.internalError, "SSL_CTX_new failed")
        }
        self.context = context
        self.options = options
        self.alpnProtocols = alpnProtocols
        self.requiresH2 = requiresH2
        guard COpenSSL_SSL_CTX_set_min_proto_version(context, COpenSSL_TLS1_2_VERSION()) == 1 else {
            throw OpenSSLErrors.error(.internalError, "cannot set minimum TLS version")
        }
        _ = COpenSSL_SSL_CTX_set_options(context, COpenSSL_SSL_OP_NO_COMPRESSION())
        _ = COpenSSL_SSL_CTX_set_mode(context, COpenSSL_SSL_MODE_ENABLE_PARTIAL_WRITE() | COpenSSL_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER())
        // ALPN wire format: each protocol as a length byte then its bytes.
        // Note: SSL_CTX_set_alpn_protos returns 0 on success.
        var alpn: [UInt8] = []
        for name in alpnProtocols {
            let bytes = Array(name.utf8)
            guard (1...255).contains(bytes.count) else {
                throw TransportError(.invalidConfiguration, "bad ALPN protocol name '\(name)'")
            }
            alpn.append(UInt8(bytes.count))
            alpn += bytes
        }
        if !alpn.isEmpty {
            guard SSL_CTX_set_alpn_protos(context, alpn, UInt32(alpn.count)) == 0 else {
                throw OpenSSLErrors.error(.internalError, "cannot set ALPN")
            }
        }
        if options.insecure {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        } else {
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            if let caFile = options.caFile {
                guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                    throw OpenSSLErrors.error(.invalidConfiguration, "cannot load CA file \(caFile)")
                }
            } else if SSL_CTX_set_default_verify_paths(context) != 1 {
                throw OpenSSLErrors.error(.invalidConfiguration, "cannot load the system trust store")
            }
        }
        switch (options.clientCertificateFile, options.clientKeyFile) {
        case (nil, nil): break
        case (let cert?, let key?):
            guard SSL_CTX_use_certificate_chain_file(context, cert) == 1 else {
                throw OpenSSLErrors.error(.invalidConfiguration, "cannot load client certificate \(cert)")
            }
            guard SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) == 1 else {
                throw OpenSSLErrors.error(.invalidConfiguration, "cannot load client key \(key)")
            }
            guard SSL_CTX_check_private_key(context) == 1 else {
                throw OpenSSLErrors.error(.invalidConfiguration, "client key does not match client certificate")
            }
        default:
            throw TransportError(.invalidConfiguration, "client certificate and client key must be given together")
        }
    }

    deinit { SSL_CTX_free(context) }
}

/// Owns one `SSL` bound to a socket. Used only by its connection's I/O thread.
final class TLSConnection {
    let ssl: OpaquePointer
    private let requiresH2: Bool
    private var fatal = false
    /// The protocol the server selected in ALPN (`h2`, `http/1.1` ...), `nil` when it selected
    /// none. Set when the handshake is done.
    private(set) var negotiatedProtocol: String?

    init(context: TLSContext, fd: Int32, host: String) throws(TransportError) {
        OpenSSLErrors.clearQueue()
        guard let ssl = SSL_new(context.context) else {
            throw OpenSSLErrors.error(.internalError, "SSL_new failed")
        }
        self.ssl = ssl
        self.requiresH2 = context.requiresH2
        guard SSL_set_fd(ssl, fd) == 1 else { throw OpenSSLErrors.error(.internalError, "SSL_set_fd failed") }
        let name = context.options.serverName ?? host
        let isIPAddress = TLSConnection.isIPAddress(name)
        if !isIPAddress {
            // SNI is only for host names (RFC 6066 forbids IP literals).
            _ = COpenSSL_SSL_set_tlsext_host_name(ssl, name)
        }
        if !context.options.insecure {
            // Never pass an empty name: OpenSSL would silently skip the check (validate() forbids it).
            precondition(!name.isEmpty, "empty TLS server name")
            if isIPAddress {
                guard let param = SSL_get0_param(ssl), X509_VERIFY_PARAM_set1_ip_asc(param, name) == 1 else {
                    throw OpenSSLErrors.error(.invalidConfiguration, "cannot set IP address check for \(name)")
                }
            } else {
                guard SSL_set1_host(ssl, name) == 1 else {
                    throw OpenSSLErrors.error(.invalidConfiguration, "cannot set host name check for \(name)")
                }
            }
        }
    }

    deinit { SSL_free(ssl) }

    static func isIPAddress(_ name: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, name, &v4) == 1 || inet_pton(AF_INET6, name, &v6) == 1
    }

    /// One handshake step: returns nil when done, or what to wait for. When the context requires
    /// h2, a finished handshake that selected anything else throws `alpnMismatch`.
    func handshakeStep() throws(TransportError) -> IOResult? {
        OpenSSLErrors.clearQueue()
        let rc = SSL_connect(ssl)
        if rc == 1 {
            var data: UnsafePointer<UInt8>?
            var length: UInt32 = 0
            SSL_get0_alpn_selected(ssl, &data, &length)
            if let data, length > 0 {
                negotiatedProtocol = String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
            }
            if requiresH2 && negotiatedProtocol != "h2" {
                fatal = true
                throw TransportError(.alpnMismatch, "server did not negotiate ALPN h2", isRetryable: false)
            }
            return nil
        }
        let error = SSL_get_error(ssl, rc)
        switch error {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        default:
            fatal = true
            if error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 {
                let saved = errno
                if saved == 0 { throw TransportError(.tlsHandshakeFailed, "connection closed during TLS handshake") }
                throw POSIXErrors.error(.tlsHandshakeFailed, "TLS handshake", errno: saved)
            }
            throw OpenSSLErrors.handshakeError(ssl: ssl)
        }
    }

    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws(TransportError) -> IOResult {
        OpenSSLErrors.clearQueue()
        var done = 0
        let rc = SSL_read_ex(ssl, buffer, count, &done)
        if rc == 1 { return .bytes(done) }
        return try translate(SSL_get_error(ssl, 0), what: "TLS read")
    }

    func write(from buffer: UnsafeRawPointer, count: Int) throws(TransportError) -> IOResult {
        OpenSSLErrors.clearQueue()
        var done = 0
        let rc = SSL_write_ex(ssl, buffer, count, &done)
        if rc == 1 { return .bytes(done) }
        return try translate(SSL_get_error(ssl, 0), what: "TLS write")
    }

    private func translate(_ error: Int32, what: String) throws(TransportError) -> IOResult {
        switch error {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .closed
        case SSL_ERROR_SYSCALL:
            fatal = true
            let saved = errno
            if ERR_peek_error() == 0 && saved == 0 { return .closed }
            if ERR_peek_error() == 0 {
                // A reset or a broken pipe is the peer going away without close_notify: the same
                // `connectionClosed` as on a cleartext socket.
                let code: TransportError.Code = saved == ECONNRESET || saved == EPIPE ? .connectionClosed : .ioError
                throw POSIXErrors.error(code, what, errno: saved)
            }
            throw OpenSSLErrors.error(.ioError, what)
        default:
            // OpenSSL 3 reports a close without close_notify as SSL_ERROR_SSL ("unexpected eof").
            fatal = true
            throw OpenSSLErrors.error(.connectionClosed, what)
        }
    }

    /// Sends close_notify once, unless a fatal error happened (never SSL_shutdown after one).
    func shutdown() {
        if !fatal { _ = SSL_shutdown(ssl); fatal = true }
    }
}
