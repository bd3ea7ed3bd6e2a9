import OTLPProto

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

/// Groups `items` by scope, keeping the order in which scopes first appear.
@inline(__always)
private func groupedByScope<Item, Output>(
    _ items: [Item], scope: (Item) -> InstrumentationScope, convert: (Item) -> Output
) -> [(InstrumentationScope, [Output])] {
    var groups: [(InstrumentationScope, [Output])] = []
    var indexByScope: [InstrumentationScope: Int] = [:]
    var lastIndex = -1
    // Indexing the buffer borrows each item in place (a `for item in items` loop copies it).
    items.withUnsafeBufferPointer { items in
        for position in items.indices {
            let index: Int
            if lastIndex >= 0, groups[lastIndex].0 == scope(items[position]) {
                index = lastIndex  // common case: runs of one scope, no hashing
            } else if let existing = indexByScope[scope(items[position])] {
                index = existing
            } else {
                index = groups.count
                indexByScope[scope(items[position])] = index
                groups.append((scope(items[position]), []))
                if index == 0 { groups[index].1.reserveCapacity(items.count) }  // usually the only scope
            }
            lastIndex = index
            groups[index].1.append(convert(items[position]))
        }
    }
    return groups
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
        var span = TraceV1Span()
        span.traceId = context.traceID.bytes
        span.spanId = context.spanID.bytes
        span.traceState = context.traceState
        if let parentSpanID { span.parentSpanId = parentSpanID.bytes }
        span.name = name
        span.kind = kind.otlpKind
        span.startTimeUnixNano = startTimeUnixNano
        span.endTimeUnixNano = endTimeUnixNano
        span.attributes = attributes.otlpKeyValues
        span.droppedAttributesCount = droppedAttributesCount
        if !events.isEmpty {
            span.events = events.map { event in
                var otlp = TraceV1Span.Event()
                otlp.timeUnixNano = event.timeUnixNano
                otlp.name = event.name
                otlp.attributes = event.attributes.otlpKeyValues
                otlp.droppedAttributesCount = event.droppedAttributesCount
                return otlp
            }
        }
        span.droppedEventsCount = droppedEventsCount
        if !links.isEmpty {
            span.links = links.map { link in
                var otlp = TraceV1Span.Link()
                otlp.traceId = link.context.traceID.bytes
                otlp.spanId = link.context.spanID.bytes
                otlp.traceState = link.context.traceState
                otlp.attributes = link.attributes.otlpKeyValues
                otlp.droppedAttributesCount = link.droppedAttributesCount
                // SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK (0x100) | IS_REMOTE (0x200) | trace flags.
                otlp.flags = UInt32(link.context.traceFlags.rawValue) | 0x100 | (link.context.isRemote ? 0x200 : 0)
                return otlp
            }
        }
        span.droppedLinksCount = droppedLinksCount
        switch status {
        case .unset: break
        case .ok:
            var otlp = TraceV1Status()
            otlp.code = .ok
            span.status = otlp
        case .error(let description):
            var otlp = TraceV1Status()
            otlp.code = .error
            otlp.message = description
            span.status = otlp
        }
        // The W3C trace flags (whether the parent was remote is not tracked, so 0x100 stays clear).
        span.flags = UInt32(context.traceFlags.rawValue)
        return span
    }
}

extension SpanBatch {
    /// The batch as an OTLP export request: one resource, one `ScopeSpans` per scope.
    public func makeRequest() -> CollectorTraceV1ExportTraceServiceRequest {
        var resourceSpans = TraceV1ResourceSpans()
        resourceSpans.resource = resource.otlpResource
        resourceSpans.scopeSpans = groupedByScope(spans, scope: { $0.scope }, convert: { $0.otlpSpan }).map { scope, spans in
            var scopeSpans = TraceV1ScopeSpans()
            scopeSpans.scope = scope.otlpScope
            scopeSpans.spans = spans
            return scopeSpans
        }
        var request = CollectorTraceV1ExportTraceServiceRequest()
        if !spans.isEmpty { request.resourceSpans = [resourceSpans] }
        return request
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
        var resourceLogs = LogsV1ResourceLogs()
        resourceLogs.resource = resource.otlpResource
        resourceLogs.scopeLogs = groupedByScope(records, scope: { $0.scope }, convert: { $0.otlpLogRecord }).map { scope, records in
            var scopeLogs = LogsV1ScopeLogs()
            scopeLogs.scope = scope.otlpScope
            scopeLogs.logRecords = records
            return scopeLogs
        }
        var request = CollectorLogsV1ExportLogsServiceRequest()
        if !records.isEmpty { request.resourceLogs = [resourceLogs] }
        return request
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
        var resourceMetrics = MetricsV1ResourceMetrics()
        resourceMetrics.resource = resource.otlpResource
        resourceMetrics.scopeMetrics = groupedByScope(metrics, scope: { $0.scope }, convert: { $0.otlpMetric }).map { scope, metrics in
            var scopeMetrics = MetricsV1ScopeMetrics()
            scopeMetrics.scope = scope.otlpScope
            scopeMetrics.metrics = metrics
            return scopeMetrics
        }
        var request = CollectorMetricsV1ExportMetricsServiceRequest()
        if !metrics.isEmpty { request.resourceMetrics = [resourceMetrics] }
        return request
    }
}
