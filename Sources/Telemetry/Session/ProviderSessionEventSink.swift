// SessionTelemetry wired onto the SDK: log view → TelemetryLogger, trace view → span event.

extension SessionAttributeValue {
    /// The SDK attribute value.
    public var attributeValue: AttributeValue {
        switch self {
        case .string(let s): .string(s)
        case .int(let i): .int(i)
        case .double(let d): .double(d)
        case .bool(let b): .bool(b)
        }
    }
}

extension SessionEventRecord {
    /// The attributes as SDK attributes, in order.
    public var sdkAttributes: [Attribute] { attributes.map { Attribute($0.key, $0.value.attributeValue) } }
}

/// Sends SessionTelemetry's events into a ``TelemetryProvider``:
/// - the log view as a log record (severity INFO, `eventName` and body = the event name),
///   correlated with the current span;
/// - the trace view as a span event. The SDK's spans are unique values owned by the code that
///   started them, so there is no handle on "the current span" to add an event to; each trace
///   view therefore becomes a zero-length child span of the current span, named after the event
///   and carrying it as its one event (with the same attributes set on the span).
public struct ProviderSessionEventSink: SessionEventSink {
    public let logger: TelemetryLogger
    public let tracer: Tracer

    /// - Parameter scope: the instrumentation scope of the records and spans.
    public init(provider: TelemetryProvider, scope: String = "swift-otlp.session-telemetry", version: String? = nil) {
        logger = provider.logger(scope, version: version)
        tracer = provider.tracer(scope, version: version)
    }

    public func emitLog(_ record: SessionEventRecord) {
        logger.emit(
            severity: .info, body: .string(record.name), attributes: record.sdkAttributes, eventName: record.name,
            timeUnixNano: record.timeUnixNano)
    }

    public func emitSpanEvent(_ record: SessionEventRecord) {
        let attributes = record.sdkAttributes
        var span = tracer.startSpan(record.name, parent: .current, attributes: attributes, startTimeUnixNano: record.timeUnixNano)
        span.addEvent(record.name, attributes: attributes, timeUnixNano: record.timeUnixNano)
        span.end(atUnixNano: record.timeUnixNano)
    }
}

extension SessionTelemetry {
    /// Session telemetry whose events go into `provider` (see ``ProviderSessionEventSink``).
    public convenience init(
        metadata: SessionMetadata, provider: TelemetryProvider, namespace: String = "codex", metrics: MetricsClient? = nil,
        metricsUseMetadataTags: Bool = true
    ) {
        self.init(
            metadata: metadata, namespace: namespace, sink: ProviderSessionEventSink(provider: provider), metrics: metrics,
            metricsUseMetadataTags: metricsUseMetadataTags)
    }
}
