public import OTLPProto
public import TelemetryCore
import TelemetryPipeline

// Conversion of the pipeline's records into the generated OTLP messages, grouped by resource
// (one per batch) and instrumentation scope (in order of first appearance). Linear in the batch.

extension AttributeValue {
    /// The OTLP `AnyValue` of this value.
    public var otlpValue: CommonV1AnyValue {
        var any = CommonV1AnyValue()
        switch self {
        case .string(let value): any.value = .stringValue(value)
        case .bool(let value): any.value = .boolValue(value)
        case .int(let value): any.value = .intValue(value)
        case .double(let value): any.value = .doubleValue(value)
        case .bytes(let value): any.value = .bytesValue(value)
        case .stringArray(let values): any.value = .arrayValue(Self.array(values.map { .stringValue($0) }))
        case .boolArray(let values): any.value = .arrayValue(Self.array(values.map { .boolValue($0) }))
        case .intArray(let values): any.value = .arrayValue(Self.array(values.map { .intValue($0) }))
        case .doubleArray(let values): any.value = .arrayValue(Self.array(values.map { .doubleValue($0) }))
        }
        return any
    }

    private static func array(_ values: [CommonV1AnyValue.Value]) -> CommonV1ArrayValue {
        var array = CommonV1ArrayValue()
        array.values = values.map { value in
            var any = CommonV1AnyValue()
            any.value = value
            return any
        }
        return array
    }
}

extension Array where Element == Attribute {
    /// The OTLP key/values of these attributes.
    public var otlpKeyValues: [CommonV1KeyValue] {
        var keyValues: [CommonV1KeyValue] = []
        keyValues.reserveCapacity(count)
        withUnsafeBufferPointer { attributes in
            for index in attributes.indices {
                keyValues.append(CommonV1KeyValue(key: attributes[index].key, value: attributes[index].value.otlpValue))
            }
        }
        return keyValues
    }
}

extension Resource {
    /// The OTLP resource message.
    public var otlpResource: ResourceV1Resource {
        var resource = ResourceV1Resource()
        resource.attributes = attributes.otlpKeyValues
        return resource
    }
}

extension InstrumentationScope {
    /// The OTLP instrumentation scope message.
    public var otlpScope: CommonV1InstrumentationScope {
        var scope = CommonV1InstrumentationScope()
        scope.name = name
        scope.version = version ?? ""
        scope.attributes = attributes.otlpKeyValues
        return scope
    }
}

/// Groups `items` by scope, keeping the order in which scopes first appear. `scope` and
/// `convert` borrow each item where the array stores it (a copy of a record would retain each
/// of its fields). Nothing is written to the items.
@inline(__always)
private func groupedByScope<Item, Output>(
    _ items: [Item], scope: (borrowing Item) -> InstrumentationScope, convert: (borrowing Item) -> Output
) -> [(InstrumentationScope, [Output])] {
    var groups: [(InstrumentationScope, [Output])] = []
    var indexByScope: [InstrumentationScope: Int] = [:]
    var lastIndex = -1
    items.withUnsafeBufferPointer { buffer in
        // Lent in place (`lendInPlace`): passing `buffer[position]` to a closure copies the item.
        let items = UnsafeMutableBufferPointer(mutating: buffer)
        for position in items.indices {
            let itemScope = lendInPlace(&items[position], to: scope)
            let index: Int
            if lastIndex >= 0, groups[lastIndex].0 == itemScope {
                index = lastIndex  // common case: runs of one scope (identical storage), no hashing
            } else if let existing = indexByScope[itemScope] {
                index = existing
            } else {
                index = groups.count
                indexByScope[itemScope] = index
                groups.append((itemScope, []))
                if index == 0 { groups[index].1.reserveCapacity(items.count) }  // usually the only scope
            }
            lastIndex = index
            groups[index].1.append(lendInPlace(&items[position], to: convert))
        }
    }
    return groups
}

/// The resource messages of a batch's request: one, holding one message per scope (`scoped`,
/// from the scope and its converted items) in order of first appearance; none for an empty batch.
@inline(__always)
private func resourceGroups<Item, Output, Scoped, Resourced>(
    _ resource: Resource, _ items: [Item],
    scope: (borrowing Item) -> InstrumentationScope, convert: (borrowing Item) -> Output,
    scoped: (CommonV1InstrumentationScope, [Output]) -> Scoped,
    resourced: (ResourceV1Resource, [Scoped]) -> Resourced
) -> [Resourced] {
    guard !items.isEmpty else { return [] }
    let scopes = groupedByScope(items, scope: scope, convert: convert).map { scope, outputs in
        scoped(scope.otlpScope, outputs)
    }
    return [resourced(resource.otlpResource, scopes)]
}

extension SpanKind {
    var otlpKind: TraceV1Span.SpanKind {
        switch self {
        case .internal: return .internal
        case .server: return .server
        case .client: return .client
        case .producer: return .producer
        case .consumer: return .consumer
        }
    }
}

extension SpanData {
    /// The OTLP span message.
    public var otlpSpan: TraceV1Span {
        Self.otlpSpan(of: self)
    }

    /// The OTLP span message of `span`, borrowed and read field by field where it is stored.
    /// Built by one initializer call, straight into the result.
    static func otlpSpan(of span: borrowing SpanData) -> TraceV1Span {
        TraceV1Span(
            traceId: span.context.traceID.bytes,
            spanId: span.context.spanID.bytes,
            traceState: span.context.traceState,
            parentSpanId: span.parentSpanID?.bytes ?? [],
            name: span.name,
            kind: span.kind.otlpKind,
            startTimeUnixNano: span.startTimeUnixNano,
            endTimeUnixNano: span.endTimeUnixNano,
            attributes: span.attributes.otlpKeyValues,
            droppedAttributesCount: span.droppedAttributesCount,
            events: span.events.isEmpty ? [] : span.events.map { event in
                TraceV1Span.Event(
                    timeUnixNano: event.timeUnixNano, name: event.name, attributes: event.attributes.otlpKeyValues,
                    droppedAttributesCount: event.droppedAttributesCount)
            },
            droppedEventsCount: span.droppedEventsCount,
            links: span.links.isEmpty ? [] : span.links.map { link in
                TraceV1Span.Link(
                    traceId: link.context.traceID.bytes, spanId: link.context.spanID.bytes,
                    traceState: link.context.traceState, attributes: link.attributes.otlpKeyValues,
                    droppedAttributesCount: link.droppedAttributesCount,
                    // SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK (0x100) | IS_REMOTE (0x200) | trace flags.
                    flags: UInt32(link.context.traceFlags.rawValue) | 0x100 | (link.context.isRemote ? 0x200 : 0))
            },
            droppedLinksCount: span.droppedLinksCount,
            status: span.status.otlpStatus,
            // The W3C trace flags (whether the parent was remote is not tracked, so 0x100 stays clear).
            flags: UInt32(span.context.traceFlags.rawValue))
    }
}

extension SpanStatus {
    /// The OTLP status message (`nil` for `unset`, which OTLP leaves out).
    var otlpStatus: TraceV1Status? {
        switch self {
        case .unset: return nil
        case .ok: return TraceV1Status(code: .ok)
        case .error(let description): return TraceV1Status(message: description, code: .error)
        }
    }
}

extension SpanBatch {
    /// The batch as an OTLP export request: one resource, one `ScopeSpans` per scope.
    public func makeRequest() -> CollectorTraceV1ExportTraceServiceRequest {
        let spans = self.spans  // copied out of the pipeline's blocks once
        return CollectorTraceV1ExportTraceServiceRequest(resourceSpans: resourceGroups(
            resource, spans, scope: { $0.scope }, convert: { SpanData.otlpSpan(of: $0) },
            scoped: { TraceV1ScopeSpans(scope: $0, spans: $1) },
            resourced: { TraceV1ResourceSpans(resource: $0, scopeSpans: $1) }))
    }
}

extension LogRecordData {
    /// The OTLP log record message.
    public var otlpLogRecord: LogsV1LogRecord {
        var record = LogsV1LogRecord()
        record.timeUnixNano = timeUnixNano
        record.observedTimeUnixNano = observedTimeUnixNano
        if let severity { record.severityNumber = LogsV1SeverityNumber(rawValue: severity.rawValue) }
        record.severityText = severityText ?? ""
        record.body = body?.otlpValue
        record.attributes = attributes.otlpKeyValues
        record.droppedAttributesCount = droppedAttributesCount
        record.eventName = eventName ?? ""
        if let traceID, traceID.isValid { record.traceId = traceID.bytes }
        if let spanID, spanID.isValid { record.spanId = spanID.bytes }
        record.flags = UInt32(traceFlags.rawValue)
        return record
    }
}

extension LogBatch {
    /// The batch as an OTLP export request: one resource, one `ScopeLogs` per scope.
    public func makeRequest() -> CollectorLogsV1ExportLogsServiceRequest {
        CollectorLogsV1ExportLogsServiceRequest(resourceLogs: resourceGroups(
            resource, records, scope: { $0.scope }, convert: { $0.otlpLogRecord },
            scoped: { LogsV1ScopeLogs(scope: $0, logRecords: $1) },
            resourced: { LogsV1ResourceLogs(resource: $0, scopeLogs: $1) }))
    }
}

extension AggregationTemporality {
    var otlpTemporality: MetricsV1AggregationTemporality {
        switch self {
        case .delta: return .delta
        case .cumulative: return .cumulative
        }
    }
}

extension NumberDataPoint {
    var otlpPoint: MetricsV1NumberDataPoint {
        var point = MetricsV1NumberDataPoint()
        point.attributes = attributes.otlpKeyValues
        point.startTimeUnixNano = startTimeUnixNano
        point.timeUnixNano = timeUnixNano
        switch value {
        case .int(let value): point.value = .asInt(value)
        case .double(let value): point.value = .asDouble(value)
        }
        return point
    }
}

extension MetricData {
    /// The OTLP metric message.
    public var otlpMetric: MetricsV1Metric {
        var metric = MetricsV1Metric()
        metric.name = name
        metric.description = description
        metric.unit = unit
        switch points {
        case .sum(let isMonotonic, let temporality, let points):
            var sum = MetricsV1Sum()
            sum.isMonotonic = isMonotonic
            sum.aggregationTemporality = temporality.otlpTemporality
            sum.dataPoints = points.map(\.otlpPoint)
            metric.data = .sum(sum)
        case .gauge(let points):
            var gauge = MetricsV1Gauge()
            gauge.dataPoints = points.map(\.otlpPoint)
            metric.data = .gauge(gauge)
        case .histogram(let temporality, let points):
            var histogram = MetricsV1Histogram()
            histogram.aggregationTemporality = temporality.otlpTemporality
            histogram.dataPoints = points.map { source in
                var point = MetricsV1HistogramDataPoint()
                point.attributes = source.attributes.otlpKeyValues
                point.startTimeUnixNano = source.startTimeUnixNano
                point.timeUnixNano = source.timeUnixNano
                point.count = source.count
                point.sum = source.sum
                point.min = source.min
                point.max = source.max
                point.explicitBounds = source.explicitBounds
                point.bucketCounts = source.bucketCounts
                return point
            }
            metric.data = .histogram(histogram)
        case .exponentialHistogram(let temporality, let points):
            var histogram = MetricsV1ExponentialHistogram()
            histogram.aggregationTemporality = temporality.otlpTemporality
            histogram.dataPoints = points.map { source in
                var point = MetricsV1ExponentialHistogramDataPoint()
                point.attributes = source.attributes.otlpKeyValues
                point.startTimeUnixNano = source.startTimeUnixNano
                point.timeUnixNano = source.timeUnixNano
                point.count = source.count
                point.sum = source.sum
                point.min = source.min
                point.max = source.max
                point.scale = source.scale
                point.zeroCount = source.zeroCount
                var positive = MetricsV1ExponentialHistogramDataPoint.Buckets()
                positive.offset = source.positiveOffset
                positive.bucketCounts = source.positiveBucketCounts
                point.positive = positive
                var negative = MetricsV1ExponentialHistogramDataPoint.Buckets()
                negative.offset = source.negativeOffset
                negative.bucketCounts = source.negativeBucketCounts
                point.negative = negative
                return point
            }
            metric.data = .exponentialHistogram(histogram)
        }
        return metric
    }
}

extension MetricBatch {
    /// The collection as an OTLP export request: one resource, one `ScopeMetrics` per scope.
    public func makeRequest() -> CollectorMetricsV1ExportMetricsServiceRequest {
        CollectorMetricsV1ExportMetricsServiceRequest(resourceMetrics: resourceGroups(
            resource, metrics, scope: { $0.scope }, convert: { $0.otlpMetric },
            scoped: { MetricsV1ScopeMetrics(scope: $0, metrics: $1) },
            resourced: { MetricsV1ResourceMetrics(resource: $0, scopeMetrics: $1) }))
    }
}
