// swift-metrics back-end: a `MetricsFactory` whose handlers record through a `Meter` (one
// lock-free ring push per measurement; aggregation on the pipeline worker).

public import CoreMetrics
import OTLPSync
import TelemetryCore
import TelemetryPipeline

/// A swift-metrics `MetricsFactory` recording through a ``Meter``.
///
/// ```swift
/// MetricsSystem.bootstrap(provider.metricsFactory())   // or ConfiguredTelemetry.installAsDefault() (TelemetrySession)
/// Counter(label: "requests", dimensions: [("route", "/items")]).increment()
/// ```
///
/// | swift-metrics | OTLP instrument |
/// |---|---|
/// | `Counter` | monotonic sum (`Int64`) |
/// | `FloatingPointCounter` | monotonic sum (`Double`) |
/// | `Meter` (set / increment / decrement) | gauge of the handler's current value |
/// | `Recorder(aggregate: true)` | histogram (the spec's default buckets) |
/// | `Recorder(aggregate: false)` | gauge (last value) |
/// | `Timer` | histogram in seconds (unit `s`, ``DurationBuckets/seconds``) |
///
/// The label is the instrument name; dimensions are string attributes. `Counter.reset()` has no
/// OTLP equivalent and is ignored; `destroy…` leaves the stream in place (the pipeline keeps
/// streams until shutdown).
public struct TelemetryMetricsFactory: MetricsFactory {
    /// The meter the handlers record through (nil: the process-wide default's, at creation).
    let fixedMeter: Meter?

    /// A factory recording through `meter`.
    public init(meter: Meter) { fixedMeter = meter }

    private init(processDefault: Void) { fixedMeter = nil }

    /// A factory whose handlers record through the meter of the process-wide default
    /// (`ConfiguredTelemetry.current`) as it is when each handler is made (no-op handlers while
    /// none is installed).
    public static let processDefault = TelemetryMetricsFactory(processDefault: ())

    private var meter: Meter? { fixedMeter ?? ProcessDefaultTelemetry.current?.swiftMetricsMeter }

    static func attributes(_ dimensions: [(String, String)]) -> [Attribute] {
        dimensions.map { Attribute($0.0, .string($0.1)) }
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        guard let meter else { return NOOPMetricsHandler.instance }
        return CounterBackend(meter.counter(label, of: Int64.self), Self.attributes(dimensions))
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        guard let meter else { return NOOPMetricsHandler.instance }
        return FloatingPointCounterBackend(meter.counter(label, of: Double.self), Self.attributes(dimensions))
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        guard let meter else { return NOOPMetricsHandler.instance }
        return MeterBackend(meter.gauge(label, of: Double.self), Self.attributes(dimensions))
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard let meter else { return NOOPMetricsHandler.instance }
        if aggregate {
            return RecorderBackend(histogram: meter.histogram(label, of: Double.self), Self.attributes(dimensions))
        }
        return RecorderBackend(gauge: meter.gauge(label, of: Double.self), Self.attributes(dimensions))
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        guard let meter else { return NOOPMetricsHandler.instance }
        return TimerBackend(meter.histogram(
            label, of: Double.self, unit: "s", aggregation: .explicitBuckets(DurationBuckets.seconds)),
            Self.attributes(dimensions))
    }

    public func destroyCounter(_ handler: any CounterHandler) {}
    public func destroyMeter(_ handler: any MeterHandler) {}
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    public func destroyRecorder(_ handler: any RecorderHandler) {}
    public func destroyTimer(_ handler: any TimerHandler) {}
}

private final class CounterBackend: CounterHandler {
    let counter: Counter<Int64>
    let attributes: [Attribute]
    init(_ counter: Counter<Int64>, _ attributes: [Attribute]) {
        self.counter = counter
        self.attributes = attributes
    }
    func increment(by amount: Int64) { counter.add(amount, attributes: attributes) }
    func reset() {}
}

private final class FloatingPointCounterBackend: FloatingPointCounterHandler {
    let counter: Counter<Double>
    let attributes: [Attribute]
    init(_ counter: Counter<Double>, _ attributes: [Attribute]) {
        self.counter = counter
        self.attributes = attributes
    }
    func increment(by amount: Double) { counter.add(amount, attributes: attributes) }
    func reset() {}
}

/// swift-metrics' `Meter` can be incremented, so the handler keeps the current value (under a
/// lock, recording inside it so the gauge's last value is the handler's last value).
private final class MeterBackend: MeterHandler {
    let gauge: Gauge<Double>
    let attributes: [Attribute]
    let value = LockedValue<Double>(0)
    init(_ gauge: Gauge<Double>, _ attributes: [Attribute]) {
        self.gauge = gauge
        self.attributes = attributes
    }
    func set(_ newValue: Int64) { set(Double(newValue)) }
    func set(_ newValue: Double) { update { $0 = newValue } }
    func increment(by amount: Double) { update { $0 += amount } }
    func decrement(by amount: Double) { update { $0 -= amount } }
    private func update(_ change: (inout Double) -> Void) {
        value.withLock { current in
            change(&current)
            gauge.record(current, attributes: attributes)
        }
    }
}

private final class RecorderBackend: RecorderHandler {
    let histogram: Histogram<Double>?
    let gauge: Gauge<Double>?
    let attributes: [Attribute]
    init(histogram: Histogram<Double>, _ attributes: [Attribute]) {
        self.histogram = histogram
        gauge = nil
        self.attributes = attributes
    }
    init(gauge: Gauge<Double>, _ attributes: [Attribute]) {
        histogram = nil
        self.gauge = gauge
        self.attributes = attributes
    }
    func record(_ value: Int64) { record(Double(value)) }
    func record(_ value: Double) {
        if let histogram { histogram.record(value, attributes: attributes) } else { gauge?.record(value, attributes: attributes) }
    }
}

private final class TimerBackend: TimerHandler {
    let histogram: Histogram<Double>
    let attributes: [Attribute]
    init(_ histogram: Histogram<Double>, _ attributes: [Attribute]) {
        self.histogram = histogram
        self.attributes = attributes
    }
    func recordNanoseconds(_ duration: Int64) { histogram.record(Double(duration) / 1e9, attributes: attributes) }
}
