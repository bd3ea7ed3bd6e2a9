// gRPC unary calls/s into the embedded collector (OTLPTesting's OTLPTestCollector, in this
// process, counting only): our gRPC client (HTTP2Transport) side by side with grpc-swift-2 2.4.3's
// client (grpc-swift-nio-transport 2.9.2, h2c), both sending the same 1 KiB
// ExportTraceServiceRequest to TraceService/Export with 16 calls in flight on one connection.
//
// Run: swift package --package-path Benchmarks benchmark --target CollectorBenchmarks
//
// One iteration is 1,000 calls. Before anything is measured, each client makes one call and the
// suite stops unless it was answered OK and the collector counted its span; every measured call
// that does not end OK stops the suite too, so a figure never counts failed calls.
import Benchmark
import ClosedLoops
import Foundation
import GRPCCore
import GRPCSwiftPeerSupport
import GRPCNIOTransportHTTP2
import HTTP2Transport
import HTTPTransportCore
import OTLPProto
import OTLPTesting

/// Calls completed per second over one iteration's 1,000 calls.
let callsPerSecond = BenchmarkMetric.custom("calls/s", polarity: .prefersLarger, useScalingFactor: false)

let callsPerIteration = 1_000
let inFlight = 16
let messageBytes = 1_024
let exportPath = CollectorTraceV1TraceService.export.path

func fail(_ message: String) -> Never {
    fatalError("CollectorBenchmarks: \(message)")
}

/// An ExportTraceServiceRequest of one span whose encoding is exactly `bytes` long (the span's
/// name is padded until it is).
func traceRequest(bytes: Int) -> [UInt8] {
    func encoded(nameLength: Int) -> [UInt8] {
        var span = TraceV1Span()
        span.traceId = Array(1...16)
        span.spanId = Array(1...8)
        span.name = String(repeating: "n", count: max(nameLength, 0))
        span.kind = .client
        span.startTimeUnixNano = 1_700_000_000_000_000_000
        span.endTimeUnixNano = 1_700_000_000_000_500_000
        span.attributes = [CommonV1KeyValue(key: "bench", value: CommonV1AnyValue(value: .stringValue("collector")))]
        var scope = TraceV1ScopeSpans()
        scope.spans = [span]
        var resource = TraceV1ResourceSpans()
        resource.resource = ResourceV1Resource(attributes: [
            CommonV1KeyValue(key: "service.name", value: CommonV1AnyValue(value: .stringValue("collector-bench"))),
        ])
        resource.scopeSpans = [scope]
        var request = CollectorTraceV1ExportTraceServiceRequest()
        request.resourceSpans = [resource]
        return request.serializedBytes()
    }
    var length = bytes - encoded(nameLength: 0).count
    for _ in 0..<8 {
        let size = encoded(nameLength: length).count
        if size == bytes { return encoded(nameLength: length) }
        length += bytes - size
    }
    fail("cannot make a request of exactly \(bytes) bytes")
}

/// The collector every benchmark calls, started once: gRPC only, counting without keeping requests.
let collector: OTLPTestCollector = {
    do {
        return try OTLPTestCollector(grpc: true, http: false, configuration: .init(keepsRequests: false))
    } catch {
        fail("cannot start the collector: \(error)")
    }
}()

/// Our client: one HTTP/2 connection, up to `inFlight` streams.
final class OursClient: @unchecked Sendable {
    let client: HTTPTransportCore.GRPCClient
    let message: [UInt8]

    init(port: UInt16, message: [UInt8]) throws {
        var configuration = HTTP2ClientConfiguration(endpoint: Endpoint(host: "127.0.0.1", port: port, useTLS: false))
        configuration.maxConcurrentStreams = inFlight
        client = try HTTPTransportCore.GRPCClient(configuration: configuration)
        self.message = message
    }

    func call(_ done: @escaping @Sendable (Bool) -> Void) {
        client.unary(path: exportPath, message: message, timeout: .seconds(30)) { result in
            done((try? result.get().code) == .ok)
        }
    }

    /// `count` calls, `inFlight` at a time; the failures.
    func run(_ count: Int) -> Int {
        ClosedLoop(total: count) { [self] done in call(done) }.run(inFlight: inFlight)
    }
}

/// grpc-swift-2's client on grpc-swift-nio-transport, its connections run by a task of its own.
final class PeerClient: Sendable {
    let client: GRPCCore.GRPCClient<HTTP2ClientTransport.Posix>
    let connections: Task<Void, any Error>
    let message: [UInt8]
    let method = MethodDescriptor(fullyQualifiedService: "opentelemetry.proto.collector.trace.v1.TraceService", method: "Export")

    init(port: UInt16, message: [UInt8]) throws {
        let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: Int(port)),
                                                       transportSecurity: .plaintext)
        let client = GRPCCore.GRPCClient(transport: transport)
        self.client = client
        connections = Task { try await client.runConnections() }
        self.message = message
    }

    func call() async -> Bool {
        await client.rawUnaryCall(method, message: message, timeout: .seconds(30))
    }

    /// `count` calls from `inFlight` tasks, each making its share one after the other; the failures.
    func run(_ count: Int) async -> Int {
        await runClosedLoop(count, inFlight: inFlight) { await self.call() }
    }

    func stop() async {
        client.beginGracefulShutdown()
        _ = try? await connections.value
    }
}

/// Records calls/s for `calls` completed in `elapsed`.
func record(_ benchmark: Benchmark, calls: Int, since start: ContinuousClock.Instant) {
    let elapsed = start.duration(to: .now)
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    guard seconds > 0 else { return }
    benchmark.measurement(callsPerSecond, Int((Double(calls) / seconds).rounded()))
}

/// Makes one call and checks that the collector counted its span: a client that does not reach
/// the collector would measure nothing useful.
func checkOneCall(_ name: String, _ call: () async -> Bool) async {
    let before = collector.counters.spans
    guard await call() else { fail("\(name): the first call did not end OK") }
    guard collector.counters.spans == before + 1 else { fail("\(name): the collector did not count the call's span") }
}

let benchmarks: @Sendable () -> Void = {
    // No .cpuTotal: on Linux it is sampled from /proc at 10 ms resolution.
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, callsPerSecond, .mallocCountTotal],
        timeUnits: .milliseconds,
        warmupIterations: 2,
        scalingFactor: .one,
        maxDuration: .seconds(10),
        maxIterations: 40
    )
    let message = traceRequest(bytes: messageBytes)
    guard let port = collector.grpcPort else { fail("no gRPC port") }

    nonisolated(unsafe) var ours: OursClient?
    Benchmark("gRPC unary 1 KiB, 16 in flight: ours (HTTP2Transport)") { benchmark in
        guard let ours else { fail("no client") }
        let start = ContinuousClock.now
        for _ in benchmark.scaledIterations {
            let failures = ours.run(callsPerIteration)
            guard failures == 0 else { fail("ours: \(failures) of \(callsPerIteration) calls did not end OK") }
        }
        record(benchmark, calls: callsPerIteration * benchmark.scaledIterations.count, since: start)
    } setup: {
        let client = try OursClient(port: port, message: message)
        await checkOneCall("ours") {
            await withCheckedContinuation { continuation in client.call { continuation.resume(returning: $0) } }
        }
        ours = client
    } teardown: {
        ours?.client.shutdown(graceful: true)
        ours = nil
    }

    nonisolated(unsafe) var peer: PeerClient?
    Benchmark("gRPC unary 1 KiB, 16 in flight: grpc-swift-2") { benchmark in
        guard let peer else { fail("no client") }
        let start = ContinuousClock.now
        for _ in benchmark.scaledIterations {
            let failures = await peer.run(callsPerIteration)
            guard failures == 0 else { fail("grpc-swift-2: \(failures) of \(callsPerIteration) calls did not end OK") }
        }
        record(benchmark, calls: callsPerIteration * benchmark.scaledIterations.count, since: start)
    } setup: {
        let client = try PeerClient(port: port, message: message)
        await checkOneCall("grpc-swift-2") { await client.call() }
        peer = client
    } teardown: {
        await peer?.stop()
        peer = nil
    }
}
