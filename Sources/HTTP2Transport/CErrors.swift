// The one place per C library where its errors become TransportErrors.
import CNGHTTP2
import COpenSSL
import HTTPTransportCore
#if canImport(Glibc)
import Glibc
#endif

enum POSIXErrors {
    /// `errno` as text, e.g. "Connection refused (errno 111)".
    static func describe(_ code: Int32) -> String {
        "\(String(cString: strerror(code))) (errno \(code))"
    }

    static func error(_ code: TransportError.Code, _ what: String, errno value: Int32) -> TransportError {
        TransportError(code, "\(what): \(describe(value))")
    }
}

enum OpenSSLErrors {
    /// Drains the thread's OpenSSL error queue into one line (oldest first).
    static func drainQueue() -> String {
        var parts: [String] = []
        var buffer = [CChar](repeating: 0, count: 256)
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            ERR_error_string_n(code, &buffer, buffer.count)
            parts.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return parts.joined(separator: "; ")
    }

    static func clearQueue() { ERR_clear_error() }

    static func error(_ code: TransportError.Code, _ what: String) -> TransportError {
        let queue = drainQueue()
        return TransportError(code, queue.isEmpty ? what : "\(what): \(queue)")
    }

    /// A failed handshake: certificate problems become `certificateVerificationFailed`.
    static func handshakeError(ssl: OpaquePointer) -> TransportError {
        let verify = SSL_get_verify_result(ssl)
        let queue = drainQueue()
        if verify != X509_V_OK {
            let reason = String(cString: X509_verify_cert_error_string(verify))
            return TransportError(.certificateVerificationFailed, "server certificate rejected: \(reason)")
        }
        return TransportError(.tlsHandshakeFailed, queue.isEmpty ? "TLS handshake failed" : "TLS handshake failed: \(queue)")
    }
}

enum NGHTTP2Errors {
    static func describe(_ code: Int) -> String {
        String(cString: nghttp2_strerror(Int32(truncatingIfNeeded: code)))
    }

    /// An error returned by an nghttp2 function.
    static func error(_ what: String, code: Int) -> TransportError {
        let text = describe(code)
        switch Int32(truncatingIfNeeded: code) {
        case NGHTTP2_ERR_NOMEM.rawValue, NGHTTP2_ERR_CALLBACK_FAILURE.rawValue:
            return TransportError(.internalError, "\(what): \(text)")
        case NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE.rawValue:
            return TransportError(.connectionClosed, "\(what): \(text)", isRetryable: true)
        default:
            return TransportError(.protocolError, "\(what): \(text)")
        }
    }

    /// The name of an HTTP/2 error code (RST_STREAM / GOAWAY).
    static func http2ErrorName(_ code: UInt32) -> String {
        String(cString: nghttp2_http2_strerror(code))
    }
}
