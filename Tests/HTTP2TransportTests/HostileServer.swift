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

    static func be32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// GOAWAY with `lastStream` and an HTTP/2 error code.
    static func goAway(lastStream: UInt32, error: UInt32 = 0) -> [UInt8] {
        make(type: 7, payload: be32(lastStream & 0x7FFF_FFFF) + be32(error))
    }

    /// RST_STREAM on `stream` with an HTTP/2 error code.
    static func rstStream(_ stream: UInt32, error: UInt32) -> [UInt8] { make(type: 3, stream: stream, payload: be32(error)) }

    /// HEADERS `:status 200` (HPACK static index 8), END_HEADERS, optionally END_STREAM.
    static func headers200(_ stream: UInt32, endStream: Bool = false) -> [UInt8] {
        make(type: 1, flags: 0x4 | (endStream ? 0x1 : 0), stream: stream, payload: [0x88])
    }

    static func data(_ stream: UInt32, _ bytes: [UInt8], endStream: Bool = false) -> [UInt8] {
        make(type: 0, flags: endStream ? 0x1 : 0, stream: stream, payload: bytes)
    }

    /// A complete response: `:status 200` and `body`, ending the stream.
    static func response(_ stream: UInt32, body: [UInt8] = Array("ok".utf8)) -> [UInt8] {
        headers200(stream) + data(stream, body, endStream: true)
    }

    static func ping(_ opaque: UInt64 = 0, ack: Bool = false) -> [UInt8] {
        make(type: 6, flags: ack ? 1 : 0, payload: (0..<8).map { UInt8(truncatingIfNeeded: opaque >> (56 - 8 * $0)) })
    }

    static func windowUpdate(_ stream: UInt32, increment: UInt32) -> [UInt8] {
        make(type: 8, stream: stream, payload: be32(increment))
    }
}

/// HTTP/2 error codes (RFC 9113 section 7).
enum H2Error {
    static let noError: UInt32 = 0x0
    static let protocolError: UInt32 = 0x1
    static let internalError: UInt32 = 0x2
    static let refusedStream: UInt32 = 0x7
    static let cancel: UInt32 = 0x8
    static let enhanceYourCalm: UInt32 = 0xB
}

/// A frame the scripted peer received from the client.
struct ReceivedFrame: Sendable {
    /// The connection it came on: 1 for the first accepted, 2 for the next ...
    let connection: Int
    let type: UInt8
    let flags: UInt8
    let stream: UInt32
    let payload: [UInt8]

    var isHeaders: Bool { type == 1 }
    var endsStream: Bool { (type == 0 || type == 1) && flags & 0x1 != 0 }
    var isSettingsAck: Bool { type == 4 && flags & 0x1 != 0 }
}

/// What the scripted peer writes after a frame: `bytes` (`repeats` times over), then, if
/// `close`, it closes the connection; and, if `later` is set, after its delay (from another
/// thread, while the peer goes on reading) the bytes its closure returns then.
struct PeerReply: Sendable {
    var bytes: [UInt8] = []
    var repeats = 1
    var close = false
    var later: (delay: Duration, bytes: @Sendable () -> [UInt8])?

    static let none = PeerReply()
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
    /// Frame-by-frame mode: what to write when a connection opens, and after each frame.
    private let greeting: (@Sendable (Int) -> PeerReply)?
    private let respond: (@Sendable (ReceivedFrame) -> PeerReply)?
    private let state = LockedValue<(fds: [Int32], stopped: Bool, accepted: Int, closedByClient: Int)>(([], false, 0, 0))
    private var threads: [Thread] = []
    private let acceptThread: Thread

    convenience init(trigger: Trigger = .afterRequestHeaders, script: @escaping @Sendable () -> [UInt8]) throws {
        try self.init(trigger: trigger, script: script, greeting: nil, respond: nil)
    }

    /// A scripted peer that reads every frame: on each new connection (numbered from 1) it writes
    /// `greeting` (by default an empty SETTINGS and an ACK), then after each complete frame from
    /// the client what `respond` returns.
    /// `receiveBuffer` sets the accepted sockets' SO_RCVBUF (a small one makes a peer that does
    /// not read push back on the client sooner).
    convenience init(receiveBuffer: Int? = nil,
                     greeting: @escaping @Sendable (Int) -> PeerReply = { _ in PeerReply(bytes: Frame.settings() + Frame.settingsAck) },
                     respond: @escaping @Sendable (ReceivedFrame) -> PeerReply) throws {
        try self.init(trigger: .immediately, script: { [] }, greeting: greeting, respond: respond, receiveBuffer: receiveBuffer)
    }

    /// TCP connections accepted so far.
    var acceptedConnections: Int { state.withLock { $0.accepted } }
    /// Connections the client closed (the peer read end-of-file).
    var connectionsClosedByClient: Int { state.withLock { $0.closedByClient } }

    private init(trigger: Trigger, script: @escaping @Sendable () -> [UInt8],
                 greeting: (@Sendable (Int) -> PeerReply)?, respond: (@Sendable (ReceivedFrame) -> PeerReply)?,
                 receiveBuffer: Int? = nil) throws {
        self.greeting = greeting
        self.respond = respond
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if let receiveBuffer {
            // Set on the listening socket so accepted sockets start with it (before the handshake).
            var size = Int32(receiveBuffer)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
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
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)  // not inherited by children other tests spawn
                let (stopped, number) = server.state.withLock { state -> (Bool, Int) in
                    if !state.stopped { state.fds.append(client); state.accepted += 1 }
                    return (state.stopped, state.accepted)
                }
                if stopped { close(client); return }
                Thread.detachNewThread {
                    if server.respond != nil { server.serveFrames(client, connection: number) } else { server.serve(client) }
                }
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

    /// Writes all of `bytes`; false when the connection is gone.
    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// Writes `reply`; false when the connection should end. `writeLock` keeps a delayed write
    /// from interleaving with the serving thread's.
    private func perform(_ reply: PeerReply, on fd: Int32, writeLock: NSLock) -> Bool {
        if let later = reply.later {
            Thread.detachNewThread { [self] in
                Thread.sleep(forTimeInterval: Double(later.delay.components.seconds) + Double(later.delay.components.attoseconds) / 1e18)
                let bytes = later.bytes()
                writeLock.lock()
                defer { writeLock.unlock() }
                // Only while the connection is still listed (its descriptor not closed or reused).
                state.withLock { state in
                    if state.fds.contains(fd) { _ = sendAll(fd, bytes) }
                }
            }
        }
        writeLock.lock()
        defer { writeLock.unlock() }
        if !reply.bytes.isEmpty {
            for _ in 0..<reply.repeats {
                if !sendAll(fd, reply.bytes) { return false }
            }
        }
        if reply.close {
            // FIN after everything written (a close with unread input would send RST instead).
            Glibc.shutdown(fd, Int32(SHUT_WR))
            return false
        }
        return true
    }

    private func serveFrames(_ fd: Int32, connection: Int) {
        defer {
            state.withLock { state in
                state.fds.removeAll { $0 == fd }
                close(fd)
            }
        }
        let writeLock = NSLock()
        guard let respond, let greeting, perform(greeting(connection), on: fd, writeLock: writeLock) else { return }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var received: [UInt8] = []
        var offset = 24  // the client preface
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { state.withLock { $0.closedByClient += 1 } }
            if n <= 0 { return }
            received += buffer[0..<n]
            while received.count >= offset + 9 {
                let length = Int(received[offset]) << 16 | Int(received[offset + 1]) << 8 | Int(received[offset + 2])
                guard received.count >= offset + 9 + length else { break }
                let stream = UInt32(received[offset + 5] & 0x7F) << 24 | UInt32(received[offset + 6]) << 16
                    | UInt32(received[offset + 7]) << 8 | UInt32(received[offset + 8])
                let frame = ReceivedFrame(connection: connection, type: received[offset + 3], flags: received[offset + 4],
                                          stream: stream, payload: Array(received[(offset + 9)..<(offset + 9 + length)]))
                offset += 9 + length
                if !perform(respond(frame), on: fd, writeLock: writeLock) { return }
            }
            if offset > 1 << 20 { received.removeFirst(offset); offset = 0 }
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
