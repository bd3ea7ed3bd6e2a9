// A throw-away certificate authority made in process with OpenSSL, for tests: a CA, a server
// certificate for localhost / 127.0.0.1 / ::1 and a client certificate, written as PEM files.
import COpenSSL
public import HTTPTransportCore
#if canImport(Glibc)
import Glibc
#endif

/// PEM files of a certificate authority generated for tests (P-256 keys, valid from an hour ago
/// for two days): trust ``caCertificateFile`` in clients; serve with ``serverCertificateFile`` /
/// ``serverKeyFile`` (names `localhost`, `127.0.0.1`, `::1`); present ``clientCertificateFile`` /
/// ``clientKeyFile`` for mutual TLS. Not for production: the keys sit unencrypted in `directory`.
public struct TestCertificateAuthority: Sendable, Hashable {
    /// The folder holding the files.
    public let directory: String

    public var caCertificateFile: String { directory + "/ca.pem" }
    public var serverCertificateFile: String { directory + "/server.pem" }
    public var serverKeyFile: String { directory + "/server.key" }
    public var clientCertificateFile: String { directory + "/client.pem" }
    public var clientKeyFile: String { directory + "/client.key" }

    /// Generates the CA and both certificates into a new folder under `parent` (default: `$TMPDIR`
    /// or `/tmp`).
    /// - Throws: `TransportError` `.internalError` (OpenSSL failure) or `.ioError` (files).
    public static func generate(in parent: String? = nil) throws(TransportError) -> TestCertificateAuthority {
        let base = parent ?? ProcessEnvironment.temporaryDirectory
        var template = Array("\(base)/otlp-test-ca-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXErrors.error(.ioError, "mkdtemp in \(base)", errno: errno) }
        let authority = TestCertificateAuthority(directory: String(cString: made))
        OpenSSLErrors.clearQueue()
        let caKey = try GeneratedKey()
        let ca = try GeneratedCertificate(commonName: "swift-otlp test CA", key: caKey, issuer: nil, serial: 1,
                                          extensions: [(NID_basic_constraints, "critical,CA:TRUE"),
                                                       (NID_key_usage, "critical,keyCertSign,cRLSign")])
        let serverKey = try GeneratedKey()
        let server = try GeneratedCertificate(commonName: "localhost", key: serverKey, issuer: (ca, caKey), serial: 2,
                                              extensions: [(NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"),
                                                           (NID_ext_key_usage, "serverAuth")])
        let clientKey = try GeneratedKey()
        let client = try GeneratedCertificate(commonName: "swift-otlp test client", key: clientKey, issuer: (ca, caKey), serial: 3,
                                              extensions: [(NID_ext_key_usage, "clientAuth")])
        try ca.write(to: authority.caCertificateFile)
        try server.write(to: authority.serverCertificateFile)
        try serverKey.write(to: authority.serverKeyFile)
        try client.write(to: authority.clientCertificateFile)
        try clientKey.write(to: authority.clientKeyFile)
        return authority
    }

    /// Deletes the files and the folder.
    public func remove() {
        for file in [caCertificateFile, serverCertificateFile, serverKeyFile, clientCertificateFile, clientKeyFile] {
            _ = unlink(file)
        }
        _ = rmdir(directory)
    }
}

enum ProcessEnvironment {
    static var temporaryDirectory: String {
        if let value = getenv("TMPDIR"), value.pointee != 0 { return String(cString: value) }
        return "/tmp"
    }
}

/// Owns an `EVP_PKEY` (P-256).
private final class GeneratedKey {
    let key: OpaquePointer

    init() throws(TransportError) {
        guard let context = EVP_PKEY_CTX_new_id(COpenSSL_EVP_PKEY_EC(), nil) else {
            throw OpenSSLErrors.error(.internalError, "EVP_PKEY_CTX_new_id failed")
        }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1,
              EVP_PKEY_CTX_set_ec_paramgen_curve_nid(context, NID_X9_62_prime256v1) == 1,
              EVP_PKEY_keygen(context, &key) == 1, let key else {
            throw OpenSSLErrors.error(.internalError, "EC key generation failed")
        }
        self.key = key
    }

    deinit { EVP_PKEY_free(key) }

    func write(to path: String) throws(TransportError) {
        guard let bio = BIO_new_file(path, "w") else { throw OpenSSLErrors.error(.ioError, "cannot create \(path)") }
        defer { BIO_free(bio) }
        guard PEM_write_bio_PrivateKey(bio, key, nil, nil, 0, nil, nil) == 1 else {
            throw OpenSSLErrors.error(.ioError, "cannot write \(path)")
        }
    }
}

/// Owns an `X509` signed by its issuer (or by itself).
private final class GeneratedCertificate {
    let certificate: OpaquePointer

    init(commonName: String, key: GeneratedKey, issuer: (GeneratedCertificate, GeneratedKey)?, serial: Int,
         extensions: [(Int32, String)]) throws(TransportError) {
        guard let certificate = X509_new() else { throw OpenSSLErrors.error(.internalError, "X509_new failed") }
        self.certificate = certificate
        guard X509_set_version(certificate, 2) == 1,
              ASN1_INTEGER_set(X509_get_serialNumber(certificate), serial) == 1,
              X509_gmtime_adj(X509_getm_notBefore(certificate), -3600) != nil,
              X509_gmtime_adj(X509_getm_notAfter(certificate), 2 * 86400) != nil,
              X509_set_pubkey(certificate, key.key) == 1,
              let name = X509_get_subject_name(certificate),
              X509_NAME_add_entry_by_txt(name, "CN", COpenSSL_MBSTRING_ASC(), commonName, -1, -1, 0) == 1,
              X509_set_issuer_name(certificate, issuer.map { X509_get_subject_name($0.0.certificate) } ?? name) == 1 else {
            throw OpenSSLErrors.error(.internalError, "cannot fill in the certificate for \(commonName)")
        }
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer?.0.certificate ?? certificate, certificate, nil, nil, 0)
        for (nid, value) in extensions {
            guard let extensionValue = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
                throw OpenSSLErrors.error(.internalError, "bad certificate extension \(value)")
            }
            defer { X509_EXTENSION_free(extensionValue) }
            guard X509_add_ext(certificate, extensionValue, -1) == 1 else {
                throw OpenSSLErrors.error(.internalError, "cannot add certificate extension \(value)")
            }
        }
        guard X509_sign(certificate, (issuer?.1 ?? key).key, EVP_sha256()) > 0 else {
            throw OpenSSLErrors.error(.internalError, "cannot sign the certificate for \(commonName)")
        }
    }

    deinit { X509_free(certificate) }

    func write(to path: String) throws(TransportError) {
        guard let bio = BIO_new_file(path, "w") else { throw OpenSSLErrors.error(.ioError, "cannot create \(path)") }
        defer { BIO_free(bio) }
        guard PEM_write_bio_X509(bio, certificate) == 1 else { throw OpenSSLErrors.error(.ioError, "cannot write \(path)") }
    }
}
