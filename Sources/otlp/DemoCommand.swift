import OTLPSync
import ArgumentParser
import Foundation
import OTLPExporter
import OTLPProto
import OTLPTesting
import Telemetry
import TelemetryCore
import TelemetrySession
import TelemetryPipeline

#if canImport(Glibc)
import Glibc
#endif

/// `otlp demo`: plays a session service's start-up through ``SessionTelemetry`` on a provider
/// exporting traces, metrics and logs over OTLP, then prints what the collector received: each
/// start-up phase's duration (table + bar chart), the turn's TTFT, counts per signal, and the
/// personal-data split (log records carry `user.email`, spans don't).
///
/// Without `--endpoint` it starts the embedded collector of `OTLPTesting` in the same process
/// (no Python, no other program) and summarises what that collector decoded; `--protocol` picks
/// the exporters' protocol. With `--endpoint URL [--protocol ...]` it exports to an existing
/// collector; the summary then shows what was sent.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Play a simulated session start-up, export it over OTLP and summarise what arrived.")

    @Option(name: .long, help: "Export to this existing collector instead of starting a local one.")
    var endpoint: String?

    @Option(name: .long, help: "grpc, http/protobuf or http/json.")
    var `protocol`: String = "grpc"

    /// A phase as played: (name, simulated work in ms, part of `startup_prewarm_total`).
    static let script: [(phase: StartupPhase, milliseconds: Int)] = [
        (.threadStartCreateThread, 35),
        (.prewarmCreateTurnContext, 45),
        (.prewarmBuildTools, 140),
        (.prewarmBuildPrompt, 70),
        (.prewarmWebsocketWarmup, 260),
        (.prewarmResolve, 25),
    ]
    static let ttftMilliseconds = 420

    func run() async throws {
        guard let proto = OTLPProtocol(rawValue: `protocol`) else {
            throw ValidationError("--protocol must be grpc, http/protobuf or http/json")
        }
        var collector: DemoCollector?
        let base: String
        if let endpoint {
            base = endpoint
        } else {
            let started = try await DemoCollector.start()
            collector = started
            base = started.base(for: proto)
            print("started the embedded OTLP collector (in this process) on \(base), exporting over \(proto)")
        }
        do {
            let sent = try await play(base: base, protocol: proto)
            if let collector {
                let received = await collector.stop()
                printSummary(received, source: "received by the collector")
            } else {
                printSummary(sent, source: "sent to \(base) (\(proto)); what the collector kept is not visible here")
            }
        } catch {
            _ = await collector?.stop()
            throw error
        }
    }

    /// Plays the session and shuts the provider down; returns what was sent, from the local
    /// measurements and the exporters' counts.
    func play(base: String, protocol proto: OTLPProtocol) async throws -> DemoSummary {
        func exporter(_ signal: TelemetrySignal) -> TelemetryExporter {
            var url = base
            if proto.isHTTP, let parsed = try? OTLPEndpoint(parsing: url), parsed.path == "/" {
                url = (url.hasSuffix("/") ? url : url + "/") + signal.httpPath
            }
            return .otlp(OTLPExporterConfiguration(signal: signal, protocol: proto, endpoint: url))
        }
        // The standard OTEL_* variables apply (sampler, batching, limits, resource, …); the
        // exporters come from the flags (or the local collector), which win.
        let loaded = try TelemetrySettings.load(
            base: TelemetrySettings(environment: "demo", serviceName: "otlp-demo-agent", serviceVersion: "1.0.0"))
        for warning in loaded.warnings { FileHandle.standardError.write(Data("otlp demo: \(warning)\n".utf8)) }
        var settings = loaded.settings
        settings.traceExporter = exporter(.traces)
        settings.metricsExporter = exporter(.metrics)
        settings.logExporter = exporter(.logs)
        settings.spanAttributes = ["demo.run": "true"]
        var options = OTLPExportOptions()
        options.diagnostics = { message in FileHandle.standardError.write(Data("otlp demo: \(message)\n".utf8)) }
        // Pre-session phases: the process's start, and building the telemetry (taken over by the session below).
        StartupRecorder.shared.recordProcessStart()
        guard let telemetry = try StartupRecorder.shared.measure(.configurationLoad, {
            try TelemetryProvider.make(settings: settings, exportOptions: options)
        }) else {
            throw ValidationError("no exporter configured")
        }
        telemetry.installAsDefault(backends: [])  // ConfiguredTelemetry.current only; the demo keeps swift-log on stderr
        let session = telemetry.sessionTelemetry(metadata: SessionMetadata(
            sessionID: "demo-session-1", model: "gpt-5.1", slug: "gpt-5.1", accountID: "acct-42",
            accountEmail: "ada@example.com", authMode: "api_key", originator: "otlp_demo", sessionSource: "cli",
            appVersion: "1.0.0"))

        var sent = DemoSummary()
        func phase(_ phase: StartupPhase, _ milliseconds: Int) async throws {
            let start = ContinuousClock.now
            try await Task.sleep(for: .milliseconds(milliseconds))
            let elapsed = ContinuousClock.now - start
            session.startupPhase(phase, duration: elapsed)
            sent.phases.append((phase.name, Self.ms(elapsed)))
        }
        try await phase(Self.script[0].phase, Self.script[0].milliseconds)
        let prewarm = ContinuousClock.now
        for step in Self.script.dropFirst() { try await phase(step.phase, step.milliseconds) }
        let prewarmTotal = ContinuousClock.now - prewarm
        session.startupPhase(.prewarmTotal, duration: prewarmTotal)
        sent.phases.insert((StartupPhase.prewarmTotal.name, Self.ms(prewarmTotal)), at: 1)

        session.userPrompt([.text("Why is start-up slow?")])
        let turn = session.startTurnTimer(turnID: "turn-1")
        let requestStart = ContinuousClock.now
        try await Task.sleep(for: .milliseconds(Self.ttftMilliseconds))
        let ttft = ContinuousClock.now - requestStart
        session.turnTTFT(ttft, turnID: "turn-1")
        sent.ttftMilliseconds = Self.ms(ttft)
        try await Task.sleep(for: .milliseconds(80))
        session.apiRequest(attempt: 1, status: 200, duration: ContinuousClock.now - requestStart, endpoint: "/v1/responses")
        turn.stop()

        try await telemetry.shutdown(timeout: .seconds(15))
        for exporter in telemetry.otlpExporters {
            let counts = exporter.counts
            switch exporter.configuration.signal {
            case .traces: sent.spans = counts.exported
            case .metrics: sent.metricPoints = counts.exported
            case .logs: sent.logRecords = counts.exported
            }
            if counts.failed + counts.dropped + counts.rejected > 0 {
                print("warning: \(exporter.configuration.signal): \(counts)")
            }
        }
        // What SessionTelemetry emits by construction (the local view; the collector view is checked).
        sent.logsWithEmail = sent.logRecords
        sent.spansWithEmail = 0
        return sent
    }

    static func ms(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }

    func printSummary(_ summary: DemoSummary, source: String) {
        print("")
        print("Session start-up, \(source):")
        let width = summary.phases.map(\.name.count).max() ?? 10
        let longest = summary.phases.map(\.milliseconds).max() ?? 1
        print("  " + "phase".padding(toLength: width, withPad: " ", startingAt: 0) + "  duration")
        for (name, milliseconds) in summary.phases {
            let bar = String(repeating: "█", count: max(1, Int((milliseconds / max(longest, 1) * 40).rounded())))
            let value = String(format: "%8.1f ms", milliseconds)
            print("  " + name.padding(toLength: width, withPad: " ", startingAt: 0) + "  \(value)  \(bar)")
        }
        if !summary.waterfall.isEmpty {
            print("")
            print(Waterfall.render(summary.waterfall, style: .automatic), terminator: "")
            print("")
        }
        if let ttft = summary.ttftMilliseconds {
            print(String(format: "  turn TTFT (time to first token): %.1f ms", ttft))
        } else {
            print("  turn TTFT: not received")
        }
        print("received: spans=\(summary.spans) metric_points=\(summary.metricPoints) log_records=\(summary.logRecords)"
              .replacingOccurrences(of: "received:", with: source.hasPrefix("sent") ? "sent:" : "received:"))
        print("personal data: user.email in \(summary.logsWithEmail) of \(summary.logRecords) log records, "
              + "in \(summary.spansWithEmail) of \(summary.spans) spans")
    }
}

/// What the summary shows.
struct DemoSummary {
    var phases: [(name: String, milliseconds: Double)] = []
    var ttftMilliseconds: Double?
    var spans = 0
    var metricPoints = 0
    var logRecords = 0
    var logsWithEmail = 0
    var spansWithEmail = 0
    /// The start-up phase spans the collector received (empty for `--endpoint`).
    var waterfall: [WaterfallSpan] = []
}

/// The local collector: the embedded `OTLPTestCollector` (OTLP/gRPC and OTLP/HTTP on free ports),
/// summarised from the spans and log records it decoded.
struct DemoCollector {
    let collector: OTLPTestCollector

    static func start() async throws -> DemoCollector {
        DemoCollector(collector: try await OTLPTestCollector.start())
    }

    /// Where exporters of `protocol` send: the gRPC endpoint, or the OTLP/HTTP base URL.
    func base(for proto: OTLPProtocol) -> String {
        (proto == .grpc ? collector.grpcEndpoint : collector.httpEndpoint) ?? ""
    }

    /// Stops the collector and summarises every accepted request.
    func stop() async -> DemoSummary {
        await collector.stop()
        var summary = DemoSummary()
        let spans = collector.spans
        summary.spans = spans.count
        summary.spansWithEmail = spans.filter { span in span.span.attributes.contains { $0.key == "user.email" } }.count
        summary.waterfall = spans.filter { span in span.span.attributes.contains { $0.key == "startup.phase" } }
            .map { WaterfallSpan($0.span) }
        summary.metricPoints = collector.metricPoints.count
        var phases: [(String, Double)] = []
        for received in collector.logRecords {
            let attributes = received.record.attributes
            summary.logRecords += 1
            if attributes.contains(where: { $0.key == "user.email" }) { summary.logsWithEmail += 1 }
            func value(_ key: String) -> CommonV1AnyValue.Value? { attributes.first { $0.key == key }?.value?.value }
            let event: String? = if case .stringValue(let name)? = value("event.name") { name } else { nil }
            let duration: Double? = switch value("duration_ms") {
            case .intValue(let number)?: Double(number)
            case .doubleValue(let number)?: number
            default: nil
            }
            if event == "codex.startup_phase", case .stringValue(let name)? = value("startup.phase"), let duration {
                phases.append((name, duration))
            } else if event == "codex.turn_ttft", let duration {
                summary.ttftMilliseconds = duration
            }
        }
        // Show phases in the seed's order.
        let order = StartupPhase.seedPhases.map(\.name)
        summary.phases = phases.sorted { (order.firstIndex(of: $0.0) ?? .max) < (order.firstIndex(of: $1.0) ?? .max) }
            .map { (name: $0.0, milliseconds: $0.1) }
        return summary
    }
}
