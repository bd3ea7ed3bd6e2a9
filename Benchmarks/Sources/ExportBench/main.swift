// End-to-end export benchmark: `otlp load --count N` over OTLP/gRPC into a local sink, side by
// side with swift-otel 1.6.0 exporting the same kind of spans (4 attributes: string, int, bool,
// double) to the same sink in the same run. Each exporter runs in its own child process, so
// CPU seconds and peak RSS come from that process's rusage (wait4).
//
//   swift build -c release --package-path Benchmarks --product ExportBench
//   swift build -c release --package-path Benchmarks --product BenchPeer
//   swift build -c release --package-path Benchmarks --product otlp
//   Benchmarks/.build/release/ExportBench [--count 1000000] [--runs 3] [--sink benchpeer|collect|python]
//       [--ours-args "--queue-size 1048576 ..."] [--peer-queue N] [--peer-batch N] [--only ours|peer]
//       [--order grouped|alternating]
//
// `--order grouped` (the default) runs all of our runs, then all of swift-otel's: a lossless
// swift-otel run peaks at about 20 GB, and for a minute or so after it exits the kernel reclaiming
// that memory slows whatever runs next (measured: our runs right after one took 1.8 s instead of
// 1.0 s). `alternating` interleaves them, one of ours then one of swift-otel's.
//
// The sink (default) is BenchPeer's `sink` mode, its own process: a grpc-swift-2 server that counts
// the spans of every request exactly by walking its protobuf with OTLPWire's ProtoReader.
// `--sink collect` uses `otlp collect --no-duplicates` (our embedded collector, validating and
// counting without decoding: the sink with the least CPU per span).
// `--sink python` uses tools/peers/fault_collector.py --sink instead (grpcio; ~340k spans/s max).
// Delivered = spans the sink counted during that exporter's run.
import Foundation
import Logging
import OTel
import ServiceLifecycle
import Tracing

#if canImport(Glibc)
import Glibc
#endif

// MARK: swift-otel worker (a child process: OTel.bootstrap can run once per process)

func runSwiftOTelWorker(endpoint: String, count: Int, queue: Int, batch: Int) async throws {
    var config = OTel.Configuration.default
    config.serviceName = "export-bench"
    config.metrics.enabled = false
    config.logs.enabled = false
    config.diagnosticLogLevel = .error
    config.traces.sampler = .alwaysOn
    config.traces.otlpExporter.endpoint = endpoint
    config.traces.otlpExporter.protocol = .grpc
    config.traces.batchSpanProcessor.maxQueueSize = queue
    config.traces.batchSpanProcessor.maxExportBatchSize = batch
    config.traces.batchSpanProcessor.scheduleDelay = .milliseconds(200)
    // The final flush exports everything still queued within one export timeout (default 30 s):
    // give it long enough that a lossless run is possible.
    config.traces.batchSpanProcessor.exportTimeout = .seconds(300)
    config.traces.otlpExporter.timeout = .seconds(300)
    let observability = try OTel.bootstrap(configuration: config)
    let group = ServiceGroup(services: [observability], logger: Logger(label: "export-bench"))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        try await Task.sleep(for: .milliseconds(100))
        let tracer = InstrumentationSystem.tracer
        for i in 0..<count {
            let span = tracer.startSpan("load-span")
            span.attributes["load.string"] = "value"
            span.attributes["load.int"] = i
            span.attributes["load.bool"] = true
            span.attributes["load.double"] = 1.5
            span.end()
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

// MARK: child processes with rusage

struct Measured {
    var status: Int32
    var wallSeconds: Double
    var cpuSeconds: Double
    var peakRSSMiB: Double
    var stdout: String
}

func spawnMeasured(_ argv: [String]) throws -> Measured {
    let outPath = "/tmp/export-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    var pid: pid_t = 0
    let cArgs = argv.map { strdup($0) } + [nil]
    let cEnv = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
    let start = ContinuousClock.now
    let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
    guard rc == 0 else { throw NSError(domain: "spawn", code: Int(rc)) }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let wall = (ContinuousClock.now - start)
    let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    unlink(outPath)
    let (s, atto) = wall.components
    return Measured(status: status, wallSeconds: Double(s) + Double(atto) / 1e18, cpuSeconds: cpu,
                    peakRSSMiB: Double(usage.ru_maxrss) / 1024, stdout: out)
}

// MARK: the sink

final class Sink: @unchecked Sendable {
    let process = Process()
    let pipe = Pipe()
    let lock = NSLock()
    var text = ""
    var port = 0

    init(executable: String, arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = String(decoding: handle.availableData, as: UTF8.self)
            self?.lock.lock(); self?.text += chunk; self?.lock.unlock()
        }
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while port == 0 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            for object in lines() { if let p = object["listening"] as? Int { port = p } }
            if let p = textLines().first(where: { $0.hasPrefix("listening grpc=") }).flatMap(Self.collectorPort) { port = p }
        }
        guard port != 0 else { throw NSError(domain: "sink did not start", code: 1) }
    }

    func lines() -> [[String: Any]] {
        lock.lock(); let t = text; lock.unlock()
        return t.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func textLines() -> [Substring] {
        lock.lock(); let t = text; lock.unlock()
        return t.split(separator: "\n")
    }

    /// The gRPC port from `otlp collect`'s first line, `listening grpc=127.0.0.1:PORT http=-`.
    static func collectorPort(_ line: Substring) -> Int? {
        guard let grpc = line.split(separator: " ").first(where: { $0.hasPrefix("grpc=") }),
              let colon = grpc.lastIndex(of: ":") else { return nil }
        return Int(grpc[grpc.index(after: colon)...])
    }

    /// Spans counted so far: BenchPeer's last `{"sink": {"items": N}}` line, or `otlp collect`'s
    /// last `spans=N ...` line.
    func items() -> Int {
        if let line = textLines().last(where: { $0.hasPrefix("spans=") }),
           let first = line.split(separator: " ").first, let n = Int(first.dropFirst("spans=".count)) {
            return n
        }
        return (lines().last { $0["sink"] != nil }?["sink"] as? [String: Any])?["items"] as? Int ?? 0
    }

    /// Items counted so far, after the count has been stable for `quiet` seconds.
    func settledItems(quiet: Double = 1.0) -> Int {
        var last = -1
        var stableSince = Date()
        while true {
            let now = items()
            if now != last { last = now; stableSince = Date() }
            if Date().timeIntervalSince(stableSince) >= quiet { return now }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
    }
}

// MARK: orchestration

func argument(_ name: String, _ args: [String]) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}

let args = CommandLine.arguments
if args.count > 1 && args[1] == "swift-otel-worker" {
    try await runSwiftOTelWorker(endpoint: argument("--endpoint", args)!, count: Int(argument("--count", args)!)!,
                                 queue: Int(argument("--queue", args) ?? "2048")!, batch: Int(argument("--batch", args) ?? "512")!)
    exit(0)
}

let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
let count = Int(argument("--count", args) ?? "1000000")!
let runs = Int(argument("--runs", args) ?? "3")!
let python = argument("--python", args) ?? ProcessInfo.processInfo.environment["OTLP_TEST_PYTHON"]
    ?? repo.appendingPathComponent(".venv/bin/python").path
let selfPath = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
// `swift build -c release --package-path Benchmarks --product otlp` puts otlp next to ExportBench.
let otlp = argument("--otlp", args) ?? URL(fileURLWithPath: selfPath).deletingLastPathComponent().appendingPathComponent("otlp").path
let ourExtra = (argument("--ours-args", args) ?? "").split(separator: " ").map(String.init)
// Lossless by default: a queue that holds every span (swift-otel's default, 2048, drops most of them).
let peerQueue = argument("--peer-queue", args) ?? String(count)
// The same batch size and delay as `otlp load`'s defaults (2048, 200 ms).
let peerBatch = argument("--peer-batch", args) ?? "2048"
let only = argument("--only", args)
let sinkKind = argument("--sink", args) ?? "benchpeer"
let sink: Sink
if sinkKind == "python" {
    sink = try Sink(executable: python, arguments: [repo.appendingPathComponent("tools/peers/fault_collector.py").path, "--sink"])
} else if sinkKind == "collect" {
    // Our embedded collector validating and counting without decoding: about 150 ns of CPU per
    // span (Collector throughput in README.md), the cheapest sink here.
    sink = try Sink(executable: otlp, arguments: ["collect", "--grpc", "127.0.0.1:0", "--no-duplicates", "--interval", "0.1"])
} else {
    let peer = argument("--benchpeer", args)
        ?? URL(fileURLWithPath: selfPath).deletingLastPathComponent().appendingPathComponent("BenchPeer").path
    sink = try Sink(executable: peer, arguments: ["sink"])
}
defer { sink.stop() }
let endpoint = "http://127.0.0.1:\(sink.port)"
let order = argument("--order", args) ?? "grouped"
print("sink (\(sinkKind)) on \(endpoint); \(count) spans per run, \(runs) run(s) each, \(order); "
      + "swift-otel queue \(peerQueue) batch \(peerBatch); otlp load extra args: \(ourExtra)")

struct Row { var name: String; var delivered: [Int] = []; var wall: [Double] = []; var cpu: [Double] = []; var rss: [Double] = []; var summaries: [String] = [] }
var ours = Row(name: "swift-otlp (otlp load)")
var peer = Row(name: "swift-otel 1.6.0")
let schedule: [(run: Int, which: Int)] = order == "alternating"
    ? (1...runs).flatMap { run in [(run, 0), (run, 1)] }
    : [0, 1].flatMap { which in (1...runs).map { ($0, which) } }
for (run, which) in schedule {
    do {
        if only == "ours" && which == 1 || only == "peer" && which == 0 { continue }
        let before = sink.settledItems(quiet: 0.5)
        let measured: Measured
        if which == 0 {
            measured = try spawnMeasured([otlp, "load", "--endpoint", endpoint, "--signal", "traces", "--protocol", "grpc",
                                          "--count", String(count)] + ourExtra)
        } else {
            measured = try spawnMeasured([selfPath, "swift-otel-worker", "--endpoint", endpoint, "--count", String(count),
                                          "--queue", peerQueue, "--batch", peerBatch])
        }
        let delivered = sink.settledItems() - before
        let summary = measured.stdout.split(separator: "\n").last.map(String.init) ?? ""
        print("run \(run) \(which == 0 ? ours.name : peer.name): status \(measured.status) delivered \(delivered) "
              + "wall \(String(format: "%.2f", measured.wallSeconds)) s cpu \(String(format: "%.2f", measured.cpuSeconds)) s "
              + "rss \(String(format: "%.1f", measured.peakRSSMiB)) MiB \(summary)")
        if which == 0 {
            ours.delivered.append(delivered); ours.wall.append(measured.wallSeconds); ours.cpu.append(measured.cpuSeconds)
            ours.rss.append(measured.peakRSSMiB); ours.summaries.append(summary)
        } else {
            peer.delivered.append(delivered); peer.wall.append(measured.wallSeconds); peer.cpu.append(measured.cpuSeconds)
            peer.rss.append(measured.peakRSSMiB)
        }
    }
}

print("")
print("| exporter | spans created | delivered (median) | delivered/created | wall s | delivered spans/s | CPU s | peak RSS MiB |")
print("|---|---|---|---|---|---|---|---|")
var rates: [Double] = []
for row in [ours, peer] where !row.delivered.isEmpty {
    let delivered = median(row.delivered.map(Double.init))
    let wall = median(row.wall)
    let rate = delivered / max(wall, 1e-9)
    rates.append(rate)
    print("| \(row.name) | \(count) | \(Int(delivered)) | \(String(format: "%.4f", delivered / Double(count))) | "
          + "\(String(format: "%.2f", wall)) | \(Int(rate)) | \(String(format: "%.2f", median(row.cpu))) | "
          + "\(String(format: "%.1f", median(row.rss))) |")
}
if rates.count == 2 {
    print("throughput ratio (delivered spans/s, ours / swift-otel): \(String(format: "%.1f", rates[0] / max(rates[1], 1e-9)))x")
}
