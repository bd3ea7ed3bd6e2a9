import ArgumentParser

/// The options `send` and `load` share for reaching a collector: extra request headers, gzip,
/// and TLS (trusted CA certificates, a client certificate, or no verification).
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "Extra request header K=V (repeatable; gRPC metadata over gRPC), e.g. authorization=Bearer x.")
    var header: [String] = []

    @Flag(name: .long, help: "gzip-compress requests (grpc-encoding: gzip over gRPC).")
    var gzip = false

    @Option(name: .customLong("ca-file"), help: "PEM CA certificates to trust instead of the system store.")
    var caFile: String?

    @Option(name: .customLong("client-cert"), help: "PEM client certificate for mTLS (with --client-key).")
    var clientCert: String?

    @Option(name: .customLong("client-key"), help: "PEM client key for mTLS (with --client-cert).")
    var clientKey: String?

    @Flag(name: .long, help: "Do not verify the server certificate (testing only).")
    var insecure = false

    /// The `--header` entries split at their first `=`, names lowercased, in the order given.
    /// - Throws: what `usage` makes of the message naming an entry that is not K=V.
    func headerFields(orUsage usage: (String) -> ExitCode) throws(ExitCode) -> [(name: String, value: String)] {
        try header.map { (entry) throws(ExitCode) in
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                throw usage("--header must be K=V: \(entry)")
            }
            return (String(entry[..<equals]).lowercased(), String(entry[entry.index(after: equals)...]))
        }
    }
}
