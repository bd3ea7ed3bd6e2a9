// TCP sockets: DNS, non-blocking connect with a deadline, read/write, poll.
#if canImport(Glibc)
import Glibc
#endif

/// Monotonic time in nanoseconds (CLOCK_MONOTONIC).
@inline(__always)
func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

extension Duration {
    /// Whole nanoseconds, saturating at 0 and at UInt64.max.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        let (product, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        return product &+ UInt64(attoseconds / 1_000_000_000)
    }
}

/// Milliseconds from now until `deadline` for poll(), at least 0, at most `cap`.
func pollTimeout(until deadline: UInt64?, now: UInt64, cap: Int32 = 60_000) -> Int32 {
    guard let deadline else { return cap }
    if deadline <= now { return 0 }
    let ms = (deadline - now + 999_999) / 1_000_000
    return ms > UInt64(cap) ? cap : Int32(ms)
}

/// Owns one socket file descriptor and closes it exactly once.
final class SocketHandle {
    private(set) var fd: Int32

    init(fd: Int32) { self.fd = fd }

    func close() {
        if fd >= 0 { _ = Glibc.close(fd); fd = -1 }
    }

    deinit { close() }

    /// Resolves `host` and connects to the first address that answers, before `deadline`.
    static func connect(host: String, port: UInt16, deadline: UInt64) throws(TransportError) -> SocketHandle {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_ADDRCONFIG
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &result)
        if rc != 0 {
            // AI_ADDRCONFIG hides loopback-only families on hosts without other interfaces: retry without it.
            hints.ai_flags = 0
            let retry = getaddrinfo(host, String(port), &hints, &result)
            if retry != 0 {
                throw TransportError(.dnsFailure, "cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
            }
        }
        defer { freeaddrinfo(result) }
        var lastError = TransportError(.connectFailed, "no addresses for \(host)")
        var node = result
        while let info = node {
            node = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd < 0 { lastError = POSIXErrors.error(.connectFailed, "socket", errno: errno); continue }
            let handle = SocketHandle(fd: fd)
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return handle }
            let connectErrno = errno
            guard connectErrno == EINPROGRESS else {
                lastError = POSIXErrors.error(.connectFailed, "connect to \(host):\(port)", errno: connectErrno)
                continue
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            while true {
                let now = monotonicNanos()
                if now >= deadline {
                    throw TransportError(.connectTimeout, "connect to \(host):\(port) timed out")
                }
                let n = poll(&pfd, 1, pollTimeout(until: deadline, now: now))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { continue }
                break
            }
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
            if soError == 0 { return handle }
            lastError = POSIXErrors.error(.connectFailed, "connect to \(host):\(port)", errno: soError)
        }
        throw lastError
    }
}

/// Outcome of a non-blocking read or write.
enum IOResult: Equatable {
    /// This many bytes moved (> 0).
    case bytes(Int)
    /// Try again when the socket is readable.
    case wantRead
    /// Try again when the socket is writable.
    case wantWrite
    /// The peer closed the connection (read side).
    case closed
}

/// A growable byte buffer with stable storage between growths; bytes are consumed from the front.
/// Used for the outgoing bytes of a connection (one buffer per loop turn, one write).
final class ByteBuffer {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    private(set) var start = 0
    private(set) var end = 0

    init(capacity: Int) {
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    var readableBytes: Int { end - start }
    var readPointer: UnsafeRawPointer { UnsafeRawPointer(base + start) }

    func append(_ pointer: UnsafeRawPointer, count: Int) {
        if end + count > capacity {
            if start > 0 {
                // Compact first.
                (base).copyMemory(from: base + start, byteCount: end - start)
                end -= start
                start = 0
            }
            if end + count > capacity {
                var newCapacity = capacity * 2
                while newCapacity < end + count { newCapacity *= 2 }
                let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
                newBase.copyMemory(from: base, byteCount: end)
                base.deallocate()
                base = newBase
                capacity = newCapacity
            }
        }
        (base + end).copyMemory(from: pointer, byteCount: count)
        end += count
    }

    func consume(_ count: Int) {
        start += count
        if start == end { start = 0; end = 0 }
    }

    func clear() { start = 0; end = 0 }
}
