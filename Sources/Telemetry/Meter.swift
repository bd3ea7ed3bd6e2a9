import TelemetryCore
public import TelemetryPipeline

/// A number type instruments can record: `Int64` or `Double`.
public protocol MetricValue: Sendable {
    /// Whether instruments of this type are floating point.
    static var isDouble: Bool { get }
    /// The value as the pipeline carries it.
    var metricNumber: MetricNumber { get }
    /// Adds the value to a counter's attribute-free running sum (negative values only when
    /// `allowsNegative`).
    func add(to accumulator: AtomicSum.Stripes, allowsNegative: Bool)
}

extension Int64: MetricValue {
    public static var isDouble: Bool { false }
    @inlinable public var metricNumber: MetricNumber { .int(self) }
    @inlinable public func add(to accumulator: AtomicSum.Stripes, allowsNegative: Bool) {
        if allowsNegative || self >= 0 { accumulator.add(self) }
    }
}

extension Double: MetricValue {
    public static var isDouble: Bool { true }
    @inlinable public var metricNumber: MetricNumber { .double(self) }
    @inlinable public func add(to accumulator: AtomicSum.Stripes, allowsNegative: Bool) {
        // NaN is ignored like a negative value (the worker's rule for counters).
        if allowsNegative ? !isNaN : self >= 0 { accumulator.add(self) }
    }
}

/// Where a synchronous instrument's attribute-free values go instead of the ring: a counter's
/// running sum, an explicit-bucket histogram's lock-free histogram.
@usableFromInline
protocol AttributeFreeAccumulator: Sendable {
    /// Adds `value`; `allowsNegative` is false for monotonic instruments.
    func accumulate<Value: MetricValue>(_ value: Value, allowsNegative: Bool)
}

extension AtomicSum.Stripes: AttributeFreeAccumulator {
    @inlinable
    func accumulate<Value: MetricValue>(_ value: Value, allowsNegative: Bool) {
        value.add(to: self, allowsNegative: allowsNegative)
    }
}

extension AtomicHistogram.Recorder: AttributeFreeAccumulator {
    /// Negative, NaN and infinite values are ignored by the recorder, as by the worker.
    @inlinable
    func accumulate<Value: MetricValue>(_ value: Value, allowsNegative: Bool) {
        record(value.metricNumber.doubleValue)
    }
}

/// The accumulator of instruments without one (gauges): every record goes through the ring.
@usableFromInline
enum RingOnly: AttributeFreeAccumulator {
    @inlinable
    func accumulate<Value: MetricValue>(_ value: Value, allowsNegative: Bool) {}
}

/// What every synchronous instrument holds, and its one recording path: an attribute-free value
/// into the instrument's accumulator when it has one (atomic updates, never dropped), anything
/// else as one lock-free ring push, aggregated on the pipeline worker. Generic over the
/// accumulator, so each instrument's record is specialized: no existential, no closure.
@usableFromInline
struct InstrumentCore<Accumulator: AttributeFreeAccumulator>: Sendable {
    @usableFromInline let pipeline: Pipeline
    @usableFromInline let id: UInt32
    /// The attribute-free accumulator as producers use it (the pipeline keeps the state itself).
    @usableFromInline let accumulator: Accumulator?

    init(pipeline: Pipeline, id: UInt32, accumulator: Accumulator?) {
        self.pipeline = pipeline
        self.id = id
        self.accumulator = accumulator
    }

    @inlinable
    func record<Value: MetricValue>(_ value: Value, attributes: [Attribute], allowsNegative: Bool) {
        if attributes.isEmpty, let accumulator {
            guard !pipeline.isShutDown else { return pipeline.countMeasurementAfterShutdown() }
            accumulator.accumulate(value, allowsNegative: allowsNegative)
            return
        }
        pipeline.recordMeasurement(Measurement(instrument: id, value: value.metricNumber, attributes: attributes))
    }
}

/// A monotonic sum. `add` without attributes is one atomic update of the instrument's running sum
/// (never dropped); with attributes it is one lock-free ring push, aggregated on the pipeline worker.
public struct Counter<Value: MetricValue>: Sendable {
    @usableFromInline let core: InstrumentCore<AtomicSum.Stripes>
    public let descriptor: InstrumentDescriptor

    init(pipeline: Pipeline, id: UInt32, descriptor: InstrumentDescriptor) {
        core = InstrumentCore(pipeline: pipeline, id: id, accumulator: pipeline.sumAccumulator(for: id)?.stripes)
        self.descriptor = descriptor
    }

    /// Adds `value` (negative values are ignored, per the spec) to the stream of `attributes`.
    @inlinable
    public func add(_ value: Value, attributes: [Attribute] = []) {
        core.record(value, attributes: attributes, allowsNegative: false)
    }
}

/// A sum that can go up and down. Attribute-free adds are atomic updates, as for ``Counter``.
public struct UpDownCounter<Value: MetricValue>: Sendable {
    @usableFromInline let core: InstrumentCore<AtomicSum.Stripes>
    public let descriptor: InstrumentDescriptor

    init(pipeline: Pipeline, id: UInt32, descriptor: InstrumentDescriptor) {
        core = InstrumentCore(pipeline: pipeline, id: id, accumulator: pipeline.sumAccumulator(for: id)?.stripes)
        self.descriptor = descriptor
    }

    @inlinable
    public func add(_ value: Value, attributes: [Attribute] = []) {
        core.record(value, attributes: attributes, allowsNegative: true)
    }
}

/// A synchronous gauge: the last recorded value per stream.
public struct Gauge<Value: MetricValue>: Sendable {
    @usableFromInline let core: InstrumentCore<RingOnly>
    public let descriptor: InstrumentDescriptor

    init(pipeline: Pipeline, id: UInt32, descriptor: InstrumentDescriptor) {
        core = InstrumentCore(pipeline: pipeline, id: id, accumulator: nil)
        self.descriptor = descriptor
    }

    @inlinable
    public func record(_ value: Value, attributes: [Attribute] = []) {
        core.record(value, attributes: attributes, allowsNegative: true)
    }
}

/// A histogram (explicit buckets or base-2 exponential, chosen at creation). With explicit
/// buckets, `record` without attributes is a few atomic updates of the instrument's lock-free
/// histogram (never dropped); with attributes, or with base-2 exponential buckets, it is one
/// lock-free ring push, aggregated on the pipeline worker.
public struct Histogram<Value: MetricValue>: Sendable {
    @usableFromInline let core: InstrumentCore<AtomicHistogram.Recorder>
    public let descriptor: InstrumentDescriptor

    init(pipeline: Pipeline, id: UInt32, descriptor: InstrumentDescriptor) {
        core = InstrumentCore(pipeline: pipeline, id: id, accumulator: pipeline.histogramAccumulator(for: id)?.recorder)
        self.descriptor = descriptor
    }

    /// Records `value` (negative, NaN and infinite values are ignored, per the spec) in the stream
    /// of `attributes`.
    @inlinable
    public func record(_ value: Value, attributes: [Attribute] = []) {
        core.record(value, attributes: attributes, allowsNegative: false)
    }
}

/// An instrument whose callback is called at every collection, on the pipeline's worker thread.
public struct ObservableInstrument: Sendable {
    public let descriptor: InstrumentDescriptor
}

/// Creates instruments for one instrumentation scope. Get one from ``TelemetryProvider/meter(_:version:attributes:)``.
public struct Meter: Sendable {
    package let pipeline: Pipeline
    /// The instrumentation scope of this meter's instruments.
    public let scope: InstrumentationScope

    init(pipeline: Pipeline, scope: InstrumentationScope) {
        self.pipeline = pipeline
        self.scope = scope
    }

    private func register<Value: MetricValue>(
        _ name: String, _ kind: InstrumentKind, _: Value.Type, unit: String, description: String,
        histogram: HistogramAggregation = .default, temporality: AggregationTemporality?, cardinalityLimit: Int?,
        callback: (@Sendable (ObservationRecorder) -> Void)? = nil
    ) -> (UInt32, InstrumentDescriptor) {
        let descriptor = InstrumentDescriptor(
            name: name, description: description, unit: unit, kind: kind, isDouble: Value.isDouble, scope: scope,
            histogramAggregation: histogram, temporality: temporality, cardinalityLimit: cardinalityLimit)
        return (pipeline.registerInstrument(descriptor, callback: callback), descriptor)
    }

    /// A monotonic counter. Creating the same instrument twice returns the same streams.
    public func counter<Value: MetricValue>(
        _ name: String, of type: Value.Type = Int64.self, unit: String = "", description: String = "",
        temporality: AggregationTemporality? = nil, cardinalityLimit: Int? = nil
    ) -> Counter<Value> {
        let (id, descriptor) = register(name, .counter, type, unit: unit, description: description,
                                        temporality: temporality, cardinalityLimit: cardinalityLimit)
        return Counter(pipeline: pipeline, id: id, descriptor: descriptor)
    }

    public func upDownCounter<Value: MetricValue>(
        _ name: String, of type: Value.Type = Int64.self, unit: String = "", description: String = "",
        temporality: AggregationTemporality? = nil, cardinalityLimit: Int? = nil
    ) -> UpDownCounter<Value> {
        let (id, descriptor) = register(name, .upDownCounter, type, unit: unit, description: description,
                                        temporality: temporality, cardinalityLimit: cardinalityLimit)
        return UpDownCounter(pipeline: pipeline, id: id, descriptor: descriptor)
    }

    public func gauge<Value: MetricValue>(
        _ name: String, of type: Value.Type = Double.self, unit: String = "", description: String = "",
        temporality: AggregationTemporality? = nil, cardinalityLimit: Int? = nil
    ) -> Gauge<Value> {
        let (id, descriptor) = register(name, .gauge, type, unit: unit, description: description,
                                        temporality: temporality, cardinalityLimit: cardinalityLimit)
        return Gauge(pipeline: pipeline, id: id, descriptor: descriptor)
    }

    /// A histogram; `aggregation` chooses explicit buckets (spec defaults) or base-2 exponential.
    public func histogram<Value: MetricValue>(
        _ name: String, of type: Value.Type = Double.self, unit: String = "", description: String = "",
        aggregation: HistogramAggregation = .default, temporality: AggregationTemporality? = nil,
        cardinalityLimit: Int? = nil
    ) -> Histogram<Value> {
        let (id, descriptor) = register(name, .histogram, type, unit: unit, description: description,
                                        histogram: aggregation, temporality: temporality,
                                        cardinalityLimit: cardinalityLimit)
        return Histogram(pipeline: pipeline, id: id, descriptor: descriptor)
    }

    /// An observable counter: `callback` reports the cumulative total per attribute set.
    @discardableResult
    public func observableCounter<Value: MetricValue>(
        _ name: String, of type: Value.Type = Int64.self, unit: String = "", description: String = "",
        temporality: AggregationTemporality? = nil, cardinalityLimit: Int? = nil,
        callback: @escaping @Sendable (ObservationRecorder) -> Void
    ) -> ObservableInstrument {
        ObservableInstrument(descriptor: register(
            name, .observableCounter, type, unit: unit, description: description, temporality: temporality,
            cardinalityLimit: cardinalityLimit, callback: callback).1)
    }

    /// An observable up-down counter: `callback` reports the current total per attribute set.
    @discardableResult
    public func observableUpDownCounter<Value: MetricValue>(
        _ name: String, of type: Value.Type = Int64.self, unit: String = "", description: String = "",
        temporality: AggregationTemporality? = nil, cardinalityLimit: Int? = nil,
        callback: @escaping @Sendable (ObservationRecorder) -> Void
    ) -> ObservableInstrument {
        ObservableInstrument(descriptor: register(
            name, .observableUpDownCounter, type, unit: unit, description: description, temporality: temporality,
            cardinalityLimit: cardinalityLimit, callback: callback).1)
    }

    /// An observable gauge: `callback` reports the current value per attribute set.
    @discardableResult
    public func observableGauge<Value: MetricValue>(
        _ name: String, of type: Value.Type = Double.self, unit: String = "", description: String = "",
        cardinalityLimit: Int? = nil, callback: @escaping @Sendable (ObservationRecorder) -> Void
    ) -> ObservableInstrument {
        ObservableInstrument(descriptor: register(
            name, .observableGauge, type, unit: unit, description: description, temporality: nil,
            cardinalityLimit: cardinalityLimit, callback: callback).1)
    }
}

