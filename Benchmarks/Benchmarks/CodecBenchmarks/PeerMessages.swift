// The fixture as swift-protobuf 1.39.0 messages (generated into SwiftProtobufPeer from ../Protos).
import Foundation
import SwiftProtobuf
import SwiftProtobufPeer

typealias PeerTraceRequest = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest
typealias PeerMetricsRequest = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest

enum PeerMessages {
    static func keyValue(_ attribute: Fixture.Attribute) -> Opentelemetry_Proto_Common_V1_KeyValue {
        var kv = Opentelemetry_Proto_Common_V1_KeyValue()
        kv.key = attribute.key
        var any = Opentelemetry_Proto_Common_V1_AnyValue()
        switch attribute.value {
        case .string(let s): any.stringValue = s
        case .int(let i): any.intValue = i
        case .double(let d): any.doubleValue = d
        case .bool(let b): any.boolValue = b
        }
        kv.value = any
        return kv
    }

    static func resource(_ scope: Fixture.Scope) -> Opentelemetry_Proto_Resource_V1_Resource {
        var resource = Opentelemetry_Proto_Resource_V1_Resource()
        resource.attributes = scope.resourceAttributes.map(keyValue)
        return resource
    }

    static func instrumentationScope(_ scope: Fixture.Scope) -> Opentelemetry_Proto_Common_V1_InstrumentationScope {
        var s = Opentelemetry_Proto_Common_V1_InstrumentationScope()
        s.name = scope.scopeName
        s.version = scope.scopeVersion
        return s
    }

    static func traceRequest(_ fixture: Fixture.Traces) -> PeerTraceRequest {
        var scopeSpans = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        scopeSpans.scope = instrumentationScope(fixture.scope)
        scopeSpans.schemaURL = fixture.scope.schemaUrl
        scopeSpans.spans = fixture.spans.map { f in
            var span = Opentelemetry_Proto_Trace_V1_Span()
            span.traceID = Data(f.traceId)
            span.spanID = Data(f.spanId)
            span.parentSpanID = Data(f.parentSpanId)
            span.flags = f.flags
            span.name = f.name
            span.kind = .init(rawValue: Int(f.kind))!
            span.startTimeUnixNano = f.startTimeUnixNano
            span.endTimeUnixNano = f.endTimeUnixNano
            span.attributes = f.attributes.map(keyValue)
            span.events = f.events.map { e in
                var event = Opentelemetry_Proto_Trace_V1_Span.Event()
                event.timeUnixNano = e.timeUnixNano
                event.name = e.name
                event.attributes = e.attributes.map(keyValue)
                return event
            }
            var status = Opentelemetry_Proto_Trace_V1_Status()
            status.code = .init(rawValue: Int(f.statusCode))!
            status.message = f.statusMessage
            span.status = status
            return span
        }
        var resourceSpans = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        resourceSpans.resource = resource(fixture.scope)
        resourceSpans.scopeSpans = [scopeSpans]
        resourceSpans.schemaURL = fixture.scope.schemaUrl
        var request = PeerTraceRequest()
        request.resourceSpans = [resourceSpans]
        return request
    }

    static func metricsRequest(_ fixture: Fixture.Metrics) -> PeerMetricsRequest {
        var scopeMetrics = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
        scopeMetrics.scope = instrumentationScope(fixture.scope)
        scopeMetrics.schemaURL = fixture.scope.schemaUrl
        scopeMetrics.metrics = fixture.metrics.map { m in
            var histogram = Opentelemetry_Proto_Metrics_V1_Histogram()
            histogram.aggregationTemporality = .init(rawValue: Int(m.temporality))!
            histogram.dataPoints = m.points.map { p in
                var point = Opentelemetry_Proto_Metrics_V1_HistogramDataPoint()
                point.attributes = p.attributes.map(keyValue)
                point.startTimeUnixNano = p.startTimeUnixNano
                point.timeUnixNano = p.timeUnixNano
                point.count = p.count
                point.sum = p.sum
                point.min = p.min
                point.max = p.max
                point.bucketCounts = p.bucketCounts
                point.explicitBounds = p.explicitBounds
                return point
            }
            var metric = Opentelemetry_Proto_Metrics_V1_Metric()
            metric.name = m.name
            metric.description_p = m.description
            metric.unit = m.unit
            metric.histogram = histogram
            return metric
        }
        var resourceMetrics = Opentelemetry_Proto_Metrics_V1_ResourceMetrics()
        resourceMetrics.resource = resource(fixture.scope)
        resourceMetrics.scopeMetrics = [scopeMetrics]
        resourceMetrics.schemaURL = fixture.scope.schemaUrl
        var request = PeerMetricsRequest()
        request.resourceMetrics = [resourceMetrics]
        return request
    }
}
