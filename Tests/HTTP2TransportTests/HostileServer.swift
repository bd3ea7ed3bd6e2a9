import Foundation
import OTLPSync
#if canImport(Glibc)
import Glibc
#endif

/// HTTP/2 frame bytes for the hostile server's scripts.
enum Frame {
    static func make(type: UInt8, flags: UInt8 = 0, stream: UInt32 = 0, payload: [UInt8], length: Int? = nil) -> [UInt8] {
        let n = length ?? payload.count
        return [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), type, flags,
                UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
    }

    static func settings(_ entries: [(UInt16, UInt32)] = []) -> [UInt8] {
        var payload: [UInt8] = []
        for (id, value) in entries {
            payload += [UInt8(id >> 8), UInt8(id & 0xFF), UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }
        return make(type: 4, payload: payload)
    }

    static let settingsAck = make(type: 4, flags: 1, payload: [])
}

/// A raw-socket server that speaks just enough HTTP/2 to misbehave: for each connection it waits
/// for the client's first HEADERS frame (or not), then writes `script`'s bytes and keeps the
/// connection open, reading and discarding, until stopped. Used where no real peer can misbehave
/// on purpose.
final class HostileServer: @unchecked Sendable {
    enum Trigger: Sendable { case immediately, afterRequestHeaders, never }

    let port: UInt16
    private let listenFD: Int32
    private let trigger: Trigger
    private let script: @Sendable () -> [UInt8]
    private let state = LockedValue<(fds: [Int32], stopped: Bool)>(([], false))
    private var threads: [Thread] = []
    private let acceptThread: Thread

    init(trigger: Trigger = .afterRequestHeaders, script: @escaping @Sendable () -> [UInt8]) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        guard listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        listenFD = fd
        port = UInt16(bigEndian: address.sin_port)
        self.trigger = trigger
        self.script = script
        let box = UncheckedBox<HostileServer?>(nil)
        acceptThread = Thread {
            while let server = box.value {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                let stopped = server.state.withLock { state -> Bool in
                    if !state.stopped { state.fds.append(client) }
                    return state.stopped
                }
                if stopped { close(client); return }
                Thread.detachNewThread { server.serve(client) }
            }
        }
        box.value = self
        acceptThread.start()
    }

    private func serve(_ fd: Int32) {
        // Close under the lock, after unlisting, so stop() never shuts down a reused descriptor.
        defer {
            state.withLock { state in
                state.fds.removeAll { $0 == fd }
                close(fd)
            }
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var received: [UInt8] = []
        var sent = false
        func sendScript() {
            let bytes = script()
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return }
                offset += n
            }
        }
        if trigger == .immediately { sendScript(); sent = true }
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return }
            if sent || trigger == .never { continue }
            received += buffer[0..<n]
            // Skip the 24-byte preface, then walk frames looking for HEADERS (type 1).
            var offset = 24
            while received.count >= offset + 9 {
                let length = Int(received[offset]) << 16 | Int(received[offset + 1]) << 8 | Int(received[offset + 2])
                if received[offset + 3] == 1 { sendScript(); sent = true; break }
                offset += 9 + length
            }
        }
    }

    func stop() {
        let first = state.withLock { state -> Bool in
            defer { state.stopped = true }
            // Still-open connections: shut down (their serve threads close them).
            for fd in state.fds { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
            return !state.stopped
        }
        guard first else { return }
        Glibc.shutdown(listenFD, Int32(SHUT_RDWR))
        close(listenFD)
    }

    deinit { stop() }
}

final class UncheckedBox<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
