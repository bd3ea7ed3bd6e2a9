import OTLPSync
import TelemetryCore

/// The pipeline's instruments: descriptors and callbacks in registration order (an instrument's
/// id is its index; the worker picks up new ones each loop), and the lock-free attribute-free
/// accumulators (``AtomicSum``, ``AtomicHistogram``) producers add to without the ring.
/// Registration and lookups take a short lock; they happen when instruments are made, not per
/// measurement.
final class InstrumentRegistry: Sendable {
    private struct State {
        var descriptors: [(InstrumentDescriptor, (@Sendable (ObservationRecorder) -> Void)?)] = []
        var ids: [InstrumentDescriptor: UInt32] = [:]
        /// The attribute-free sums of (up-down) counters, by instrument id.
        var accumulators: [UInt32: AtomicSum] = [:]
        /// The same, in registration order, for the statistics.
        var allAccumulators: [AtomicSum] = []
        /// The attribute-free histograms of explicit-bucket histograms, by instrument id.
        var histograms: [UInt32: AtomicHistogram] = [:]
        /// The same, in registration order, for the statistics.
        var allHistograms: [AtomicHistogram] = []
    }
    private let state = LockedValue(State())

    /// Registers an instrument (idempotent for an identical descriptor) and returns its id.
    func register(_ descriptor: InstrumentDescriptor,
                  callback: (@Sendable (ObservationRecorder) -> Void)? = nil) -> UInt32 {
        state.withLock { registry in
            if callback == nil, let id = registry.ids[descriptor] { return id }
            let id = UInt32(registry.descriptors.count)
            registry.descriptors.append((descriptor, callback))
            if callback == nil { registry.ids[descriptor] = id }
            return id
        }
    }

    func registeredInstruments(from index: Int) -> [(InstrumentDescriptor, (@Sendable (ObservationRecorder) -> Void)?)] {
        state.withLock { Array($0.descriptors.dropFirst(index)) }
    }

    /// The lock-free sum for the attribute-free measurements of counter or up-down counter `id`
    /// (one per instrument, made on first request). `nil` for other kinds.
    func sumAccumulator(for id: UInt32) -> AtomicSum? {
        state.withLock { registry in
            guard Int(id) < registry.descriptors.count else { return nil }
            let descriptor = registry.descriptors[Int(id)].0
            guard descriptor.kind == .counter || descriptor.kind == .upDownCounter else { return nil }
            if let existing = registry.accumulators[id] { return existing }
            let accumulator = AtomicSum(isDouble: descriptor.isDouble)
            registry.accumulators[id] = accumulator
            registry.allAccumulators.append(accumulator)
            return accumulator
        }
    }

    /// Takes every accumulator's sum since the last call. Worker only.
    func takeAccumulatedSums() -> [(UInt32, MetricNumber)] {
        let accumulators = state.withLock { $0.accumulators }
        return accumulators.compactMap { id, accumulator in accumulator.take().map { (id, $0) } }
    }

    /// The lock-free histogram for the attribute-free records of histogram `id` when it has
    /// explicit buckets (one per instrument, made on first request). `nil` for other kinds and for
    /// base-2 exponential histograms, whose records all go through the ring.
    func histogramAccumulator(for id: UInt32) -> AtomicHistogram? {
        state.withLock { registry in
            guard Int(id) < registry.descriptors.count else { return nil }
            let descriptor = registry.descriptors[Int(id)].0
            guard descriptor.kind == .histogram, case .explicitBuckets(let bounds) = descriptor.histogramAggregation
            else { return nil }
            if let existing = registry.histograms[id] { return existing }
            let histogram = AtomicHistogram(bounds: bounds)
            registry.histograms[id] = histogram
            registry.allHistograms.append(histogram)
            return histogram
        }
    }

    /// Takes every accumulated histogram's records since the last call. Worker only.
    func takeAccumulatedHistograms() -> [(UInt32, AtomicHistogram.Taken)] {
        let histograms = state.withLock { $0.histograms }
        return histograms.compactMap { id, histogram in histogram.take().map { (id, $0) } }
    }

    /// Measurements counted by the accumulators (accepted without a ring push).
    var accumulatedMeasurementCount: Int {
        state.withLock { registry in
            registry.allAccumulators.reduce(0) { $0 + $1.addedCount }
                + registry.allHistograms.reduce(0) { $0 + $1.recordedCount }
        }
    }
}
