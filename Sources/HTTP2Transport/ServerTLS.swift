// TLS on the server side via OpenSSL: a server SSL_CTX (certificate, key, ALPN h2 or
// http/1.1, optional client-certificate verification) and one SSL per accepted connection.
import COpenSSL
import HTTPTransportCore
#if canImport(Glibc)
import Glibc
#endif

/// TLS settings of an ``HTTPServer``.
public struct HTTPServerTLSConfiguration: Sendable, Hashable {
    /// PEM certificate chain of the server.
    public var certificateFile: String
    /// PEM private key of the certificate.
    public var privateKeyFile: String
    /// PEM CA certificates. When set, every client must present a certificate that chains to one
    /// of them (mutual TLS); the handshake fails otherwise. Default `nil`: no client certificate asked.
    public var clientCAFile: String?

    public init(certificateFile: String, privateKeyFile: String, clientCAFile: String? = nil) {
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
        self.clientCAFile = clientCAFile
    }
}

/// Owns a server `SSL_CTX`: TLS 1.2+, ALPN selects `h2` when offered, else `http/1.1`.
final class ServerTLSContext: @unchecked Sendable {
    // Immutable after init; OpenSSL allows sharing a configured SSL_CTX across threads.
    let context: OpaquePointer

    init(configuration: HTTPServerTLSConfiguration) throws(TransportError) {
        OpenSSLErrors.clearQueue()
        guard let context = SSL_CTX_new(TLS_server_method()) else {
            throw OpenSSLErrors.error(.internalError, "SSL_CTX_new failed")
        }
        self.context = context
        guard COpenSSL_SSL_CTX_set_min_proto_version(context, COpenSSL_TLS1_2_VERSION()) == 1 else {
            throw OpenSSLErrors.error(.internalError, "cannot set minimum TLS version")
        }
        _ = COpenSSL_SSL_CTX_set_options(context, COpenSSL_SSL_OP_NO_COMPRESSION())
        _ = COpenSSL_SSL_CTX_set_mode(context, COpenSSL_SSL_MODE_ENABLE_PARTIAL_WRITE() | COpenSSL_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER())
        guard SSL_CTX_use_certificate_chain_file(context, configuration.certificateFile) == 1 else {
            throw OpenSSLErrors.error(.invalidConfiguration, "cannot load server certificate \(configuration.certificateFile)")
        }
        guard SSL_CTX_use_PrivateKey_file(context, configuration.privateKeyFile, SSL_FILETYPE_PEM) == 1 else {
            throw OpenSSLErrors.error(.invalidConfiguration, "cannot load server key \(configuration.privateKeyFile)")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw OpenSSLErrors.error(.invalidConfiguration, "server key does not match the server certificate")
        }
        if let caFile = configuration.clientCAFile {
            guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1, let names = SSL_load_client_CA_file(caFile) else {
                throw OpenSSLErrors.error(.invalidConfiguration, "cannot load client CA file \(caFile)")
            }
            SSL_CTX_set_client_CA_list(context, names)
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        } else {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        }
        SSL_CTX_set_alpn_select_cb(context, serverSelectALPN, nil)
    }

    deinit { SSL_CTX_free(context) }
}

/// ALPN: `h2` if the client offers it, else `http/1.1`, else no protocol (the connection is then
/// detected from its first bytes like a cleartext one).
private func serverSelectALPN(
    _ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLength: UnsafeMutablePointer<UInt8>?,
    _ offered: UnsafePointer<UInt8>?, _ offeredLength: UInt32, _ argument: UnsafeMutableRawPointer?
) -> Int32 {
    guard let out, let outLength, let offered else { return SSL_TLSEXT_ERR_NOACK }
    let list = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
    for wanted in ["h2", "http/1.1"] {
        var index = 0
        while index < list.count {
            let length = Int(list[index])
            let start = index + 1
            guard start + length <= list.count else { break }
            if list[start..<(start + length)].elementsEqual(wanted.utf8) {
                out.pointee = offered + start
                outLength.pointee = UInt8(length)
                return SSL_TLSEXT_ERR_OK
            }
            index = start + length
        }
    }
    return SSL_TLSEXT_ERR_NOACK
}

/// Owns one server-side `SSL` bound to an accepted socket. Used only by the server's I/O thread.
final class ServerTLSSession {
    let ssl: OpaquePointer
    private var fatal = false
    private(set) var handshakeDone = false
    /// The protocol chosen in ALPN, nil when none.
    private(set) var negotiatedProtocol: String?

    init(context: ServerTLSContext, fd: Int32) throws(TransportError) {
        OpenSSLErrors.clearQueue()
        guard let ssl = SSL_new(context.context) else { throw OpenSSLErrors.error(.internalError, "SSL_new failed") }
        self.ssl = ssl
        guard SSL_set_fd(ssl, fd) == 1 else { throw OpenSSLErrors.error(.internalError, "SSL_set_fd failed") }
        SSL_set_accept_state(ssl)
    }

    deinit { SSL_free(ssl) }

    /// One handshake step: nil when done, or what to wait for.
    func handshakeStep() throws(TransportError) -> IOResult? {
        OpenSSLErrors.clearQueue()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            handshakeDone = true
            var data: UnsafePointer<UInt8>?
            var length: UInt32 = 0
            SSL_get0_alpn_selected(ssl, &data, &length)
            if let data, length > 0 {
                negotiatedProtocol = String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
            }
            return nil
        }
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        default:
            fatal = true
            throw OpenSSLErrors.error(.tlsHandshakeFailed, "TLS handshake with a client failed")
        }
    }

    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws(TransportError) -> IOResult {
        OpenSSLErrors.clearQueue()
        var done = 0
        if SSL_read_ex(ssl, buffer, count, &done) == 1 { return .bytes(done) }
        return try translate(SSL_get_error(ssl, 0), what: "TLS read")
    }

    func write(from buffer: UnsafeRawPointer, count: Int) throws(TransportError) -> IOResult {
        OpenSSLErrors.clearQueue()
        var done = 0
        if SSL_write_ex(ssl, buffer, count, &done) == 1 { return .bytes(done) }
        return try translate(SSL_get_error(ssl, 0), what: "TLS write")
    }

    private func translate(_ error: Int32, what: String) throws(TransportError) -> IOResult {
        switch error {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .closed
        default:
            // A close without close_notify is SSL_ERROR_SYSCALL (errno 0) or, in OpenSSL 3, SSL_ERROR_SSL.
            fatal = true
            if error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0 { return .closed }
            throw OpenSSLErrors.error(.connectionClosed, what)
        }
    }

    /// Sends close_notify once, unless a fatal error happened (never SSL_shutdown after one).
    func shutdown() {
        if !fatal && handshakeDone { _ = SSL_shutdown(ssl); fatal = true }
    }
}
