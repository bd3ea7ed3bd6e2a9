// MetricsClient: codex-otel's low-level metrics API in Swift.

import Foundation
import OTLPSync
import Synchronization
import TelemetryCore
import TelemetryPipeline

/// A small, validated metrics API: counters, histograms, gauges, observable gauges and
/// durations with fixed buckets, aggregated in process and exported periodically, on
/// ``flush()`` and on ``shutdown()``.
///
/// Names must match `[A-Za-z0-9._-]+`; tag keys and values `[A-Za-z0-9._/-]+` (non-empty);
/// violations throw ``MetricsError`` and record nothing. Temporality is delta by default (each
/// export carries what changed since the previous one); cumulative is available.
///
/// ```swift
/// let exporter = MetricsClient.InMemoryExporter()
/// let metrics = try MetricsClient(.inMemory(serviceName: "cli", exporter: exporter))
/// try metrics.counter("codex.turns", tags: ["model": "gpt-5.1"])
/// try metrics.recordDuration("codex.request.duration_ms", .milliseconds(83), tags: ["route": "chat"])
/// try metrics.shutdown()  // flushes into `exporter`
/// ```
public final class MetricsClient: Sendable {
    /// How a client is set up.
    public struct Configuration: Sendable {
        /// Deployment environment, exported as resource attribute `env`.
        public var environment: String
        public var serviceName: String
        public var serviceVersion: String
        /// Tags added to every point (a point's own tags win on conflict).
        public var defaultTags: [String: String]
        /// Delta (default) or cumulative.
        public var temporality: AggregationTemporality
        /// Period of automatic exports; `nil` exports only on ``MetricsClient/flush()`` and
        /// ``MetricsClient/shutdown()``.
        public var exportInterval: Duration?
        /// Where collections go.
        public var exporter: any MetricsClientExporter
        /// Wall clock in Unix nanoseconds (injectable for deterministic tests).
        public var now: @Sendable () -> UInt64

        public init(
            environment: String = "dev",
            serviceName: String,
            serviceVersion: String = "0.0.0",
            defaultTags: [String: String] = [:],
            temporality: AggregationTemporality = .delta,
            exportInterval: Duration? = .seconds(60),
            exporter: any MetricsClientExporter,
            now: @escaping @Sendable () -> UInt64 = MetricsClient.wallClockNanoseconds
        ) {
            self.environment = environment
            self.serviceName = serviceName
            self.serviceVersion = serviceVersion
            self.defaultTags = defaultTags
            self.temporality = temporality
            self.exportInterval = exportInterval
            self.exporter = exporter
            self.now = now
        }

        /// An in-memory client for tests: no periodic export (call ``MetricsClient/flush()`` or
        /// ``MetricsClient/shutdown()``), results in `exporter`.
        public static func inMemory(
            environment: String = "test", serviceName: String, serviceVersion: String = "0.0.0",
            defaultTags: [String: String] = [:], temporality: AggregationTemporality = .delta,
            exporter: InMemoryExporter, now: @escaping @Sendable () -> UInt64 = MetricsClient.wallClockNanoseconds
        ) -> Configuration {
            Configuration(
                environment: environment, serviceName: serviceName, serviceVersion: serviceVersion,
                defaultTags: defaultTags, temporality: temporality, exportInterval: nil, exporter: exporter, now: now)
        }
    }

    /// The current time in Unix nanoseconds.
    @Sendable public static func wallClockNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// The instrumentation scope name of exported metrics.
    public static let scopeName = "swift-otlp.metrics-client"

    let configuration: Configuration
    private let state: LockedValue<ClientAggregationState>
    private let exportTask = LockedValue<Task<Void, Never>?>(nil)
    /// Set for a client on a provider's ``Meter`` (``init(meter:defaultTags:)``): measurements go
    /// through the pipeline instead of `state`.
    let meterPath: MeterMetricsPath?

    /// Creates a standalone client that aggregates in process and exports to
    /// `configuration.exporter`.
    /// - Throws: ``MetricsError`` when a default tag is invalid.
    public convenience init(_ configuration: Configuration) throws(MetricsError) {
        try self.init(configuration, meterPath: nil)
    }

    init(_ configuration: Configuration, meterPath: MeterMetricsPath?) throws(MetricsError) {
        for (key, value) in configuration.defaultTags {
            try Self.validateTag(key: key, value: value)
        }
        self.configuration = configuration
        self.meterPath = meterPath
        self.state = LockedValue(ClientAggregationState(startTime: configuration.now()))
        if meterPath == nil, let interval = configuration.exportInterval, interval > .zero {
            let task = Task.detached(executorPreference: ExportExecutor.shared, priority: .utility) { [weak self] in
                while !Task.isCancelled {
                    try? await ExportExecutor.shared.sleep(for: interval)
                    guard !Task.isCancelled, let self else { return }
                    try? self.flush()
                }
            }
            exportTask.withLock { $0 = task }
        }
    }

    deinit {
        // Best-effort: stop the timer and export what is left.
        exportTask.withLock { $0?.cancel() }
        if meterPath == nil, !state.withLock({ $0.shutDown }) {
            try? shutdown()
        }
    }

    // MARK: Recording

    /// Adds `increment` (≥ 0) to counter `name`.
    /// - Throws: ``MetricsError`` for a negative increment, an invalid name or tag, a name used
    ///   by another instrument kind, or after shutdown.
    public func counter(_ name: String, by increment: Int64 = 1, tags: [String: String] = [:]) throws(MetricsError) {
        if increment < 0 {
            throw MetricsError(code: .negativeCounterIncrement, message: "counter '\(name)' incremented by \(increment)")
        }
        let attributes = try attributes(name: name, tags: tags)
        if let meterPath {
            if case .counter(let counter) = try meterPath.instrument(name, kind: .counter, unit: "", description: "") {
                counter.add(increment, attributes: MeterMetricsPath.attributes(attributes))
            }
            // Also kept below, for snapshot().
        }
        try state.withLock { state throws(MetricsError) in
            try state.checkOpen()
            try state.register(name, kind: .counter, unit: "", description: "")
            state.counters[ClientSeriesKey(name: name, attributes: attributes), default: SumAccumulator()].add(increment)
        }
    }

    /// Records `value` in histogram `name` (default OpenTelemetry buckets).
    public func histogram(_ name: String, _ value: Double, tags: [String: String] = [:]) throws(MetricsError) {
        try record(name, value, tags: tags, kind: .histogram(Self.defaultHistogramBuckets), unit: "", description: "")
    }

    /// Records the integer `value` in histogram `name` (default OpenTelemetry buckets), as the
    /// seed's `metrics.histogram("codex.request_latency", 83, &[("route", "chat")])`. Integers
    /// and floating-point values may be recorded into the same histogram.
    public func histogram(_ name: String, _ value: Int, tags: [String: String] = [:]) throws(MetricsError) {
        try histogram(name, Double(value), tags: tags)
    }

    /// ``histogram(_:_:tags:)-(_,Int,_)`` for an `Int64`.
    public func histogram(_ name: String, _ value: Int64, tags: [String: String] = [:]) throws(MetricsError) {
        try histogram(name, Double(value), tags: tags)
    }

    /// Records `duration` in milliseconds in histogram `name` (unit `ms`) with the fixed
    /// ``durationBucketsMilliseconds``.
    public func recordDuration(_ name: String, _ duration: Duration, tags: [String: String] = [:]) throws(MetricsError) {
        try record(
            name, Self.milliseconds(duration), tags: tags, kind: .histogram(Self.durationBucketsMilliseconds), unit: "ms",
            description: "Duration in milliseconds.")
    }

    /// Records `duration` in seconds in histogram `name` (unit `s`) with ``durationBucketsSeconds``.
    public func recordDurationSeconds(_ name: String, _ duration: Duration, tags: [String: String] = [:]) throws(MetricsError) {
        try record(
            name, Self.milliseconds(duration) / 1000, tags: tags, kind: .histogram(Self.durationBucketsSeconds), unit: "s",
            description: "Duration in seconds.")
    }

    /// Sets gauge `name` to `value`.
    public func gauge(_ name: String, _ value: Double, tags: [String: String] = [:]) throws(MetricsError) {
        try record(name, value, tags: tags, kind: .gauge, unit: "", description: "")
    }

    /// Registers an observable gauge: `callback` is asked for the value at every collection
    /// (outside the client's lock, so it may use the client). A NaN or infinite result is skipped.
    public func observableGauge(
        _ name: String, tags: [String: String] = [:], callback: @escaping @Sendable () -> Double
    ) throws(MetricsError) {
        let attributes = try attributes(name: name, tags: tags)
        if let meterPath {
            _ = try meterPath.instrument(name, kind: .observableGauge, unit: "", description: "")
            meterPath.addObserver(name, attributes: MeterMetricsPath.attributes(attributes), callback: callback)
            // Also kept below, for snapshot().
        }
        try state.withLock { state throws(MetricsError) in
            try state.checkOpen()
            try state.register(name, kind: .observableGauge, unit: "", description: "")
            state.observers.append(ClientObserver(key: ClientSeriesKey(name: name, attributes: attributes), callback: callback))
        }
    }

    /// Starts a timer that records its elapsed time with ``recordDuration(_:_:tags:)`` exactly
    /// once: when ``Timer/stop()`` is called or, failing that, when the timer is released.
    /// - Throws: ``MetricsError`` for an invalid name or tags (checked now, not at stop).
    public func startTimer(_ name: String, tags: [String: String] = [:]) throws(MetricsError) -> Timer {
        _ = try attributes(name: name, tags: tags)
        return Timer(client: self, name: name, tags: tags)
    }

    /// Runs `body` and records its duration in milliseconds, also when it throws.
    public func time<T, E: Error>(_ name: String, tags: [String: String] = [:], _ body: () throws(E) -> T) throws(E) -> T {
        let start = ContinuousClock.now
        defer { try? recordDuration(name, ContinuousClock.now - start, tags: tags) }
        return try body()
    }

    /// A timer from ``MetricsClient/startTimer(_:tags:)``.
    public final class Timer: Sendable {
        private let client: MetricsClient
        private let name: String
        private let tags: [String: String]
        private let start = ContinuousClock.now
        private let stopped = Atomic<Bool>(false)

        init(client: MetricsClient, name: String, tags: [String: String]) {
            self.client = client
            self.name = name
            self.tags = tags
        }

        /// Records the elapsed time (first call only) and returns it; later calls return nil.
        @discardableResult
        public func stop() throws(MetricsError) -> Duration? {
            // The exchange is the only shared state: exactly one caller (stop or deinit, on any
            // thread) sees `false` and records. acquiringAndReleasing orders it with the caller's
            // earlier writes; nothing else is published through the flag.
            guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return nil }
            let elapsed = ContinuousClock.now - start
            try client.recordDuration(name, elapsed, tags: tags)
            return elapsed
        }

        deinit {
            _ = try? stop()
        }
    }

    // MARK: Collection

    /// The current aggregation without consuming it (delta state is not reset, nothing is
    /// exported). Observable gauges are asked for their values. For a client on a provider's
    /// ``Meter`` (``init(meter:defaultTags:)``) it holds everything recorded since the client was
    /// created (that client keeps a running copy of its measurements for this, under its lock)
    /// and the provider's resource.
    public func snapshot() -> Snapshot {
        collect(reset: false)
    }

    /// Collects (resetting delta state) and exports now.
    ///
    /// On a provider's ``Meter``: the provider's pipeline collects and exports the metrics, and
    /// this waits for it (at most 30 s, see ``flushSynchronously(timeout:)``).
    /// - Throws: ``MetricsError`` (`.exportFailed`) when the exporter fails; (`.shutDown`) after
    ///   shutdown; on a provider's meter also (`.timedOut`) and (`.wouldBlock`).
    public func flush() throws(MetricsError) {
        if meterPath != nil {
            try flushSynchronously(timeout: .seconds(30))
            return
        }
        try state.withLock { state throws(MetricsError) in try state.checkOpen() }
        try export(collect(reset: true))
    }

    /// Collects and exports now, waiting at most `timeout` (a standalone client exports
    /// synchronously and ignores it).
    ///
    /// On a provider's ``Meter`` the wait happens on the calling thread; inside a Swift
    /// concurrency task it never waits (that would block a cooperative thread): the flush is
    /// started and ``MetricsError/Code/wouldBlock`` thrown. Use ``flush(timeout:)`` with `await`
    /// there.
    /// - Throws: ``MetricsError``: `.timedOut` past the deadline, `.wouldBlock`, `.shutDown`,
    ///   `.exportFailed`.
    public func flushSynchronously(timeout: Duration) throws(MetricsError) {
        guard let meterPath else { return try flush() }
        try meterPath.checkOpen()
        let pipeline = meterPath.meter.pipeline
        try Self.waitSynchronously(timeout: timeout, what: "flush") { deadline in
            try await pipeline.forceFlush(deadline: deadline)
        }
    }

    /// Collects and exports now, and waits for it: on a provider's ``Meter`` the provider's
    /// pipeline collects and exports the metrics (with its exporters, ``forceFlush``).
    /// - Throws: ``MetricsError``: `.timedOut` when `timeout` passes first, `.shutDown` after
    ///   shutdown, `.exportFailed` when a standalone client's exporter fails.
    public func flush(timeout: Duration) async throws(MetricsError) {
        guard let meterPath else { return try flush() }
        try meterPath.checkOpen()
        try await Self.mapErrors("flush") { try await meterPath.meter.pipeline.forceFlush(deadline: .now + timeout) }
    }

    /// Exports what is left and shuts the exporter down. Idempotent: later calls do nothing;
    /// recording afterwards throws ``MetricsError/Code/shutDown``.
    ///
    /// On a provider's ``Meter``: stops recording and waits (at most 30 s) for the provider to
    /// collect and export the metrics; the provider itself keeps running (its own shutdown ends
    /// it). See ``shutdown(timeout:)`` for waiting inside a task.
    public func shutdown() throws(MetricsError) {
        if meterPath != nil {
            try shutdownSynchronously(timeout: .seconds(30))
            return
        }
        exportTask.withLock { $0?.cancel() }
        guard markShutDown() else { return }
        defer { configuration.exporter.shutdown() }
        try export(collect(reset: true))
    }

    /// ``shutdown()`` waiting at most `timeout`, for callers outside async code (codex-otel's
    /// synchronous `MetricsClient::shutdown()`). Inside a Swift concurrency task a client on a
    /// provider's meter never waits: it stops recording, starts the flush and throws
    /// ``MetricsError/Code/wouldBlock``; await ``shutdown(timeout:)`` there.
    /// - Throws: ``MetricsError``: `.timedOut`, `.wouldBlock`, `.exportFailed`.
    public func shutdownSynchronously(timeout: Duration) throws(MetricsError) {
        guard let meterPath else { return try shutdown() }
        guard markShutDown() else { return }
        let pipeline = meterPath.meter.pipeline
        try Self.waitSynchronously(timeout: timeout, what: "shutdown") { deadline in
            try await pipeline.forceFlush(deadline: deadline)
        }
    }

    /// Stops recording, exports what is left and waits for it (at most `timeout`). Idempotent.
    /// - Throws: ``MetricsError``: `.timedOut` when `timeout` passes first, `.exportFailed` when a
    ///   standalone client's exporter fails.
    public func shutdown(timeout: Duration) async throws(MetricsError) {
        guard let meterPath else { return try shutdown() }
        guard markShutDown() else { return }
        try await Self.mapErrors("shutdown") { try await meterPath.meter.pipeline.forceFlush(deadline: .now + timeout) }
    }

    /// Stops recording without exporting (the owner exports, e.g. a provider shutting down).
    /// - Returns: whether this call did it (`false` when already shut down).
    @discardableResult
    func markShutDown() -> Bool {
        if let meterPath, meterPath.shutDown.exchange(true, ordering: .relaxed) { return false }
        exportTask.withLock { $0?.cancel() }
        return state.withLock { state in
            let open = !state.shutDown
            state.shutDown = true
            return open
        }
    }

    private static func mapErrors(_ what: String, _ body: () async throws -> Void) async throws(MetricsError) {
        do {
            try await body()
        } catch let error as TelemetryError where error.code == .timedOut {
            throw MetricsError(code: .timedOut, message: "metrics \(what) did not complete before its deadline")
        } catch {
            throw MetricsError(code: .exportFailed, message: "metrics \(what): \(error)")
        }
    }

    private static func waitSynchronously(
        timeout: Duration, what: String, _ work: @escaping @Sendable (ContinuousClock.Instant) async throws -> Void
    ) throws(MetricsError) {
        let deadline = ContinuousClock.now + timeout
        switch BlockingWait.run(timeout: timeout, { try await work(deadline) }) {
        case .finished(nil):
            return
        case .timedOut:
            throw MetricsError(code: .timedOut, message: "metrics \(what) did not complete within \(timeout)")
        case .finished(let error as TelemetryError) where error.code == .timedOut:
            throw MetricsError(code: .timedOut, message: "metrics \(what) did not complete within \(timeout)")
        case .finished(let error?):
            throw MetricsError(code: .exportFailed, message: "metrics \(what): \(error)")
        case .insideTask:
            throw MetricsError(
                code: .wouldBlock,
                message: "synchronous metrics \(what) inside a Swift concurrency task: started, not waited for (use `try await \(what)(timeout:)`)")
        }
    }

    private func export(_ snapshot: Snapshot) throws(MetricsError) {
        guard !snapshot.metrics.isEmpty else { return }
        do {
            try configuration.exporter.export(snapshot)
        } catch {
            throw MetricsError(code: .exportFailed, message: "\(error)")
        }
    }

    private func collect(reset: Bool) -> Snapshot {
        let observers = state.withLock { $0.observers }
        var observed: [(ClientSeriesKey, Double)] = []
        for observer in observers {
            let value = observer.callback()
            if value.isFinite { observed.append((observer.key, value)) }
        }
        let now = configuration.now()
        let temporality = configuration.temporality
        let metrics = state.withLock { state in
            state.collect(now: now, temporality: temporality, reset: reset, observed: observed)
        }
        if let meterPath {
            var resource: [String: String] = [:]
            for attribute in meterPath.meter.pipeline.resource.attributes {
                if case .string(let value) = attribute.value { resource[attribute.key] = value }
            }
            return Snapshot(resource: resource, scopeName: Self.scopeName, metrics: metrics)
        }
        return Snapshot(
            resource: [
                "service.name": configuration.serviceName, "service.version": configuration.serviceVersion,
                "env": configuration.environment,
            ],
            scopeName: Self.scopeName, metrics: metrics)
    }

    // MARK: Validation

    private func record(
        _ name: String, _ value: Double, tags: [String: String], kind: ClientInstrumentKind, unit: String, description: String
    ) throws(MetricsError) {
        guard value.isFinite else {
            throw MetricsError(code: .invalidValue, message: "metric '\(name)' value \(value) is not finite")
        }
        let attributes = try attributes(name: name, tags: tags)
        if let meterPath {
            switch try meterPath.instrument(name, kind: kind, unit: unit, description: description) {
            case .histogram(let histogram): histogram.record(value, attributes: MeterMetricsPath.attributes(attributes))
            case .gauge(let gauge): gauge.record(value, attributes: MeterMetricsPath.attributes(attributes))
            case .counter, .observableGauge: break
            }
            // Also kept below, for snapshot().
        }
        try state.withLock { state throws(MetricsError) in
            try state.checkOpen()
            try state.register(name, kind: kind, unit: unit, description: description)
            let key = ClientSeriesKey(name: name, attributes: attributes)
            switch kind {
            case .histogram(let bounds):
                state.histograms[key, default: HistogramAccumulator(bounds: bounds)].record(value)
            case .gauge:
                state.gauges[key] = GaugeAccumulator(value: value, updated: true)
            case .counter, .observableGauge:
                break
            }
        }
    }

    /// Validated name and merged default + given tags.
    private func attributes(name: String, tags: [String: String]) throws(MetricsError) -> [String: String] {
        try Self.validateName(name)
        var merged = configuration.defaultTags
        for (key, value) in tags {
            try Self.validateTag(key: key, value: value)
            merged[key] = value
        }
        return merged
    }

    /// Checks a metric name against `[A-Za-z0-9._-]+`.
    public static func validateName(_ name: String) throws(MetricsError) {
        guard !name.isEmpty else { throw MetricsError(code: .invalidName, message: "metric name is empty") }
        guard name.utf8.allSatisfy(MetricNameRules.isNameByte) else {
            throw MetricsError(code: .invalidName, message: "metric name '\(name)' must match [A-Za-z0-9._-]+")
        }
    }

    /// Checks a tag key and value against `[A-Za-z0-9._/-]+`.
    public static func validateTag(key: String, value: String) throws(MetricsError) {
        guard !key.isEmpty else { throw MetricsError(code: .invalidTagKey, message: "tag key is empty") }
        guard key.utf8.allSatisfy(MetricNameRules.isTagByte) else {
            throw MetricsError(code: .invalidTagKey, message: "tag key '\(key)' must match [A-Za-z0-9._/-]+")
        }
        guard !value.isEmpty else { throw MetricsError(code: .invalidTagValue, message: "tag '\(key)' has an empty value") }
        guard value.utf8.allSatisfy(MetricNameRules.isTagByte) else {
            throw MetricsError(code: .invalidTagValue, message: "tag '\(key)' value '\(value)' must match [A-Za-z0-9._/-]+")
        }
    }

    static func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}

// MARK: Aggregation state (guarded by the client's mutex)

struct ClientSeriesKey: Hashable, Sendable {
    var name: String
    var attributes: [String: String]
}

enum ClientInstrumentKind: Hashable, Sendable {
    case counter
    case histogram([Double])
    case gauge
    case observableGauge

    var label: String {
        switch self {
        case .counter: "counter"
        case .histogram: "histogram"
        case .gauge: "gauge"
        case .observableGauge: "observable gauge"
        }
    }
}

struct ClientInstrumentInfo: Sendable {
    var kind: ClientInstrumentKind
    var unit: String
    var description: String
}

struct ClientObserver: Sendable {
    var key: ClientSeriesKey
    var callback: @Sendable () -> Double
}

struct SumAccumulator: Sendable {
    var total: Int64 = 0
    var sinceCollect: Int64 = 0
    var updated = false
    var deltaStart: UInt64?

    mutating func add(_ value: Int64) {
        let (t, o1) = total.addingReportingOverflow(value)
        total = o1 ? .max : t
        let (d, o2) = sinceCollect.addingReportingOverflow(value)
        sinceCollect = o2 ? .max : d
        updated = true
    }
}

struct HistogramAccumulator: Sendable {
    struct Buckets: Sendable {
        var counts: [UInt64]
        var count: UInt64 = 0
        var sum: Double = 0
        var min: Double = .infinity
        var max: Double = -.infinity

        init(size: Int) { counts = Array(repeating: 0, count: size) }

        mutating func record(_ value: Double, index: Int) {
            counts[index] += 1
            count += 1
            sum += value
            min = Swift.min(min, value)
            max = Swift.max(max, value)
        }
    }

    let bounds: [Double]
    var cumulative: Buckets
    var delta: Buckets

    init(bounds: [Double]) {
        self.bounds = bounds
        cumulative = Buckets(size: bounds.count + 1)
        delta = Buckets(size: bounds.count + 1)
    }

    mutating func record(_ value: Double) {
        // Bucket i holds (bounds[i-1], bounds[i]]: the first bound ≥ value.
        var low = 0
        var high = bounds.count
        while low < high {
            let mid = (low + high) / 2
            if bounds[mid] < value { low = mid + 1 } else { high = mid }
        }
        cumulative.record(value, index: low)
        delta.record(value, index: low)
    }
}

struct GaugeAccumulator: Sendable {
    var value: Double
    var updated: Bool
}

struct ClientAggregationState: Sendable {
    let startTime: UInt64
    var lastCollect: UInt64
    var shutDown = false
    var instruments: [String: ClientInstrumentInfo] = [:]
    var counters: [ClientSeriesKey: SumAccumulator] = [:]
    var histograms: [ClientSeriesKey: HistogramAccumulator] = [:]
    var gauges: [ClientSeriesKey: GaugeAccumulator] = [:]
    var observers: [ClientObserver] = []

    init(startTime: UInt64) {
        self.startTime = startTime
        self.lastCollect = startTime
    }

    func checkOpen() throws(MetricsError) {
        if shutDown { throw MetricsError(code: .shutDown, message: "the metrics client was shut down") }
    }

    mutating func register(_ name: String, kind: ClientInstrumentKind, unit: String, description: String) throws(MetricsError) {
        if let existing = instruments[name] {
            guard existing.kind == kind, existing.unit == unit else {
                throw MetricsError(
                    code: .instrumentConflict,
                    message: "'\(name)' is already a \(existing.kind.label)\(existing.unit.isEmpty ? "" : " in \(existing.unit)"), not a \(kind.label)\(unit.isEmpty ? "" : " in \(unit)")")
            }
            return
        }
        instruments[name] = ClientInstrumentInfo(kind: kind, unit: unit, description: description)
    }

    mutating func collect(
        now: UInt64, temporality: AggregationTemporality, reset: Bool, observed: [(ClientSeriesKey, Double)]
    ) -> [MetricsClient.Metric] {
        let deltaStart = lastCollect
        var sums: [String: [MetricsClient.SumPoint]] = [:]
        for (key, acc) in counters {
            switch temporality {
            case .cumulative:
                sums[key.name, default: []].append(.init(
                    attributes: key.attributes, value: acc.total, startTimeUnixNano: startTime, timeUnixNano: now))
            case .delta:
                guard acc.updated else { continue }
                sums[key.name, default: []].append(.init(
                    attributes: key.attributes, value: acc.sinceCollect, startTimeUnixNano: deltaStart, timeUnixNano: now))
            }
            if reset {
                counters[key]?.sinceCollect = 0
                counters[key]?.updated = false
            }
        }
        var hists: [String: [MetricsClient.HistogramPoint]] = [:]
        for (key, acc) in histograms {
            let buckets: HistogramAccumulator.Buckets
            let start: UInt64
            switch temporality {
            case .cumulative:
                buckets = acc.cumulative
                start = startTime
            case .delta:
                buckets = acc.delta
                start = deltaStart
            }
            if buckets.count > 0 {
                hists[key.name, default: []].append(.init(
                    attributes: key.attributes, count: buckets.count, sum: buckets.sum, min: buckets.min, max: buckets.max,
                    explicitBounds: acc.bounds, bucketCounts: buckets.counts, startTimeUnixNano: start, timeUnixNano: now))
            }
            if reset { histograms[key]?.delta = .init(size: acc.bounds.count + 1) }
        }
        var gaugePoints: [String: [MetricsClient.GaugePoint]] = [:]
        for (key, acc) in gauges where temporality == .cumulative || acc.updated {
            gaugePoints[key.name, default: []].append(.init(attributes: key.attributes, value: acc.value, timeUnixNano: now))
            if reset { gauges[key]?.updated = false }
        }
        for (key, value) in observed {
            gaugePoints[key.name, default: []].append(.init(attributes: key.attributes, value: value, timeUnixNano: now))
        }
        if reset { lastCollect = now }

        func ordered<P>(_ points: [P], _ attributes: (P) -> [String: String]) -> [P] {
            points.sorted { attributes($0).sorted(by: <).description < attributes($1).sorted(by: <).description }
        }
        var metrics: [MetricsClient.Metric] = []
        for (name, info) in instruments {
            let data: MetricsClient.MetricData
            switch info.kind {
            case .counter:
                guard let points = sums[name] else { continue }
                data = .sum(ordered(points, \.attributes), temporality: temporality)
            case .histogram:
                guard let points = hists[name] else { continue }
                data = .histogram(ordered(points, \.attributes), temporality: temporality)
            case .gauge, .observableGauge:
                guard let points = gaugePoints[name] else { continue }
                data = .gauge(ordered(points, \.attributes))
            }
            metrics.append(MetricsClient.Metric(name: name, unit: info.unit, description: info.description, data: data))
        }
        return metrics.sorted { $0.name < $1.name }
    }
}
