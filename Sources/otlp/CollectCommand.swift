import ArgumentParser
import Foundation
import HTTP2Transport
import OTLPSync
import OTLPTesting

#if canImport(Glibc)
import Glibc
#endif

/// `otlp collect`: an OTLP collector in one process (the embedded collector of `OTLPTesting`),
/// printing what it receives.
///
/// The first stdout line is `listening grpc=HOST:PORT http=HOST:PORT` (`-` for a receiver not
/// started); with `--print json` each accepted request follows as one line of OTLP/JSON, with
/// `--print waterfall` each trace as a tree of spans with time bars; on
/// SIGINT or SIGTERM the last line is `spans=N metric_points=N log_records=N requests=N rejected=N duplicates=N`
/// and the exit status 0.
struct CollectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "Run an OTLP collector (gRPC and HTTP) and print what it receives.",
        discussion: """
            Without --grpc and --http both receivers start, on 127.0.0.1:4317 and 127.0.0.1:4318; \
            with either, only those given. Port 0 picks a free port (printed on the first line). \
            --print json writes each accepted request as one line of OTLP/JSON; waterfall draws each \
            trace's spans as a tree with time bars; summary (default) \
            prints counts per signal once a second when stdout is a terminal (every --interval \
            seconds when given, terminal or not). SIGINT or SIGTERM \
            prints the totals and exits 0.
            """
    )

    @Option(name: .long, help: "gRPC listen address HOST:PORT (e.g. 127.0.0.1:4317, 0.0.0.0:0).")
    var grpc: String?

    @Option(name: .long, help: "OTLP/HTTP listen address HOST:PORT (e.g. 127.0.0.1:4318).")
    var http: String?

    @Option(name: .customLong("tls-cert"), help: "PEM server certificate: both receivers speak TLS (ALPN h2, http/1.1).")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM server key (with --tls-cert).")
    var tlsKey: String?

    @Option(name: .customLong("client-ca"), help: "PEM CA that client certificates must chain to (mTLS).")
    var clientCA: String?

    @Option(name: .long, help: "summary (default), json or waterfall.")
    var print: String = "summary"

    @Flag(name: .customLong("no-duplicates"),
          help: "Count no duplicates: items' identities are not recorded, and with --print summary binary requests are validated and counted without being decoded (the fastest way to count).")
    var noDuplicates = false

    @Option(name: .customLong("max-request-bytes"), help: "Largest request accepted (default 4194304).")
    var maxRequestBytes: Int = 4 << 20

    @Option(name: .long, help: "With --print summary: print the counts every SECONDS (default: once a second on a terminal, otherwise only at the end).")
    var interval: Double?

    enum PrintMode: String { case summary, json, waterfall }

    /// `HOST:PORT`, `[V6]:PORT` or `PORT`.
    static func parseAddress(_ text: String) throws -> (host: String, port: UInt16) {
        var host = "127.0.0.1"
        var portText = text
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw ValidationError("address \(text) has no port") }
            portText = String(rest.dropFirst())
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            portText = String(text[text.index(after: colon)...])
            if host.isEmpty { host = "0.0.0.0" }
        }
        guard let port = UInt16(portText) else { throw ValidationError("invalid port in \(text)") }
        return (host, port)
    }

    func run() async throws {
        guard let mode = PrintMode(rawValue: print) else { throw ValidationError("--print must be summary, json or waterfall") }
        if let interval, !(interval > 0 && interval <= 3600) { throw ValidationError("--interval must be between 0 and 3600 seconds") }
        if (tlsCert == nil) != (tlsKey == nil) || (clientCA != nil && tlsCert == nil) {
            throw ValidationError("--tls-cert and --tls-key go together; --client-ca needs them")
        }
        let both = grpc == nil && http == nil
        let grpcAddress = try (grpc ?? (both ? "127.0.0.1:4317" : nil)).map(Self.parseAddress)
        let httpAddress = try (http ?? (both ? "127.0.0.1:4318" : nil)).map(Self.parseAddress)

        let output = LineWriter()
        var configuration = OTLPTestCollector.Configuration()
        configuration.keepsRequests = false
        configuration.countsDuplicates = !noDuplicates
        configuration.maxRequestBytes = maxRequestBytes
        if let tlsCert, let tlsKey {
            configuration.server.tls = HTTPServerTLSConfiguration(certificateFile: tlsCert, privateKeyFile: tlsKey, clientCAFile: clientCA)
        }
        switch mode {
        case .json:
            configuration.onRequest = { request in output.write(request.payload.jsonBytes()) }
        case .waterfall:
            configuration.onRequest = { request in
                switch request.payload {
                case .traces(let export):
                    output.write(Array(RequestWaterfall.render(export).joined(separator: "\n").utf8))
                case .metrics(let export):
                    let points = export.resourceMetrics.reduce(0) { $0 + $1.scopeMetrics.reduce(0) { $0 + $1.metrics.reduce(0) { $0 + $1.pointCount } } }
                    output.write(Array("metrics: \(points) data points".utf8))
                case .logs(let export):
                    let records = export.resourceLogs.reduce(0) { $0 + $1.scopeLogs.reduce(0) { $0 + $1.logRecords.count } }
                    output.write(Array("logs: \(records) log records".utf8))
                }
            }
        case .summary:
            break
        }
        // One collector per address: the receivers may listen on different hosts.
        var collectors: [OTLPTestCollector] = []
        do {
            if let grpcAddress {
                configuration.host = grpcAddress.host
                configuration.grpcPort = grpcAddress.port
                collectors.append(try OTLPTestCollector(grpc: true, http: false, configuration: configuration))
            }
            if let httpAddress {
                configuration.host = httpAddress.host
                configuration.httpPort = httpAddress.port
                collectors.append(try OTLPTestCollector(grpc: false, http: true, configuration: configuration))
            }
        } catch {
            FileHandle.standardError.write(Data("otlp collect: \(error)\n".utf8))
            throw ExitCode(3)
        }
        func authority(_ host: String, _ port: UInt16?) -> String {
            guard let port else { return "-" }
            return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
        let grpcPort = collectors.lazy.compactMap(\.grpcPort).first
        let httpPort = collectors.lazy.compactMap(\.httpPort).first
        SignalWaiter.install()
        output.write(Array("listening grpc=\(authority(grpcAddress?.host ?? "", grpcPort)) http=\(authority(httpAddress?.host ?? "", httpPort))".utf8))

        let started = collectors
        let totals: @Sendable () -> OTLPTestCollector.Counters = {
            var sum = OTLPTestCollector.Counters()
            for collector in started {
                let counters = collector.counters
                sum.requests += counters.requests
                sum.rejectedRequests += counters.rejectedRequests
                sum.transportRejections += counters.transportRejections
                sum.spans += counters.spans
                sum.metricPoints += counters.metricPoints
                sum.logRecords += counters.logRecords
                sum.duplicateSpans += counters.duplicateSpans
                sum.duplicateMetricPoints += counters.duplicateMetricPoints
                sum.duplicateLogRecords += counters.duplicateLogRecords
            }
            return sum
        }

        let tickSeconds = interval ?? (isatty(STDOUT_FILENO) == 1 ? 1 : nil)
        let ticker: Task<Void, Never>? = mode == .summary ? tickSeconds.map { seconds in Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(seconds))
                if Task.isCancelled { break }
                output.write(Array(totals().description.utf8))
            }
        } } : nil
        let signal = await SignalWaiter.waitForTermination()
        ticker?.cancel()
        for collector in collectors { await collector.stop() }
        _ = signal
        output.write(Array(totals().description.utf8))
    }
}

/// Writes whole lines to stdout, one `write` each, from any thread.
final class LineWriter: Sendable {
    private let lock = LockedValue(())

    func write(_ line: [UInt8]) {
        var bytes = line
        bytes.append(10)
        lock.withLock { _ in
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = Glibc.write(STDOUT_FILENO, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 { if errno == EINTR { continue } else { return } }
                    offset += n
                }
            }
        }
    }
}

/// SIGINT and SIGTERM, caught from ``install()`` on: a handler writes the signal to a pipe that
/// a thread of its own reads. That thread unblocks both signals, which may arrive blocked from a
/// parent such as Foundation's `Process`.
enum SignalWaiter {
    nonisolated(unsafe) static var pipeWriteFD: Int32 = -1
    private struct State {
        var received: Int32?
        var continuation: CheckedContinuation<Int32, Never>?
    }
    private static let state = LockedValue(State())

    /// Installs the handlers and starts the reading thread. Call once, before announcing readiness.
    static func install() {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        pipeWriteFD = fds[1]
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { signal in
            var byte = UInt8(truncatingIfNeeded: signal)
            _ = write(SignalWaiter.pipeWriteFD, &byte, 1)
        }
        sigemptyset(&action.sa_mask)
        sigaction(SIGINT, &action, nil)
        sigaction(SIGTERM, &action, nil)
        let readFD = UnsafeMutableRawPointer(bitPattern: Int(fds[0]) + 1)
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { argument in
            let readFD = Int32(Int(bitPattern: argument) - 1)
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGINT)
            sigaddset(&set, SIGTERM)
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            var byte: UInt8 = 0
            while read(readFD, &byte, 1) != 1 {}
            let continuation = SignalWaiter.state.withLock { state -> CheckedContinuation<Int32, Never>? in
                state.received = Int32(byte)
                defer { state.continuation = nil }
                return state.continuation
            }
            continuation?.resume(returning: Int32(byte))
            return nil
        }, readFD)
        if rc == 0 { pthread_detach(thread) }
    }

    /// Returns the first signal received after ``install()``.
    static func waitForTermination() async -> Int32 {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            let received = state.withLock { state -> Int32? in
                if state.received == nil { state.continuation = continuation }
                return state.received
            }
            if let received { continuation.resume(returning: received) }
        }
    }
}
