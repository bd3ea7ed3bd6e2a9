import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Starts `executable` under `tools/peers/guard.py`, so it dies with the test process even when
/// the test never stops it (shared peers) and when the guard is killed with SIGKILL.
///
/// The guard needs only Python's standard library: it runs on the system `python3` when there is
/// one, so peers that are not Python (nghttpd, openssl) need no venv. With no Python at all the
/// peer runs unguarded (still killed by `stop()` and when its `ChildProcess` is released).
public func startGuardedPeer(_ executable: String, _ arguments: [String], keepStdinOpen: Bool = false) throws -> ChildProcess {
    let guardScript = TestEnvironment.repositoryRoot.appendingPathComponent("tools/peers/guard.py").path
    let python = TestEnvironment.guardPython
    guard FileManager.default.isExecutableFile(atPath: python) else {
        return try ChildProcess(executable, arguments, keepStdinOpen: keepStdinOpen)
    }
    return try ChildProcess(python, ["-u", guardScript, executable] + arguments, keepStdinOpen: keepStdinOpen)
}

/// Waits until something accepts TCP connections on `host`:`port` (IPv4 or IPv6 literal).
public func waitForTCPPort(_ port: UInt16, host: String = "127.0.0.1", timeout: Double = 10) throws {
    let deadline = Date().addingTimeInterval(timeout)
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_flags = AI_NUMERICHOST
    var info: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, String(port), &hints, &info) == 0, let address = info else {
        throw ChildProcess.Failure.couldNotStart(command: "wait for \(host)", reason: "bad address")
    }
    defer { freeaddrinfo(info) }
    while Date() < deadline {
        let fd = socket(address.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let rc = connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen)
        close(fd)
        if rc == 0 { return }
        Thread.sleep(forTimeInterval: 0.02)
    }
    throw ChildProcess.Failure.timedOut(command: "wait for port \(port)", seconds: timeout)
}

/// Waits until `port` accepts connections and `peer` still runs a moment later. The port came
/// from ``freeLoopbackPort()``, which releases it: another process may bind it first, and then
/// the peer exits at once (address in use) while the probe reached that other process.
public func waitForPeerListening(_ peer: ChildProcess, port: UInt16, host: String = "127.0.0.1", timeout: Double) throws {
    try waitForTCPPort(port, host: host, timeout: timeout)
    // The guard polls its peer every 0.2 s and exits with it.
    Thread.sleep(forTimeInterval: 0.5)
    guard peer.isRunning else {
        throw ChildProcess.Failure.couldNotStart(command: "peer on port \(port)", reason: "exited: \(peer.stderrSoFar)")
    }
}

/// The Python OTLP/gRPC collector peer (`tools/peers/collector.py`). Behaviour per call is
/// scripted through request metadata; see the script's doc string.
public final class CollectorPeer: @unchecked Sendable {
    public let process: ChildProcess
    public let port: UInt16

    /// Starts the collector (h2c, or TLS with `tls: (cert, key)`; `clientCA` requires mTLS).
    public init(port: UInt16 = 0, tls: (cert: String, key: String)? = nil, clientCA: String? = nil,
                maxConcurrentStreams: Int? = nil) throws {
        var arguments = [TestEnvironment.repositoryRoot.appendingPathComponent("tools/peers/collector.py").path,
                         "--port", String(port)]
        if let tls { arguments += ["--tls", tls.cert, tls.key] }
        if let clientCA { arguments += ["--client-ca", clientCA] }
        if let maxConcurrentStreams { arguments += ["--max-concurrent-streams", String(maxConcurrentStreams)] }
        process = try startGuardedPeer(TestEnvironment.python, ["-u"] + arguments)
        let text = try process.waitForOutput(containing: "listening on ", timeout: 20)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }),
              let parsed = UInt16(line.dropFirst("listening on ".count).trimmingCharacters(in: .whitespaces)) else {
            process.kill()
            throw ChildProcess.Failure.couldNotStart(command: "collector.py", reason: "no port in \(text)")
        }
        self.port = parsed
    }

    public var httpURL: String { "http://127.0.0.1:\(port)" }

    public func stop() { process.kill() }
    deinit { process.kill() }
}

/// Starts a peer on a free loopback port, trying up to five ports: another process may take the
/// port between `freeLoopbackPort()` and the peer's bind. `start` launches the peer on a port;
/// `ready` throws when it does not come up there (the peer is then killed and another port tried).
func startPeerOnFreePort(
    _ command: String, start: (UInt16) throws -> ChildProcess, ready: (ChildProcess, UInt16) throws -> Void
) throws -> (ChildProcess, UInt16) {
    var lastError: Error?
    for _ in 0..<5 {
        let port = freeLoopbackPort()
        let child = try start(port)
        do {
            try ready(child, port)
            return (child, port)
        } catch {
            lastError = error
            child.kill()
        }
    }
    throw lastError ?? ChildProcess.Failure.couldNotStart(command: command, reason: "no port")
}

/// `nghttpd` (Debian nghttp2-server): h2c or TLS, serving files from a temporary folder and
/// echoing POST bodies (`--echo-upload`).
public final class NghttpdPeer: @unchecked Sendable {
    public let process: ChildProcess
    public let port: UInt16
    public let htdocs: URL

    /// - Parameters:
    ///   - tls: certificate and key; `nil` for h2c (`--no-tls`).
    ///   - requireClientCertificate: `-V` (nghttpd requests a client certificate and fails the
    ///     handshake without one; it does not verify it).
    ///   - address: the address to listen on (`127.0.0.1`, or `::1` for IPv6).
    public init(tls: (cert: String, key: String)? = nil, requireClientCertificate: Bool = false,
                address: String = "127.0.0.1", extraArguments: [String] = []) throws {
        htdocs = FileManager.default.temporaryDirectory.appendingPathComponent("nghttpd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: htdocs, withIntermediateDirectories: true)
        try Data("hello from nghttpd\n".utf8).write(to: htdocs.appendingPathComponent("hello.txt"))
        let folder = htdocs.path
        (process, port) = try startPeerOnFreePort("nghttpd", start: { port in
            var arguments = ["-a", address, "-d", folder, "--echo-upload"] + extraArguments
            if requireClientCertificate { arguments.append("-V") }
            if let tls { arguments += [String(port), tls.key, tls.cert] } else { arguments += ["--no-tls", String(port)] }
            return try startGuardedPeer("/usr/sbin/nghttpd", arguments)
        }, ready: { child, port in try waitForPeerListening(child, port: port, host: address, timeout: 5) })
    }

    public func stop() {
        process.kill()
        try? FileManager.default.removeItem(at: htdocs)
    }
    deinit { stop() }
}

/// `openssl s_server` without ALPN (it never selects h2): for the "ALPN h2 required" test.
public final class OpenSSLServerPeer: @unchecked Sendable {
    public let process: ChildProcess
    public let port: UInt16

    public init(cert: String, key: String) throws {
        (process, port) = try startPeerOnFreePort("openssl s_server", start: { port in
            try startGuardedPeer("/usr/bin/openssl",
                                 ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", cert, "-key", key, "-www", "-quiet"])
        }, ready: { child, port in try waitForPeerListening(child, port: port, timeout: 5) })
    }

    public func stop() { process.kill() }
    deinit { stop() }
}

/// `openssl s_server` selecting ALPN h2, scripted through its stdin: bytes written go to the
/// connected client as TLS application data (the test writes HTTP/2 frames), and a write of
/// `K\n` alone sends a TLS 1.3 KeyUpdate asking the client to update its keys too (`k\n`: without
/// asking). What the client sends shows on stdout. One client connection at a time.
public final class OpenSSLScriptedServerPeer: @unchecked Sendable {
    public let process: ChildProcess
    public let port: UInt16

    /// - Parameter arguments: more `s_server` options (`-tls1_3`, `-tls1_1` ...).
    public init(cert: String, key: String, arguments: [String] = []) throws {
        (process, port) = try startPeerOnFreePort("openssl s_server", start: { port in
            // stdbuf -o0: s_server's own messages (printf) reach the pipe at once, not at exit.
            try startGuardedPeer("/usr/bin/stdbuf",
                                 ["-o0", "/usr/bin/openssl", "s_server", "-accept", "127.0.0.1:\(port)",
                                  "-cert", cert, "-key", key, "-alpn", "h2"] + arguments, keepStdinOpen: true)
        }, ready: { child, _ in
            // Not probed with a connection: s_server would take it for the client.
            _ = try child.waitForOutput(containing: "ACCEPT", timeout: 10)
        })
    }

    /// Sends `bytes` to the client (or, `K\n` alone, a KeyUpdate).
    public func write(_ bytes: [UInt8]) throws { try process.writeToStdin(Data(bytes)) }

    /// Waits until the client has sent something containing `marker` (a request body).
    public func waitForClientData(containing marker: String, timeout: Double = 30) throws {
        _ = try process.waitForOutput(containing: marker, timeout: timeout)
    }

    /// Everything s_server printed so far (the client's bytes and its own messages).
    public var output: String { process.stdoutSoFar + process.stderrSoFar }

    /// Waits until s_server has printed `marker` on stdout or stderr.
    public func waitForOutput(containing marker: String, timeout: Double = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !output.contains(marker) {
            if Date() >= deadline { throw ChildProcess.Failure.timedOut(command: "openssl s_server printing \(marker)", seconds: timeout) }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    public func stop() { process.kill() }
    deinit { stop() }
}

/// Test certificates made with the `openssl` command in a temporary folder: a CA, a server
/// certificate for `localhost` / 127.0.0.1, one for another name, an expired one, one from an
/// untrusted CA, and a client certificate.
public struct TestCertificates: Sendable {
    public let directory: URL
    public func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// CA certificate (trust anchor) and key.
    public var caCert: String { path("ca.pem") }
    /// Server certificate for DNS:localhost and IP:127.0.0.1, signed by the CA.
    public var serverCert: String { path("server.pem") }
    public var serverKey: String { path("server.key") }
    /// Signed by the CA, but only for DNS:wrong.example.
    public var wrongNameCert: String { path("wrong.pem") }
    /// For localhost, signed by the CA, expired yesterday.
    public var expiredCert: String { path("expired.pem") }
    /// For localhost, signed by a different CA nobody trusts.
    public var untrustedCert: String { path("untrusted.pem") }
    /// Client certificate (CN=test-client), signed by the CA.
    public var clientCert: String { path("client.pem") }
    public var clientKey: String { path("client.key") }

    /// Generates everything (a second or so). All leaf certificates share `server.key`'s key
    /// except the client's.
    public static func generate() throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("otlp-certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificates = TestCertificates(directory: directory)
        func openssl(_ arguments: [String]) throws {
            let output = try ChildProcess.run("/usr/bin/openssl", arguments, timeout: 30)
            guard output.status == 0 else {
                throw ChildProcess.Failure.couldNotStart(command: "openssl \(arguments.joined(separator: " "))",
                                                         reason: output.stderrText)
            }
        }
        let p = certificates.path
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        try openssl(["req", "-x509"] + ec + ["-keyout", p("ca.key"), "-out", p("ca.pem"), "-subj", "/CN=swift-otlp test CA", "-days", "2"])
        try openssl(["req", "-x509"] + ec + ["-keyout", p("other-ca.key"), "-out", p("other-ca.pem"), "-subj", "/CN=untrusted CA", "-days", "2"])
        try openssl(["req"] + ec + ["-keyout", p("server.key"), "-out", p("server.csr"), "-subj", "/CN=localhost"])
        try openssl(["req"] + ec + ["-keyout", p("client.key"), "-out", p("client.csr"), "-subj", "/CN=test-client"])
        try Data("subjectAltName=DNS:localhost,IP:127.0.0.1\n".utf8).write(to: directory.appendingPathComponent("server.ext"))
        try Data("subjectAltName=DNS:wrong.example\n".utf8).write(to: directory.appendingPathComponent("wrong.ext"))
        try Data("extendedKeyUsage=clientAuth\n".utf8).write(to: directory.appendingPathComponent("client.ext"))
        func sign(_ csr: String, ca: String, out: String, ext: String, days: String) throws {
            try openssl(["x509", "-req", "-in", p(csr), "-CA", p(ca + ".pem"), "-CAkey", p(ca + ".key"), "-CAcreateserial",
                         "-days", days, "-extfile", p(ext), "-out", p(out)])
        }
        try sign("server.csr", ca: "ca", out: "server.pem", ext: "server.ext", days: "2")
        try sign("server.csr", ca: "ca", out: "wrong.pem", ext: "wrong.ext", days: "2")
        try sign("server.csr", ca: "ca", out: "expired.pem", ext: "server.ext", days: "-1")
        try sign("server.csr", ca: "other-ca", out: "untrusted.pem", ext: "server.ext", days: "2")
        try sign("client.csr", ca: "ca", out: "client.pem", ext: "client.ext", days: "2")
        return certificates
    }

    public func remove() { try? FileManager.default.removeItem(at: directory) }
}
