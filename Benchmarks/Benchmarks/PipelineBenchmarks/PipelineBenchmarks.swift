// Producer cost of the swift-otlp SDK (span, counter add, histogram record, log record; 1 and 2
// producer threads; spans also with 4 and 8) side by side with swift-otel 1.6.0 recording the same span workload into its
// no-op ("none") exporter, plus draining queued spans into OTLP messages and into encoded OTLP
// requests (100 k and 1 M, to show linearity).
//
// Run: swift package --package-path Benchmarks benchmark --target PipelineBenchmarks
// Times are per operation (scalingFactor .kilo: each sample is 1000 operations, averaged).

import Benchmark
import Dispatch
import Foundation
import OTLPExporter
import OTel
import ServiceLifecycle
import Telemetry
import TelemetryPipeline
import Tracing

/// Discards every batch (the exporter side is not what these benchmarks measure).
struct NoOpSpanExporter: Telemetry.SpanExporter {
    func export(_ batch: SpanBatch) async throws {}
}
struct NoOpLogExporter: Telemetry.LogExporter {
    func export(_ batch: LogBatch) async throws {}
}
struct NoOpMetricExporter: Telemetry.MetricExporter {
    func export(_ batch: MetricBatch) async throws {}
}

/// One provider for all our producer benchmarks, with spec-default batching but a queue large
/// enough that the worker keeps up; drops are written out at exit so none go unnoticed.
let provider: TelemetryProvider = {
    var configuration = PipelineConfiguration()
    configuration.traces.maxQueueSize = 1 << 16
    configuration.logs.maxQueueSize = 1 << 16
    configuration.metrics.measurementQueueSize = 1 << 16
    configuration.diagnostics = { _ in }
    return TelemetryProvider(
        resource: Resource(serviceName: "bench"), spanExporters: [NoOpSpanExporter()],
        metricExporters: [NoOpMetricExporter()], logExporters: [NoOpLogExporter()], configuration: configuration)
}()

/// The benchmark running in this process (package-benchmark runs each one in a process of its own).
nonisolated(unsafe) var currentBenchmark = ""

/// At exit, appends this process's accepted/dropped counts to /tmp/swift-otlp-pipeline-drops.txt
/// (or $PIPELINE_DROPS_FILE): package-benchmark hides the benchmark's own output.
let dropReportInstalled: Bool = {
    atexit {
        guard !currentBenchmark.isEmpty else { return }
        var report = "\(currentBenchmark):"
        for signal in TelemetrySignal.allCases {
            let stats = provider.statistics(signal)
            report += " \(signal) accepted \(stats.accepted) dropped \(stats.dropped);"
        }
        report += "\n"
        let path = ProcessInfo.processInfo.environment["PIPELINE_DROPS_FILE"] ?? "/tmp/swift-otlp-pipeline-drops.txt"
        if let handle = FileHandle(forWritingAtPath: path) ?? {
            FileManager.default.createFile(atPath: path, contents: nil)
            return FileHandle(forWritingAtPath: path)
        }() {
            handle.seekToEndOfFile()
            handle.write(Data(report.utf8))
            handle.closeFile()
        }
    }
    return true
}()

/// Records which benchmark this process runs (for the drop report at exit).
func running(_ name: String) {
    if currentBenchmark.isEmpty {
        currentBenchmark = name
        _ = dropReportInstalled
    }
}

let tracer = provider.tracer("bench")
let counter = provider.meter("bench").counter("requests")
let histogram = provider.meter("bench").histogram("latency", of: Double.self)
let logger = provider.logger("bench")

@inline(__always)
func ourSpan(_ index: Int) {
    var span = tracer.startSpan("GET /items")
    span.setAttribute("http.method", "GET")
    span.setAttribute("http.status_code", 200)
    span.setAttribute("http.route", "/items")
    span.setAttribute("retry", false)
    span.end()
}

/// Runs `body(i)` `iterations` times on each of `threads` threads concurrently: the calling
/// thread and `threads - 1` threads of their own (more producers than cores are real threads,
/// not Dispatch's pool, which runs at most one per core).
@inline(__always)
func onThreads(_ threads: Int, _ iterations: Range<Int>, _ body: @escaping @Sendable (Int) -> Void) {
    if threads == 1 {
        for index in iterations { body(index) }
        return
    }
    let done = DispatchGroup()
    for _ in 1..<threads {
        done.enter()
        Thread.detachNewThread {
            for index in iterations { body(index) }
            done.leave()
        }
    }
    for index in iterations { body(index) }
    done.wait()
}

/// swift-otel's tracer with its no-op exporter; its background service runs in a task.
func makeOTelSpanBody() -> @Sendable (Int) -> Void {
    var configuration = OTel.Configuration.default
    configuration.traces.exporter = .none
    configuration.metrics.enabled = false
    configuration.logs.enabled = false
    configuration.diagnosticLogLevel = .error
    let (factory, service) = try! OTel.makeTracingBackend(configuration: configuration)
    Task.detached { try? await service.run() }
    let otelTracer = factory
    return { _ in
        let span = otelTracer.startSpan("GET /items", context: .topLevel)
        span.attributes["http.method"] = "GET"
        span.attributes["http.status_code"] = 200
        span.attributes["http.route"] = "/items"
        span.attributes["retry"] = false
        span.end()
    }
}

let otelSpan = makeOTelSpanBody()

func makeQueuedSpans(_ count: Int) -> MPSCRingBuffer<SpanData> {
    let ring = MPSCRingBuffer<SpanData>(minimumCapacity: count)
    let scope = InstrumentationScope(name: "bench")
    for index in 0..<count {
        ring.push(SpanData(
            name: "GET /items", context: SpanContext(traceID: IDGenerator.traceID(), spanID: IDGenerator.spanID(), traceFlags: .sampled),
            kind: .server, startTimeUnixNano: UInt64(index), endTimeUnixNano: UInt64(index + 1000),
            attributes: ["http.method": "GET", "http.status_code": 200, "http.route": "/items", "retry": false],
            scope: scope))
    }
    return ring
}

/// Moves up to 512 spans from the ring into `batch`, as the pipeline worker does (a pop loop
/// into a local array: each span moves, none is copied).
func moveBatch(from ring: MPSCRingBuffer<SpanData>, into batch: inout [SpanData]) -> Int {
    var moved = 0
    while moved < 512, let span = ring.pop() {
        batch.append(span)
        moved += 1
    }
    return moved
}

/// What the worker and the OTLP exporter do with queued spans: drain in batches of 512 and
/// encode each straight into ExportTraceServiceRequest bytes (the binary exporters' path).
func drainToEncodedOTLP(_ ring: MPSCRingBuffer<SpanData>) -> Int {
    let resource = Resource(serviceName: "bench")
    var batch: [SpanData] = []
    batch.reserveCapacity(512)
    var encoded = 0
    while true {
        let moved = moveBatch(from: ring, into: &batch)
        if moved == 0 { break }
        let bytes = SpanBatch(resource: resource, spans: batch).encodedExportRequest()
        precondition(!bytes.isEmpty)
        encoded += moved
        batch.removeAll(keepingCapacity: true)
    }
    return encoded
}

/// Drain in batches of 512, convert each to the generated OTLP messages (in-memory exporters,
/// OTLP/JSON).
func drainToOTLP(_ ring: MPSCRingBuffer<SpanData>) -> Int {
    let resource = Resource(serviceName: "bench")
    var batch: [SpanData] = []
    batch.reserveCapacity(512)
    var converted = 0
    while true {
        let moved = moveBatch(from: ring, into: &batch)
        if moved == 0 { break }
        let request = SpanBatch(resource: resource, spans: batch).makeRequest()
        converted += request.resourceSpans[0].scopeSpans[0].spans.count
        batch.removeAll(keepingCapacity: true)
    }
    return converted
}

let benchmarks: @Sendable () -> Void = {
    let producer = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal, .throughput], timeUnits: .nanoseconds,
        warmupIterations: 3, scalingFactor: .kilo, maxDuration: .seconds(3), maxIterations: 2000)

    for threads in [1, 2] {
        Benchmark("span start+4 attrs+end, swift-otlp, \(threads) thread(s)", configuration: producer) { benchmark in
            running("span start+4 attrs+end, swift-otlp, \(threads) thread(s)")
            onThreads(threads, benchmark.scaledIterations) { ourSpan($0) }
        }
        Benchmark("span start+4 attrs+end, swift-otel 1.6.0, \(threads) thread(s)", configuration: producer) { benchmark in
            onThreads(threads, benchmark.scaledIterations) { otelSpan($0) }
        }
        Benchmark("counter add, swift-otlp, \(threads) thread(s)", configuration: producer) { benchmark in
            running("counter add, swift-otlp, \(threads) thread(s)")
            onThreads(threads, benchmark.scaledIterations) { _ in counter.add(1) }
        }
        Benchmark("histogram record, swift-otlp, \(threads) thread(s)", configuration: producer) { benchmark in
            running("histogram record, swift-otlp, \(threads) thread(s)")
            onThreads(threads, benchmark.scaledIterations) { index in histogram.record(Double(index & 1023)) }
        }
        Benchmark("log record, swift-otlp, \(threads) thread(s)", configuration: producer) { benchmark in
            running("log record, swift-otlp, \(threads) thread(s)")
            onThreads(threads, benchmark.scaledIterations) { _ in logger.info("request served") }
        }
    }

    // More producers than cores: spans per second per producer thread, and where the limit is.
    for threads in [4, 8] {
        Benchmark("span start+4 attrs+end, swift-otlp, \(threads) thread(s)", configuration: producer) { benchmark in
            running("span start+4 attrs+end, swift-otlp, \(threads) thread(s)")
            onThreads(threads, benchmark.scaledIterations) { ourSpan($0) }
        }
    }

    let drain = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal], timeUnits: .milliseconds, warmupIterations: 0,
        scalingFactor: .one, maxDuration: .seconds(20), maxIterations: 5)
    for count in [100_000, 1_000_000] {
        Benchmark("drain \(count) queued spans into OTLP messages", configuration: drain) { benchmark in
            let ring = makeQueuedSpans(count)
            benchmark.startMeasurement()
            let converted = drainToOTLP(ring)
            benchmark.stopMeasurement()
            precondition(converted == count)
        }
        Benchmark("drain \(count) queued spans into encoded OTLP requests", configuration: drain) { benchmark in
            let ring = makeQueuedSpans(count)
            benchmark.startMeasurement()
            let encoded = drainToEncodedOTLP(ring)
            benchmark.stopMeasurement()
            precondition(encoded == count)
        }
    }

}
