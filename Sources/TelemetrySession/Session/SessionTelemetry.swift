// SessionTelemetry: session-scoped business events and metrics, the Swift
// counterpart of codex-otel's SessionTelemetry.

import OTLPSync
import Foundation
import Logging
import Synchronization
import Telemetry

/// Who and what a session is: attached to every event, and (the low-cardinality part) to every metric.
public struct SessionMetadata: Sendable, Hashable {
    /// Session (conversation) id → `conversation.id`.
    public var sessionID: String
    /// Model name → `model` (also a metric tag).
    public var model: String
    /// Model slug → `slug`.
    public var slug: String
    /// Account id → `user.account_id` (logs only, never in spans).
    public var accountID: String?
    /// Account e-mail → `user.email` (logs only, never in spans).
    public var accountEmail: String?
    /// Authentication mode (e.g. `api_key`, `chatgpt`) → `auth_mode` (also a metric tag).
    public var authMode: String?
    /// The client that started the session → `originator` (also a metric tag).
    public var originator: String
    /// Terminal type → `terminal.type`.
    public var terminalType: String
    /// Where the session came from (e.g. `cli`, `exec`, `vscode`) → `session_source` (also a metric tag).
    public var sessionSource: String
    /// Application version → `app.version` (also a metric tag).
    public var appVersion: String
    /// Service name for the `service_name` metric tag, if any.
    public var serviceName: String?
    /// Whether prompt text may be logged (else `[REDACTED]`). Prompts never go to spans.
    public var logUserPrompts: Bool

    public init(
        sessionID: String, model: String, slug: String, accountID: String? = nil, accountEmail: String? = nil,
        authMode: String? = nil, originator: String, terminalType: String = "unknown", sessionSource: String,
        appVersion: String, serviceName: String? = nil, logUserPrompts: Bool = false
    ) {
        self.sessionID = sessionID
        self.model = model
        self.slug = slug
        self.accountID = accountID
        self.accountEmail = accountEmail
        self.authMode = authMode
        self.originator = originator
        self.terminalType = terminalType
        self.sessionSource = sessionSource
        self.appVersion = appVersion
        self.serviceName = serviceName
        self.logUserPrompts = logUserPrompts
    }
}

/// A start-up phase name: the seed's closed set, or a validated custom name
/// (`[a-z0-9_]{1,64}`), so phase tags stay low-cardinality.
public struct StartupPhase: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    private init(unchecked name: String) { self.name = name }

    public static let threadStartCreateThread = StartupPhase(unchecked: "thread_start_create_thread")
    public static let prewarmTotal = StartupPhase(unchecked: "startup_prewarm_total")
    public static let prewarmCreateTurnContext = StartupPhase(unchecked: "startup_prewarm_create_turn_context")
    public static let prewarmBuildTools = StartupPhase(unchecked: "startup_prewarm_build_tools")
    public static let prewarmBuildPrompt = StartupPhase(unchecked: "startup_prewarm_build_prompt")
    public static let prewarmWebsocketWarmup = StartupPhase(unchecked: "startup_prewarm_websocket_warmup")
    public static let prewarmResolve = StartupPhase(unchecked: "startup_prewarm_resolve")

    /// Before any session: from the process's start (its exec) to when the program recorded it
    /// (``StartupRecorder/recordProcessStart(status:)``).
    public static let processStart = StartupPhase(unchecked: "process_start")
    /// Before any session: loading the configuration.
    public static let configurationLoad = StartupPhase(unchecked: "config_load")
    /// Before any session: authenticating.
    public static let authentication = StartupPhase(unchecked: "authentication")
    /// Before any session: opening the first connection to the service.
    public static let firstConnection = StartupPhase(unchecked: "first_connection")
    /// The span holding every pre-session phase: from the process's start to the end of the last one.
    public static let processStartup = StartupPhase(unchecked: "process_startup")

    /// The phases the seed reports inside ``prewarmTotal`` (its children in the start-up waterfall).
    public static let prewarmChildren: Set<StartupPhase> = [
        .prewarmCreateTurnContext, .prewarmBuildTools, .prewarmBuildPrompt, .prewarmWebsocketWarmup, .prewarmResolve,
    ]

    /// The seed's phases, in start-up order.
    public static let seedPhases: [StartupPhase] = [
        .threadStartCreateThread, .prewarmTotal, .prewarmCreateTurnContext, .prewarmBuildTools,
        .prewarmBuildPrompt, .prewarmWebsocketWarmup, .prewarmResolve,
    ]

    /// A custom phase.
    /// - Throws: ``SessionTelemetryError`` unless `name` matches `[a-z0-9_]{1,64}`.
    public static func custom(_ name: String) throws(SessionTelemetryError) -> StartupPhase {
        try SessionTelemetryError.checkLowCardinality(name, what: "startup phase")
        return StartupPhase(unchecked: name)
    }

    public var description: String { name }
}

/// The outcome of a start-up phase: `success`, `failed`, `cancelled`, or a validated custom value.
public struct StartupStatus: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    private init(unchecked name: String) { self.name = name }

    public static let success = StartupStatus(unchecked: "success")
    public static let failed = StartupStatus(unchecked: "failed")
    public static let cancelled = StartupStatus(unchecked: "cancelled")

    /// A custom status.
    /// - Throws: ``SessionTelemetryError`` unless `name` matches `[a-z0-9_]{1,64}`.
    public static func custom(_ name: String) throws(SessionTelemetryError) -> StartupStatus {
        try SessionTelemetryError.checkLowCardinality(name, what: "startup status")
        return StartupStatus(unchecked: name)
    }

    public var description: String { name }
}

/// An invalid custom phase or status name.
public struct SessionTelemetryError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    static func checkLowCardinality(_ name: String, what: String) throws(SessionTelemetryError) {
        let ok = !name.isEmpty && name.utf8.count <= 64
            && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
        if !ok { throw SessionTelemetryError(message: "\(what) '\(name)' must match [a-z0-9_]{1,64}") }
    }
}

/// One piece of user input, for ``SessionTelemetry/userPrompt(_:)``.
public enum UserInputItem: Sendable, Hashable {
    case text(String)
    case image(url: String)
    case localImage(path: String)
}

/// Session-scoped telemetry: every method emits its event twice — a log record with the full
/// metadata (personal data included where allowed) and a trace-safe span event without
/// `user.account_id`, `user.email` or prompt text — and records its metrics with the session's
/// metadata tags. Nothing here throws into the caller: failures are counted in
/// ``warningCount`` and logged once per kind.
///
/// ```swift
/// let telemetry = SessionTelemetry(metadata: metadata, sink: sink, metrics: metricsClient)
/// telemetry.startupPhase(.threadStartCreateThread, duration: .milliseconds(12), status: .success)
/// telemetry.turnTTFT(.milliseconds(840))
/// ```
public final class SessionTelemetry: Sendable {
    /// The session's metadata.
    public let metadata: SessionMetadata
    /// Prefix of event and metric names (`codex` gives `codex.startup_phase`).
    public let namespace: String
    let sink: any SessionEventSink
    let metrics: MetricsClient?
    let metricsUseMetadataTags: Bool
    let now: @Sendable () -> UInt64
    /// The trace of this session's start-up phase spans and the ids chosen in advance for the
    /// phases that enclose others: fixed by the first phase reported (or taken over).
    private let startupTraceState = LockedValue<StartupTrace?>(nil)
    /// Runtime metrics totals; `nil` when off.
    let runtimeMetrics: RuntimeMetricsAccumulator?
    private let warnings = Atomic<Int>(0)
    private let warnedKinds = LockedValue<Set<String>>([])
    private static let logger = Logger(label: "swift-otlp.session-telemetry")

    /// - Parameters:
    ///   - namespace: prefix of event and metric names; an invalid one falls back to `codex`
    ///     with a counted warning.
    ///   - metrics: where metrics go; `nil` records none.
    ///   - metricsUseMetadataTags: add `auth_mode`, `session_source`, `originator`,
    ///     `service_name`, `model`, `app.version` to every metric (default `true`).
    ///   - runtimeMetrics: keep a per-session summary of tool calls, API requests, streaming and
    ///     WebSocket events (``runtimeMetricsSummary()``); independent of `metrics`.
    ///   - startupRecorder: pre-session start-up phases to take over (see ``StartupRecorder``):
    ///     the first session emits them (events, phase histogram, spans under `process_startup`)
    ///     with its metadata; once the recorder was used, every session gets
    ///     `<ns>.session_started` with the process age.
    ///   - now: wall clock in Unix nanoseconds.
    public init(
        metadata: SessionMetadata,
        namespace: String = "codex",
        sink: any SessionEventSink,
        metrics: MetricsClient? = nil,
        metricsUseMetadataTags: Bool = true,
        runtimeMetrics: Bool = false,
        startupRecorder: StartupRecorder? = nil,
        now: @escaping @Sendable () -> UInt64 = MetricsClient.wallClockNanoseconds
    ) {
        self.runtimeMetrics = runtimeMetrics ? RuntimeMetricsAccumulator() : nil
        self.metadata = metadata
        self.sink = sink
        self.metrics = metrics
        self.metricsUseMetadataTags = metricsUseMetadataTags
        self.now = now
        if TelemetrySettings.namespaceProblem(namespace) == nil {
            self.namespace = namespace
        } else {
            self.namespace = "codex"
            warn("namespace", "invalid namespace '\(namespace)'; using 'codex'")
        }
        if let startupRecorder { takeOverStartup(from: startupRecorder) }
    }

    /// How many telemetry failures (invalid metric values, export errors, bad input) were
    /// swallowed so far.
    public var warningCount: Int { warnings.load(ordering: .relaxed) }

    // MARK: Events

    /// `<ns>.conversation_starts`: the session's configuration. MCP server names go to logs only;
    /// spans get their count.
    public func conversationStarts(
        providerName: String, reasoningEffort: String? = nil, reasoningSummary: String? = nil,
        contextWindow: Int64? = nil, autoCompactTokenLimit: Int64? = nil, approvalPolicy: String,
        sandboxPolicy: String, mcpServers: [String] = [], activeProfile: String? = nil
    ) {
        if activeProfile != nil { counter("profile.usage", tags: [:]) }
        var common: [(String, AttributeValue?)] = [
            ("provider_name", .string(providerName)),
            ("reasoning_effort", reasoningEffort.map { .string($0) }),
            ("reasoning_summary", reasoningSummary.map { .string($0) }),
            ("context_window", contextWindow.map { .int($0) }),
            ("auto_compact_token_limit", autoCompactTokenLimit.map { .int($0) }),
            ("approval_policy", .string(approvalPolicy)),
            ("sandbox_policy", .string(sandboxPolicy)),
        ]
        let log = common + [
            ("mcp_servers", .string(mcpServers.joined(separator: ", "))),
            ("active_profile", activeProfile.map { .string($0) }),
        ]
        common += [
            ("mcp_server_count", .int(Int64(mcpServers.count))),
            ("active_profile_present", .bool(activeProfile != nil)),
        ]
        emit("conversation_starts", log: log, trace: common)
    }

    /// `<ns>.user_prompt`: the prompt length always; the text in logs only when allowed
    /// (else `[REDACTED]`), never in spans; input counts in spans.
    public func userPrompt(_ items: [UserInputItem]) {
        var prompt = ""
        var texts = 0, images = 0, localImages = 0
        for item in items {
            switch item {
            case .text(let t):
                prompt += t
                texts += 1
            case .image: images += 1
            case .localImage: localImages += 1
            }
        }
        let length: AttributeValue = .int(Int64(prompt.count))
        emit(
            "user_prompt",
            log: [("prompt_length", length), ("prompt", .string(metadata.logUserPrompts ? prompt : "[REDACTED]"))],
            trace: [
                ("prompt_length", length), ("text_input_count", .int(Int64(texts))),
                ("image_input_count", .int(Int64(images))), ("local_image_input_count", .int(Int64(localImages))),
            ])
    }

    /// `<ns>.api_request`, plus counter `<ns>.api_request` and histogram
    /// `<ns>.api_request.duration_ms`, tagged `status` (code or `none`) and `success`.
    public func apiRequest(attempt: Int, status: Int?, error: String? = nil, duration: Duration, endpoint: String = "unknown") {
        let success = (status.map { (200...299).contains($0) } ?? false) && error == nil
        let tags = ["status": status.map(String.init) ?? "none", "success": String(success)]
        counter("api_request", tags: tags)
        recordDuration("api_request.duration_ms", duration, tags: tags)
        let fields: [(String, AttributeValue?)] = [
            ("duration_ms", .int(Self.ms(duration))), ("http.response.status_code", status.map { .int(Int64($0)) }),
            ("error.message", error.map { .string($0) }), ("attempt", .int(Int64(attempt))),
            ("endpoint", .string(endpoint)),
        ]
        emit("api_request", log: fields, trace: fields)
    }

    /// `<ns>.websocket_connect`.
    public func websocketConnect(
        duration: Duration, status: Int? = nil, error: String? = nil, endpoint: String = "unknown", connectionReused: Bool = false
    ) {
        let success = error == nil && (status.map { (200...299).contains($0) } ?? true)
        let fields: [(String, AttributeValue?)] = [
            ("duration_ms", .int(Self.ms(duration))), ("http.response.status_code", status.map { .int(Int64($0)) }),
            ("success", .string(String(success))), ("error.message", error.map { .string($0) }),
            ("endpoint", .string(endpoint)), ("auth.connection_reused", .bool(connectionReused)),
        ]
        emit("websocket_connect", log: fields, trace: fields)
    }

    /// `<ns>.websocket_request`, plus counter `<ns>.websocket.request` and histogram
    /// `<ns>.websocket.request.duration_ms` tagged `success`.
    public func websocketRequest(duration: Duration, error: String? = nil, connectionReused: Bool = false) {
        let tags = ["success": String(error == nil)]
        counter("websocket.request", tags: tags)
        recordDuration("websocket.request.duration_ms", duration, tags: tags)
        let fields: [(String, AttributeValue?)] = [
            ("duration_ms", .int(Self.ms(duration))), ("success", .string(String(error == nil))),
            ("error.message", error.map { .string($0) }), ("auth.connection_reused", .bool(connectionReused)),
        ]
        emit("websocket_request", log: fields, trace: fields)
    }

    /// `<ns>.websocket_event`, plus counter `<ns>.websocket.event` and histogram
    /// `<ns>.websocket.event.duration_ms` tagged `kind` and `success`.
    public func websocketEvent(kind: String?, duration: Duration, error: String? = nil) {
        let kindValue = Self.tagSafe(kind ?? "unknown")
        let tags = ["kind": kindValue, "success": String(error == nil)]
        counter("websocket.event", tags: tags)
        recordDuration("websocket.event.duration_ms", duration, tags: tags)
        let fields: [(String, AttributeValue?)] = [
            ("event.kind", .string(kind ?? "unknown")), ("duration_ms", .int(Self.ms(duration))),
            ("success", .string(String(error == nil))), ("error.message", error.map { .string($0) }),
        ]
        emit("websocket_event", log: fields, trace: fields)
    }

    /// `<ns>.sse_event` for one server-sent event (failed when `error` is set), plus counter
    /// `<ns>.sse_event` and histogram `<ns>.sse_event.duration_ms` tagged `kind` and `success`.
    public func sseEvent(kind: String?, duration: Duration, error: String? = nil) {
        let tags = ["kind": Self.tagSafe(kind ?? "unknown"), "success": String(error == nil)]
        counter("sse_event", tags: tags)
        recordDuration("sse_event.duration_ms", duration, tags: tags)
        let fields: [(String, AttributeValue?)] = [
            ("event.kind", kind.map { .string($0) } ?? (error == nil ? nil : .string("unknown"))),
            ("duration_ms", .int(Self.ms(duration))), ("error.message", error.map { .string($0) }),
        ]
        emit("sse_event", log: fields, trace: fields)
    }

    /// `<ns>.sse_event` of kind `response.completed` with token usage; with `timeToFirstToken`
    /// also the TTFT in the event (field `ttft_ms`). The TTFT histogram
    /// `<ns>.turn.ttft.duration_ms` is recorded by ``turnTTFT(_:turnID:)`` only, so a caller
    /// reporting both counts one TTFT.
    public func sseEventCompleted(
        inputTokens: Int64, outputTokens: Int64, cachedTokens: Int64? = nil, reasoningTokens: Int64? = nil,
        toolTokens: Int64 = 0, timeToFirstToken: Duration? = nil
    ) {
        let fields: [(String, AttributeValue?)] = [
            ("event.kind", .string("response.completed")), ("input_token_count", .int(inputTokens)),
            ("output_token_count", .int(outputTokens)), ("cached_token_count", cachedTokens.map { .int($0) }),
            ("reasoning_token_count", reasoningTokens.map { .int($0) }), ("tool_token_count", .int(toolTokens)),
            ("ttft_ms", timeToFirstToken.map { .int(Self.ms($0)) }),
        ]
        emit("sse_event", log: fields, trace: fields)
    }

    /// `<ns>.tool_decision` (approval of a tool call).
    public func toolDecision(toolName: String, callID: String, decision: String, source: String) {
        let fields: [(String, AttributeValue?)] = [
            ("tool_name", .string(toolName)), ("call_id", .string(callID)),
            ("decision", .string(decision.lowercased())), ("source", .string(source)),
        ]
        emit("tool_decision", log: fields, trace: fields)
    }

    /// `<ns>.tool_result`: arguments and output in logs only; their lengths and the output's
    /// line count in spans. Counter `<ns>.tool.call` and histogram `<ns>.tool.call.duration_ms`
    /// tagged `tool`, `success` and `extraTags`.
    public func toolResult(
        toolName: String, callID: String, arguments: String, duration: Duration, success: Bool, output: String,
        extraTags: [String: String] = [:], mcpServer: String? = nil, mcpServerOrigin: String? = nil
    ) {
        var tags = extraTags
        tags["tool"] = Self.tagSafe(toolName)
        tags["success"] = String(success)
        counter("tool.call", tags: tags)
        recordDuration("tool.call.duration_ms", duration, tags: tags)
        let server = mcpServer ?? ""
        let common: [(String, AttributeValue?)] = [
            ("tool_name", .string(toolName)), ("call_id", .string(callID)), ("duration_ms", .int(Self.ms(duration))),
            ("success", .string(String(success))),
        ]
        emit(
            "tool_result",
            log: common + [
                ("arguments", .string(arguments)), ("output", .string(output)), ("mcp_server", .string(server)),
                ("mcp_server_origin", .string(mcpServerOrigin ?? "")),
            ],
            trace: common + [
                ("arguments_length", .int(Int64(arguments.utf8.count))), ("output_length", .int(Int64(output.utf8.count))),
                ("output_line_count", .int(Int64(Self.lineCount(output)))),
                ("tool_origin", .string(server.isEmpty ? "builtin" : "mcp")), ("mcp_tool", .bool(!server.isEmpty)),
            ])
    }

    /// `<ns>.startup_phase` with `startup.phase`, `startup.status`, `duration_ms`, and histogram
    /// `<ns>.startup.phase.duration_ms` tagged `phase` and `status`; and the phase as a span
    /// ending now (see ``startupPhase(_:startUnixNano:endUnixNano:status:)``).
    public func startupPhase(_ phase: StartupPhase, duration: Duration, status: StartupStatus = .success) {
        let end = now()
        let (seconds, attoseconds) = max(duration, .zero).components
        let nanoseconds = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000).partialValue
            &+ UInt64(attoseconds / 1_000_000_000)
        startupPhase(phase, startUnixNano: end &- min(end, nanoseconds), endUnixNano: end, status: status)
    }

    /// A start-up phase with its real start and end: the `<ns>.startup_phase` event and the
    /// phase histogram (as ``startupPhase(_:duration:status:)``), and a span in the session's
    /// start-up trace carrying the event's trace view. The seed's five prewarm phases are
    /// children of ``StartupPhase/prewarmTotal``'s span (reported before or after it); other
    /// phases are children of the span current when the session's first phase was reported (or
    /// its pre-session phases taken over), if any, and so in its trace.
    public func startupPhase(
        _ phase: StartupPhase, startUnixNano: UInt64, endUnixNano: UInt64, status: StartupStatus = .success
    ) {
        let startupTrace = startupTrace
        let parent: SpanID?
        let spanID: SpanID
        if phase == .prewarmTotal {
            (spanID, parent) = (startupTrace.prewarmTotal, startupTrace.enclosingSpan)
        } else if StartupPhase.prewarmChildren.contains(phase) {
            (spanID, parent) = (IDGenerator.spanID(), startupTrace.prewarmTotal)
        } else {
            (spanID, parent) = (IDGenerator.spanID(), startupTrace.enclosingSpan)
        }
        emitStartupPhase(
            RecordedStartupPhase(phase: phase, status: status, startUnixNano: startUnixNano, endUnixNano: endUnixNano),
            spanID: spanID, parent: parent, extra: [])
    }

    /// The session's start-up trace, fixed on first use from the current span.
    var startupTrace: StartupTrace {
        startupTraceState.withLock { state in
            if let state { return state }
            let trace = StartupTrace(enclosing: TraceContext.current)
            state = trace
            return trace
        }
    }

    private func emitStartupPhase(
        _ recorded: RecordedStartupPhase, spanID: SpanID, parent: SpanID?, extra: [(String, AttributeValue?)]
    ) {
        let startupTrace = startupTrace
        let duration = recorded.duration
        recordDuration("startup.phase.duration_ms", duration, tags: ["phase": recorded.phase.name, "status": recorded.status.name])
        let fields: [(String, AttributeValue?)] = [
            ("startup.phase", .string(recorded.phase.name)), ("startup.status", .string(recorded.status.name)),
            ("duration_ms", .int(Self.ms(duration))),
        ] + extra
        let (log, trace) = records("startup_phase", log: fields, trace: fields, time: recorded.endUnixNano)
        sink.emitLog(log)
        sink.emitSpan(SessionSpanRecord(
            name: recorded.phase.name, traceID: startupTrace.traceID, spanID: spanID, parentSpanID: parent,
            continuedSpan: startupTrace.continued, startUnixNano: recorded.startUnixNano, endUnixNano: recorded.endUnixNano,
            attributes: [("startup.phase", .string(recorded.phase.name)), ("startup.status", .string(recorded.status.name))],
            errorDescription: recorded.status == .success ? nil : recorded.status.name, event: trace))
    }

    /// Emits the pre-session phases `recorder` holds (the first session: all of them, under a
    /// `process_startup` span from the process's start to the end of the last one) and
    /// `<ns>.session_started` with the process age (`process.age_ms`) and whether this session
    /// took the pre-session phases over (`startup.first_session`). Nothing while the recorder
    /// was never used.
    func takeOverStartup(from recorder: StartupRecorder) {
        guard recorder.wasUsed else { return }
        let (phases, first) = recorder.takeOver()
        emitPreSessionPhases(phases, processStart: recorder.processStartUnixNano)
        let fields: [(String, AttributeValue?)] = [
            ("process.age_ms", .int(Self.ms(recorder.processAge))), ("startup.first_session", .bool(first)),
            ("startup.pre_session_phases", .int(Int64(phases.count))),
        ]
        emit("session_started", log: fields, trace: fields)
    }

    /// The pre-session phases as phase events and spans under one `process_startup` span.
    func emitPreSessionPhases(_ phases: [RecordedStartupPhase], processStart: UInt64) {
        guard !phases.isEmpty else { return }
        let startupTrace = startupTrace
        let root = IDGenerator.spanID()
        for phase in phases {
            emitStartupPhase(phase, spanID: IDGenerator.spanID(), parent: root, extra: [("startup.pre_session", .bool(true))])
        }
        let start = min(processStart, phases.map(\.startUnixNano).min() ?? processStart)
        let end = phases.map(\.endUnixNano).max() ?? start
        let failed = phases.contains { $0.status != .success }
        emitStartupPhase(
            RecordedStartupPhase(phase: .processStartup, status: failed ? .failed : .success, startUnixNano: start, endUnixNano: end),
            spanID: root, parent: startupTrace.enclosingSpan, extra: [("startup.pre_session", .bool(true))])
    }

    /// `<ns>.turn_ttft` (time to first token) and histogram `<ns>.turn.ttft.duration_ms`.
    public func turnTTFT(_ duration: Duration, turnID: String? = nil) {
        recordDuration("turn.ttft.duration_ms", duration, tags: [:])
        let fields: [(String, AttributeValue?)] = [
            ("duration_ms", .int(Self.ms(duration))), ("turn.id", turnID.map { .string($0) }),
        ]
        emit("turn_ttft", log: fields, trace: fields)
    }

    /// `<ns>.turn_ttfm` (time to first message) and histogram `<ns>.turn.ttfm.duration_ms`.
    public func turnTTFM(_ duration: Duration, turnID: String? = nil) {
        recordDuration("turn.ttfm.duration_ms", duration, tags: [:])
        let fields: [(String, AttributeValue?)] = [
            ("duration_ms", .int(Self.ms(duration))), ("turn.id", turnID.map { .string($0) }),
        ]
        emit("turn_ttfm", log: fields, trace: fields)
    }

    /// Starts a turn's end-to-end timer: when stopped (or released) it emits `<ns>.turn_e2e`
    /// and records histogram `<ns>.turn.e2e.duration_ms`, once.
    public func startTurnTimer(turnID: String? = nil) -> TurnTimer {
        TurnTimer(telemetry: self, turnID: turnID)
    }

    /// A turn's end-to-end timer; records once.
    public final class TurnTimer: Sendable {
        private let telemetry: SessionTelemetry
        private let turnID: String?
        private let start = ContinuousClock.now
        private let stopped = Atomic<Bool>(false)

        init(telemetry: SessionTelemetry, turnID: String?) {
            self.telemetry = telemetry
            self.turnID = turnID
        }

        /// Records the elapsed time on the first call and returns it; later calls return nil.
        @discardableResult
        public func stop() -> Duration? {
            // Only the exchange is shared: exactly one caller sees false and records.
            guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return nil }
            let elapsed = ContinuousClock.now - start
            telemetry.recordDuration("turn.e2e.duration_ms", elapsed, tags: [:])
            let fields: [(String, AttributeValue?)] = [
                ("duration_ms", .int(SessionTelemetry.ms(elapsed))), ("turn.id", turnID.map { .string($0) }),
            ]
            telemetry.emit("turn_e2e", log: fields, trace: fields)
            return elapsed
        }

        deinit { stop() }
    }

    // MARK: Metrics passthrough (never throw)

    /// Adds to counter `<ns>.<name>` with the metadata tags; failures become counted warnings.
    public func counter(_ name: String, by increment: Int64 = 1, tags: [String: String]) {
        runtimeMetrics?.count(name, increment)
        guard let metrics else { return }
        do throws(MetricsError) {
            try metrics.counter("\(namespace).\(name)", by: increment, tags: mergedTags(tags))
        } catch {
            warn("metric:\(error.code)", "metric \(namespace).\(name): \(error.message)")
        }
    }

    /// Records a duration in histogram `<ns>.<name>` with the metadata tags; failures become
    /// counted warnings.
    public func recordDuration(_ name: String, _ duration: Duration, tags: [String: String]) {
        runtimeMetrics?.duration(name, duration)
        guard let metrics else { return }
        do throws(MetricsError) {
            try metrics.recordDuration("\(namespace).\(name)", duration, tags: mergedTags(tags))
        } catch {
            warn("metric:\(error.code)", "metric \(namespace).\(name): \(error.message)")
        }
    }

    /// Flushes and shuts down the metrics client (if any), waiting for it at most 30 s (codex-otel's
    /// `shutdown_metrics()`), for callers outside async code (see
    /// ``MetricsClient/shutdownSynchronously(timeout:)``). Idempotent.
    /// - Throws: ``MetricsError`` (`.timedOut` past the deadline, `.wouldBlock` inside a task).
    public func shutdownMetrics() throws(MetricsError) {
        try metrics?.shutdown()
    }

    /// Flushes and shuts down the metrics client (if any) and waits for it, at most `timeout`.
    /// - Throws: ``MetricsError`` (`.timedOut` past the deadline).
    public func shutdownMetrics(timeout: Duration) async throws(MetricsError) {
        try await metrics?.shutdown(timeout: timeout)
    }

    /// The metric tags every metric of this session carries (unless turned off).
    public var metadataTags: [String: String] {
        guard metricsUseMetadataTags else { return [:] }
        var tags = [
            "session_source": Self.tagSafe(metadata.sessionSource), "originator": Self.tagSafe(metadata.originator),
            "model": Self.tagSafe(metadata.model), "app.version": Self.tagSafe(metadata.appVersion),
        ]
        if let auth = metadata.authMode { tags["auth_mode"] = Self.tagSafe(auth) }
        if let service = metadata.serviceName { tags["service_name"] = Self.tagSafe(service) }
        return tags
    }

    private func mergedTags(_ tags: [String: String]) -> [String: String] {
        metadataTags.merging(tags) { _, new in new }
    }

    // MARK: Emission

    /// Emits `<ns>.<event>` as a log record (fields + full metadata) and a span event (fields +
    /// trace-safe metadata). `nil` fields are left out.
    func emit(_ event: String, log: [(String, AttributeValue?)], trace: [(String, AttributeValue?)]) {
        let (logRecord, traceRecord) = records(event, log: log, trace: trace, time: now())
        sink.emitLog(logRecord)
        sink.emitSpanEvent(traceRecord)
    }

    /// The log and trace views of one event at `time`.
    func records(
        _ event: String, log: [(String, AttributeValue?)], trace: [(String, AttributeValue?)], time: UInt64
    ) -> (log: SessionEventRecord, trace: SessionEventRecord) {
        let name = "\(namespace).\(event)"
        let header: [(key: String, value: AttributeValue)] = [
            ("event.name", .string(name)), ("event.timestamp", .string(Self.rfc3339(time))),
        ]
        let logAttributes = header + Self.compact(log) + metadataAttributes(personal: true)
        let traceAttributes = header + Self.compact(trace) + metadataAttributes(personal: false)
        return (
            SessionEventRecord(name: name, timeUnixNano: time, attributes: logAttributes),
            SessionEventRecord(name: name, timeUnixNano: time, attributes: traceAttributes)
        )
    }

    /// Attribute keys that may carry personal data and so never appear in span events (the set
    /// swift-log's trace-safe route drops too, ``TelemetryLogHandler/personalDataKeys``).
    public static let personalDataKeys: Set<String> = TelemetryLogHandler.personalDataKeys

    private func metadataAttributes(personal: Bool) -> [(key: String, value: AttributeValue)] {
        var out: [(key: String, value: AttributeValue)] = [
            ("conversation.id", .string(metadata.sessionID)), ("app.version", .string(metadata.appVersion)),
        ]
        if let auth = metadata.authMode { out.append(("auth_mode", .string(auth))) }
        out.append(("originator", .string(metadata.originator)))
        if personal {
            if let id = metadata.accountID { out.append(("user.account_id", .string(id))) }
            if let email = metadata.accountEmail { out.append(("user.email", .string(email))) }
        }
        out += [
            ("terminal.type", .string(metadata.terminalType)), ("model", .string(metadata.model)),
            ("slug", .string(metadata.slug)), ("session_source", .string(metadata.sessionSource)),
        ]
        return out
    }

    private static func compact(_ fields: [(String, AttributeValue?)]) -> [(key: String, value: AttributeValue)] {
        fields.compactMap { key, value in value.map { (key, $0) } }
    }

    private func warn(_ kind: String, _ message: String) {
        warnings.add(1, ordering: .relaxed)
        let first = warnedKinds.withLock { $0.insert(kind).inserted }
        if first { Self.logger.warning("session telemetry: \(message) (further warnings of this kind are only counted)") }
    }

    // MARK: Helpers

    static func ms(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return seconds < 0 ? .min : .max }
        return scaled + attoseconds / 1_000_000_000_000_000
    }

    /// Replaces characters outside `[A-Za-z0-9._/-]` with `_` (empty → `unknown`).
    static func tagSafe(_ value: String) -> String {
        if value.isEmpty { return "unknown" }
        if value.utf8.allSatisfy(MetricNameRules.isTagByte) { return value }
        return String(decoding: value.utf8.map { MetricNameRules.isTagByte($0) ? $0 : UInt8(ascii: "_") }, as: UTF8.self)
    }

    static func lineCount(_ text: String) -> Int {
        // Like Rust's str::lines(): a trailing newline does not start another line.
        if text.isEmpty { return 0 }
        let breaks = text.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        return text.utf8.last == UInt8(ascii: "\n") ? breaks : breaks + 1
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` (RFC 3339, UTC, milliseconds).
    static func rfc3339(_ unixNano: UInt64) -> String {
        let totalMillis = unixNano / 1_000_000
        let millis = Int(totalMillis % 1000)
        let totalSeconds = Int64(totalMillis / 1000)
        let days = totalSeconds / 86_400
        let secondsOfDay = Int(totalSeconds % 86_400)
        // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ v: some BinaryInteger, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondsOfDay / 3600, 2)):\(pad(secondsOfDay / 60 % 60, 2)):\(pad(secondsOfDay % 60, 2)).\(pad(millis, 3))Z"
    }
}

/// The trace a session's start-up phase spans go into: the trace of the span current when its
/// first phase was reported (its children), else a new one; and the span ids chosen in advance for
/// the phases that enclose others.
struct StartupTrace: Sendable {
    let traceID: TraceID
    /// The span current when the trace was fixed, if any (its sampling decision is followed).
    let continued: SpanContext?
    /// ``StartupPhase/prewarmTotal``'s span id.
    let prewarmTotal: SpanID

    /// The parent of the top-level phases.
    var enclosingSpan: SpanID? { continued?.spanID }

    init(enclosing current: SpanContext?) {
        if let current, current.isValid {
            traceID = current.traceID
            continued = current
        } else {
            traceID = IDGenerator.traceID()
            continued = nil
        }
        prewarmTotal = IDGenerator.spanID()
    }
}
