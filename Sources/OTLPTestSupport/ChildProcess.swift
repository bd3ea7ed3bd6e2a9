import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Locations the tests need: the repository, the build products, the Python of the test peers.
public enum TestEnvironment {
    /// The repository root (found from this file's path).
    public static let repositoryRoot: URL = {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // OTLPTestSupport
            .deletingLastPathComponent()  // Sources
            .deletingLastPathComponent()
    }()

    /// The folder holding the built products (`otlp`, `protogen`) of the build that runs the tests.
    ///
    /// The test bundle lives in that folder, so it is found from the running executable's path.
    public static let productsDirectory: URL = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            if url.pathExtension == "xctest" { return url.deletingLastPathComponent() }
            let candidate = url.deletingLastPathComponent()
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("otlp").path) {
                return candidate
            }
            url = candidate
        }
        return repositoryRoot.appendingPathComponent(".build/debug")
    }()

    /// The Python interpreter of the test peers' venv: `$OTLP_TEST_PYTHON`, else `<repo>/.venv/bin/python`.
    public static var python: String {
        if let fromEnvironment = ProcessInfo.processInfo.environment["OTLP_TEST_PYTHON"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return repositoryRoot.appendingPathComponent(".venv/bin/python").path
    }

    /// The interpreter for `tools/peers/guard.py` (standard library only): `/usr/bin/python3` when
    /// it exists, else ``python``.
    public static var guardPython: String {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : python
    }
}

/// A child process started by a test, stopped with SIGKILL and always waited for with a timeout.
///
/// Started with `posix_spawn`: its stdin, stdout and stderr pipes are made close-on-exec in this
/// process as soon as they exist, so a child spawned concurrently by another test does not
/// inherit them (an inherited pipe end would hold back this child's end of file). Its exit is learnt from
/// `waitpid`, never from a descriptor another child could share. It starts with no signal
/// blocked and SIGINT, SIGTERM and SIGPIPE at their default actions, whatever the test runner
/// has blocked or ignored.
public final class ChildProcess: @unchecked Sendable {
    /// The result of a finished process.
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: Data
        public var stderr: Data
        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    public enum Failure: Error, CustomStringConvertible {
        case timedOut(command: String, seconds: Double)
        case couldNotStart(command: String, reason: String)
        public var description: String {
            switch self {
            case .timedOut(let command, let seconds): return "\(command) did not finish within \(seconds) s"
            case .couldNotStart(let command, let reason): return "could not start \(command): \(reason)"
            }
        }
    }

    /// The child's process id.
    public let pid: pid_t
    /// Guards `reapedStatus` and `stdinWriter`.
    private let lock = NSLock()
    /// The exit status once `waitpid` has reaped the child (its pid may then be reused).
    private var reapedStatus: Int32?
    /// What the reader threads have read; shared with them, so they do not keep `self` alive.
    private let output = CollectedOutput()
    private let commandLine: String
    /// The write end of the child's stdin, kept open (for `writeToStdin`) with `keepStdinOpen`.
    private var stdinWriter: Int32 = -1

    /// Starts `executable` with `arguments`; its output is collected in the background. Its
    /// stdin gets `stdin` and is closed, unless `keepStdinOpen` (then `writeToStdin` feeds it).
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                currentDirectory: URL? = nil, stdin: Data? = nil, keepStdinOpen: Bool = false) throws {
        commandLine = ([executable] + arguments).joined(separator: " ")
        var argv = [executable] + arguments
        var path = executable
        if let currentDirectory {
            // coreutils' env changes directory, then executes the program.
            argv = ["/usr/bin/env", "-C", currentDirectory.path, "--"] + argv
            path = "/usr/bin/env"
        }
        let variables = ProcessInfo.processInfo.environment.merging(environment ?? [:]) { $1 }
        let envp = variables.map { "\($0.key)=\($0.value)" }

        var pipes: [[Int32]] = []
        func closeAll() { for fd in pipes.joined() { close(fd) } }
        for _ in 0..<3 {
            var ends: [Int32] = [-1, -1]
            // pipe2 is not exported to Swift by Glibc; the flag is set right after creation.
            guard ends.withUnsafeMutableBufferPointer({ pipe($0.baseAddress!) }) == 0,
                  fcntl(ends[0], F_SETFD, FD_CLOEXEC) == 0, fcntl(ends[1], F_SETFD, FD_CLOEXEC) == 0 else {
                let reason = "pipe: \(String(cString: strerror(errno)))"
                for fd in ends where fd >= 0 { close(fd) }
                closeAll()
                throw Failure.couldNotStart(command: commandLine, reason: reason)
            }
            pipes.append(ends)
        }
        let (stdinPipe, stdoutPipe, stderrPipe) = (pipes[0], pipes[1], pipes[2])

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 onto 0, 1 and 2 clears close-on-exec on the copies the child keeps.
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var childPID: pid_t = 0
        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnvp = envp.map { strdup($0) } + [nil]
        defer { cArgv.forEach { free($0) }; cEnvp.forEach { free($0) } }
        let rc = posix_spawn(&childPID, path, &actions, &attributes, cArgv, cEnvp)
        guard rc == 0 else {
            closeAll()
            throw Failure.couldNotStart(command: commandLine, reason: String(cString: strerror(rc)))
        }
        pid = childPID
        close(stdinPipe[0]); close(stdoutPipe[1]); close(stderrPipe[1])

        output.startReader(stdoutPipe[0], stderr: false)
        output.startReader(stderrPipe[0], stderr: true)

        if let stdin, !stdin.isEmpty { Self.writeAll(stdinPipe[1], stdin) }
        if keepStdinOpen { stdinWriter = stdinPipe[1] } else { close(stdinPipe[1]) }
    }

    @discardableResult
    private static func writeAll(_ fd: Int32, _ data: Data) -> Bool {
        // A pipe whose reader has exited raises SIGPIPE, which would end the test process: it is
        // blocked on this thread for the write, and one it raised is taken before unblocking.
        var pipeOnly = sigset_t()
        sigemptyset(&pipeOnly)
        sigaddset(&pipeOnly, SIGPIPE)
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &pipeOnly, &previous)
        defer {
            var pending = sigset_t()
            sigpending(&pending)
            if sigismember(&previous, SIGPIPE) == 0 && sigismember(&pending, SIGPIPE) == 1 {
                var now = timespec()
                _ = sigtimedwait(&pipeOnly, nil, &now)
            }
            pthread_sigmask(SIG_SETMASK, &previous, nil)
        }
        return data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue } else { return false } }
                offset += n
            }
            return true
        }
    }

    /// Writes to the process's stdin (started with `keepStdinOpen`).
    public func writeToStdin(_ data: Data) throws {
        let fd = lock.withLock { stdinWriter }
        guard fd >= 0 else { throw Failure.couldNotStart(command: commandLine, reason: "stdin was closed at start") }
        guard Self.writeAll(fd, data) else { throw Failure.couldNotStart(command: commandLine, reason: "stdin write: errno \(errno)") }
    }

    /// Whether the child has not exited yet (reaps it when it has).
    public var isRunning: Bool { exitStatus() == nil }

    /// The raw `waitpid` status once the child has exited, reaping it then; nil while it runs.
    private func exitStatus() -> Int32? {
        lock.lock(); defer { lock.unlock() }
        if let reapedStatus { return reapedStatus }
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &status, WNOHANG) } while result < 0 && errno == EINTR
        guard result == pid else { return nil }
        reapedStatus = status
        return status
    }

    /// What the process wrote to stdout so far.
    public var stdoutSoFar: String { String(decoding: output.read().stdout, as: UTF8.self) }
    /// What the process wrote to stderr so far.
    public var stderrSoFar: String { String(decoding: output.read().stderr, as: UTF8.self) }

    /// Waits until stdout contains `marker` (e.g. a "listening on PORT" line); returns stdout so far.
    public func waitForOutput(containing marker: String, timeout: Double = 20) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let text = stdoutSoFar
            if text.contains(marker) { return text }
            if let status = exitStatus() {
                output.waitForEndOfFile(seconds: 1)
                let text = stdoutSoFar
                if text.contains(marker) { return text }
                throw Failure.couldNotStart(command: commandLine, reason: "exited with \(Self.exitCode(status)): \(stderrSoFar)")
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        throw Failure.timedOut(command: commandLine, seconds: timeout)
    }

    /// Waits for the process to exit by itself; kills it and throws after `timeout` seconds.
    @discardableResult
    public func wait(timeout: Double = 60) throws -> Output {
        let deadline = Date().addingTimeInterval(timeout)
        while exitStatus() == nil {
            if Date() >= deadline {
                kill()
                throw Failure.timedOut(command: commandLine, seconds: timeout)
            }
            Thread.sleep(forTimeInterval: 0.002)
        }
        return collectOutput()
    }

    /// Stops the process with SIGKILL (idempotent) and waits up to 5 s for it to have been reaped.
    public func kill() {
        lock.lock()
        // Signalled only before it is reaped: after that the pid may belong to another process.
        if reapedStatus == nil { _ = Glibc.kill(pid, SIGKILL) }
        lock.unlock()
        let deadline = Date().addingTimeInterval(5)
        while exitStatus() == nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.001) }
    }

    /// The exit code of a `waitpid` status, or 128 + the signal that ended the process.
    static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    private func collectOutput() -> Output {
        // What the pipes still hold after exit. A grandchild that inherited stdout could keep it
        // open after the child's exit: the wait for end of file is bounded.
        output.waitForEndOfFile(seconds: 5)
        let (stdout, stderr) = output.read()
        return Output(status: Self.exitCode(lock.withLock { reapedStatus } ?? 0), stdout: stdout, stderr: stderr)
    }

    deinit {
        kill()
        if stdinWriter >= 0 { close(stdinWriter) }
    }

    /// Runs a command to completion (killing it after `timeout`) and returns its output.
    public static func run(_ executable: String, _ arguments: [String], stdin: Data? = nil,
                           environment: [String: String]? = nil, timeout: Double = 60) throws -> Output {
        let child = try ChildProcess(executable, arguments, environment: environment, stdin: stdin)
        return try child.wait(timeout: timeout)
    }
}

/// A child's stdout and stderr, read by one thread per pipe until end of file.
private final class CollectedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var stdout = Data()
    private var stderr = Data()
    /// Left by each reader thread when its pipe reaches end of file.
    private let readers = DispatchGroup()

    func startReader(_ fd: Int32, stderr isStderr: Bool) {
        readers.enter()
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                let chunk = Data(buffer[0..<n])
                lock.withLock { if isStderr { stderr.append(chunk) } else { stdout.append(chunk) } }
            }
            close(fd)
            readers.leave()
        }
        thread.name = "child-output"
        thread.start()
    }

    func read() -> (stdout: Data, stderr: Data) { lock.withLock { (stdout, stderr) } }

    func waitForEndOfFile(seconds: Double) { _ = readers.wait(timeout: .now() + seconds) }
}

/// Async variants of the blocking waits, for async tests: the blocking work runs on a thread of
/// its own, so a waiting test holds no thread of the cooperative pool (the other tests running
/// in the same process need those threads; a test holding one for seconds delays them all).
extension ChildProcess {
    /// ``run(_:_:stdin:environment:timeout:)`` on a thread of its own.
    public static func run(_ executable: String, _ arguments: [String], stdin: Data? = nil,
                           environment: [String: String]? = nil, timeout: Double = 60) async throws -> Output {
        try await offPool { try ChildProcess.run(executable, arguments, stdin: stdin, environment: environment, timeout: timeout) }
    }

    /// ``wait(timeout:)`` on a thread of its own.
    public func wait(timeout: Double = 60) async throws -> Output {
        try await offPool { try self.wait(timeout: timeout) as Output }
    }

    /// ``waitForOutput(containing:timeout:)`` on a thread of its own.
    public func waitForOutput(containing marker: String, timeout: Double = 20) async throws -> String {
        try await offPool { try self.waitForOutput(containing: marker, timeout: timeout) as String }
    }
}

/// Runs a blocking `body` on a thread of its own and returns its result.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}


/// A free TCP port on the loopback interface (bound, read back, closed).
public func freeLoopbackPort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return UInt16(bigEndian: address.sin_port)
}
