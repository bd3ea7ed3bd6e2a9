// MetricsClient: codex-otel's low-level metrics API in Swift, always recording through a
// pipeline's Meter (a provider's, or for a standalone client one it owns).

import Foundation
import OTLPSync
import Synchronization
public import Telemetry
public import TelemetryCore
import TelemetryPipeline

/// A small, validated metrics API: counters, histograms, gauges, observable gauges and
/// durations with fixed buckets, aggregated by a telemetry pipeline and exported periodically,
/// on ``flush()`` and on ``shutdown()``.
///
/// Names must match `[A-Za-z0-9._-]+`; tag keys and values `[A-Za-z0-9._/-]+` (non-empty);
/// violations throw ``MetricsError`` and record nothing. Temporality is delta by default (each
/// export carries what changed since the previous one); cumulative is available.
///
/// Every measurement is one lock-free ring push (or an atomic update) into a pipeline: a
/// provider's (``init(meter:defaultTags:)``), or, for a standalone client
/// (``init(_:)``), a pipeline of its own whose one metric exporter delivers each collection to
/// ``Configuration/exporter`` as a ``Snapshot``.
///
/// ```swift
/// let exporter = MetricsClient.InMemoryExporter()
/// let metrics = try MetricsClient(.inMemory(serviceName: "cli", exporter: exporter))
/// try metrics.counter("codex.turns", tags: ["model": "gpt-5.1"])
/// try metrics.recordDuration("codex.request.duration_ms", .milliseconds(83), tags: ["route": "chat"])
/// try metrics.shutdown()  // flushes into `exporter`
/// ```
public final class MetricsClient: Sendable {
    /// How a standalone client is set up.
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
    /// The instruments by name, on the meter every measurement goes through.
    let meterPath: MeterMetricsPath
    /// What was recorded since the client was created, for ``snapshot()``.
    private let recorded: LockedValue<RecordedMetrics>
    /// The pipeline a standalone client owns; `nil` on a provider's meter.
    private let owned: OwnedPipeline?

    /// Creates a standalone client: a pipeline of its own (its worker aggregates, with
    /// `configuration`'s temporality, interval, clock and resource) exporting to
    /// `configuration.exporter`.
    /// - Throws: ``MetricsError`` when a default tag is invalid.
    public convenience init(_ configuration: Configuration) throws(MetricsError) {
        try Self.validate(defaultTags: configuration.defaultTags)
        let owned = OwnedPipeline(configuration)
        try self.init(configuration, meter: owned.provider.meter(Self.scopeName), owned: owned)
    }

    /// A client recording through `meter` (a ``TelemetryProvider``'s): measurements are lock-free
    /// ring pushes into the provider's pipeline, aggregated there with its temporality and
    /// exported with its interval, resource and exporters. ``flush(timeout:)`` and
    /// ``shutdown(timeout:)`` have the provider's pipeline collect and export the metrics and wait
    /// for it (a typed ``MetricsError`` past the deadline).
    public convenience init(meter: Meter, defaultTags: [String: String] = [:]) throws(MetricsError) {
        try self.init(
            Configuration(
                serviceName: "", defaultTags: defaultTags,
                temporality: meter.pipeline.configuration.metrics.temporality, exportInterval: nil,
                exporter: ProviderOwnedExporter()),
            meter: meter, owned: nil)
    }

    private init(_ configuration: Configuration, meter: Meter, owned: OwnedPipeline?) throws(MetricsError) {
        try Self.validate(defaultTags: configuration.defaultTags)
        self.configuration = configuration
        self.meterPath = MeterMetricsPath(meter: meter)
        self.recorded = LockedValue(RecordedMetrics(startTime: configuration.now()))
        self.owned = owned
    }

    /// How long a standalone client released without ``shutdown()`` waits for its last export.
    static let releaseFlushTimeout: Duration = .seconds(2)

    deinit {
        // Best-effort: a released standalone client exports what is left, as `shutdown()` would.
        if owned != nil, !meterPath.isShutDown { try? shutdownSynchronously(timeout: Self.releaseFlushTimeout) }
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
        let (instrument, info) = try meterPath.instrument(name, kind: .counter, unit: "", description: "")
        if case .counter(let counter) = instrument {
            counter.add(increment, attributes: MeterMetricsPath.attributes(attributes))
        }
        recorded.withLock { $0.add(increment, to: ClientSeriesKey(name: name, attributes: attributes), info) }
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

    /// Registers an observable gauge: `callback` is asked for the value at every collection (on
    /// the pipeline's worker) and by ``snapshot()`` (outside the client's lock, so it may use the
    /// client). A NaN or infinite result is skipped.
    public func observableGauge(
        _ name: String, tags: [String: String] = [:], callback: @escaping @Sendable () -> Double
    ) throws(MetricsError) {
        let attributes = try attributes(name: name, tags: tags)
        let (_, info) = try meterPath.instrument(name, kind: .observableGauge, unit: "", description: "")
        meterPath.addObserver(name, attributes: MeterMetricsPath.attributes(attributes), callback: callback)
        recorded.withLock { $0.observe(ClientSeriesKey(name: name, attributes: attributes), info, callback) }
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

    private func record(
        _ name: String, _ value: Double, tags: [String: String], kind: ClientInstrumentKind, unit: String, description: String
    ) throws(MetricsError) {
        guard value.isFinite else {
            throw MetricsError(code: .invalidValue, message: "metric '\(name)' value \(value) is not finite")
        }
        let attributes = try attributes(name: name, tags: tags)
        let (instrument, info) = try meterPath.instrument(name, kind: kind, unit: unit, description: description)
        switch instrument {
        case .histogram(let histogram): histogram.record(value, attributes: MeterMetricsPath.attributes(attributes))
        case .gauge(let gauge): gauge.record(value, attributes: MeterMetricsPath.attributes(attributes))
        case .counter, .observableGauge: break
        }
        recorded.withLock { $0.record(value, to: ClientSeriesKey(name: name, attributes: attributes), info) }
    }

    // MARK: Collection

    /// What the client recorded since it was created (nothing is collected or exported; the
    /// pipeline's delta state is untouched), labelled with the temporality its exports carry.
    /// Observable gauges are asked for their values. The resource is the pipeline's.
    public func snapshot() -> Snapshot {
        let observers = recorded.withLock { $0.observers }
        var observed: [(ClientSeriesKey, Double)] = []
        for observer in observers {
            let value = observer.callback()
            if value.isFinite { observed.append((observer.key, value)) }
        }
        let now = configuration.now()
        let temporality = configuration.temporality
        let metrics = recorded.withLock { $0.metrics(now: now, temporality: temporality, observed: observed) }
        var resource: [String: String] = [:]
        for attribute in meterPath.meter.pipeline.resource.attributes {
            if case .string(let value) = attribute.value { resource[attribute.key] = value }
        }
        return Snapshot(resource: resource, scopeName: Self.scopeName, metrics: metrics)
    }

    /// Collects (resetting delta state) and exports now, and waits for it (at most 30 s, see
    /// ``flushSynchronously(timeout:)``).
    /// - Throws: ``MetricsError``: `.exportFailed` when a standalone client's exporter fails,
    ///   `.shutDown` after shutdown, `.timedOut`, and on a provider's meter `.wouldBlock`.
    public func flush() throws(MetricsError) {
        try flushSynchronously(timeout: .seconds(30))
    }

    /// Collects and exports now, waiting at most `timeout` on the calling thread.
    ///
    /// A standalone client waits also inside a Swift concurrency task: its pipeline runs on the
    /// library's threads only (its worker and the export threads), so the wait cannot hold up the
    /// work it waits for. On a provider's ``Meter`` it never waits inside a task (the wait would
    /// take a thread of the cooperative pool from the application): the flush is started and
    /// ``MetricsError/Code/wouldBlock`` thrown. Use ``flush(timeout:)`` with `await` there.
    /// - Throws: ``MetricsError``: `.timedOut` past the deadline, `.wouldBlock`, `.shutDown`,
    ///   `.exportFailed`.
    public func flushSynchronously(timeout: Duration) throws(MetricsError) {
        try meterPath.checkOpen()
        if let owned {
            try owned.waitBlocking("flush", timeout: timeout) { try $0.forceFlushSynchronously(timeout: timeout) }
            return
        }
        let pipeline = meterPath.meter.pipeline
        try Self.waitSynchronously(timeout: timeout, what: "flush") { deadline in
            try await pipeline.forceFlush(deadline: deadline)
        }
    }

    /// Collects and exports now, and waits for it: the pipeline (the provider's, on a provider's
    /// ``Meter``) collects and exports the metrics with its exporters (``Pipeline/forceFlush(deadline:)``).
    /// - Throws: ``MetricsError``: `.timedOut` when `timeout` passes first, `.shutDown` after
    ///   shutdown, `.exportFailed` when a standalone client's exporter fails.
    public func flush(timeout: Duration) async throws(MetricsError) {
        try meterPath.checkOpen()
        let pipeline = meterPath.meter.pipeline
        let failuresBefore = owned?.exporter.failures
        try await Self.mapErrors("flush") { try await pipeline.forceFlush(deadline: .now + timeout) }
        if let owned, let failuresBefore { try owned.exporter.checkNoFailure(since: failuresBefore, what: "flush") }
    }

    /// Exports what is left and shuts the exporter down. Idempotent: later calls do nothing;
    /// recording afterwards throws ``MetricsError/Code/shutDown``. Waits at most 30 s (see
    /// ``shutdownSynchronously(timeout:)``).
    ///
    /// On a provider's ``Meter``: stops recording and waits for the provider to collect and
    /// export the metrics; the provider itself keeps running (its own shutdown ends it). See
    /// ``shutdown(timeout:)`` for waiting inside a task.
    public func shutdown() throws(MetricsError) {
        try shutdownSynchronously(timeout: .seconds(30))
    }

    /// ``shutdown()`` waiting at most `timeout`, for callers outside async code (codex-otel's
    /// synchronous `MetricsClient::shutdown()`). A standalone client shuts its pipeline down and
    /// waits (also inside a task, as ``flushSynchronously(timeout:)`` explains). Inside a Swift
    /// concurrency task a client on a provider's meter never waits: it stops recording, starts
    /// the flush and throws ``MetricsError/Code/wouldBlock``; await ``shutdown(timeout:)`` there.
    /// - Throws: ``MetricsError``: `.timedOut`, `.wouldBlock`, `.exportFailed`.
    public func shutdownSynchronously(timeout: Duration) throws(MetricsError) {
        guard markShutDown() else { return }
        if let owned {
            try owned.waitBlocking("shutdown", timeout: timeout) { try $0.shutdownSynchronously(timeout: timeout) }
            return
        }
        let pipeline = meterPath.meter.pipeline
        try Self.waitSynchronously(timeout: timeout, what: "shutdown") { deadline in
            try await pipeline.forceFlush(deadline: deadline)
        }
    }

    /// Stops recording, exports what is left and waits for it (at most `timeout`). Idempotent.
    /// A standalone client also shuts its pipeline and exporter down.
    /// - Throws: ``MetricsError``: `.timedOut` when `timeout` passes first, `.exportFailed` when a
    ///   standalone client's exporter fails.
    public func shutdown(timeout: Duration) async throws(MetricsError) {
        guard markShutDown() else { return }
        let pipeline = meterPath.meter.pipeline
        guard let owned else {
            try await Self.mapErrors("shutdown") { try await pipeline.forceFlush(deadline: .now + timeout) }
            return
        }
        let failuresBefore = owned.exporter.failures
        try await Self.mapErrors("shutdown") { try await pipeline.shutdown(deadline: .now + timeout) }
        try owned.exporter.checkNoFailure(since: failuresBefore, what: "shutdown")
    }

    /// Stops recording without exporting (the owner exports, e.g. a provider shutting down).
    /// - Returns: whether this call did it (`false` when already shut down).
    @discardableResult
    func markShutDown() -> Bool {
        meterPath.markShutDown()
    }

    private static func mapErrors(_ what: String, _ body: () async throws -> Void) async throws(MetricsError) {
        do {
            try await body()
        } catch {
            throw metricsError(error, what)
        }
    }

    /// A pipeline error as the client reports it.
    static func metricsError(_ error: any Error, _ what: String) -> MetricsError {
        if let error = error as? TelemetryError, error.code == .timedOut {
            return MetricsError(code: .timedOut, message: "metrics \(what) did not complete before its deadline")
        }
        return MetricsError(code: .exportFailed, message: "metrics \(what): \(error)")
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

    // MARK: Validation

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

    private static func validate(defaultTags: [String: String]) throws(MetricsError) {
        for (key, value) in defaultTags {
            try validateTag(key: key, value: value)
        }
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

// MARK: What snapshot() reads (guarded by the client's lock)

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

/// An instrument's kind, unit and description, as the snapshot reports them.
struct ClientInstrumentInfo: Sendable {
    var kind: ClientInstrumentKind
    var unit: String
    var description: String
}

struct ClientObserver: Sendable {
    var key: ClientSeriesKey
    var callback: @Sendable () -> Double
}

/// A histogram's totals for one tag set: bucket i holds `(bounds[i-1], bounds[i]]`.
struct HistogramTotals: Sendable {
    let bounds: [Double]
    var counts: [UInt64]
    var count: UInt64 = 0
    var sum: Double = 0
    var min: Double = .infinity
    var max: Double = -.infinity

    init(bounds: [Double]) {
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count + 1)
    }

    mutating func record(_ value: Double) {
        // The first bound ≥ value.
        var low = 0
        var high = bounds.count
        while low < high {
            let mid = (low + high) / 2
            if bounds[mid] < value { low = mid + 1 } else { high = mid }
        }
        counts[low] += 1
        count += 1
        sum += value
        min = Swift.min(min, value)
        max = Swift.max(max, value)
    }
}

/// Everything a client recorded since it was created: the pipeline aggregates for export, and
/// this running copy answers ``MetricsClient/snapshot()`` without collecting (session metrics
/// are per event, not per span, so its lock is off the hot path).
struct RecordedMetrics: Sendable {
    let startTime: UInt64
    var instruments: [String: ClientInstrumentInfo] = [:]
    var counters: [ClientSeriesKey: Int64] = [:]
    var histograms: [ClientSeriesKey: HistogramTotals] = [:]
    var gauges: [ClientSeriesKey: Double] = [:]
    var observers: [ClientObserver] = []

    init(startTime: UInt64) { self.startTime = startTime }

    mutating func add(_ increment: Int64, to key: ClientSeriesKey, _ info: ClientInstrumentInfo) {
        instruments[key.name] = info
        let (total, overflow) = counters[key, default: 0].addingReportingOverflow(increment)
        counters[key] = overflow ? .max : total
    }

    mutating func record(_ value: Double, to key: ClientSeriesKey, _ info: ClientInstrumentInfo) {
        instruments[key.name] = info
        switch info.kind {
        case .histogram(let bounds): histograms[key, default: HistogramTotals(bounds: bounds)].record(value)
        case .gauge: gauges[key] = value
        case .counter, .observableGauge: break
        }
    }

    mutating func observe(_ key: ClientSeriesKey, _ info: ClientInstrumentInfo, _ callback: @escaping @Sendable () -> Double) {
        instruments[key.name] = info
        observers.append(ClientObserver(key: key, callback: callback))
    }

    func metrics(now: UInt64, temporality: AggregationTemporality, observed: [(ClientSeriesKey, Double)]) -> [MetricsClient.Metric] {
        var sums: [String: [MetricsClient.SumPoint]] = [:]
        for (key, total) in counters {
            sums[key.name, default: []].append(.init(
                attributes: key.attributes, value: total, startTimeUnixNano: startTime, timeUnixNano: now))
        }
        var hists: [String: [MetricsClient.HistogramPoint]] = [:]
        for (key, totals) in histograms {
            hists[key.name, default: []].append(.init(
                attributes: key.attributes, count: totals.count, sum: totals.sum, min: totals.min, max: totals.max,
                explicitBounds: totals.bounds, bucketCounts: totals.counts, startTimeUnixNano: startTime, timeUnixNano: now))
        }
        var gaugePoints: [String: [MetricsClient.GaugePoint]] = [:]
        for (key, value) in gauges {
            gaugePoints[key.name, default: []].append(.init(attributes: key.attributes, value: value, timeUnixNano: now))
        }
        for (key, value) in observed {
            gaugePoints[key.name, default: []].append(.init(attributes: key.attributes, value: value, timeUnixNano: now))
        }
        var metrics: [MetricsClient.Metric] = []
        for (name, info) in instruments {
            let data: MetricsClient.MetricData
            switch info.kind {
            case .counter:
                guard let points = sums[name] else { continue }
                data = .sum(MetricsClient.ordered(points, \.attributes), temporality: temporality)
            case .histogram:
                guard let points = hists[name] else { continue }
                data = .histogram(MetricsClient.ordered(points, \.attributes), temporality: temporality)
            case .gauge, .observableGauge:
                guard let points = gaugePoints[name] else { continue }
                data = .gauge(MetricsClient.ordered(points, \.attributes))
            }
            metrics.append(MetricsClient.Metric(name: name, unit: info.unit, description: info.description, data: data))
        }
        return metrics.sorted { $0.name < $1.name }
    }
}

extension MetricsClient {
    /// `points` in a stable order: by their sorted tags.
    static func ordered<P>(_ points: [P], _ attributes: (P) -> [String: String]) -> [P] {
        points.sorted { attributes($0).sorted(by: <).description < attributes($1).sorted(by: <).description }
    }
}
