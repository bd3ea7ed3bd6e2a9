import TelemetryCore
public import TelemetryPipeline

/// Emits log records for one instrumentation scope. Get one from
/// ``TelemetryProvider/logger(_:version:attributes:)``. (Named so as not to clash with swift-log's `Logger`.)
public struct TelemetryLogger: Sendable {
    @usableFromInline let pipeline: Pipeline
    public let scope: InstrumentationScope
    @usableFromInline let limits: AttributeLimits
    @usableFromInline let clock: any TelemetryClock

    init(pipeline: Pipeline, scope: InstrumentationScope, limits: AttributeLimits, clock: any TelemetryClock) {
        self.pipeline = pipeline
        self.scope = scope
        self.limits = limits
        self.clock = clock
    }

    /// Emits a record. Trace and span ids come from `spanContext`, by default the current span's
    /// (``TraceContext/current``). `severityText` defaults to the severity's short name.
    /// Attributes past the count limit are dropped and counted; long values are cut to the length limit.
    @inlinable
    public func emit(
        severity: Severity? = nil, severityText: String? = nil, body: AttributeValue? = nil, attributes: [Attribute] = [],
        eventName: String? = nil, timeUnixNano: UInt64? = nil, spanContext: SpanParent = .current
    ) {
        let context: SpanContext?
        switch spanContext {
        case .current: context = TraceContext.current
        case .root: context = nil
        case .context(let explicit): context = explicit
        }
        let now = clock.nowUnixNano()
        var record = LogRecordData(
            timeUnixNano: timeUnixNano ?? now, observedTimeUnixNano: now, severity: severity,
            severityText: severityText ?? severity?.text, body: body, eventName: eventName,
            traceID: context?.traceID, spanID: context?.spanID, traceFlags: context?.traceFlags ?? [], scope: scope)
        if !attributes.isEmpty {
            if attributes.count <= limits.attributeCountLimit && limits.attributeValueLengthLimit == nil {
                record.attributes = attributes
            } else {
                record.droppedAttributesCount = UInt32(record.attributes.setAttributes(attributes, limits: limits))
            }
        }
        pipeline.recordLog(record)
    }

    /// Emits an event: a record with an event name.
    @inlinable
    public func event(_ name: String, severity: Severity = .info, body: AttributeValue? = nil, attributes: [Attribute] = []) {
        emit(severity: severity, body: body, attributes: attributes, eventName: name)
    }

    @inlinable public func trace(_ message: String, attributes: [Attribute] = []) { emit(severity: .trace, body: .string(message), attributes: attributes) }
    @inlinable public func debug(_ message: String, attributes: [Attribute] = []) { emit(severity: .debug, body: .string(message), attributes: attributes) }
    @inlinable public func info(_ message: String, attributes: [Attribute] = []) { emit(severity: .info, body: .string(message), attributes: attributes) }
    @inlinable public func warn(_ message: String, attributes: [Attribute] = []) { emit(severity: .warn, body: .string(message), attributes: attributes) }
    @inlinable public func error(_ message: String, attributes: [Attribute] = []) { emit(severity: .error, body: .string(message), attributes: attributes) }
    @inlinable public func fatal(_ message: String, attributes: [Attribute] = []) { emit(severity: .fatal, body: .string(message), attributes: attributes) }
}
