// SessionTelemetry wired onto the SDK: log view → TelemetryLogger, trace view → span event.

public import Telemetry

extension SessionEventRecord {
    /// The attributes as SDK attributes, in order.
    public var sdkAttributes: [Attribute] { attributes.map { Attribute($0.key, $0.value) } }
}

/// Sends SessionTelemetry's events into a ``TelemetryProvider``:
/// - the log view as a log record (severity INFO, `eventName` and body = the event name),
///   correlated with the current span;
/// - the trace view as an event on the current span when there is a current recording span
///   (``TraceContext/addEventToCurrentSpan(_:attributes:timeUnixNano:)``: an SDK span inside
///   `withSpan`/``withCurrentSpan(_:_:)``, or a swift-distributed-tracing span of
///   ``DistributedTracer``). Without one, the event still needs a home in the trace: it becomes a
///   zero-length span named after the event (a child of the current context, if any), carrying
///   it as its one event and its attributes on the span.
/// The trace view never carries personal data (``SessionTelemetry/personalDataKeys``).
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

    /// Records the phase span with its own id, times, status and event (sampled as a child of the
    /// span its trace continues, else as a root of its trace).
    public func emitSpan(_ record: SessionSpanRecord) {
        let attributes = record.attributes.map { Attribute($0.key, $0.value) }
        var span = tracer.startSpan(
            record.name, traceID: record.traceID, spanID: record.spanID, parentSpanID: record.parentSpanID,
            sampledLike: record.continuedSpan, attributes: attributes, startTimeUnixNano: record.startUnixNano)
        if let event = record.event {
            span.addEvent(event.name, attributes: event.sdkAttributes, timeUnixNano: event.timeUnixNano)
        }
        if let description = record.errorDescription { span.setStatus(.error(description: description)) }
        span.end(atUnixNano: record.endUnixNano)
    }

    public func emitSpanEvent(_ record: SessionEventRecord) {
        let attributes = record.sdkAttributes
        if TraceContext.addEventToCurrentSpan(record.name, attributes: attributes, timeUnixNano: record.timeUnixNano) { return }
        var span = tracer.startSpan(record.name, parent: .current, attributes: attributes, startTimeUnixNano: record.timeUnixNano)
        span.addEvent(record.name, attributes: attributes, timeUnixNano: record.timeUnixNano)
        span.end(atUnixNano: record.timeUnixNano)
    }
}

extension SessionTelemetry {
    /// Session telemetry whose events go into `provider` (see ``ProviderSessionEventSink``).
    public convenience init(
        metadata: SessionMetadata, provider: TelemetryProvider, namespace: String = "codex", metrics: MetricsClient? = nil,
        metricsUseMetadataTags: Bool = true, runtimeMetrics: Bool = false, startupRecorder: StartupRecorder? = nil
    ) {
        self.init(
            metadata: metadata, namespace: namespace, sink: ProviderSessionEventSink(provider: provider), metrics: metrics,
            metricsUseMetadataTags: metricsUseMetadataTags, runtimeMetrics: runtimeMetrics, startupRecorder: startupRecorder)
    }
}
