// TransportBench: our HTTP/2 client side by side with its peers, on this machine, in one run.
//
// (a) Raw HTTP/2 POSTs/s against a local nghttpd (h2c), 1 KiB and 256 KiB bodies, 1/16/100
//     streams in flight on one connection: ours vs h2load (Debian nghttp2-client).
// (b) gRPC unary calls/s against a grpc-swift-2 server (grpc-swift-nio-transport, h2c) running in
//     its own process (`BenchPeer bench`, next to this executable), raw-bytes messages of 1 KiB
//     and 64 KiB, 1 and 16 in flight: ours vs the grpc-swift-2 client.
//
// Each figure is the median of REPEATS runs (env TRANSPORT_BENCH_REPEATS, default 3).
// CPU seconds: (a) ours = this process (client only), h2load = the h2load child;
//              (b) client = this process while only that client runs (the server is elsewhere);
//                  server = the BenchPeer process's CPU during the same run.
// Build: swift build -c release --package-path Benchmarks --product TransportBench
//        swift build -c release --package-path Benchmarks --product BenchPeer
// Run:   Benchmarks/.build/release/TransportBench [raw] [grpc]
import ClosedLoops
import Foundation
import GRPCCore
import GRPCSwiftPeerSupport
import GRPCNIOTransportHTTP2
import HTTP2Transport
import HTTPTransportCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

let repeats = Int(ProcessInfo.processInfo.environment["TRANSPORT_BENCH_REPEATS"] ?? "") ?? 3

func cpuSeconds(_ who: __rusage_who) -> Double {
    var usage = rusage()
    getrusage(Int32(truncatingIfNeeded: who.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

struct Measurement {
    var requestsPerSecond: Double
    var megabytesPerSecond: Double
    var cpuSeconds: Double
    var failures: Int
    var serverCPUSeconds: Double = 0
}

func median(_ runs: [Measurement]) -> Measurement {
    let sorted = runs.sorted { $0.requestsPerSecond < $1.requestsPerSecond }
    return sorted[sorted.count / 2]
}

// MARK: - (a) raw POSTs: ours vs h2load on nghttpd

final class Nghttpd {
    let process = Process()
    let port: UInt16
    let htdocs: URL

    init() throws {
        htdocs = FileManager.default.temporaryDirectory.appendingPathComponent("transport-bench-\(getpid())")
        try FileManager.default.createDirectory(at: htdocs, withIntermediateDirectories: true)
        try Data("ok".utf8).write(to: htdocs.appendingPathComponent("ok"))
        port = UInt16.random(in: 20000...40000)
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nghttpd")
        // Large windows on the server too (2^24-1), so neither client is window-bound.
        process.arguments = ["--no-tls", "-a", "127.0.0.1", "-d", htdocs.path, "-w", "24", "-W", "24", String(port)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<200 {
            if canConnect() { return }
            usleep(20_000)
        }
        throw NSError(domain: "nghttpd did not start", code: 1)
    }

    func canConnect() -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: htdocs)
    }
}

func oursRaw(port: UInt16, body: [UInt8], inFlight: Int, total: Int) throws -> Measurement {
    var configuration = HTTP2ClientConfiguration(endpoint: Endpoint(host: "127.0.0.1", port: port, useTLS: false))
    configuration.maxConcurrentStreams = max(inFlight, 1)
    let client = try HTTP2Client(configuration: configuration)
    defer { client.shutdown(graceful: true) }
    let request = HTTP2Request(method: "POST", path: "/ok", headers: [HTTPField("content-type", "application/octet-stream")],
                               body: body, timeout: .seconds(30))
    // Warm-up: connect and settle the windows.
    _ = ClosedLoop(total: 200) { done in client.execute(request) { done((try? $0.get().status) == 200) } }.run(inFlight: inFlight)
    let cpu0 = cpuSeconds(RUSAGE_SELF)
    let t0 = now()
    let failures = ClosedLoop(total: total) { done in
        client.execute(request) { done((try? $0.get().status) == 200) }
    }.run(inFlight: inFlight)
    let elapsed = now() - t0
    let rps = Double(total) / elapsed
    return Measurement(requestsPerSecond: rps, megabytesPerSecond: rps * Double(body.count) / 1e6,
                       cpuSeconds: cpuSeconds(RUSAGE_SELF) - cpu0, failures: failures)
}

func h2load(port: UInt16, bodyFile: String, bodySize: Int, inFlight: Int, total: Int) throws -> Measurement {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/h2load")
    process.arguments = ["-n", String(total), "-c", "1", "-t", "1", "-m", String(inFlight), "-d", bodyFile,
                         "-w", "24", "-W", "24", "http://127.0.0.1:\(port)/ok"]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    let cpu0 = cpuSeconds(RUSAGE_CHILDREN)
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let cpu = cpuSeconds(RUSAGE_CHILDREN) - cpu0
    // "finished in 1.23s, 81234.56 req/s, 12.34MB/s"
    guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("finished in") }) else {
        throw NSError(domain: "h2load output: \(output)", code: 1)
    }
    let parts = line.split(separator: ",")
    let rps = Double(parts[1].trimmingCharacters(in: .whitespaces).split(separator: " ")[0]) ?? 0
    var failures = 0
    if let requests = output.split(separator: "\n").first(where: { $0.hasPrefix("requests:") }),
       let failed = requests.split(separator: ",").first(where: { $0.contains("failed") }) {
        failures = Int(failed.trimmingCharacters(in: .whitespaces).split(separator: " ")[0]) ?? 0
    }
    return Measurement(requestsPerSecond: rps, megabytesPerSecond: rps * Double(bodySize) / 1e6, cpuSeconds: cpu, failures: failures)
}

// MARK: - (b) gRPC unary: ours vs grpc-swift-2, against a grpc-swift-2 server

let benchMethod = MethodDescriptor(fullyQualifiedService: "bench.Bench", method: "Call")

/// `BenchPeer bench` in its own process (the grpc-swift-2 server both clients call).
final class BenchPeerServer {
    let process = Process()
    private(set) var port = 0

    init() throws {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        process.executableURL = here.appendingPathComponent("BenchPeer")
        process.arguments = ["bench"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        // First line: {"listening": PORT}
        var line: [UInt8] = []
        let handle = pipe.fileHandleForReading
        while true {
            let byte = handle.readData(ofLength: 1)
            if byte.isEmpty || byte.first == UInt8(ascii: "\n") { break }
            line.append(byte.first!)
        }
        let text = String(decoding: line, as: UTF8.self)
        port = Int(text.filter(\.isNumber)) ?? 0
        guard port > 0 else { throw NSError(domain: "BenchPeer did not start: \(text)", code: 1) }
    }

    /// The server process's CPU seconds so far (utime + stime from /proc/PID/stat).
    var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3; utime and stime are fields 14 and 15.
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

func oursGRPC(port: Int, message: [UInt8], inFlight: Int, total: Int) throws -> Measurement {
    var configuration = HTTP2ClientConfiguration(endpoint: Endpoint(host: "127.0.0.1", port: UInt16(port), useTLS: false))
    configuration.maxConcurrentStreams = max(inFlight, 1)
    let client = try HTTPTransportCore.GRPCClient(configuration: configuration)
    defer { client.shutdown(graceful: true) }
    let call: @Sendable (@escaping @Sendable (Bool) -> Void) -> Void = { done in
        client.unary(path: "/bench.Bench/Call", message: message, timeout: .seconds(30)) { result in
            done((try? result.get().code) == .ok)
        }
    }
    _ = ClosedLoop(total: 200, operation: call).run(inFlight: inFlight)
    let cpu0 = cpuSeconds(RUSAGE_SELF)
    let t0 = now()
    let failures = ClosedLoop(total: total, operation: call).run(inFlight: inFlight)
    let elapsed = now() - t0
    let rps = Double(total) / elapsed
    return Measurement(requestsPerSecond: rps, megabytesPerSecond: rps * Double(message.count) / 1e6,
                       cpuSeconds: cpuSeconds(RUSAGE_SELF) - cpu0, failures: failures)
}

func grpcSwiftGRPC(port: Int, message: [UInt8], inFlight: Int, total: Int, callTimeout: Duration) async throws -> Measurement {
    try await withGRPCClient(
        transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
    ) { client in
        func batch(_ count: Int) async -> Int {
            await runClosedLoop(count, inFlight: inFlight) {
                await client.rawUnaryCall(benchMethod, message: message, timeout: callTimeout)
            }
        }
        _ = await batch(200)
        let cpu0 = cpuSeconds(RUSAGE_SELF)
        let t0 = now()
        let failures = await batch(total)
        let elapsed = now() - t0
        let rps = Double(total) / elapsed
        return Measurement(requestsPerSecond: rps, megabytesPerSecond: rps * Double(message.count) / 1e6,
                           cpuSeconds: cpuSeconds(RUSAGE_SELF) - cpu0, failures: failures)
    }
}

// MARK: - main

func format(_ m: Measurement) -> String {
    String(format: "%10.0f | %8.1f | %6.2f | %d", m.requestsPerSecond, m.megabytesPerSecond, m.cpuSeconds, m.failures)
}

func sizeName(_ bytes: Int) -> String { bytes >= 1024 ? "\(bytes / 1024) KiB" : "\(bytes) B" }

let arguments = Set(CommandLine.arguments.dropFirst())
let runRaw = arguments.contains("raw") || !arguments.contains("grpc")
let runGRPC = arguments.contains("grpc") || !arguments.contains("raw")
// Profiling aids: `ours` skips the peer clients; `1k` / `16` restrict (b) to 1 KiB / 16 in flight.
let oursOnly = arguments.contains("ours")
let grpcSizes = arguments.contains("1k") ? [1024] : [1024, 64 * 1024]
let grpcInFlight = arguments.contains("16") ? [16] : [1, 16]

print("TransportBench — median of \(repeats) runs; CPU = seconds of CPU for the measured run")
if runRaw {
    let server = try Nghttpd()
    defer { server.stop() }
    print("\n(a) raw HTTP/2 POST to nghttpd (h2c, one connection)")
    print("| body | streams | client | req/s | MB/s | CPU s | failed | ratio ours/h2load |")
    print("|---|---|---|---|---|---|---|---|")
    for size in [1024, 256 * 1024] {
        let body = [UInt8](repeating: 0x61, count: size)
        let bodyFile = FileManager.default.temporaryDirectory.appendingPathComponent("transport-bench-body-\(size)").path
        try Data(body).write(to: URL(fileURLWithPath: bodyFile))
        for inFlight in [1, 16, 100] {
            let total = size == 1024 ? (inFlight == 1 ? 20_000 : 100_000) : (inFlight == 1 ? 2_000 : 6_000)
            var ours: [Measurement] = []
            var peer: [Measurement] = []
            for _ in 0..<repeats {
                ours.append(try oursRaw(port: server.port, body: body, inFlight: inFlight, total: total))
                peer.append(try h2load(port: server.port, bodyFile: bodyFile, bodySize: size, inFlight: inFlight, total: total))
            }
            let o = median(ours), p = median(peer)
            let ratio = String(format: "%.2f", o.requestsPerSecond / p.requestsPerSecond)
            print("| \(sizeName(size)) | \(inFlight) | ours | \(format(o).replacingOccurrences(of: " | ", with: " | ")) | \(ratio) |")
            print("| \(sizeName(size)) | \(inFlight) | h2load | \(format(p)) | |")
        }
        try? FileManager.default.removeItem(atPath: bodyFile)
    }
}

if runGRPC {
    let server = try BenchPeerServer()
    defer { server.stop() }
    let port = server.port
    print("\n(b) gRPC unary calls to a grpc-swift-2 server (h2c, its own process: BenchPeer bench), 16-byte responses")
    print("| request | in flight | client | calls/s | MB/s | client CPU s | failed | server CPU s | client CPU µs/call | ratio ours/grpc-swift-2 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size in grpcSizes {
        let message = [UInt8](repeating: 0x62, count: size)
        for inFlight in grpcInFlight {
            let totalOurs = size == 1024 ? 40_000 : 8_000
            let totalPeer = size == 1024 ? 10_000 : 2_000
            var ours: [Measurement] = []
            var peer: [Measurement] = []
            for _ in 0..<repeats {
                var server0 = server.cpuSeconds
                var o = try oursGRPC(port: port, message: message, inFlight: inFlight, total: totalOurs)
                o.serverCPUSeconds = server.cpuSeconds - server0
                ours.append(o)
                if oursOnly { peer.append(o); continue }
                server0 = server.cpuSeconds
                var p = try await grpcSwiftGRPC(port: port, message: message, inFlight: inFlight, total: totalPeer,
                                                callTimeout: .seconds(10))
                p.serverCPUSeconds = server.cpuSeconds - server0
                peer.append(p)
            }
            let o = median(ours), p = median(peer)
            let ratio = String(format: "%.2f", o.requestsPerSecond / p.requestsPerSecond)
            func perCall(_ m: Measurement, _ total: Int) -> String { String(format: "%.1f", m.cpuSeconds / Double(total) * 1e6) }
            print("| \(sizeName(size)) | \(inFlight) | ours | \(format(o)) | \(String(format: "%.2f", o.serverCPUSeconds)) | \(perCall(o, totalOurs)) | \(ratio) |")
            print("| \(sizeName(size)) | \(inFlight) | grpc-swift-2 | \(format(p)) | \(String(format: "%.2f", p.serverCPUSeconds)) | \(perCall(p, totalPeer)) | |")
        }
    }
}
