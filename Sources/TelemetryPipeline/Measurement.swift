public import TelemetryCore

/// One synchronous measurement on its way through the ring to the aggregator.
public struct Measurement: Sendable {
    public var instrument: UInt32
    public var value: MetricNumber
    public var attributes: [Attribute]

    @inlinable
    public init(instrument: UInt32, value: MetricNumber, attributes: [Attribute]) {
        self.instrument = instrument
        self.value = value
        self.attributes = attributes
    }
}
