// A MetricsClient on a provider's Meter: the same validated API (names, tags, instrument kinds,
// fixed duration buckets), but every measurement is one lock-free ring push into the provider's
// pipeline and aggregation happens on its worker, with the provider's temporality, interval,
// resource and exporters. `ConfiguredTelemetry` builds its `metrics` client this way.

import Atomics
import OTLPSync
import Synchronization
import TelemetryCore
import TelemetryPipeline

/// The instruments of a Meter-backed client, by name. Recording takes no lock: the lookup reads
/// an immutable table published through an atomic reference, and the measurement goes through
/// the ring. Only creating an instrument (first use of a name) takes a lock, to publish a new table.
final class MeterMetricsPath: Sendable {
    enum Instrument: Sendable {
        case counter(Counter<Int64>)
        case histogram(Histogram<Double>)
        case gauge(Gauge<Double>)
        case observableGauge
    }

    fileprivate struct Entry: Sendable {
        var kind: ClientInstrumentKind
        var unit: String
        var instrument: Instrument
    }

    /// One immutable version of the name → instrument table.
    private final class Table: AtomicReference, Sendable {
        let entries: [String: Entry]
        init(_ entries: [String: Entry]) { self.entries = entries }
    }

    let meter: Meter
    /// The current table; replaced (never mutated) when an instrument is created.
    private let published = ManagedAtomic(Table([:]))
    /// Serializes instrument creation, so two first uses of a name create one instrument. Holds
    /// how many were created: a lock around an empty value (`LockedValue(())`) makes ThreadSanitizer
    /// report the inout access to that zero-sized stored property, whose address lies at the end
    /// of the lock object, as racing with the neighbouring heap block.
    private let creation = LockedValue(0)
    /// Observable gauge callbacks per name; one pipeline instrument per name asks all of them.
    private let observers = LockedValue<[String: [(attributes: [Attribute], callback: @Sendable () -> Double)]]>([:])
    let shutDown = Atomic<Bool>(false)

    init(meter: Meter) { self.meter = meter }

    func checkOpen() throws(MetricsError) {
        // Relaxed: a record racing shutdown may still be accepted, as with the standalone client.
        if shutDown.load(ordering: .relaxed) { throw MetricsError(code: .shutDown, message: "the metrics client was shut down") }
    }

    /// The instrument `name` of `kind`, created on first use; a different kind or unit is a conflict.
    func instrument(_ name: String, kind: ClientInstrumentKind, unit: String, description: String) throws(MetricsError) -> Instrument {
        try checkOpen()
        // Acquiring: pairs with the releasing store that published the table, so the entries
        // (and the instruments they hold) are fully visible.
        if let existing = published.load(ordering: .acquiring).entries[name] {
            return try Self.checked(existing, name: name, kind: kind, unit: unit)
        }
        return try creation.withLock { created throws(MetricsError) -> Instrument in
            // Re-read under the lock: another thread may have created it meanwhile. Acquiring as above.
            var entries = published.load(ordering: .acquiring).entries
            if let existing = entries[name] { return try Self.checked(existing, name: name, kind: kind, unit: unit) }
            let instrument: Instrument
            switch kind {
            case .counter:
                instrument = .counter(meter.counter(name, of: Int64.self, unit: unit, description: description))
            case .histogram(let bounds):
                instrument = .histogram(meter.histogram(
                    name, of: Double.self, unit: unit, description: description, aggregation: .explicitBuckets(bounds)))
            case .gauge:
                instrument = .gauge(meter.gauge(name, of: Double.self, unit: unit, description: description))
            case .observableGauge:
                let observers = self.observers
                meter.observableGauge(name, of: Double.self, unit: unit, description: description) { recorder in
                    for observer in observers.withLock({ $0[name] ?? [] }) {
                        let value = observer.callback()
                        if value.isFinite { recorder.observe(value, attributes: observer.attributes) }
                    }
                }
                instrument = .observableGauge
            }
            entries[name] = Entry(kind: kind, unit: unit, instrument: instrument)
            // Releasing: publishes the new table after its entries (and the instrument) are complete.
            published.store(Table(entries), ordering: .releasing)
            created += 1
            return instrument
        }
    }

    /// `existing` if it is of `kind` and `unit`; otherwise the conflict error.
    private static func checked(
        _ existing: Entry, name: String, kind: ClientInstrumentKind, unit: String
    ) throws(MetricsError) -> Instrument {
        guard existing.kind == kind, existing.unit == unit else {
            throw MetricsError(
                code: .instrumentConflict,
                message: "'\(name)' is already a \(existing.kind.label)\(existing.unit.isEmpty ? "" : " in \(existing.unit)"), not a \(kind.label)\(unit.isEmpty ? "" : " in \(unit)")")
        }
        return existing.instrument
    }

    func addObserver(_ name: String, attributes: [Attribute], callback: @escaping @Sendable () -> Double) {
        observers.withLock { $0[name, default: []].append((attributes, callback)) }
    }

    static func attributes(_ tags: [String: String]) -> [Attribute] {
        tags.keys.sorted().map { Attribute($0, .string(tags[$0]!)) }
    }
}

/// A client exporter that is never called (a Meter-backed client exports through its provider).
struct ProviderOwnedExporter: MetricsClientExporter {
    func export(_ snapshot: MetricsClient.Snapshot) throws {}
    func shutdown() {}
}

extension MetricsClient {
    /// A client recording through `meter` (a ``TelemetryProvider``'s): the same validation and
    /// instrument rules as a standalone client, but measurements are lock-free ring pushes into
    /// the provider's pipeline, aggregated there with its temporality and exported with its
    /// interval, resource and exporters. ``flush(timeout:)`` and ``shutdown(timeout:)`` have the provider's pipeline collect and export the
    /// metrics and wait for it (a typed ``MetricsError`` past the deadline), and ``snapshot()``
    /// holds everything recorded since the client was created.
    public convenience init(meter: Meter, defaultTags: [String: String] = [:]) throws(MetricsError) {
        try self.init(
            Configuration(serviceName: "", defaultTags: defaultTags, exportInterval: nil, exporter: ProviderOwnedExporter()),
            meterPath: MeterMetricsPath(meter: meter))
    }
}
