// MetricsClient snapshots as OTLP export requests, so any OTLP metrics exporter can send them.

import OTLPProto

extension MetricsClient.Snapshot {
    /// This snapshot as one OTLP `ExportMetricsServiceRequest`: one resource, one scope, sums as
    /// monotonic `Sum`s, histograms as explicit-bucket `Histogram`s (with min/max), gauges as
    /// `Gauge`s with double values. Attributes are sorted by key.
    public func otlpRequest() -> CollectorMetricsV1ExportMetricsServiceRequest {
        var resource = ResourceV1Resource()
        resource.attributes = Self.keyValues(self.resource)
        var scope = CommonV1InstrumentationScope()
        scope.name = scopeName
        var scopeMetrics = MetricsV1ScopeMetrics()
        scopeMetrics.scope = scope
        scopeMetrics.metrics = metrics.map(Self.otlpMetric)
        var resourceMetrics = MetricsV1ResourceMetrics()
        resourceMetrics.resource = resource
        resourceMetrics.scopeMetrics = [scopeMetrics]
        var request = CollectorMetricsV1ExportMetricsServiceRequest()
        request.resourceMetrics = [resourceMetrics]
        return request
    }

    static func keyValues(_ attributes: [String: String]) -> [CommonV1KeyValue] {
        attributes.keys.sorted().map { key in
            var value = CommonV1AnyValue()
            value.value = .stringValue(attributes[key] ?? "")
            var kv = CommonV1KeyValue()
            kv.key = key
            kv.value = value
            return kv
        }
    }

    static func temporality(_ t: AggregationTemporality) -> MetricsV1AggregationTemporality {
        t == .delta ? .delta : .cumulative
    }

    static func otlpMetric(_ metric: MetricsClient.Metric) -> MetricsV1Metric {
        var out = MetricsV1Metric()
        out.name = metric.name
        out.unit = metric.unit
        out.description = metric.description
        switch metric.data {
        case .sum(let points, let temporality):
            var sum = MetricsV1Sum()
            sum.isMonotonic = true
            sum.aggregationTemporality = Self.temporality(temporality)
            sum.dataPoints = points.map { point in
                var p = MetricsV1NumberDataPoint()
                p.attributes = keyValues(point.attributes)
                p.startTimeUnixNano = point.startTimeUnixNano
                p.timeUnixNano = point.timeUnixNano
                p.value = .asInt(point.value)
                return p
            }
            out.data = .sum(sum)
        case .histogram(let points, let temporality):
            var histogram = MetricsV1Histogram()
            histogram.aggregationTemporality = Self.temporality(temporality)
            histogram.dataPoints = points.map { point in
                var p = MetricsV1HistogramDataPoint()
                p.attributes = keyValues(point.attributes)
                p.startTimeUnixNano = point.startTimeUnixNano
                p.timeUnixNano = point.timeUnixNano
                p.count = point.count
                p.sum = point.sum
                p.min = point.min
                p.max = point.max
                p.explicitBounds = point.explicitBounds
                p.bucketCounts = point.bucketCounts
                return p
            }
            out.data = .histogram(histogram)
        case .gauge(let points):
            var gauge = MetricsV1Gauge()
            gauge.dataPoints = points.map { point in
                var p = MetricsV1NumberDataPoint()
                p.attributes = keyValues(point.attributes)
                p.timeUnixNano = point.timeUnixNano
                p.value = .asDouble(point.value)
                return p
            }
            out.data = .gauge(gauge)
        }
        return out
    }
}
