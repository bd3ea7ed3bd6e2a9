// Codec benchmarks: encode and decode of an ExportTraceServiceRequest with 512 spans
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
import OTLPProto
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

/// Index of the first differing byte (or the shorter length).
func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
    let common = min(a.count, b.count)
    return (0..<common).first { a[$0] != b[$0] } ?? common
}

let benchmarks: @Sendable () -> Void = {
    // No .cpuTotal: on Linux it is sampled from /proc at 10 ms resolution and its sampling
    // allocates (16 mallocs counted inside the measurement).
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

    // MARK: The fixture, as our messages: byte-identical to swift-protobuf's, or nothing runs

    let oursTraces = OursMessages.traceRequest(traceFixture)
    let oursMetrics = OursMessages.metricsRequest(metricsFixture)
    let oursTraceBytes = oursTraces.serializedBytes()
    let oursMetricsBytes = oursMetrics.serializedBytes()
    if oursTraceBytes != peerTraceBytes {
        fail("traces: our encoding (\(oursTraceBytes.count) bytes) differs from swift-protobuf's (\(peerTraceBytes.count) bytes)"
            + " from byte \(firstDifference(oursTraceBytes, peerTraceBytes))")
    }
    if oursMetricsBytes != peerMetricsBytes {
        fail("metrics: our encoding (\(oursMetricsBytes.count) bytes) differs from swift-protobuf's (\(peerMetricsBytes.count) bytes)"
            + " from byte \(firstDifference(oursMetricsBytes, peerMetricsBytes))")
    }
    do {
        guard try OursTraceRequest(serializedBytes: peerTraceBytes) == oursTraces,
              try OursMetricsRequest(serializedBytes: peerMetricsBytes) == oursMetrics
        else { fail("our decoder does not read swift-protobuf's encoding back to the fixture") }
    } catch {
        fail("our decoder rejects swift-protobuf's encoding: \(error)")
    }
    // Decoding without reuse of repeated strings and ids must give the same messages.
    let noReuse = ProtoDecodingOptions(reusesRepeatedValues: false)
    do {
        guard try OursTraceRequest(serializedBytes: peerTraceBytes, options: noReuse) == oursTraces,
              try OursMetricsRequest(serializedBytes: peerMetricsBytes, options: noReuse) == oursMetrics
        else { fail("our decoder without value reuse does not read the encoding back to the fixture") }
    } catch {
        fail("our decoder without value reuse rejects swift-protobuf's encoding: \(error)")
    }
    let checkEncoder = ProtoEncoder()
    checkEncoder.encode(oursTraces)
    if checkEncoder.bytes != peerTraceBytes { fail("traces: ProtoEncoder's encoding differs from swift-protobuf's") }
    checkEncoder.encode(oursMetrics)
    if checkEncoder.bytes != peerMetricsBytes { fail("metrics: ProtoEncoder's encoding differs from swift-protobuf's") }

    // MARK: Ours (OTLPWire + generated OTLPProto)
    // "into a reused buffer": a ProtoEncoder (the exporter's pattern) whose storage an encode
    // before the measurement has already grown, so the measured encodes must not allocate.

    Benchmark("Traces encode, ours into a reused buffer") { benchmark in
        let encoder = ProtoEncoder()
        encoder.encode(oursTraces)
        benchmark.startMeasurement()
        measuringThroughput(benchmark, payloadBytes: oursTraceBytes.count) {
            blackHole(encoder.encode(oursTraces))
        }
    }
    Benchmark("Traces encode, ours one-shot") { benchmark in
        measuringThroughput(benchmark, payloadBytes: oursTraceBytes.count) {
            blackHole(oursTraces.serializedBytes())
        }
    }
    Benchmark("Traces decode, ours") { benchmark in
        try measuringThroughput(benchmark, payloadBytes: oursTraceBytes.count) {
            blackHole(try OursTraceRequest(serializedBytes: oursTraceBytes))
        }
    }
    // The same decode with `reusesRepeatedValues` off: every string and id validated and
    // allocated afresh (what the default saves on this repetitive, telemetry-like payload).
    Benchmark("Traces decode, ours without value reuse") { benchmark in
        try measuringThroughput(benchmark, payloadBytes: oursTraceBytes.count) {
            blackHole(try OursTraceRequest(serializedBytes: oursTraceBytes, options: noReuse))
        }
    }
    Benchmark("Metrics encode, ours into a reused buffer") { benchmark in
        let encoder = ProtoEncoder()
        encoder.encode(oursMetrics)
        benchmark.startMeasurement()
        measuringThroughput(benchmark, payloadBytes: oursMetricsBytes.count) {
            blackHole(encoder.encode(oursMetrics))
        }
    }
    Benchmark("Metrics encode, ours one-shot") { benchmark in
        measuringThroughput(benchmark, payloadBytes: oursMetricsBytes.count) {
            blackHole(oursMetrics.serializedBytes())
        }
    }
    Benchmark("Metrics decode, ours") { benchmark in
        try measuringThroughput(benchmark, payloadBytes: oursMetricsBytes.count) {
            blackHole(try OursMetricsRequest(serializedBytes: oursMetricsBytes))
        }
    }

    Benchmark("Metrics decode, ours without value reuse") { benchmark in
        try measuringThroughput(benchmark, payloadBytes: oursMetricsBytes.count) {
            blackHole(try OursMetricsRequest(serializedBytes: oursMetricsBytes, options: noReuse))
        }
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
