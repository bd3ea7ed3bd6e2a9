// What the transport's threads are made of: starting a thread that runs a closure, and the
// wake-up pipe an I/O thread polls beside its sockets so that other threads can wake it.
import HTTPTransportCore
#if canImport(Glibc)
import Glibc
#endif

/// Starts a thread that runs `body`; what `body` captures stays alive until it returns.
/// - Returns: the thread, for the caller to join or detach.
func startThread(_ body: @escaping @Sendable () -> Void) throws(TransportError) -> pthread_t {
    let retained = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { argument in
        Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue().run()
        return nil
    }, retained)
    guard rc == 0 else {
        Unmanaged<ThreadBody>.fromOpaque(retained).release()
        throw POSIXErrors.error(.internalError, "pthread_create", errno: rc)
    }
    return thread
}

/// `startThread`'s closure, passed to the new thread through pthread's one pointer argument.
private final class ThreadBody {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// Makes `fd` non-blocking and closed on exec.
func setNonBlockingCloseOnExec(_ fd: Int32) {
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
}

/// A non-blocking pipe: the I/O thread polls `readFD`; any thread writes a byte to wake it.
/// Closes both ends when it goes away.
struct WakePipe: ~Copyable {
    /// The end the I/O thread polls for `POLLIN`.
    let readFD: Int32
    private let writeFD: Int32

    init() throws(TransportError) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw POSIXErrors.error(.internalError, "pipe", errno: errno) }
        for fd in fds { setNonBlockingCloseOnExec(fd) }
        readFD = fds[0]
        writeFD = fds[1]
    }

    deinit {
        _ = close(readFD)
        _ = close(writeFD)
    }

    /// Wakes the thread polling `readFD` (a full pipe already will).
    func wake() {
        var one: UInt8 = 1
        _ = write(writeFD, &one, 1)
    }

    /// Empties the pipe, so the next poll sleeps until the next `wake()`.
    func drain() {
        var scratch = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &scratch, { read(readFD, $0.baseAddress, $0.count) }) > 0 {}
    }
}
