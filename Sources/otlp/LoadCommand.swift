import OTLPSync
import ArgumentParser
import Foundation
import OTLPExporter
import Telemetry
import TelemetryCore
import TelemetryPipeline
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `otlp load`: a load generator like the OpenTelemetry Collector's telemetrygen, built on the
/// public API (a `TelemetryProvider` with this package's OTLP exporters).
///
/// Last output line: `created=N [sampled_out=N] exported=N dropped=N failed=N elapsed=SECONDS rate=N/s`
/// (`sampled_out` only when the sampler left spans out: they are neither lost nor exported).
/// Exit status: 0 when nothing was dropped or failed; 1 otherwise; 2 bad usage.
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Generate spans, metrics or logs and export them over OTLP.",
        discussion: """
            Each span carries 4 attributes (string, int, bool, double) plus any --attributes. \
            Workers are threads of their own. The last output line is the summary \
            `created=N exported=N dropped=N failed=N elapsed=SECONDS rate=N/s` (items of the chosen \
            signal; metrics count measurements); a live progress line (delivered and dropped per \
            second) is shown when stdout is a terminal. The standard OTEL_* variables apply \
            (OTEL_EXPORTER_OTLP_*, OTEL_BSP_*/OTEL_BLRP_* batching, OTEL_METRIC_EXPORT_INTERVAL, \
            OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER); flags win. Exit \
            status: 0 only when nothing was dropped or failed, 1 otherwise, 2 bad usage.
            """
    )

    @Option(name: .long, help: "Collector URL (default http://localhost:4317 for grpc, http://localhost:4318 for http/*).")
    var endpoint: String?

    @Option(name: .long, help: "traces, metrics or logs.")
    var signal: String = "traces"

    @Option(name: .long, help: "grpc, http/protobuf or http/json (default: OTEL_EXPORTER_OTLP_PROTOCOL, else grpc).")
    var `protocol`: String?

    @Option(name: .long, help: "Number of items to create.")
    var count: Int?

    @Option(name: .long, help: "Seconds to generate for (instead of --count).")
    var duration: Double?

    @Option(name: .long, help: "Items per second over all workers (default: as fast as possible).")
    var rate: Double?

    @Flag(name: .long, help: """
        Pace the generator to the exporter: a worker finding the queue full waits for room \
        (the pipeline's back-pressure mode) instead of dropping the item.
        """)
    var lossless = false

    @Option(name: .long, help: "Generating threads.")
    var workers: Int = 1

    @Option(name: .customLong("shutdown-timeout"), help: """
        Seconds the final flush and shutdown may take (default: the retry budget plus the \
        export timeout plus 5, at least 60); what is not delivered by then counts as failed.
        """)
    var shutdownTimeout: Double?

    @Option(name: .long, parsing: .upToNextOption, help: "Extra attributes K=V added to every item.")
    var attributes: [String] = []

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .long, help: "Per-export timeout in seconds (default: OTEL_EXPORTER_OTLP_TIMEOUT, else 10).")
    var timeout: Double?

    @Option(name: .customLong("queue-size"), help: "Pipeline queue capacity, items buffered before drops (default: OTEL_BSP_MAX_QUEUE_SIZE / OTEL_BLRP_MAX_QUEUE_SIZE, else 16384).")
    var queueSize: Int?

    @Option(name: .customLong("batch-size"), help: "Items per export request (default: OTEL_BSP_MAX_EXPORT_BATCH_SIZE / OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, else 2048).")
    var batchSize: Int?

    @Option(name: .long, help: "Export requests in flight at once.")
    var concurrency: Int = 4

    @Option(name: .customLong("max-retry-seconds"), help: "Give up retrying an export after this many seconds.")
    var maxRetrySeconds: Double = 30

    @Option(name: .customLong("report-every"), help: """
        Print a sample line to stderr every this many seconds: `sample t=SECONDS created=N \
        accepted=N dropped=N exported=N failed=N pooled_blocks=N idle_blocks=N` (pooled blocks: \
        span records allocated and not freed, in use or idle in the pool).
        """)
    var reportEvery: Double?

    private func usage(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("otlp load: \(message)\n".utf8))
        return ExitCode(2)
    }

    func run() async throws {
        guard let signal = TelemetrySignal(rawValue: signal) else { throw usage("--signal must be traces, metrics or logs") }
        // The standard variables first; every flag given wins over them.
        let environment = ProcessInfo.processInfo.environment
        let otel = OTLPEnvironmentConfiguration(environment: environment)
        for warning in otel.warnings { FileHandle.standardError.write(Data("otlp load: \(warning)\n".utf8)) }
        func isSet(_ name: String) -> Bool { !(environment[name]?.trimmingCharacters(in: .whitespaces).isEmpty ?? true) }
        let fromEnvironment = otel.exporter(for: signal)
        let upper = signal == .traces ? "TRACES" : signal == .metrics ? "METRICS" : "LOGS"
        func signalSet(_ suffix: String) -> Bool {
            isSet("OTEL_EXPORTER_OTLP_\(suffix)") || isSet("OTEL_EXPORTER_OTLP_\(upper)_\(suffix)")
        }
        let proto: OTLPProtocol
        if let text = self.protocol {
            guard let parsed = OTLPProtocol(rawValue: text) else { throw usage("--protocol must be grpc, http/protobuf or http/json") }
            proto = parsed
        } else {
            proto = signalSet("PROTOCOL") ? fromEnvironment.protocol : .grpc
        }
        let processor = signal == .logs ? otel.logProcessor : otel.spanProcessor
        let processorPrefix = signal == .logs ? "OTEL_BLRP_" : "OTEL_BSP_"
        let queueSize = self.queueSize ?? (isSet(processorPrefix + "MAX_QUEUE_SIZE") ? processor.maxQueueSize : 16384)
        let batchSize = self.batchSize ?? (isSet(processorPrefix + "MAX_EXPORT_BATCH_SIZE") ? processor.maxExportBatchSize : 2048)
        let scheduleDelay = isSet(processorPrefix + "SCHEDULE_DELAY") ? processor.scheduleDelay : .milliseconds(200)
        let timeout = self.timeout ?? (signalSet("TIMEOUT") ? fromEnvironment.timeout.seconds : 10)
        if (count == nil) == (duration == nil) { throw usage("give exactly one of --count N and --duration SECONDS") }
        if let count, count < 0 { throw usage("--count must be ≥ 0") }
        if let duration, !(duration > 0 && duration.isFinite) { throw usage("--duration must be a positive number") }
        if let rate, !(rate > 0 && rate.isFinite) { throw usage("--rate must be a positive number") }
        guard workers >= 1 && workers <= 1024 else { throw usage("--workers must be in 1...1024") }
        guard timeout > 0 && timeout.isFinite else { throw usage("--timeout must be positive") }
        guard queueSize >= 1, batchSize >= 1, concurrency >= 1 else { throw usage("sizes must be ≥ 1") }
        if let reportEvery, !(reportEvery > 0 && reportEvery.isFinite) { throw usage("--report-every must be a positive number") }
        if let shutdownTimeout, !(shutdownTimeout > 0 && shutdownTimeout.isFinite) {
            throw usage("--shutdown-timeout must be a positive number")
        }
        var extra: [Attribute] = []
        for entry in attributes {
            guard let eq = entry.firstIndex(of: "="), eq != entry.startIndex else { throw usage("--attributes takes K=V: \(entry)") }
            extra.append(Attribute(String(entry[..<eq]), .string(String(entry[entry.index(after: eq)...]))))
        }
        var headers = Dictionary(try connection.headerFields(orUsage: usage), uniquingKeysWith: { _, later in later })
        // The per-signal variable as it is; the shared one gets the signal's path over OTLP/HTTP.
        let specificEndpoint = environment["OTEL_EXPORTER_OTLP_\(upper)_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
        let sharedEndpoint = environment["OTEL_EXPORTER_OTLP_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
        var endpointText = endpoint ?? specificEndpoint ?? sharedEndpoint
            ?? (proto == .grpc ? "http://localhost:4317" : "http://localhost:4318")
        if endpoint != nil || specificEndpoint == nil, proto.isHTTP, let parsed = try? OTLPEndpoint(parsing: endpointText), parsed.path == "/" {
            endpointText = endpointText.hasSuffix("/") ? endpointText + signal.httpPath : endpointText + "/" + signal.httpPath
        }
        var tls: OTLPTLSConfiguration
        if connection.caFile == nil && connection.clientCert == nil && connection.clientKey == nil {
            tls = fromEnvironment.tls
        } else {
            do {
                tls = try OTLPTLSConfiguration(caCertificateFile: connection.caFile, clientCertificateFile: connection.clientCert,
                                               clientKeyFile: connection.clientKey)
            } catch { throw usage("\(error)") }
        }
        if connection.insecure { tls.skipsServerVerification = true }
        headers = fromEnvironment.headers.merging(headers) { _, flag in flag }
        let retry = OTLPRetryPolicy(initialBackoff: .milliseconds(100), maxBackoff: .seconds(5),
                                    maxElapsedTime: .milliseconds(Int64(maxRetrySeconds * 1000)))
        let exporterConfig = OTLPExporterConfiguration(
            signal: signal, protocol: proto, endpoint: endpointText, headers: headers,
            timeout: .milliseconds(Int64(timeout * 1000)), compression: connection.gzip ? .gzip : fromEnvironment.compression, tls: tls, retry: retry)
        do { try exporterConfig.validate() } catch { throw usage("\(error)") }
        let options = OTLPExportOptions(maxConcurrentExports: concurrency, diagnosticsInterval: .seconds(10))

        var pipelineConfig = PipelineConfiguration()
        let batching = PipelineConfiguration.Batching(maxQueueSize: queueSize, maxExportBatchSize: batchSize,
                                                      scheduledDelay: scheduleDelay, maxConcurrentExports: concurrency)
        pipelineConfig.traces = batching
        pipelineConfig.logs = batching
        pipelineConfig.metrics.exportInterval = isSet("OTEL_METRIC_EXPORT_INTERVAL") ? otel.metricExportInterval : .seconds(1)
        pipelineConfig.metrics.measurementQueueSize = queueSize
        if lossless {
            // Long enough for any export to finish or give up (then its items count as failed
            // and make room): a worker waits for the export path, it never drops.
            pipelineConfig.backpressure = .wait(maxWait: .seconds(maxRetrySeconds + timeout + 60))
        }

        let exporter: OTLPSignalExporter
        let provider: TelemetryProvider
        let resource = Resource(
            serviceName: isSet("OTEL_SERVICE_NAME") || otel.resourceAttributes["service.name"] != nil ? otel.serviceName : "otlp-load",
            attributes: otel.resourceAttributes.filter { $0.key != "service.name" }.sorted { $0.key < $1.key }
                .map { Attribute($0.key, .string($0.value)) })
        let sampler: Sampler = isSet("OTEL_TRACES_SAMPLER") ? Sampler(otel.sampler) : .default
        do {
            switch signal {
            case .traces:
                let e = try OTLPSpanExporter(configuration: exporterConfig, options: options)
                exporter = e.exporter
                provider = TelemetryProvider(resource: resource, spanExporters: [e], configuration: pipelineConfig, sampler: sampler)
            case .logs:
                let e = try OTLPLogExporter(configuration: exporterConfig, options: options)
                exporter = e.exporter
                provider = TelemetryProvider(resource: resource, logExporters: [e], configuration: pipelineConfig)
            case .metrics:
                let e = try OTLPMetricExporter(configuration: exporterConfig, options: options)
                exporter = e.exporter
                provider = TelemetryProvider(resource: resource, metricExporters: [e], configuration: pipelineConfig)
            }
        } catch {
            throw usage("\(error)")
        }

        let generator = LoadGenerator(provider: provider, signal: signal, extra: extra)
        let start = ContinuousClock.now
        let deadline = duration.map { start + .milliseconds(Int64($0 * 1000)) }
        let perWorkerRate = rate.map { $0 / Double(workers) }
        let interactive = isatty(1) == 1
        let progress = interactive ? ProgressLine(signal: signal, generator: generator, exporter: exporter, provider: provider) : nil
        let sampleReporter = reportEvery.map { SampleReporter(every: $0, signal: signal, generator: generator, provider: provider) }

        // Workers are threads: a worker that paces itself or waits for room blocks only itself,
        // never a thread of the cooperative pool.
        await generator.runWorkers(count: workers, total: count, deadline: deadline, rate: perWorkerRate)
        let shutdownSeconds = shutdownTimeout ?? max(60, maxRetrySeconds + timeout + 5)
        do { try await provider.shutdown(timeout: .milliseconds(Int64(shutdownSeconds * 1000))) } catch {
            FileHandle.standardError.write(Data("otlp load: shutdown: \(error)\n".utf8))
        }
        progress?.stop()
        sampleReporter?.stop()
        let elapsed = (ContinuousClock.now - start).seconds

        let created = generator.created
        let stats = provider.statistics(signal)
        let counts = exporter.counts
        var dropped = stats.dropped + stats.droppedAfterShutdown
        // Spans the sampler left out never reach the queue: neither lost nor exported.
        let sampledOut = signal == .traces ? max(0, created - stats.accepted - dropped) : 0
        var exported: Int
        var failed: Int
        if signal == .metrics {
            // Measurements are aggregated into data points before export: a measurement counts as
            // exported unless it was dropped at the queue or a collection holding it failed.
            failed = counts.failed + counts.rejected + counts.dropped > 0 ? created - dropped : 0
            exported = created - dropped - failed
        } else {
            dropped += counts.dropped
            failed = counts.failed + counts.rejected
            exported = counts.exported
            // Anything not accounted for (e.g. still queued when shutdown timed out) is failed.
            failed += max(0, created - sampledOut - exported - dropped - failed)
        }
        let rateText = Int(Double(exported) / max(elapsed, 1e-9))
        print("created=\(created)\(sampledOut > 0 ? " sampled_out=\(sampledOut)" : "") exported=\(exported) dropped=\(dropped) failed=\(failed) elapsed=\(String(format: "%.3f", elapsed)) rate=\(rateText)/s")
        if dropped > 0 || failed > 0 { throw ExitCode(1) }
    }
}


extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}

/// Creates items on threads of its own (one per worker) through the public API.
final class LoadGenerator: Sendable {
    let provider: TelemetryProvider
    let signal: TelemetrySignal
    let extra: [Attribute]
    private let createdCounters: LockedValue<Int>

    /// Items between two looks at the deadline and two updates of the shared created count.
    static let checkInterval = 256

    init(provider: TelemetryProvider, signal: TelemetrySignal, extra: [Attribute]) {
        self.provider = provider
        self.signal = signal
        self.extra = extra
        self.createdCounters = LockedValue(0)
    }

    var created: Int { createdCounters.withLock { $0 } }

    /// Runs `count` worker threads, `total` items split between them (or until `deadline`), and
    /// returns when every worker has finished.
    func runWorkers(count: Int, total: Int?, deadline: ContinuousClock.Instant?, rate: Double?) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let remaining = LockedValue(count)
            for worker in 0..<count {
                let quota: Int? = total.map { $0 / count + (worker < $0 % count ? 1 : 0) }
                let thread = Thread {
                    self.run(worker: worker, quota: quota, deadline: deadline, rate: rate)
                    let last = remaining.withLock { remaining -> Bool in
                        remaining -= 1
                        return remaining == 0
                    }
                    if last { continuation.resume() }
                }
                thread.name = "otlp-load-\(worker)"
                thread.start()
            }
        }
    }

    func run(worker: Int, quota: Int?, deadline: ContinuousClock.Instant?, rate: Double?) {
        let tracer = provider.tracer("otlp-load")
        let logger = provider.logger("otlp-load")
        let counter = provider.meter("otlp-load").counter("load.measurements", of: Int64.self)
        let start = ContinuousClock.now
        var made = 0
        var unreported = 0
        defer { createdCounters.withLock { $0 += unreported } }
        while true {
            if let quota, made >= quota { break }
            if made % Self.checkInterval == 0 {
                if let deadline, ContinuousClock.now >= deadline { break }
                createdCounters.withLock { $0 += unreported }
                unreported = 0
            }
            if let rate {
                let due = start + .nanoseconds(Int64(Double(made) / rate * 1e9))
                let now = ContinuousClock.now
                if due > now {
                    let wait = due - now
                    let (s, atto) = wait.components
                    var request = timespec(tv_sec: Int(s), tv_nsec: Int(atto / 1_000_000_000))
                    nanosleep(&request, nil)
                    if let deadline, ContinuousClock.now >= deadline { break }
                }
            }
            switch signal {
            case .traces:
                // Attributes set on the span itself: its one attribute array, no temporary list.
                var span = tracer.startSpan("load-span")
                span.setAttribute("load.string", .string("value"))
                span.setAttribute("load.int", .int(Int64(made)))
                span.setAttribute("load.bool", .bool(made & 1 == 0))
                span.setAttribute("load.double", .double(Double(made) * 0.5))
                for attribute in extra { span.setAttribute(attribute.key, attribute.value) }
                span.end()
            case .logs:
                var attributes: [Attribute] = [
                    Attribute("load.string", .string("value")), Attribute("load.int", .int(Int64(made))),
                    Attribute("load.bool", .bool(made & 1 == 0)), Attribute("load.double", .double(Double(made) * 0.5)),
                ]
                attributes += extra
                logger.info("load-log", attributes: attributes)
            case .metrics:
                counter.add(1, attributes: [Attribute("worker", .int(Int64(worker)))] + extra)
            }
            made += 1
            unreported += 1
        }
    }
}

/// `--report-every`: a thread of its own writes one `sample` line to stderr per interval, for
/// scripts that watch a run (tools/outage.sh samples the pool next to the process's RSS).
final class SampleReporter: Sendable {
    private let stopped = OneShotSignal()
    private let finished = OneShotSignal()

    init(every seconds: Double, signal: TelemetrySignal, generator: LoadGenerator, provider: TelemetryProvider) {
        let stopped = self.stopped
        let finished = self.finished
        let interval = UInt64(seconds * 1e9)
        let start = monotonicNanos()
        let thread = Thread {
            var next = start &+ interval
            while !stopped.wait(untilMonotonic: next) {
                let statistics = provider.statistics(signal)
                let pool = provider.pipeline.spanRecords
                let line = String(format: "sample t=%.1f", Double(monotonicNanos() &- start) / 1e9)
                    + " created=\(generator.created) accepted=\(statistics.accepted) dropped=\(statistics.dropped)"
                    + " exported=\(statistics.exported) failed=\(statistics.failed)"
                    + " pooled_blocks=\(pool.allocatedCount - pool.freedCount) idle_blocks=\(pool.idleCount)\n"
                FileHandle.standardError.write(Data(line.utf8))
                next &+= interval
            }
            finished.signal()
        }
        thread.name = "otlp-load-sample"
        thread.start()
    }

    /// Stops sampling.
    func stop() {
        stopped.signal()
        _ = finished.wait(untilMonotonic: monotonicNanos() &+ 2_000_000_000)
    }
}

/// The live progress line on a terminal, redrawn once a second by a thread of its own:
/// items created, delivered and dropped in the last second, and totals.
final class ProgressLine: Sendable {
    private let stopped = OneShotSignal()
    private let finished = OneShotSignal()

    init(signal: TelemetrySignal, generator: LoadGenerator, exporter: OTLPSignalExporter, provider: TelemetryProvider) {
        let stopped = self.stopped
        let finished = self.finished
        let thread = Thread {
            var last = (created: 0, delivered: 0, dropped: 0)
            while !stopped.wait(untilMonotonic: monotonicNanos() &+ 1_000_000_000) {
                let statistics = provider.statistics(signal)
                let now = (created: generator.created, delivered: exporter.counts.exported,
                           dropped: statistics.dropped + exporter.counts.dropped)
                let line = "\r\u{1B}[K\(signal): created=\(now.created) delivered=\(now.delivered) dropped=\(now.dropped)"
                    + " | last second: created=\(now.created - last.created) delivered=\(now.delivered - last.delivered)/s"
                    + " dropped=\(now.dropped - last.dropped)/s"
                FileHandle.standardOutput.write(Data(line.utf8))
                last = now
            }
            FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8))
            finished.signal()
        }
        thread.name = "otlp-load-progress"
        thread.start()
    }

    /// Stops redrawing and clears the line.
    func stop() {
        stopped.signal()
        _ = finished.wait(untilMonotonic: monotonicNanos() &+ 2_000_000_000)
    }
}
