import Foundation
import HTTP2Transport
import HTTPTransportCore
import OTLPSync
import OTLPTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// TLS on the HTTP/2 path when the server is awkward or wrong: records that arrive one byte at a
/// time, a TLS 1.3 KeyUpdate mid-connection, a close without close_notify, and a server that
/// speaks only TLS 1.1. (Client key/certificate mismatch and a CA file that is not PEM are in
/// `ExporterErrorTests`.)
@Suite("TLS failures")
struct TLSFailureTests {
    func configuration(port: UInt16) async throws -> HTTP2ClientConfiguration {
        HTTP2ClientConfiguration(endpoint: Endpoint(host: "localhost", port: port, useTLS: true),
                                 tls: TLSOptions(caFile: try await TLSTests.certificates.value.caCert),
                                 connectTimeout: .seconds(20))
    }

    /// Starts a POST whose body is `marker` and returns once `peer` has received it.
    func startRequest(_ client: HTTP2Client, on peer: OpenSSLScriptedServerPeer, marker: String)
        async throws -> Task<(Result<HTTP2Response, TransportError>, Double), Never> {
        let task = Task { await timedExecute(client, HTTP2Request(path: "/", body: Array(marker.utf8), timeout: .seconds(60))) }
        try await offPool { try peer.waitForClientData(containing: marker) }
        return task
    }

    @Test func serverRecordsArrivingOneByteAtATimeAreReassembled() async throws {
        let certs = try await TLSTests.certificates.value
        let server = try await offPool { try NghttpdPeer(tls: (certs.serverCert, certs.serverKey)) }
        defer { server.stop() }
        let relay = try ByteAtATimeRelay(to: server.port)
        defer { relay.stop() }
        let client = try HTTP2Client(configuration: try await configuration(port: relay.port))
        defer { client.shutdown(graceful: false) }
        let response = try await client.execute(HTTP2Request(method: "GET", path: "/hello.txt", timeout: .seconds(60)))
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self) == "hello from nghttpd\n")
        // The handshake alone (certificate, finished) is well over a thousand single-byte sends.
        #expect(relay.singleByteSends > 1000, "\(relay.singleByteSends)")
    }

    @Test func keyUpdateFromTheServerMidConnectionKeepsTheConnectionWorking() async throws {
        let certs = try await TLSTests.certificates.value
        let peer = try await offPool { try OpenSSLScriptedServerPeer(cert: certs.serverCert, key: certs.serverKey, arguments: ["-tls1_3"]) }
        defer { peer.stop() }
        let client = try HTTP2Client(configuration: try await configuration(port: peer.port))
        defer { client.shutdown(graceful: false) }

        let first = try await startRequest(client, on: peer, marker: "request-one")
        try peer.write(Frame.settings() + Frame.settingsAck + Frame.response(1, body: Array("one".utf8)))
        let one = try await first.value.0.get()
        #expect(String(decoding: one.body, as: UTF8.self) == "one")

        // KeyUpdate with update_requested: both directions change keys.
        try peer.write(Array("K\n".utf8))
        try await offPool { try peer.waitForOutput(containing: "SSL_do_handshake -> 1") }

        let second = try await startRequest(client, on: peer, marker: "request-two")
        try peer.write(Frame.response(3, body: Array("two".utf8)))
        let two = try await second.value.0.get()
        #expect(String(decoding: two.body, as: UTF8.self) == "two")
        #expect(client.connectionCount == 1)
    }

    @Test func closeWithoutCloseNotifyMidResponseIsARetryableConnectionClosed() async throws {
        let certs = try await TLSTests.certificates.value
        let peer = try await offPool { try OpenSSLScriptedServerPeer(cert: certs.serverCert, key: certs.serverKey) }
        defer { peer.stop() }
        let client = try HTTP2Client(configuration: try await configuration(port: peer.port))
        defer { client.shutdown(graceful: false) }

        let request = try await startRequest(client, on: peer, marker: "request-eof")
        try peer.write(Frame.settings() + Frame.settingsAck + Frame.headers200(1))
        // SIGKILL: the kernel closes the socket, no close_notify is ever sent.
        peer.stop()
        let (result, seconds) = await request.value
        switch result {
        case .success(let response): Issue.record("expected connectionClosed, got HTTP \(response.status)")
        case .failure(let error):
            #expect(error.code == .connectionClosed, "\(error)")
            #expect(error.isRetryable)
        }
        #expect(seconds < 50, "took \(seconds) s: the close was not noticed")
    }

    @Test func serverSpeakingOnlyTLS11FailsTheHandshakeWithAClearError() async throws {
        let certs = try await TLSTests.certificates.value
        let peer = try await offPool {
            try OpenSSLScriptedServerPeer(cert: certs.serverCert, key: certs.serverKey,
                                          arguments: ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
        }
        defer { peer.stop() }
        let client = try HTTP2Client(configuration: try await configuration(port: peer.port))
        defer { client.shutdown(graceful: false) }
        let (result, _) = await timedExecute(client, HTTP2Request(method: "GET", path: "/", timeout: .seconds(30)))
        switch result {
        case .success(let response): Issue.record("TLS 1.1 accepted: HTTP \(response.status)")
        case .failure(let error):
            #expect(error.code == .tlsHandshakeFailed, "\(error)")
            #expect(!error.isRetryable)
            #expect(error.message.contains("protocol version") || error.message.contains("unsupported protocol"), "\(error)")
        }
    }
}

/// A TCP relay to a local port that forwards the server's bytes to the client one byte per
/// `send` (TCP_NODELAY, so each leaves as its own segment), and the client's unchanged.
final class ByteAtATimeRelay: @unchecked Sendable {
    let port: UInt16
    private let listenFD: Int32
    private let state = LockedValue<(fds: [Int32], stopped: Bool, singleByteSends: Int)>(([], false, 0))

    /// Sends of one byte made towards clients so far.
    var singleByteSends: Int { state.withLock { $0.singleByteSends } }

    init(to target: UInt16) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = Self.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        guard listen(fd, 16) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        listenFD = fd
        port = UInt16(bigEndian: address.sin_port)
        let box = UncheckedBox<ByteAtATimeRelay?>(self)
        Thread.detachNewThread {
            while let relay = box.value {
                let client = accept(fd, nil, nil)
                if client < 0 { box.value = nil; return }
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)  // not inherited by children other tests spawn
                let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                var target = Self.loopback(port: target)
                let connected = withUnsafePointer(to: &target) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                let accepted = relay.state.withLock { state -> Bool in
                    if state.stopped || connected != 0 { return false }
                    state.fds += [client, upstream]
                    return true
                }
                if !accepted { close(client); close(upstream); continue }
                var one: Int32 = 1
                setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                Thread.detachNewThread { relay.pump(from: client, to: upstream, byteAtATime: false) }
                Thread.detachNewThread { relay.pump(from: upstream, to: client, byteAtATime: true) }
            }
        }
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        return address
    }

    private func pump(from source: Int32, to destination: Int32, byteAtATime: Bool) {
        var buffer = [UInt8](repeating: 0, count: 16384)
        defer {
            // Either direction ending ends both (their threads then close the descriptors).
            state.withLock { _ in
                Glibc.shutdown(source, Int32(SHUT_RDWR))
                Glibc.shutdown(destination, Int32(SHUT_RDWR))
            }
        }
        while true {
            let n = recv(source, &buffer, buffer.count, 0)
            if n <= 0 { return }
            if byteAtATime {
                for index in 0..<n {
                    if send(destination, &buffer[index], 1, Int32(MSG_NOSIGNAL)) != 1 { return }
                    state.withLock { $0.singleByteSends += 1 }
                }
            } else {
                var offset = 0
                while offset < n {
                    let sent = buffer[offset..<n].withUnsafeBytes { send(destination, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if sent <= 0 { return }
                    offset += sent
                }
            }
        }
    }

    func stop() {
        let fds = state.withLock { state -> [Int32] in
            defer { state.stopped = true }
            return state.stopped ? [] : state.fds
        }
        for fd in fds { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
        Glibc.shutdown(listenFD, Int32(SHUT_RDWR))
    }

    /// Runs once the accepting and pumping threads (which hold the relay) have ended.
    deinit {
        stop()
        for fd in state.withLock({ $0.fds }) { close(fd) }
        close(listenFD)
    }
}
