import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A Python OTLP receiver started by a test (or the demo): `tools/peers/fault_collector.py`
/// (OTLP/gRPC) or `tools/peers/http_receiver.py` (OTLP/HTTP, protobuf and JSON). Both decode
/// with the reference `opentelemetry-proto`, play a fault script, and report every call and
/// every accepted item as JSON lines, which this type parses.
public final class OTLPReceiverPeer: @unchecked Sendable {
    /// Which receiver.
    public enum Kind: Sendable {
        case grpc
        case http
        var script: String { self == .grpc ? "fault_collector.py" : "http_receiver.py" }
    }

    /// One call as the receiver saw it (before any fault was applied).
    public struct Call: Sendable, Hashable {
        public var number: Int
        public var signal: String
        /// The scripted gRPC status (gRPC) or HTTP status (HTTP) answered.
        public var status: Int
        public var items: Int
        public var contentType: String?
        /// Calls in progress at the receiver when this one arrived (this one included).
        public var inflight: Int
        /// HTTP receiver over TLS: the ALPN protocol it selected (`""` for none); `nil` in cleartext.
        public var tlsProtocol: String?
    }

    /// One accepted request.
    public struct Accepted: @unchecked Sendable {
        public var signal: String
        /// Item keys (span names, log bodies, `metric:value`), or full records with `detail`.
        public var items: [Any]
        /// Items the receiver rejected in a partial success.
        public var rejected: [Any]
        public var headers: [String: String]
        /// Keys of `items` (the `key` field of detailed records).
        public var keys: [String] { items.compactMap { ($0 as? String) ?? (($0 as? [String: Any])?["key"] as? String) } }
    }

    public let kind: Kind
    public let port: UInt16
    /// Whether it serves TLS.
    public let usesTLS: Bool
    private let child: ChildProcess

    /// Starts a receiver. `port` 0 picks a free one. `script` is a JSON list of per-call faults
    /// (see the Python files' docstrings). Waits until it listens.
    ///
    /// HTTP receiver only: `tls` serves HTTPS (HTTP/1.1 over TLS) with this certificate and key;
    /// `alpn` lists the ALPN protocols it may select (empty: it selects none); `clientCA`
    /// requires a client certificate signed by that CA.
    public init(_ kind: Kind, port: UInt16 = 0, script: String = "[]", detail: Bool = false,
                tls: (cert: String, key: String)? = nil, alpn: [String] = [], clientCA: String? = nil,
                extraArguments: [String] = []) throws {
        self.kind = kind
        let path = TestEnvironment.repositoryRoot.appendingPathComponent("tools/peers/\(kind.script)").path
        var arguments = [path, "--port", String(port), "--script", script]
        if detail { arguments.append("--detail") }
        if let tls {
            arguments += ["--tls-cert", tls.cert, "--tls-key", tls.key]
            if !alpn.isEmpty { arguments += ["--alpn", alpn.joined(separator: ",")] }
            if let clientCA { arguments += ["--client-ca", clientCA] }
        }
        usesTLS = tls != nil
        arguments += extraArguments
        child = try ChildProcess(TestEnvironment.python, arguments)
        let text = try child.waitForOutput(containing: "{\"listening\":", timeout: 30)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("{\"listening\":") }),
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let listening = object["listening"] as? Int, let p = UInt16(exactly: listening) else {
            child.kill()
            throw ChildProcess.Failure.couldNotStart(command: kind.script, reason: "no port in \(text)")
        }
        self.port = p
    }

    /// `http://127.0.0.1:PORT`, or `https://localhost:PORT` over TLS (the test certificates'
    /// name).
    public var endpoint: String { usesTLS ? "https://localhost:\(port)" : "http://127.0.0.1:\(port)" }

    private func lines() -> [[String: Any]] {
        child.stdoutSoFar.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// The values of `key` in every output line that has it, in order.
    public func lines(key: String) -> [Any] { lines().compactMap { $0[key] } }

    /// Every call so far, in arrival order.
    public var calls: [Call] {
        lines().compactMap { o in
            guard let n = o["call"] as? Int, let s = o["signal"] as? String, let st = o["status"] as? Int,
                  let i = o["items"] as? Int else { return nil }
            return Call(number: n, signal: s, status: st, items: i, contentType: o["content_type"] as? String,
                        inflight: o["inflight"] as? Int ?? 0, tlsProtocol: o["tls"] as? String)
        }
    }

    /// Every accepted request so far.
    public var accepted: [Accepted] {
        lines().compactMap { o in
            guard let s = o["accepted"] as? String, let items = o["items"] as? [Any] else { return nil }
            return Accepted(signal: s, items: items, rejected: o["rejected"] as? [Any] ?? [],
                            headers: o["headers"] as? [String: String] ?? [:])
        }
    }

    /// All accepted item keys of `signal`, in arrival order.
    public func acceptedKeys(_ signal: String) -> [String] {
        accepted.filter { $0.signal == signal }.flatMap(\.keys)
    }

    /// Polls until `condition` holds or `timeout` seconds pass; returns whether it held.
    @discardableResult
    public func wait(timeout: Double = 10, until condition: (OTLPReceiverPeer) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition(self) { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return condition(self)
    }

    /// ``wait(timeout:until:)`` for async code: polls with `Task.sleep`, so the waiting test
    /// holds no thread of the cooperative pool (other tests' tasks need those threads).
    @discardableResult
    public func wait(timeout: Double = 10, until condition: (OTLPReceiverPeer) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(self)
    }

    /// ``settle(calls:accepted:timeout:)`` for async code (holds no pool thread while it waits).
    @discardableResult
    public func settle(calls: Int, accepted: Int, timeout: Double = 5) async -> Bool {
        await wait(timeout: timeout) { $0.calls.count >= calls && $0.accepted.count >= accepted }
    }

    /// Waits until the receiver has reported `calls` calls and `accepted` accepted requests
    /// (its output reaches us asynchronously, possibly after the client saw the response).
    @discardableResult
    public func settle(calls: Int, accepted: Int, timeout: Double = 5) -> Bool {
        wait(timeout: timeout) { $0.calls.count >= calls && $0.accepted.count >= accepted }
    }

    /// What the receiver printed on standard error (for failure messages).
    public var stderr: String { child.stderrSoFar }

    /// Kills the receiver (SIGKILL) and waits for it.
    public func stop() { child.kill() }

    deinit { child.kill() }
}
