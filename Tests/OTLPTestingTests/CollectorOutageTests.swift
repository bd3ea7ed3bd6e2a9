// Collector outages with the real exporters behind a TelemetryProvider: a collector that is
// dead (port closed) or blackholed (accepts, never answers), restarted mid-run, or down for
// longer than the retry budget. Items are counted exactly, and re-sent items as duplicates.
import Foundation
import OTLPExporter
import OTLPSync
import OTLPTestSupport
import OTLPTesting
import Telemetry
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A TCP listener that accepts connections and never answers (nor reads): what a collector
/// stuck behind a dead proxy looks like. It tells how many accepted connections the client
/// has not closed yet.
final class Blackhole: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let accepted = LockedValue<[Int32]>([])
    private let stopping = LockedValue(false)
    private let finished = OneShotSignal()

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw RawClientError(description: "socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw RawClientError(description: "bind/listen: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "blackhole"
        thread.start()
    }

    private func acceptLoop() {
        var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        while !stopping.withLock({ $0 }) {
            guard poll(&pfd, 1, 50) > 0 else { continue }
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { continue }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)  // not inherited by children other tests spawn
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            accepted.withLock { $0.append(fd) }
        }
        finished.signal()
    }

    /// Connections accepted so far.
    var acceptedCount: Int { accepted.withLock { $0.count } }

    /// Accepted connections the client has not closed (what it sent is read and dropped).
    var openConnections: Int {
        accepted.withLock { fds in
            var open = 0
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            for fd in fds {
                while true {
                    let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                    if n > 0 { continue }
                    if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { open += 1 }
                    break
                }
            }
            return open
        }
    }

    /// Stops accepting and closes every connection and the listener.
    func stop() {
        stopping.withLock { $0 = true }
        _ = finished.wait(untilMonotonic: monotonicNanos() &+ 5_000_000_000)
        for fd in accepted.withLock({ $0 }) { close(fd) }
        close(listener)
    }
}

enum Outage: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case dead, blackholed
    var testDescription: String { rawValue }
}

/// A collector outage, the protocol, and which shutdown the provider gets.
struct OutageCase: Sendable, CustomTestStringConvertible {
    var proto: OTLPProtocol
    var outage: Outage
    /// `shutdownSynchronously(timeout:)` on a plain thread instead of `await shutdown(timeout:)`.
    var synchronous: Bool

    static let all: [OutageCase] = [OTLPProtocol.grpc, .httpProtobuf].flatMap { proto in
        Outage.allCases.flatMap { outage in [false, true].map { OutageCase(proto: proto, outage: outage, synchronous: $0) } }
    }

    var testDescription: String { "\(proto.rawValue), \(outage.rawValue), \(synchronous ? "shutdownSynchronously" : "shutdown")" }
}

@Suite(.serialized) struct CollectorOutageTests {
    static let patientRetry = OTLPRetryPolicy(initialBackoff: .milliseconds(100), maxBackoff: .seconds(1), multiplier: 2,
                                              jitter: 0.2, maxElapsedTime: .seconds(120))

    static func configuration(_ signal: TelemetrySignal, _ proto: OTLPProtocol, port: UInt16,
                              retry: OTLPRetryPolicy = patientRetry) -> OTLPExporterConfiguration {
        let endpoint = proto == .grpc ? "http://127.0.0.1:\(port)" : "http://127.0.0.1:\(port)/\(signal.httpPath)"
        return OTLPExporterConfiguration(signal: signal, protocol: proto, endpoint: endpoint, timeout: .seconds(60), retry: retry)
    }

    static func pipelineConfiguration() -> PipelineConfiguration {
        var configuration = PipelineConfiguration()
        configuration.traces = PipelineConfiguration.Batching(maxQueueSize: 4096, maxExportBatchSize: 64, scheduledDelay: .milliseconds(50))
        configuration.logs = PipelineConfiguration.Batching(maxQueueSize: 4096, maxExportBatchSize: 64, scheduledDelay: .milliseconds(50))
        configuration.metrics.exportInterval = .milliseconds(200)
        return configuration
    }

    /// A collector on `port` of the protocol's receiver.
    static func collector(_ proto: OTLPProtocol, port: UInt16, ledger: OTLPTestCollector.ItemLedger? = nil) throws -> OTLPTestCollector {
        try OTLPTestCollector(grpc: proto == .grpc, http: proto != .grpc, configuration: OTLPTestCollector.Configuration(
            grpcPort: proto == .grpc ? port : 0, httpPort: proto == .grpc ? 0 : port, ledger: ledger))
    }

    @Test(arguments: OutageCase.all)
    func shutdownEndsAtItsDeadlineCountsTheUndeliveredAsFailedAndNothingIsSentAfterwards(_ scenario: OutageCase) async throws {
        let proto = scenario.proto
        let outage = scenario.outage
        let blackhole = outage == .blackholed ? try Blackhole() : nil
        let port = blackhole?.port ?? freeLoopbackPort()
        weak var releasedPipeline: AnyObject?
        weak var releasedSpanExporter: OTLPSpanExporter?
        weak var releasedMetricExporter: OTLPMetricExporter?
        weak var releasedLogExporter: OTLPLogExporter?
        do {
            let spans = try OTLPSpanExporter(configuration: Self.configuration(.traces, proto, port: port))
            let metrics = try OTLPMetricExporter(configuration: Self.configuration(.metrics, proto, port: port))
            let logs = try OTLPLogExporter(configuration: Self.configuration(.logs, proto, port: port))
            let provider = TelemetryProvider(resource: Resource(serviceName: "outage"), spanExporters: [spans],
                                             metricExporters: [metrics], logExporters: [logs],
                                             configuration: Self.pipelineConfiguration())
            releasedPipeline = provider.pipeline
            releasedSpanExporter = spans
            releasedMetricExporter = metrics
            releasedLogExporter = logs
            let tracer = provider.tracer("outage")
            let logger = provider.logger("outage")
            let counter = provider.meter("outage").counter("outage.requests", of: Int64.self)
            for i in 0..<200 {
                tracer.startSpan("span-\(i)").end()
                logger.info("log-\(i)")
                counter.add(1, attributes: [Attribute("route", .string("r\(i % 4)"))])
            }
            // Every signal's first export is under way (connecting, retrying, or sent into the hole).
            if let blackhole {
                // One connection per exporter (gRPC) or per request in flight (HTTP/1.1).
                let connected = await eventually(timeout: .seconds(30)) { blackhole.acceptedCount >= 3 }
                #expect(connected, "connections accepted: \(blackhole.acceptedCount)")
            } else {
                try await Task.sleep(for: .seconds(1))
            }
            // The exports would go on for a minute per attempt and two minutes of retries.
            let (timedOut, took) = await Self.shutDown(provider, timeout: .seconds(2), synchronously: scenario.synchronous)
            #expect(timedOut)
            // The synchronous call waits on a condition variable with the deadline: it returns
            // on time. The async one is resumed by a timer on the library's export threads and
            // then needs a thread of the cooperative pool, which every suite of a parallel run
            // on two cores keeps busy: a generous bound, still far below a minute.
            let bound: Duration = scenario.synchronous ? .seconds(5) : .seconds(30)
            #expect(took >= .milliseconds(1900) && took < bound, "shutdown with a 2 s timeout took \(took)")

            let traces = provider.statistics(.traces)
            #expect(traces.accepted == 200 && traces.dropped == 0, "\(traces)")
            #expect(traces.exported == 0 && traces.failed == 200, "\(traces)")
            let logStatistics = provider.statistics(.logs)
            #expect(logStatistics.accepted == 200 && logStatistics.dropped == 0, "\(logStatistics)")
            #expect(logStatistics.exported == 0 && logStatistics.failed == 200, "\(logStatistics)")
            let metricStatistics = provider.statistics(.metrics)
            #expect(metricStatistics.accepted == 200 && metricStatistics.dropped == 0, "\(metricStatistics)")
            // Data points of every collection made: four routes per collection, none delivered.
            #expect(metricStatistics.exported == 0 && metricStatistics.failed >= 4, "\(metricStatistics)")
            // Asked again later, the figures stand: an abandoned export finishing now counts nothing.
            try await Task.sleep(for: .milliseconds(300))
            #expect(provider.statistics(.traces) == traces && provider.statistics(.logs) == logStatistics)
        }
        // The pipeline's worker has ended (it holds the pipeline until then) and no export task
        // holds an exporter any more: nothing of the provider is still running.
        let released = await eventually(timeout: .seconds(30)) {
            releasedPipeline == nil && releasedSpanExporter == nil && releasedMetricExporter == nil && releasedLogExporter == nil
        }
        #expect(released, "pipeline \(releasedPipeline == nil ? "released" : "alive"), exporters \(releasedSpanExporter == nil), \(releasedMetricExporter == nil), \(releasedLogExporter == nil)")
        if let blackhole {
            // The requests sent into the hole were abandoned with their connections.
            let closed = await eventually(timeout: .seconds(15)) { blackhole.openConnections == 0 }
            #expect(closed, "\(blackhole.openConnections) of \(blackhole.acceptedCount) connections still open")
            blackhole.stop()
        }
        // A collector on the same port afterwards hears nothing: no export is still retrying
        // (back-offs are at most 1 s).
        let collector = try Self.collector(proto, port: port)
        try await Task.sleep(for: .seconds(2))
        let statistics = proto == .grpc ? collector.transportStatistics.grpc : collector.transportStatistics.http
        #expect(collector.counters.requests == 0 && statistics?.connectionsAccepted == 0,
                "\(collector.counters) \(statistics.map { "\($0)" } ?? "")")
        await collector.stop()
    }

    /// Shuts `provider` down; whether it threw `TelemetryError` and how long the call took.
    static func shutDown(_ provider: TelemetryProvider, timeout: Duration, synchronously: Bool) async -> (Bool, Duration) {
        guard synchronously else {
            let start = ContinuousClock.now
            do {
                try await provider.shutdown(timeout: timeout)
                return (false, ContinuousClock.now - start)
            } catch {
                return (error is TelemetryError, ContinuousClock.now - start)
            }
        }
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let start = ContinuousClock.now
                do {
                    try provider.shutdownSynchronously(timeout: timeout)
                    continuation.resume(returning: (false, ContinuousClock.now - start))
                } catch {
                    continuation.resume(returning: (error is TelemetryError, ContinuousClock.now - start))
                }
            }
        }
    }

    @Test(arguments: [OTLPProtocol.grpc, .httpProtobuf])
    func reSentBatchTheOldCollectorHadStoredIsCountedAsDuplicateByTheNewOne(proto: OTLPProtocol) async throws {
        let ledger = OTLPTestCollector.ItemLedger()
        let port = freeLoopbackPort()
        let first = try Self.collector(proto, port: port, ledger: ledger)
        // Stored and counted at once, answered only after a minute: the answer never comes.
        first.enqueueFault(.delay(.seconds(60)))
        let request = Fixtures.traces((0..<20).map { "resent-\($0)" }).serializedBytes()
        let export: Task<OTLPExportResult, Never>
        let counts: @Sendable () -> OTLPExportCounts
        let shutdown: @Sendable () -> Void
        if proto == .grpc {
            let exporter = try grpcExporter(.traces, "http://127.0.0.1:\(port)")
            export = Task { await exporter.export(encodedRequest: request, itemCount: 20) }
            counts = { exporter.counts }
            shutdown = { exporter.shutdown() }
        } else {
            let exporter = try httpExporter(.traces, "http://127.0.0.1:\(port)/v1/traces")
            export = Task { await exporter.export(encodedRequest: request, itemCount: 20) }
            counts = { exporter.counts }
            shutdown = { exporter.shutdown() }
        }
        defer { shutdown() }
        try await first.waitFor(spans: 20, timeout: .seconds(30))
        await first.stop()
        let second = try Self.collector(proto, port: port, ledger: ledger)
        let result = await export.value
        #expect(result.isDelivered && result.attempts >= 2, "\(result)")
        try await second.waitFor(spans: 20, timeout: .seconds(30))
        #expect(first.counters.spans == 20 && first.counters.duplicateSpans == 0)
        #expect(second.counters.spans == 20 && second.counters.duplicateSpans == 20, "\(second.counters)")
        #expect(ledger.distinctCounts.spans == 20)
        #expect(counts().exported == 20 && counts().failed == 0)
        await second.stop()
    }

    @Test func httpCollectorKilledAndRestartedMidRunEveryItemIsExportedOrCountedExactly() async throws {
        let ledger = OTLPTestCollector.ItemLedger()
        let port = freeLoopbackPort()
        var collector = try Self.collector(.httpProtobuf, port: port, ledger: ledger)
        let spans = try OTLPSpanExporter(configuration: Self.configuration(.traces, .httpProtobuf, port: port))
        let provider = TelemetryProvider(resource: Resource(serviceName: "restart"), spanExporters: [spans],
                                         configuration: Self.pipelineConfiguration())
        let tracer = provider.tracer("restart")
        let total = 3000
        // Half before the kill, half while the collector is down.
        for i in 0..<total / 2 { tracer.startSpan("span-\(i)").end() }
        try await collector.waitFor(requests: 3, timeout: .seconds(30))
        await collector.stop()
        var received = collector.counters
        for i in total / 2..<total { tracer.startSpan("span-\(i)").end() }
        try await Task.sleep(for: .milliseconds(500))  // down: the exporter retries, the queue holds spans
        collector = try Self.collector(.httpProtobuf, port: port, ledger: ledger)
        #expect(await eventually(timeout: .seconds(60)) { provider.statistics(.traces).accepted == total })
        try await provider.shutdown(timeout: .seconds(60))
        let statistics = provider.statistics(.traces)
        #expect(statistics.accepted == total && statistics.dropped == 0 && statistics.failed == 0, "\(statistics)")
        #expect(statistics.exported == total, "\(statistics)")
        await collector.stop()
        let second = collector.counters
        received.spans += second.spans
        received.duplicateSpans += second.duplicateSpans
        // Every span arrived; any arriving twice (answer lost in the restart) is counted, not hidden.
        #expect(ledger.distinctCounts.spans == total)
        #expect(received.spans == total + received.duplicateSpans, "\(received)")
        #expect(received.spans >= total && second.spans >= total / 2, "first \(received.spans - second.spans), second \(second.spans)")
    }

    @Test func httpOutageLongerThanTheRetryBudgetFailsWhatItHeldAndExportResumesAfterwards() async throws {
        let port = freeLoopbackPort()
        let budget = OTLPRetryPolicy(initialBackoff: .milliseconds(100), maxBackoff: .milliseconds(400), multiplier: 2,
                                     jitter: 0.2, maxElapsedTime: .seconds(1))
        let spans = try OTLPSpanExporter(configuration: Self.configuration(.traces, .httpProtobuf, port: port, retry: budget))
        let provider = TelemetryProvider(resource: Resource(serviceName: "budget"), spanExporters: [spans],
                                         configuration: Self.pipelineConfiguration())
        let tracer = provider.tracer("budget")
        for i in 0..<50 { tracer.startSpan("during-\(i)").end() }
        // The collector stays down past the 1 s budget: those 50 are failed, exactly.
        #expect(await eventually(timeout: .seconds(30)) { provider.statistics(.traces).failed == 50 }, "\(provider.statistics(.traces))")
        let collector = try Self.collector(.httpProtobuf, port: port)
        for i in 0..<70 { tracer.startSpan("after-\(i)").end() }
        try await provider.forceFlush(timeout: .seconds(60))
        let statistics = provider.statistics(.traces)
        #expect(statistics.accepted == 120 && statistics.exported == 70 && statistics.failed == 50 && statistics.dropped == 0,
                "\(statistics)")
        try await collector.waitFor(spans: 70, timeout: .seconds(30))
        let names = Set(collector.spans.map(\.span.name))
        #expect(names == Set((0..<70).map { "after-\($0)" }))
        #expect(collector.counters.spans == 70 && collector.counters.duplicateSpans == 0)
        #expect(spans.exporter.counts.failed == 50 && spans.exporter.counts.exported == 70)
        try await provider.shutdown(timeout: .seconds(30))
        await collector.stop()
    }
}
