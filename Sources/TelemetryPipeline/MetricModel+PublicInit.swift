// Public factories for the metric data values (their memberwise initializers are internal), so
// code outside the pipeline (the Telemetry module's MetricsClient bridge, exporter tests) can
// build them.

extension NumberDataPoint {
    /// A sum or gauge point.
    public static func make(attributes: [Attribute], startTimeUnixNano: UInt64, timeUnixNano: UInt64, value: MetricNumber) -> NumberDataPoint {
        NumberDataPoint(attributes: attributes, startTimeUnixNano: startTimeUnixNano, timeUnixNano: timeUnixNano, value: value)
    }
}

extension HistogramDataPoint {
    /// An explicit-bucket histogram point; `bucketCounts` has `explicitBounds.count + 1` entries.
    public static func make(
        attributes: [Attribute], startTimeUnixNano: UInt64, timeUnixNano: UInt64, count: UInt64, sum: Double,
        min: Double?, max: Double?, explicitBounds: [Double], bucketCounts: [UInt64]
    ) -> HistogramDataPoint {
        HistogramDataPoint(
            attributes: attributes, startTimeUnixNano: startTimeUnixNano, timeUnixNano: timeUnixNano, count: count,
            sum: sum, min: min, max: max, explicitBounds: explicitBounds, bucketCounts: bucketCounts)
    }
}

extension MetricData {
    /// One metric with its points.
    public static func make(name: String, description: String, unit: String, scope: InstrumentationScope, points: MetricPoints) -> MetricData {
        MetricData(name: name, description: description, unit: unit, scope: scope, points: points)
    }
}
