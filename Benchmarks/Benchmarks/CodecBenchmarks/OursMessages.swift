// The fixture as our generated OTLP messages (OTLPProto, generated from ../Protos at build time).
import OTLPProto

typealias OursTraceRequest = CollectorTraceV1ExportTraceServiceRequest
typealias OursMetricsRequest = CollectorMetricsV1ExportMetricsServiceRequest

enum OursMessages {
    static func keyValue(_ attribute: Fixture.Attribute) -> CommonV1KeyValue {
        let value: CommonV1AnyValue.Value
        switch attribute.value {
        case .string(let s): value = .stringValue(s)
        case .int(let i): value = .intValue(i)
        case .double(let d): value = .doubleValue(d)
        case .bool(let b): value = .boolValue(b)
        }
        return CommonV1KeyValue(key: attribute.key, value: CommonV1AnyValue(value: value))
    }

    static func resource(_ scope: Fixture.Scope) -> ResourceV1Resource {
        ResourceV1Resource(attributes: scope.resourceAttributes.map(keyValue))
    }

    static func instrumentationScope(_ scope: Fixture.Scope) -> CommonV1InstrumentationScope {
        CommonV1InstrumentationScope(name: scope.scopeName, version: scope.scopeVersion)
    }

    static func traceRequest(_ fixture: Fixture.Traces) -> OursTraceRequest {
        let spans = fixture.spans.map { f in
            TraceV1Span(
                traceId: f.traceId,
                spanId: f.spanId,
                parentSpanId: f.parentSpanId,
                name: f.name,
                kind: TraceV1Span.SpanKind(rawValue: f.kind),
                startTimeUnixNano: f.startTimeUnixNano,
                endTimeUnixNano: f.endTimeUnixNano,
                attributes: f.attributes.map(keyValue),
                events: f.events.map { e in
                    TraceV1Span.Event(timeUnixNano: e.timeUnixNano, name: e.name, attributes: e.attributes.map(keyValue))
                },
                status: TraceV1Status(message: f.statusMessage, code: TraceV1Status.StatusCode(rawValue: f.statusCode)),
                flags: f.flags
            )
        }
        let scopeSpans = TraceV1ScopeSpans(
            scope: instrumentationScope(fixture.scope),
            spans: spans,
            schemaUrl: fixture.scope.schemaUrl
        )
        return OursTraceRequest(resourceSpans: [
            TraceV1ResourceSpans(
                resource: resource(fixture.scope),
                scopeSpans: [scopeSpans],
                schemaUrl: fixture.scope.schemaUrl
            ),
        ])
    }

    static func metricsRequest(_ fixture: Fixture.Metrics) -> OursMetricsRequest {
        let metrics = fixture.metrics.map { m in
            let points = m.points.map { p in
                MetricsV1HistogramDataPoint(
                    startTimeUnixNano: p.startTimeUnixNano,
                    timeUnixNano: p.timeUnixNano,
                    count: p.count,
                    sum: p.sum,
                    bucketCounts: p.bucketCounts,
                    explicitBounds: p.explicitBounds,
                    attributes: p.attributes.map(keyValue),
                    min: p.min,
                    max: p.max
                )
            }
            return MetricsV1Metric(
                name: m.name,
                description: m.description,
                unit: m.unit,
                data: .histogram(MetricsV1Histogram(
                    dataPoints: points,
                    aggregationTemporality: MetricsV1AggregationTemporality(rawValue: m.temporality)
                ))
            )
        }
        let scopeMetrics = MetricsV1ScopeMetrics(
            scope: instrumentationScope(fixture.scope),
            metrics: metrics,
            schemaUrl: fixture.scope.schemaUrl
        )
        return OursMetricsRequest(resourceMetrics: [
            MetricsV1ResourceMetrics(
                resource: resource(fixture.scope),
                scopeMetrics: [scopeMetrics],
                schemaUrl: fixture.scope.schemaUrl
            ),
        ])
    }
}
