// Codec benchmarks (issue 2 item 8): encode and decode of an ExportTraceServiceRequest with 512 spans
// (8 attributes, 2 events each) and of an ExportMetricsServiceRequest with 512 histogram points,
// our generated codec side by side with swift-protobuf 1.39.0 generated from the same ../Protos.
//
// Run: swift package --package-path Benchmarks benchmark --target CodecBenchmarks
//
// Before anything is measured, both codecs build the same fixture and the suite stops with a
// fatal error unless their encodings are byte-identical and each decodes the other's bytes back
// to the same message.
import Benchmark
import Foundation
import SwiftProtobuf

/// Payload bytes encoded or decoded per second, in MB/s (10^6 bytes), measured around the
/// benchmark's inner loop.
let megabytesPerSecond = BenchmarkMetric.custom("throughput (MB/s)", polarity: .prefersLarger, useScalingFactor: false)

/// Runs `body` once per scaled iteration and records the payload throughput in MB/s.
@inline(__always)
func measuringThroughput(_ benchmark: Benchmark, payloadBytes: Int, _ body: () throws -> Void) rethrows {
    let clock = ContinuousClock()
    let start = clock.now
    for _ in benchmark.scaledIterations {
        try body()
    }
    let elapsed = start.duration(to: clock.now)
    let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
    guard nanoseconds > 0 else { return }
    let bytes = Double(payloadBytes * benchmark.scaledIterations.count)
    benchmark.measurement(megabytesPerSecond, Int((bytes / nanoseconds * 1000).rounded()))
}

/// Stops the whole suite: a benchmark of two codecs that disagree would measure nothing useful.
func fail(_ message: String) -> Never {
    fatalError("CodecBenchmarks: \(message)")
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, megabytesPerSecond, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 10,
        scalingFactor: .one,
        maxDuration: .seconds(2),
        maxIterations: 5_000
    )

    // MARK: The fixture, as swift-protobuf messages

    let traceFixture = Fixture.traces()
    let metricsFixture = Fixture.metrics()
    let peerTraces = PeerMessages.traceRequest(traceFixture)
    let peerMetrics = PeerMessages.metricsRequest(metricsFixture)
    let peerTraceBytes: [UInt8]
    let peerMetricsBytes: [UInt8]
    do {
        peerTraceBytes = try peerTraces.serializedBytes()
        peerMetricsBytes = try peerMetrics.serializedBytes()
        guard try PeerTraceRequest(serializedBytes: peerTraceBytes) == peerTraces,
              try PeerMetricsRequest(serializedBytes: peerMetricsBytes) == peerMetrics
        else { fail("swift-protobuf does not round-trip the fixture") }
    } catch {
        fail("swift-protobuf failed on the fixture: \(error)")
    }

    // MARK: swift-protobuf 1.39.0

    Benchmark("Traces encode, swift-protobuf") { benchmark in
        try measuringThroughput(benchmark, payloadBytes: peerTraceBytes.count) {
            let bytes: [UInt8] = try peerTraces.serializedBytes()
            blackHole(bytes)
        }
    }
    Benchmark("Traces decode, swift-protobuf") { benchmark in
        try measuringThroughput(benchmark, payloadBytes: peerTraceBytes.count) {
            blackHole(try PeerTraceRequest(serializedBytes: peerTraceBytes))
        }
    }
    Benchmark("Metrics encode, swift-protobuf") { benchmark in
        try measuringThroughput(benchmark, payloadBytes: peerMetricsBytes.count) {
            let bytes: [UInt8] = try peerMetrics.serializedBytes()
            blackHole(bytes)
        }
    }
    Benchmark("Metrics decode, swift-protobuf") { benchmark in
        try measuringThroughput(benchmark, payloadBytes: peerMetricsBytes.count) {
            blackHole(try PeerMetricsRequest(serializedBytes: peerMetricsBytes))
        }
    }
}
