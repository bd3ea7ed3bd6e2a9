// Records spans, log records and measurements from plain threads and exports them over OTLP/gRPC
// while every thread of the Swift cooperative pool is blocked, then flushes (async, from a task
// that does not run on the pool) and shuts down (synchronously). Run by
// `Tests/TelemetryTests/CooperativePoolStarvationTests.swift` in a process of its own, so blocking
// the pool cannot slow the other tests.
//
// Usage: PoolStarvationProbe ENDPOINT COUNT
// Output lines: `pool-blocked=yes|no`, `flush=ok|FAILED: ...`, `shutdown=ok|FAILED: ...`,
// then `traces exported=N failed=N`, `logs ...`, `metrics ...`.
import Foundation
import OTLPExporter
import OTLPSync
import Telemetry
import TelemetryCore
import TelemetryPipeline

/// Writes a line to standard output at once (the test reads it while this process runs).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
let arguments = CommandLine.arguments
guard arguments.count == 3, let count = Int(arguments[2]) else {
    FileHandle.standardError.write(Data("usage: PoolStarvationProbe ENDPOINT COUNT\n".utf8))
    exit(2)
}
let endpoint = arguments[1]

// 1. Block every thread of the cooperative pool (one task per core: the pool's width).
let blockers = ProcessInfo.processInfo.activeProcessorCount
let started = LockedValue(0)
let release = DispatchSemaphore(value: 0)
for _ in 0..<blockers {
    Task.detached {
        started.withLock { $0 += 1 }
        release.wait()  // blocks this pool thread until the process ends
    }
}
let startDeadline = Date().addingTimeInterval(10)
while started.withLock({ $0 }) < blockers && Date() < startDeadline { usleep(1000) }
// Proof that the pool is saturated: a task enqueued now never gets to run.
let probeRan = LockedValue(false)
Task.detached { probeRan.withLock { $0 = true } }
usleep(300_000)
let blocked = started.withLock { $0 } == blockers && !probeRan.withLock { $0 }
say("pool-blocked=\(blocked ? "yes" : "no")")

// 2. A provider exporting all three signals over OTLP/gRPC.
func configuration(_ signal: TelemetrySignal) -> OTLPExporterConfiguration {
    OTLPExporterConfiguration(signal: signal, protocol: .grpc, endpoint: endpoint, timeout: .seconds(5),
                              retry: OTLPRetryPolicy(initialBackoff: .milliseconds(50), maxBackoff: .milliseconds(500),
                                                     maxElapsedTime: .seconds(10)))
}
var pipelineConfiguration = PipelineConfiguration()
pipelineConfiguration.traces = .init(maxQueueSize: 65536, maxExportBatchSize: 512, scheduledDelay: .milliseconds(100))
pipelineConfiguration.logs = .init(maxQueueSize: 65536, maxExportBatchSize: 512, scheduledDelay: .milliseconds(100))
pipelineConfiguration.metrics.exportInterval = .seconds(3600)
let provider: TelemetryProvider
do {
    provider = TelemetryProvider(
        resource: Resource(serviceName: "pool-starvation-probe"),
        spanExporters: [try OTLPSpanExporter(configuration: configuration(.traces))],
        metricExporters: [try OTLPMetricExporter(configuration: configuration(.metrics))],
        logExporters: [try OTLPLogExporter(configuration: configuration(.logs))],
        configuration: pipelineConfiguration)
} catch {
    say("setup FAILED: \(error)")
    exit(1)
}

// 3. Record from plain threads: half before the flush, half after it (before shutdown).
func record(_ range: Range<Int>) {
    let done = DispatchGroup()
    for part in 0..<2 {
        done.enter()
        Thread.detachNewThread {
            let tracer = provider.tracer("probe")
            let logger = provider.logger("probe")
            let counter = provider.meter("probe").counter("probe.adds", of: Int64.self)
            for index in range where index % 2 == part {
                var span = tracer.startSpan("span-\(index)")
                span.setAttribute("index", .int(Int64(index)))
                span.end()
                logger.info("log-\(index)")
                counter.add(1, attributes: [Attribute("part", .int(Int64(part)))])
            }
            done.leave()
        }
    }
    done.wait()
}
record(0..<count / 2)

// 4. The async flush, awaited by a task whose executor is not the pool.
let caller = ExportExecutor(name: "probe-caller", threadCount: 1)
let flushed = OneShotSignal()
let flushResult = LockedValue<String>("FAILED: did not return")
let flushStart = ContinuousClock.now
Task.detached(executorPreference: caller) {
    do {
        try await provider.forceFlush(timeout: .seconds(20))
        flushResult.withLock { $0 = "ok" }
    } catch {
        flushResult.withLock { $0 = "FAILED: \(error)" }
    }
    flushed.signal()
}
_ = flushed.wait(untilMonotonic: monotonicNanos() + 30_000_000_000)
say("flush=\(flushResult.withLock { $0 }) seconds=\((ContinuousClock.now - flushStart).components.seconds)")

// 5. The rest, then a synchronous shutdown from this (plain) thread.
record(count / 2..<count)
do {
    try provider.shutdownSynchronously(timeout: .seconds(20))
    say("shutdown=ok")
} catch {
    say("shutdown=FAILED: \(error)")
}
for signal in [TelemetrySignal.traces, .logs, .metrics] {
    let statistics = provider.statistics(signal)
    say("\(signal == .traces ? "traces" : signal == .logs ? "logs" : "metrics") accepted=\(statistics.accepted) exported=\(statistics.exported) failed=\(statistics.failed) dropped=\(statistics.dropped)")
}
exit(0)
