// TCP sockets: DNS (bounded by the connect deadline), non-blocking connect with a deadline,
// read/write, poll.
import Dispatch
import HTTPTransportCore
import OTLPSync
#if canImport(Glibc)
import Glibc
#endif

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

    /// Resolves `host` and connects to the first address that answers, before `deadline`
    /// (monotonic nanoseconds). The DNS lookup counts against the same deadline.
    static func connect(host: String, port: UInt16, deadline: UInt64,
                        lookup: @escaping AddressLookup = systemAddressLookup) throws(TransportError) -> SocketHandle {
        let addresses = try resolve(host: host, port: port, deadline: deadline, lookup: lookup)
        // The list is walked through raw pointers: keep its owner alive until the loop is done.
        defer { withExtendedLifetime(addresses) {} }
        var lastError = TransportError(.connectFailed, "no addresses for \(host)")
        var node = addresses.head
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

/// The answer of one address lookup (a `getaddrinfo` list); released exactly once, when the
/// last reference goes.
final class ResolvedAddresses: @unchecked Sendable {
    // Read-only after init; only walked by the thread that connects.
    let head: UnsafeMutablePointer<addrinfo>?
    private let release: @Sendable (UnsafeMutablePointer<addrinfo>?) -> Void

    init(head: UnsafeMutablePointer<addrinfo>?,
         release: @escaping @Sendable (UnsafeMutablePointer<addrinfo>?) -> Void = { if let list = $0 { freeaddrinfo(list) } }) {
        self.head = head
        self.release = release
    }

    deinit { release(head) }
}

/// A blocking address lookup (host, port) → addresses or a typed error. Injectable for tests.
typealias AddressLookup = @Sendable (_ host: String, _ port: UInt16) -> Result<ResolvedAddresses, TransportError>

/// `getaddrinfo` for TCP, IPv4 and IPv6. Blocks as long as the system resolver takes.
let systemAddressLookup: AddressLookup = { host, port in
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_flags = AI_ADDRCONFIG
    var result: UnsafeMutablePointer<addrinfo>?
    let rc = getaddrinfo(host, String(port), &hints, &result)
    if rc != 0 {
        // AI_ADDRCONFIG hides loopback-only families on hosts without other interfaces: retry without it.
        hints.ai_flags = 0
        result = nil
        let retry = getaddrinfo(host, String(port), &hints, &result)
        if retry != 0 {
            return .failure(TransportError(.dnsFailure, "cannot resolve \(host): \(String(cString: gai_strerror(rc)))"))
        }
    }
    return .success(ResolvedAddresses(head: result))
}

/// One lookup running on its own detached thread. The waiter gives up at its deadline; an
/// answer arriving later stays in the job and is freed when the thread drops the job.
private final class AddressLookupJob: @unchecked Sendable {
    let host: String
    let port: UInt16
    let lookup: AddressLookup
    let done = DispatchSemaphore(value: 0)
    let answer = LockedValue<Result<ResolvedAddresses, TransportError>?>(nil)

    init(host: String, port: UInt16, lookup: @escaping AddressLookup) {
        self.host = host
        self.port = port
        self.lookup = lookup
    }

    func run() {
        let result = lookup(host, port)
        answer.withLock { $0 = result }
        done.signal()
    }
}

extension SocketHandle {
    /// Runs `lookup` on a detached thread and waits for it until `deadline` (monotonic
    /// nanoseconds): `getaddrinfo` has no timeout of its own. Past the deadline it throws
    /// `connectTimeout` (retryable); the late answer is discarded and freed.
    static func resolve(host: String, port: UInt16, deadline: UInt64,
                        lookup: @escaping AddressLookup) throws(TransportError) -> ResolvedAddresses {
        let job = AddressLookupJob(host: host, port: port, lookup: lookup)
        do {
            pthread_detach(try startThread { job.run() })
        } catch {
            // No thread available: look up inline (unbounded) rather than fail.
            job.run()
        }
        let now = monotonicNanos()
        if deadline <= now {
            _ = job.done.wait(timeout: .now())
        } else if deadline - now >= UInt64(Int.max) {
            job.done.wait()
        } else {
            _ = job.done.wait(timeout: .now() + .nanoseconds(Int(deadline - now)))
        }
        // Taken under the lock: an answer that raced the timeout is still used.
        let answer = job.answer.withLock { value -> Result<ResolvedAddresses, TransportError>? in
            defer { value = nil }
            return value
        }
        guard let answer else {
            throw TransportError(.connectTimeout, "DNS lookup of \(host) did not finish within the connect timeout")
        }
        return try answer.get()
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
