/// The kinds of metric instruments (https://opentelemetry.io/docs/specs/otel/metrics/api/#instrument).
public enum InstrumentKind: Sendable, Hashable {
    case counter, upDownCounter, gauge, histogram
    case observableCounter, observableUpDownCounter, observableGauge

    var isObservable: Bool {
        switch self {
        case .observableCounter, .observableUpDownCounter, .observableGauge: return true
        default: return false
        }
    }
}

/// Aggregation temporality of exported sums and histograms
/// (https://opentelemetry.io/docs/specs/otel/metrics/data-model/#temporality). The raw values are
/// the names settings use (`metrics_temporality` in TOML, `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`).
public enum AggregationTemporality: String, Sendable, Hashable, CaseIterable {
    /// Each export carries the change since the previous export (codex-otel's choice; the
    /// default of `TelemetrySettings`).
    case delta
    /// Each export carries the total since the start.
    case cumulative
}

/// A measured value: integer or floating point, as the instrument was declared.
public enum MetricNumber: Sendable, Hashable {
    case int(Int64)
    case double(Double)

    /// The value as a `Double` (integers converted, rounding to nearest).
    @inlinable
    public var doubleValue: Double {
        switch self {
        case .int(let value): return Double(value)
        case .double(let value): return value
        }
    }

    @inlinable
    package static func + (lhs: MetricNumber, rhs: MetricNumber) -> MetricNumber {
        switch (lhs, rhs) {
        case (.int(let a), .int(let b)): return .int(a &+ b)
        default: return .double(lhs.doubleValue + rhs.doubleValue)
        }
    }

    package static func - (lhs: MetricNumber, rhs: MetricNumber) -> MetricNumber {
        switch (lhs, rhs) {
        case (.int(let a), .int(let b)): return .int(a &- b)
        default: return .double(lhs.doubleValue - rhs.doubleValue)
        }
    }

    package var isZeroInt: MetricNumber {
        switch self {
        case .int: return .int(0)
        case .double: return .double(0)
        }
    }
}

/// How a histogram aggregates (https://opentelemetry.io/docs/specs/otel/metrics/sdk/#aggregation).
public enum HistogramAggregation: Sendable, Hashable {
    /// Explicit bucket boundaries (ascending). Spec default: ``defaultBoundaries``.
    case explicitBuckets([Double])
    /// Base-2 exponential buckets; spec defaults: at most 160 buckets per sign, start at scale 20.
    case base2Exponential(maxSize: Int = 160, maxScale: Int = 20)

    /// https://opentelemetry.io/docs/specs/otel/metrics/sdk/#explicit-bucket-histogram-aggregation
    public static let defaultBoundaries: [Double] = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000]
    public static let `default` = HistogramAggregation.explicitBuckets(defaultBoundaries)
}

/// Everything the pipeline needs to know about one instrument.
public struct InstrumentDescriptor: Sendable, Hashable {
    public var name: String
    public var description: String
    public var unit: String
    public var kind: InstrumentKind
    /// Whether values are floating point (`false`: 64-bit integers).
    public var isDouble: Bool
    public var scope: InstrumentationScope
    /// Histogram aggregation (histograms only).
    public var histogramAggregation: HistogramAggregation
    /// Overrides the pipeline's temporality for this instrument.
    public var temporality: AggregationTemporality?
    /// Overrides the pipeline's cardinality limit for this instrument.
    public var cardinalityLimit: Int?

    public init(
        name: String, description: String = "", unit: String = "", kind: InstrumentKind, isDouble: Bool,
        scope: InstrumentationScope, histogramAggregation: HistogramAggregation = .default,
        temporality: AggregationTemporality? = nil, cardinalityLimit: Int? = nil
    ) {
        self.name = name
        self.description = description
        self.unit = unit
        self.kind = kind
        self.isDouble = isDouble
        self.scope = scope
        self.histogramAggregation = histogramAggregation
        self.temporality = temporality
        self.cardinalityLimit = cardinalityLimit
    }
}

/// Receives observations from an observable instrument's callback during a collection.
public final class ObservationRecorder: @unchecked Sendable {
    // Only used on the pipeline worker during one callback invocation.
    package var observations: [(attributes: [Attribute], value: MetricNumber)] = []
    package init() {}

    /// Records an observation for an integer instrument.
    public func observe(_ value: Int64, attributes: [Attribute] = []) {
        observations.append((attributes, .int(value)))
    }

    /// Records an observation for a floating-point instrument.
    public func observe(_ value: Double, attributes: [Attribute] = []) {
        observations.append((attributes, .double(value)))
    }
}

/// A point of a sum or gauge.
public struct NumberDataPoint: Sendable, Hashable {
    public var attributes: [Attribute]
    public var startTimeUnixNano: UInt64
    public var timeUnixNano: UInt64
    public var value: MetricNumber

    public init(attributes: [Attribute], startTimeUnixNano: UInt64, timeUnixNano: UInt64, value: MetricNumber) {
        self.attributes = attributes
        self.startTimeUnixNano = startTimeUnixNano
        self.timeUnixNano = timeUnixNano
        self.value = value
    }
}

/// A point of an explicit-bucket histogram.
public struct HistogramDataPoint: Sendable, Hashable {
    public var attributes: [Attribute]
    public var startTimeUnixNano: UInt64
    public var timeUnixNano: UInt64
    public var count: UInt64
    public var sum: Double
    public var min: Double?
    public var max: Double?
    public var explicitBounds: [Double]
    /// `explicitBounds.count + 1` counts; bucket i counts values in (bounds[i-1], bounds[i]].
    public var bucketCounts: [UInt64]

    public init(attributes: [Attribute], startTimeUnixNano: UInt64, timeUnixNano: UInt64, count: UInt64, sum: Double, min: Double?, max: Double?, explicitBounds: [Double], bucketCounts: [UInt64]) {
        self.attributes = attributes
        self.startTimeUnixNano = startTimeUnixNano
        self.timeUnixNano = timeUnixNano
        self.count = count
        self.sum = sum
        self.min = min
        self.max = max
        self.explicitBounds = explicitBounds
        self.bucketCounts = bucketCounts
    }
}

/// A point of a base-2 exponential histogram.
public struct ExponentialHistogramDataPoint: Sendable, Hashable {
    public var attributes: [Attribute]
    public var startTimeUnixNano: UInt64
    public var timeUnixNano: UInt64
    public var count: UInt64
    public var sum: Double
    public var min: Double?
    public var max: Double?
    public var scale: Int32
    public var zeroCount: UInt64
    public var positiveOffset: Int32
    public var positiveBucketCounts: [UInt64]
    public var negativeOffset: Int32
    public var negativeBucketCounts: [UInt64]

    public init(attributes: [Attribute], startTimeUnixNano: UInt64, timeUnixNano: UInt64, count: UInt64, sum: Double, min: Double?, max: Double?, scale: Int32, zeroCount: UInt64, positiveOffset: Int32, positiveBucketCounts: [UInt64], negativeOffset: Int32, negativeBucketCounts: [UInt64]) {
        self.attributes = attributes
        self.startTimeUnixNano = startTimeUnixNano
        self.timeUnixNano = timeUnixNano
        self.count = count
        self.sum = sum
        self.min = min
        self.max = max
        self.scale = scale
        self.zeroCount = zeroCount
        self.positiveOffset = positiveOffset
        self.positiveBucketCounts = positiveBucketCounts
        self.negativeOffset = negativeOffset
        self.negativeBucketCounts = negativeBucketCounts
    }
}

/// The points of one metric.
public enum MetricPoints: Sendable, Hashable {
    case sum(isMonotonic: Bool, temporality: AggregationTemporality, points: [NumberDataPoint])
    case gauge(points: [NumberDataPoint])
    case histogram(temporality: AggregationTemporality, points: [HistogramDataPoint])
    case exponentialHistogram(temporality: AggregationTemporality, points: [ExponentialHistogramDataPoint])
}

/// One exported metric: an instrument's streams at a collection.
public struct MetricData: Sendable, Hashable {
    public var name: String
    public var description: String
    public var unit: String
    public var scope: InstrumentationScope
    public var points: MetricPoints

    public init(name: String, description: String, unit: String, scope: InstrumentationScope, points: MetricPoints) {
        self.name = name
        self.description = description
        self.unit = unit
        self.scope = scope
        self.points = points
    }
}
