import TelemetryCore

/// Explicit-bucket histogram state of one stream.
struct ExplicitHistogramState {
    var bounds: [Double]
    var counts: [UInt64]
    var count: UInt64 = 0
    var sum: Double = 0
    var min = Double.infinity
    var max = -Double.infinity

    init(bounds: [Double]) {
        self.bounds = bounds
        self.counts = [UInt64](repeating: 0, count: bounds.count + 1)
    }

    mutating func record(_ value: Double) {
        guard value.isFinite else { return }
        // Bucket i holds (bounds[i-1], bounds[i]]: the first bound >= value (the same search as
        // the attribute-free records' `AtomicHistogram`).
        let bucket = bounds.withUnsafeBufferPointer { AtomicHistogram.bucketIndex(of: value, in: $0) }
        counts[bucket] += 1
        count += 1
        sum += value
        min = Swift.min(min, value)
        max = Swift.max(max, value)
    }

    /// Adds records taken from an ``AtomicHistogram`` with the same bounds.
    mutating func merge(_ taken: AtomicHistogram.Taken) {
        for (index, bucketCount) in taken.bucketCounts.enumerated() where index < counts.count {
            counts[index] += bucketCount
        }
        count += taken.count
        sum += taken.sum
        min = Swift.min(min, taken.min)
        max = Swift.max(max, taken.max)
    }
}

/// Base-2 exponential histogram state of one stream
/// (https://opentelemetry.io/docs/specs/otel/metrics/data-model/#exponentialhistogram).
struct ExponentialHistogramState {
    struct Buckets {
        var offset = 0
        var counts: [UInt64] = []
        var high: Int { offset + counts.count - 1 }

        mutating func downscale(by change: Int) {
            guard change > 0, !counts.isEmpty else { return }
            let newOffset = offset >> change
            var merged = [UInt64](repeating: 0, count: (high >> change) - newOffset + 1)
            for (position, value) in counts.enumerated() {
                merged[((offset + position) >> change) - newOffset] += value
            }
            offset = newOffset
            counts = merged
        }

        mutating func increment(_ index: Int) {
            if counts.isEmpty {
                offset = index
                counts = [1]
            } else if index < offset {
                counts.insert(contentsOf: [UInt64](repeating: 0, count: offset - index), at: 0)
                offset = index
                counts[0] += 1
            } else if index > high {
                counts.append(contentsOf: [UInt64](repeating: 0, count: index - high))
                counts[counts.count - 1] += 1
            } else {
                counts[index - offset] += 1
            }
        }
    }

    let maxSize: Int
    var scale: Int
    var positive = Buckets()
    var negative = Buckets()
    var zeroCount: UInt64 = 0
    var count: UInt64 = 0
    var sum: Double = 0
    var min = Double.infinity
    var max = -Double.infinity

    init(maxSize: Int, maxScale: Int) {
        self.maxSize = Swift.max(2, maxSize)
        self.scale = Swift.min(20, Swift.max(-10, maxScale))
    }

    /// The bucket index of a positive finite value at `scale`: bucket i is (base^i, base^(i+1)].
    static func index(of value: Double, scale: Int) -> Int {
        let exponent = Int(value.exponent)
        let isPowerOfTwo = value.significand == 1
        if scale <= 0 {
            return (exponent - (isPowerOfTwo ? 1 : 0)) >> -scale
        }
        if isPowerOfTwo {
            return (exponent << scale) - 1
        }
        let scaleFactor = Double(1 << scale) / 0.693_147_180_559_945_3  // 2^scale / ln 2
        return Int((Foundation_log(value) * scaleFactor).rounded(.up)) - 1
    }

    mutating func record(_ value: Double) {
        guard value.isFinite else { return }
        count += 1
        sum += value
        min = Swift.min(min, value)
        max = Swift.max(max, value)
        if value == 0 {
            zeroCount += 1
            return
        }
        let magnitude = abs(value)
        var index = Self.index(of: magnitude, scale: scale)
        let buckets = value > 0 ? positive : negative
        if !buckets.counts.isEmpty {
            let low = Swift.min(buckets.offset, index)
            let high = Swift.max(buckets.high, index)
            var change = 0
            while (high >> change) - (low >> change) + 1 > maxSize { change += 1 }
            if change > 0 {
                positive.downscale(by: change)
                negative.downscale(by: change)
                scale -= change
                index = Self.index(of: magnitude, scale: scale)
            }
        }
        if value > 0 { positive.increment(index) } else { negative.increment(index) }
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func Foundation_log(_ value: Double) -> Double { Glibc.log(value) }
#elseif canImport(Darwin)
import Darwin
@inline(__always) func Foundation_log(_ value: Double) -> Double { Darwin.log(value) }
#endif

/// The aggregation state of one stream (one attribute set of one instrument).
enum StreamAggregator {
    case sum(MetricNumber)
    case lastValue(MetricNumber)
    case histogram(ExplicitHistogramState)
    case exponential(ExponentialHistogramState)

    mutating func record(_ value: MetricNumber) {
        switch self {
        case .sum(let total): self = .sum(total + value)
        case .lastValue: self = .lastValue(value)
        case .histogram(var state):
            state.record(value.doubleValue)
            self = .histogram(state)
        case .exponential(var state):
            state.record(value.doubleValue)
            self = .exponential(state)
        }
    }
}

/// The attribute set used for measurements over an instrument's cardinality limit.
let overflowAttributes: [Attribute] = [Attribute("otel.metric.overflow", .bool(true))]

/// One instrument's streams, owned by the pipeline worker.
final class InstrumentAggregation {
    let descriptor: InstrumentDescriptor
    let temporality: AggregationTemporality
    let cardinalityLimit: Int
    let callback: (@Sendable (ObservationRecorder) -> Void)?
    var streams: [[Attribute]: StreamAggregator] = [:]
    /// For observable counters with delta temporality: the previous cumulative observation.
    var previousObservations: [[Attribute]: MetricNumber] = [:]
    var startTimeUnixNano: UInt64

    init(
        descriptor: InstrumentDescriptor, temporality: AggregationTemporality, cardinalityLimit: Int,
        callback: (@Sendable (ObservationRecorder) -> Void)?, startTimeUnixNano: UInt64
    ) {
        self.descriptor = descriptor
        self.temporality = descriptor.temporality ?? temporality
        self.cardinalityLimit = Swift.max(2, descriptor.cardinalityLimit ?? cardinalityLimit)
        self.callback = callback
        self.startTimeUnixNano = startTimeUnixNano
    }

    private func newAggregator() -> StreamAggregator {
        let zero: MetricNumber = descriptor.isDouble ? .double(0) : .int(0)
        switch descriptor.kind {
        case .counter, .upDownCounter, .observableCounter, .observableUpDownCounter: return .sum(zero)
        case .gauge, .observableGauge: return .lastValue(zero)
        case .histogram:
            switch descriptor.histogramAggregation {
            case .explicitBuckets(let bounds): return .histogram(ExplicitHistogramState(bounds: bounds))
            case .base2Exponential(let maxSize, let maxScale):
                return .exponential(ExponentialHistogramState(maxSize: maxSize, maxScale: maxScale))
            }
        }
    }

    /// The stream key for `attributes`, redirected to the overflow set past the cardinality limit
    /// (the limit counts the overflow stream itself, per the spec).
    private func key(for attributes: [Attribute]) -> [Attribute] {
        let key = attributes.canonicalized()
        if streams[key] != nil || streams.count < cardinalityLimit - 1 { return key }
        return overflowAttributes
    }

    func record(_ value: MetricNumber, attributes: [Attribute]) {
        if descriptor.kind == .counter || descriptor.kind == .histogram {
            // Counters and histograms accept only non-negative values (spec: SHOULD NOT be negative).
            if value.doubleValue < 0 || value.doubleValue.isNaN { return }
        } else if descriptor.kind == .upDownCounter, value.doubleValue.isNaN {
            // A NaN would make the running sum NaN for good; ignored, as the attribute-free
            // (AtomicSum) path ignores it.
            return
        }
        let key = key(for: attributes)
        if streams[key] == nil { streams[key] = newAggregator() }
        streams[key]!.record(value)
    }

    /// Adds the attribute-free records an ``AtomicHistogram`` took since the last collection to
    /// the empty-attribute stream (or the overflow stream past the cardinality limit, as a ring
    /// record without attributes would go). Explicit-bucket histograms only.
    func merge(_ taken: AtomicHistogram.Taken) {
        let key = key(for: [])
        if streams[key] == nil { streams[key] = newAggregator() }
        guard case .histogram(var state) = streams[key]! else { return }
        state.merge(taken)
        streams[key] = .histogram(state)
    }

    /// Runs the callback (observable instruments) and turns the streams into exported data.
    func collect(now: UInt64) -> MetricData? {
        if let callback {
            let recorder = ObservationRecorder()
            callback(recorder)
            // Observations replace the streams: they are the current values.
            var observed: [[Attribute]: StreamAggregator] = [:]
            for (attributes, value) in recorder.observations {
                let key = attributes.canonicalized()
                var stored = value
                if temporality == .delta && descriptor.kind != .observableGauge {
                    let previous = previousObservations[key] ?? value.isZeroInt
                    previousObservations[key] = value
                    stored = value - previous
                }
                if observed[key] == nil && observed.count >= cardinalityLimit - 1 {
                    observed[overflowAttributes, default: newAggregator()].record(stored)
                } else {
                    observed[key] = descriptor.kind == .observableGauge ? .lastValue(stored) : .sum(stored)
                }
            }
            streams = observed
        }
        defer {
            if temporality == .delta || callback != nil {
                streams.removeAll(keepingCapacity: true)
            }
            if temporality == .delta { startTimeUnixNano = now }
        }
        if streams.isEmpty { return nil }
        let start = startTimeUnixNano
        let sortedStreams = streams.sorted { $0.key.lexicographicallyPrecedes($1.key, by: attributeOrder) }
        let points: MetricPoints
        switch descriptor.kind {
        case .counter, .upDownCounter, .observableCounter, .observableUpDownCounter:
            let monotonic = descriptor.kind == .counter || descriptor.kind == .observableCounter
            points = .sum(isMonotonic: monotonic, temporality: temporality, points: sortedStreams.compactMap { key, aggregator in
                guard case .sum(let value) = aggregator else { return nil }
                return NumberDataPoint(attributes: key, startTimeUnixNano: start, timeUnixNano: now, value: value)
            })
        case .gauge, .observableGauge:
            points = .gauge(points: sortedStreams.compactMap { key, aggregator in
                guard case .lastValue(let value) = aggregator else { return nil }
                return NumberDataPoint(attributes: key, startTimeUnixNano: start, timeUnixNano: now, value: value)
            })
        case .histogram:
            switch descriptor.histogramAggregation {
            case .explicitBuckets:
                points = .histogram(temporality: temporality, points: sortedStreams.compactMap { key, aggregator in
                    guard case .histogram(let state) = aggregator else { return nil }
                    return HistogramDataPoint(
                        attributes: key, startTimeUnixNano: start, timeUnixNano: now, count: state.count, sum: state.sum,
                        min: state.count > 0 ? state.min : nil, max: state.count > 0 ? state.max : nil,
                        explicitBounds: state.bounds, bucketCounts: state.counts)
                })
            case .base2Exponential:
                points = .exponentialHistogram(temporality: temporality, points: sortedStreams.compactMap { key, aggregator in
                    guard case .exponential(let state) = aggregator else { return nil }
                    return ExponentialHistogramDataPoint(
                        attributes: key, startTimeUnixNano: start, timeUnixNano: now, count: state.count, sum: state.sum,
                        min: state.count > 0 ? state.min : nil, max: state.count > 0 ? state.max : nil,
                        scale: Int32(state.scale), zeroCount: state.zeroCount,
                        positiveOffset: Int32(state.positive.offset), positiveBucketCounts: state.positive.counts,
                        negativeOffset: Int32(state.negative.offset), negativeBucketCounts: state.negative.counts)
                })
            }
        }
        return MetricData(
            name: descriptor.name, description: descriptor.description, unit: descriptor.unit,
            scope: descriptor.scope, points: points)
    }
}

/// A total order on attributes for deterministic output.
func attributeOrder(_ lhs: Attribute, _ rhs: Attribute) -> Bool {
    if lhs.key != rhs.key { return lhs.key < rhs.key }
    return lhs.value.description < rhs.value.description
}
