// Value types of the MetricsClient: errors, snapshots, exporters, bucket layout.

import OTLPSync
import Synchronization
public import Telemetry

/// A metrics client error: an extensible ``Code`` plus what was wrong.
public struct MetricsError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// A metric name is empty or not `[A-Za-z0-9._-]+`.
        public static let invalidName = Code("invalidName")
        /// A tag key is empty or not `[A-Za-z0-9._/-]+`.
        public static let invalidTagKey = Code("invalidTagKey")
        /// A tag value is empty or not `[A-Za-z0-9._/-]+`.
        public static let invalidTagValue = Code("invalidTagValue")
        /// A counter was given a negative increment.
        public static let negativeCounterIncrement = Code("negativeCounterIncrement")
        /// A value is NaN or infinite.
        public static let invalidValue = Code("invalidValue")
        /// The name is already used by an instrument of another kind (or unit).
        public static let instrumentConflict = Code("instrumentConflict")
        /// The client was shut down.
        public static let shutDown = Code("shutDown")
        /// The exporter reported a failure.
        public static let exportFailed = Code("exportFailed")
        /// A flush or shutdown did not complete before its deadline.
        public static let timedOut = Code("timedOut")
        /// A synchronous flush or shutdown of a client on a provider's ``Meter`` was called inside
        /// a Swift concurrency task, where waiting would block a thread of the cooperative pool:
        /// the flush was started and not waited for (await the async variant instead).
        public static let wouldBlock = Code("wouldBlock")
        public var description: String { name }
    }

    public var code: Code
    /// What was wrong.
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "metrics error (\(code)): \(message)" }
}

extension MetricsClient {
    /// The fixed histogram bucket boundaries (upper bounds, inclusive) used by
    /// ``MetricsClient/recordDuration(_:_:tags:)``, in milliseconds: ``DurationBuckets/milliseconds``
    /// (where their layout is explained).
    public static let durationBucketsMilliseconds: [Double] = DurationBuckets.milliseconds

    /// The same boundaries in seconds, for ``MetricsClient/recordDurationSeconds(_:_:tags:)``.
    public static let durationBucketsSeconds: [Double] = DurationBuckets.seconds

    /// The OpenTelemetry SDK's default explicit histogram boundaries (metrics SDK spec,
    /// "Explicit Bucket Histogram Aggregation"), used by plain ``MetricsClient/histogram(_:_:tags:)``.
    public static let defaultHistogramBuckets: [Double] = [
        0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000,
    ]

    /// What one collection of a metrics client holds, in the shape of OTLP's `ResourceMetrics`.
    public struct Snapshot: Sendable, Hashable {
        /// Resource attributes (`service.name`, `service.version`, `env`).
        public var resource: [String: String]
        /// Instrumentation scope name.
        public var scopeName: String
        /// The metrics, sorted by name.
        public var metrics: [Metric]

        /// The metric called `name`, if present.
        public func metric(named name: String) -> Metric? { metrics.first { $0.name == name } }
    }

    /// One metric stream.
    public struct Metric: Sendable, Hashable {
        public var name: String
        public var unit: String
        public var description: String
        public var data: MetricData
    }

    /// A metric's points.
    public enum MetricData: Sendable, Hashable {
        /// A monotonic sum (counter).
        case sum([SumPoint], temporality: AggregationTemporality)
        /// An explicit-bucket histogram.
        case histogram([HistogramPoint], temporality: AggregationTemporality)
        /// A gauge (last value).
        case gauge([GaugePoint])
    }

    /// A counter's value for one tag set.
    public struct SumPoint: Sendable, Hashable {
        public var attributes: [String: String]
        public var value: Int64
        public var startTimeUnixNano: UInt64
        public var timeUnixNano: UInt64
    }

    /// A histogram's buckets for one tag set. `bucketCounts` has one more entry than
    /// `explicitBounds` (the overflow bucket); bucket i counts values in `(bounds[i-1], bounds[i]]`.
    public struct HistogramPoint: Sendable, Hashable {
        public var attributes: [String: String]
        public var count: UInt64
        public var sum: Double
        public var min: Double?
        public var max: Double?
        public var explicitBounds: [Double]
        public var bucketCounts: [UInt64]
        public var startTimeUnixNano: UInt64
        public var timeUnixNano: UInt64
    }

    /// A gauge's value for one tag set.
    public struct GaugePoint: Sendable, Hashable {
        public var attributes: [String: String]
        public var value: Double
        public var timeUnixNano: UInt64
    }

    /// An in-memory exporter for tests: keeps every exported snapshot.
    public final class InMemoryExporter: MetricsClientExporter {
        private let state = LockedValue<(snapshots: [Snapshot], shutDown: Bool)>(([], false))

        public init() {}

        public func export(_ snapshot: Snapshot) throws {
            state.withLock { $0.snapshots.append(snapshot) }
        }

        public func shutdown() {
            state.withLock { $0.shutDown = true }
        }

        /// Every snapshot exported so far, oldest first.
        public var snapshots: [Snapshot] { state.withLock { $0.snapshots } }
        /// Whether ``shutdown()`` was called.
        public var isShutDown: Bool { state.withLock { $0.shutDown } }
        /// Every exported occurrence of metric `name`, oldest first.
        public func metrics(named name: String) -> [Metric] {
            snapshots.compactMap { $0.metric(named: name) }
        }
        /// Forgets what was exported.
        public func reset() { state.withLock { $0.snapshots.removeAll() } }
    }
}

/// Where a ``MetricsClient`` sends its collections.
public protocol MetricsClientExporter: Sendable {
    /// Sends one collection; a thrown error is reported as ``MetricsError/Code/exportFailed``.
    func export(_ snapshot: MetricsClient.Snapshot) throws
    /// Releases resources; called once by ``MetricsClient/shutdown()`` after the final export.
    func shutdown()
}
