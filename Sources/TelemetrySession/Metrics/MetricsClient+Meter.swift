// A MetricsClient's instruments on its Meter (a provider's, or the standalone client's own
// pipeline's): every measurement is one lock-free ring push (or atomic update) into the
// pipeline, and aggregation happens on its worker, with the pipeline's temporality, interval,
// resource and exporters.

import Atomics
import OTLPSync
import Synchronization
import Telemetry
import TelemetryCore
import TelemetryPipeline

/// The instruments of a client, by name. Recording takes no lock: the lookup reads
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
        var info: ClientInstrumentInfo
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
        // Relaxed: a record racing shutdown may still be accepted (and exported by the flush the
        // shutdown waits for, or counted by the pipeline as recorded after its shutdown).
        if isShutDown { throw MetricsError(code: .shutDown, message: "the metrics client was shut down") }
    }

    /// Whether the client was shut down. Relaxed, as in ``checkOpen()``.
    var isShutDown: Bool { shutDown.load(ordering: .relaxed) }

    /// Marks the client shut down; `false` when it already was. Relaxed: only the exchange
    /// decides which caller does the shutdown; nothing is published through the flag.
    func markShutDown() -> Bool { !shutDown.exchange(true, ordering: .relaxed) }

    /// The instrument `name` of `kind` and what the client reports of it, created on first use; a
    /// different kind or unit is a conflict.
    func instrument(
        _ name: String, kind: ClientInstrumentKind, unit: String, description: String
    ) throws(MetricsError) -> (Instrument, ClientInstrumentInfo) {
        try checkOpen()
        // Acquiring: pairs with the releasing store that published the table, so the entries
        // (and the instruments they hold) are fully visible.
        if let existing = published.load(ordering: .acquiring).entries[name] {
            return try Self.checked(existing, name: name, kind: kind, unit: unit)
        }
        return try creation.withLock { created throws(MetricsError) -> (Instrument, ClientInstrumentInfo) in
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
            let info = ClientInstrumentInfo(kind: kind, unit: unit, description: description)
            entries[name] = Entry(info: info, instrument: instrument)
            // Releasing: publishes the new table after its entries (and the instrument) are complete.
            published.store(Table(entries), ordering: .releasing)
            created += 1
            return (instrument, info)
        }
    }

    /// `existing` if it is of `kind` and `unit`; otherwise the conflict error.
    private static func checked(
        _ existing: Entry, name: String, kind: ClientInstrumentKind, unit: String
    ) throws(MetricsError) -> (Instrument, ClientInstrumentInfo) {
        let info = existing.info
        guard info.kind == kind, info.unit == unit else {
            throw MetricsError(
                code: .instrumentConflict,
                message: "'\(name)' is already a \(info.kind.label)\(info.unit.isEmpty ? "" : " in \(info.unit)"), not a \(kind.label)\(unit.isEmpty ? "" : " in \(unit)")")
        }
        return (existing.instrument, info)
    }

    func addObserver(_ name: String, attributes: [Attribute], callback: @escaping @Sendable () -> Double) {
        observers.withLock { $0[name, default: []].append((attributes, callback)) }
    }

    static func attributes(_ tags: [String: String]) -> [Attribute] {
        tags.keys.sorted().map { Attribute($0, .string(tags[$0]!)) }
    }
}

/// The exporter in the configuration of a client on a provider's meter: never called (the
/// provider's exporters export).
struct ProviderOwnedExporter: MetricsClientExporter {
    func export(_ snapshot: MetricsClient.Snapshot) throws {}
    func shutdown() {}
}
