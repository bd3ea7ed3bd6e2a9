// MetricsClient collections delivered to the SDK's MetricExporters (in-memory, OTLP, …).

import OTLPSync
import Synchronization

extension MetricsClient.Snapshot {
    /// This snapshot as an SDK metric batch (scope = ``MetricsClient/scopeName``).
    public func metricBatch() -> MetricBatch {
        let scope = InstrumentationScope(name: scopeName)
        func attributes(_ tags: [String: String]) -> [Attribute] {
            tags.keys.sorted().map { Attribute($0, .string(tags[$0] ?? "")) }
        }
        let converted: [MetricData] = metrics.map { metric in
            let points: MetricPoints
            switch metric.data {
            case .sum(let sums, let t):
                points = .sum(isMonotonic: true, temporality: t, points: sums.map {
                    NumberDataPoint(attributes: attributes($0.attributes), startTimeUnixNano: $0.startTimeUnixNano,
                                    timeUnixNano: $0.timeUnixNano, value: .int($0.value))
                })
            case .histogram(let histograms, let t):
                points = .histogram(temporality: t, points: histograms.map {
                    HistogramDataPoint(attributes: attributes($0.attributes), startTimeUnixNano: $0.startTimeUnixNano,
                                       timeUnixNano: $0.timeUnixNano, count: $0.count, sum: $0.sum, min: $0.min,
                                       max: $0.max, explicitBounds: $0.explicitBounds, bucketCounts: $0.bucketCounts)
                })
            case .gauge(let gauges):
                points = .gauge(points: gauges.map {
                    NumberDataPoint(attributes: attributes($0.attributes), startTimeUnixNano: 0,
                                    timeUnixNano: $0.timeUnixNano, value: .double($0.value))
                })
            }
            return MetricData(name: metric.name, description: metric.description, unit: metric.unit, scope: scope, points: points)
        }
        let resourceAttributes = resource.keys.sorted().map { Attribute($0, .string(resource[$0] ?? "")) }
        return MetricBatch(resource: Resource(attributes: resourceAttributes), metrics: converted)
    }
}

/// Delivers a ``MetricsClient``'s collections to SDK ``MetricExporter``s, in order, on one
/// background task (``MetricsClientExporter/export(_:)`` never blocks the caller). Export errors
/// are counted in ``failedExports``. After ``shutdown()`` the queue is drained, then the
/// exporters are shut down; ``finished()`` waits for that.
public final class MetricExporterBridge: MetricsClientExporter {
    private final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    private let continuation: AsyncStream<MetricsClient.Snapshot>.Continuation
    private let worker: Task<Void, Never>
    private let failures = Counter()

    public init(_ exporters: [any MetricExporter]) {
        let (stream, continuation) = AsyncStream<MetricsClient.Snapshot>.makeStream()
        self.continuation = continuation
        let failures = self.failures
        worker = Task.detached(executorPreference: ExportExecutor.shared) { [exporters] in
            for await snapshot in stream {
                let batch = snapshot.metricBatch()
                for exporter in exporters {
                    do { try await exporter.export(batch) } catch { failures.value.add(1, ordering: .relaxed) }
                }
            }
            for exporter in exporters { await exporter.shutdown() }
        }
    }

    public func export(_ snapshot: MetricsClient.Snapshot) throws {
        if case .terminated = continuation.yield(snapshot) {
            throw MetricsError(code: .shutDown, message: "the metric exporter bridge was shut down")
        }
    }

    public func shutdown() { continuation.finish() }

    /// Waits until every queued collection was exported and the exporters were shut down.
    public func finished() async { await worker.value }

    /// How many exports failed so far (counted once per failing exporter and collection).
    public var failedExports: Int { failures.value.load(ordering: .relaxed) }
}
