// swift-log back-end: a `LogHandler` that emits OTLP log records through `TelemetryLogger`.

public import Logging
import TelemetryCore
import TelemetryPipeline

/// A swift-log `LogHandler` emitting each message as a log record of a ``TelemetryProvider``.
///
/// ```swift
/// LoggingSystem.bootstrap { label in TelemetryLogHandler(label: label, provider: provider) }
/// // or: ConfiguredTelemetry.installAsDefault() (TelemetrySession) bootstraps a handler that follows the default provider.
/// Logger(label: "app").info("ready", metadata: ["port": "8080"])
/// ```
///
/// - Severity: trace → TRACE (1), debug → DEBUG (5), info → INFO (9), notice → INFO2 (10),
///   warning → WARN (13), error → ERROR (17), critical → FATAL (21) (the OpenTelemetry log data
///   model's mapping); `severityText` is the swift-log level name in upper case.
/// - Body: the message. Instrumentation scope: the logger's label.
/// - Attributes: the metadata provider's, the handler's, then the call's metadata (later keys
///   win); nested dictionaries flatten to dotted keys, arrays of strings become string arrays,
///   other values their description. Also `code.file.path`, `code.function.name`,
///   `code.line.number`, and for an attached error `exception.type` and `exception.message`.
/// - Trace and span ids: the current span's (``TraceContext/current``: an SDK span, or a
///   swift-distributed-tracing span of ``DistributedTracer``).
/// - Routing (codex-otel's `log_only` / `trace_safe` event targets), by the metadata key
///   ``routeMetadataKey`` (`otel.route`, itself not exported): absent or `log_only`, a log
///   record; `trace_safe`, no log record but an event named after the message on the current
///   span (a zero-length span of its own when there is none), without the attributes that may
///   carry personal data (``personalDataKeys``).
///
/// ```swift
/// logger.info("prompt sent", metadata: ["otel.route": "log_only", "prompt": "\(text)"])
/// logger.info("prompt sent", metadata: ["otel.route": "trace_safe", "prompt_length": "\(text.count)"])
/// ```
public struct TelemetryLogHandler: LogHandler {
    /// The metadata key choosing where a message goes: ``Route/logOnly`` (`log_only`) or
    /// ``Route/traceSafe`` (`trace_safe`).
    public static let routeMetadataKey = "otel.route"

    /// Where a message goes (the value of ``routeMetadataKey``).
    public enum Route: String, Sendable, Hashable, CaseIterable {
        /// A log record only (the default). May carry personal data.
        case logOnly = "log_only"
        /// An event on the current span only, never a log record; personal-data keys are dropped.
        case traceSafe = "trace_safe"
    }

    /// The logger's label (the records' instrumentation scope).
    public let label: String
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    private let target: Target

    enum Target: Sendable {
        case provider(TelemetryProvider)
        /// The process-wide default (`ConfiguredTelemetry.current`); without one, messages go to standard error.
        case processDefault
    }

    /// A handler emitting into `provider`.
    public init(label: String, provider: TelemetryProvider, logLevel: Logger.Level = .info,
                metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.label = label
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
        target = .provider(provider)
    }

    /// A handler emitting into the process-wide default (`ConfiguredTelemetry.current`) at the
    /// time of each message; while none is installed, messages go to standard error.
    public static func processDefault(
        label: String, logLevel: Logger.Level = .info, metadataProvider: Logger.MetadataProvider? = nil
    ) -> TelemetryLogHandler {
        TelemetryLogHandler(label: label, target: .processDefault, logLevel: logLevel, metadataProvider: metadataProvider)
    }

    private init(label: String, target: Target, logLevel: Logger.Level, metadataProvider: Logger.MetadataProvider?) {
        self.label = label
        self.target = target
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let provider: TelemetryProvider
        switch target {
        case .provider(let fixed):
            provider = fixed
        case .processDefault:
            guard let current = ProcessDefaultTelemetry.current?.provider else {
                var fallback = StreamLogHandler.standardError(label: label, metadataProvider: metadataProvider)
                fallback.metadata = metadata
                fallback.logLevel = logLevel
                fallback.log(event: event)
                return
            }
            provider = current
        }
        var attributes = attributes(of: event)
        if let index = attributes.firstIndex(where: { $0.key == Self.routeMetadataKey }) {
            let route = attributes.remove(at: index).value
            if route == .string(Route.traceSafe.rawValue) {
                emitTraceSafe(event.message.description, attributes: attributes, provider: provider)
                return
            }
        }
        provider.logger(label).emit(
            severity: Self.severity(event.level), severityText: event.level.rawValue.uppercased(),
            body: .string(event.message.description), attributes: attributes)
    }

    /// The trace-safe view of a message: an event on the current span, personal-data keys dropped.
    private func emitTraceSafe(_ name: String, attributes: [Attribute], provider: TelemetryProvider) {
        let safe = attributes.filter { !Self.personalDataKeys.contains($0.key) }
        if TraceContext.addEventToCurrentSpan(name, attributes: safe) { return }
        var span = provider.tracer(label).startSpan(name, parent: .current, attributes: safe)
        span.addEvent(name, attributes: safe)
        span.end()
    }

    /// Attribute keys that may carry personal data: the trace-safe route drops them (and session
    /// telemetry keeps them out of its span events).
    public static let personalDataKeys: Set<String> = ["user.account_id", "user.email", "prompt", "arguments", "output", "mcp_servers"]

    /// The OpenTelemetry severity number of a swift-log level.
    public static func severity(_ level: Logger.Level) -> Severity {
        switch level {
        case .trace: .trace
        case .debug: .debug
        case .info: .info
        case .notice: Severity(rawValue: 10)
        case .warning: .warn
        case .error: .error
        case .critical: .fatal
        }
    }

    private func attributes(of event: LogEvent) -> [Attribute] {
        var merged = metadataProvider?.get() ?? [:]
        merged.merge(metadata) { _, new in new }
        if let call = event.metadata { merged.merge(call) { _, new in new } }
        var result: [Attribute] = []
        result.reserveCapacity(merged.count + 5)
        for key in merged.keys.sorted() {
            Self.flatten(key, merged[key]!, into: &result)
        }
        result.append(Attribute("code.file.path", .string(event.file)))
        result.append(Attribute("code.function.name", .string(event.function)))
        result.append(Attribute("code.line.number", .int(Int64(clamping: event.line))))
        if let error = event.error {
            result.append(Attribute("exception.type", .string(String(reflecting: type(of: error)))))
            result.append(Attribute("exception.message", .string(String(describing: error))))
        }
        return result
    }

    static func flatten(_ key: String, _ value: Logger.Metadata.Value, into result: inout [Attribute]) {
        switch value {
        case .string(let s):
            result.append(Attribute(key, .string(s)))
        case .stringConvertible(let c):
            result.append(Attribute(key, .string(c.description)))
        case .dictionary(let nested):
            for nestedKey in nested.keys.sorted() { flatten("\(key).\(nestedKey)", nested[nestedKey]!, into: &result) }
        case .array(let items):
            var strings: [String] = []
            strings.reserveCapacity(items.count)
            for item in items {
                switch item {
                case .string(let s): strings.append(s)
                case .stringConvertible(let c): strings.append(c.description)
                default: strings.append(item.description)
                }
            }
            result.append(Attribute(key, .stringArray(strings)))
        }
    }
}
