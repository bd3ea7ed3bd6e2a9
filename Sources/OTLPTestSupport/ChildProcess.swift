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
/// Foundation's `Process.terminate()` is not used: children of the test runner inherit a
/// blocked SIGTERM (see TOOLCHAIN notes), so only SIGKILL stops them reliably.
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

    public let process = Process()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let lock = NSLock()
    private var stdoutData = Data()
    private var stderrData = Data()
    private let commandLine: String
    /// Kept open (for `writeToStdin`) when the process was started with `keepStdinOpen`.
    private let stdinWriter: FileHandle?

    /// Starts `executable` with `arguments`; its output is collected in the background. Its
    /// stdin gets `stdin` and is closed, unless `keepStdinOpen` (then `writeToStdin` feeds it).
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                currentDirectory: URL? = nil, stdin: Data? = nil, keepStdinOpen: Bool = false) throws {
        commandLine = ([executable] + arguments).joined(separator: " ")
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        let stdinPipe = Pipe()
        process.standardInput = stdinPipe
        stdinWriter = keepStdinOpen ? stdinPipe.fileHandleForWriting : nil
        stdoutPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            guard let self else { return }
            self.lock.lock(); self.stdoutData.append(chunk); self.lock.unlock()
        }
        stderrPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            guard let self else { return }
            self.lock.lock(); self.stderrData.append(chunk); self.lock.unlock()
        }
        do { try process.run() } catch {
            throw Failure.couldNotStart(command: commandLine, reason: "\(error)")
        }
        if let stdin { stdinPipe.fileHandleForWriting.write(stdin) }
        if !keepStdinOpen { try? stdinPipe.fileHandleForWriting.close() }
    }

    /// Writes to the process's stdin (started with `keepStdinOpen`).
    public func writeToStdin(_ data: Data) throws {
        guard let stdinWriter else { throw Failure.couldNotStart(command: commandLine, reason: "stdin was closed at start") }
        try stdinWriter.write(contentsOf: data)
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// What the process wrote to stdout so far.
    public var stdoutSoFar: String { lock.lock(); defer { lock.unlock() }; return String(decoding: stdoutData, as: UTF8.self) }
    /// What the process wrote to stderr so far.
    public var stderrSoFar: String { lock.lock(); defer { lock.unlock() }; return String(decoding: stderrData, as: UTF8.self) }

    /// Waits until stdout contains `marker` (e.g. a "listening on PORT" line); returns stdout so far.
    public func waitForOutput(containing marker: String, timeout: Double = 20) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let text = stdoutSoFar
            if text.contains(marker) { return text }
            if !process.isRunning {
                Thread.sleep(forTimeInterval: 0.05)
                let text = stdoutSoFar
                if text.contains(marker) { return text }
                throw Failure.couldNotStart(command: commandLine, reason: "exited with \(process.terminationStatus): \(stderrSoFar)")
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        throw Failure.timedOut(command: commandLine, seconds: timeout)
    }

    /// Waits for the process to exit by itself; kills it and throws after `timeout` seconds.
    @discardableResult
    public func wait(timeout: Double = 60) throws -> Output {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() >= deadline {
                kill()
                throw Failure.timedOut(command: commandLine, seconds: timeout)
            }
            Thread.sleep(forTimeInterval: 0.005)
        }
        return collectOutput()
    }

    /// Stops the process with SIGKILL (idempotent) and waits up to 5 s for it to have died.
    ///
    /// Death is read from `/proc/<pid>/stat` (a zombie has released its sockets and ports), not
    /// only from `Process.isRunning`: Foundation learns of an exit when a socket shared with the
    /// child closes, and a process spawned concurrently can inherit that socket and keep it open,
    /// so `isRunning` may stay `true` long after the child died. Such waits, run on the
    /// cooperative pool by tests' `defer { peer.stop() }`, stalled whole test runs for seconds.
    public func kill() {
        guard process.isRunning else { return }
        let pid = process.processIdentifier
        _ = Glibc.kill(pid, SIGKILL)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && !Self.hasDied(pid) && Date() < deadline { Thread.sleep(forTimeInterval: 0.002) }
    }

    /// Whether `pid` is a zombie or gone, from the state field of `/proc/<pid>/stat`.
    static func hasDied(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        // "pid (comm) S ...": the command may contain spaces and parentheses, so the state is
        // the first field after the last ')'.
        guard let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].drop(while: { $0 == " " }).first
        return state == "Z" || state == "X"
    }

    private func collectOutput() -> Output {
        // Drain what the pipes still hold after exit.
        stdoutPipe.fileHandleForReading.readabilityHandler = nil
        stderrPipe.fileHandleForReading.readabilityHandler = nil
        let restOut = (try? stdoutPipe.fileHandleForReading.readToEnd()) ?? nil
        let restErr = (try? stderrPipe.fileHandleForReading.readToEnd()) ?? nil
        lock.lock(); defer { lock.unlock() }
        if let restOut { stdoutData.append(restOut) }
        if let restErr { stderrData.append(restErr) }
        return Output(status: process.terminationStatus, stdout: stdoutData, stderr: stderrData)
    }

    deinit { kill() }

    /// Runs a command to completion (killing it after `timeout`) and returns its output.
    public static func run(_ executable: String, _ arguments: [String], stdin: Data? = nil,
                           environment: [String: String]? = nil, timeout: Double = 60) throws -> Output {
        let child = try ChildProcess(executable, arguments, environment: environment, stdin: stdin)
        return try child.wait(timeout: timeout)
    }
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
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
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
