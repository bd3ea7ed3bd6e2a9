// A standalone MetricsClient's pipeline: a provider of its own whose one metric exporter hands
// each collection to the client's exporter as a Snapshot. Aggregation, temporality, the export
// interval, flush and shutdown are the pipeline's.

import OTLPSync
import Telemetry
import TelemetryCore
import TelemetryPipeline

/// The pipeline a standalone ``MetricsClient`` owns.
final class OwnedPipeline: Sendable {
    let provider: TelemetryProvider
    let exporter: SnapshotExporter

    /// An interval the worker never reaches: a client without `exportInterval` exports only on
    /// flush and shutdown.
    static let noPeriodicExport: Duration = .seconds(100 * 365 * 86_400)

    init(_ configuration: MetricsClient.Configuration) {
        exporter = SnapshotExporter(configuration.exporter)
        var pipeline = PipelineConfiguration()
        pipeline.metrics.temporality = configuration.temporality
        if let interval = configuration.exportInterval, interval > .zero {
            pipeline.metrics.exportInterval = interval
        } else {
            pipeline.metrics.exportInterval = Self.noPeriodicExport
        }
        pipeline.clock = InjectedWallClock(now: configuration.now)
        // The pipeline carries metrics only: small span and log queues.
        pipeline.traces = PipelineConfiguration.Batching(maxQueueSize: 16, maxExportBatchSize: 16, scheduledDelay: .seconds(5))
        pipeline.logs = PipelineConfiguration.Batching(maxQueueSize: 16, maxExportBatchSize: 16, scheduledDelay: .seconds(1))
        // Export failures reach the caller as `MetricsError.exportFailed` from flush and shutdown.
        pipeline.diagnostics = { _ in }
        let resource = Resource(attributes: [
            Attribute("service.name", .string(configuration.serviceName)),
            Attribute("service.version", .string(configuration.serviceVersion)),
            Attribute("env", .string(configuration.environment)),
        ])
        provider = TelemetryProvider(
            resource: resource, metricExporters: [exporter], configuration: pipeline, deinitFlushTimeout: .zero)
    }

    /// Runs a blocking flush or shutdown of the pipeline (`work`) and reports it as the client
    /// does: a pipeline error as ``MetricsError``, an export the exporter failed meanwhile as
    /// ``MetricsError/Code/exportFailed``.
    func waitBlocking(_ what: String, timeout: Duration, _ work: (Pipeline) throws -> Void) throws(MetricsError) {
        let failuresBefore = exporter.failures
        do {
            try work(provider.pipeline)
        } catch {
            throw MetricsClient.metricsError(error, what)
        }
        try exporter.checkNoFailure(since: failuresBefore, what: what)
    }
}

/// The configured wall clock as the pipeline's timestamp source.
struct InjectedWallClock: TelemetryClock {
    let now: @Sendable () -> UInt64
    func nowUnixNano() -> UInt64 { now() }
}

/// The standalone client's pipeline exporter: each collection as a ``MetricsClient/Snapshot`` to
/// the client's ``MetricsClientExporter`` (empty collections are not exported). Counts failures,
/// so a flush can tell that the export it waited for failed.
final class SnapshotExporter: MetricExporter {
    private let exporter: any MetricsClientExporter
    private let failed = LockedValue<(count: Int, last: String)>((0, ""))

    init(_ exporter: any MetricsClientExporter) { self.exporter = exporter }

    func export(_ batch: MetricBatch) async throws {
        let snapshot = MetricsClient.Snapshot(batch)
        guard !snapshot.metrics.isEmpty else { return }
        do {
            try exporter.export(snapshot)
        } catch {
            failed.withLock { $0 = ($0.count + 1, "\(error)") }
            throw error
        }
    }

    func shutdown() async { exporter.shutdown() }

    /// Exports failed so far.
    var failures: Int { failed.withLock { $0.count } }

    /// Throws ``MetricsError/Code/exportFailed`` when an export failed after `failures` were counted.
    func checkNoFailure(since failures: Int, what: String) throws(MetricsError) {
        let (count, last) = failed.withLock { $0 }
        if count > failures { throw MetricsError(code: .exportFailed, message: "metrics \(what): \(last)") }
    }
}

extension MetricsClient.Snapshot {
    /// A pipeline collection in the client's shape: string tags, sums and gauges, explicit-bucket
    /// histograms (the only kinds a client makes), metrics by name, points by their tags.
    init(_ batch: MetricBatch) {
        func tags(_ attributes: [Attribute]) -> [String: String] {
            var tags: [String: String] = [:]
            for attribute in attributes {
                if case .string(let value) = attribute.value { tags[attribute.key] = value } else { tags[attribute.key] = "\(attribute.value)" }
            }
            return tags
        }
        var resource: [String: String] = [:]
        for attribute in batch.resource.attributes {
            if case .string(let value) = attribute.value { resource[attribute.key] = value }
        }
        let metrics = batch.metrics.compactMap { metric -> MetricsClient.Metric? in
            let data: MetricsClient.MetricData
            switch metric.points {
            case .sum(_, let temporality, let points):
                data = .sum(MetricsClient.ordered(points.map { point in
                    let value: Int64
                    switch point.value {
                    case .int(let int): value = int
                    case .double(let double): value = Int64(exactly: double.rounded()) ?? .max
                    }
                    return MetricsClient.SumPoint(
                        attributes: tags(point.attributes), value: value, startTimeUnixNano: point.startTimeUnixNano,
                        timeUnixNano: point.timeUnixNano)
                }, \.attributes), temporality: temporality)
            case .histogram(let temporality, let points):
                data = .histogram(MetricsClient.ordered(points.map { point in
                    MetricsClient.HistogramPoint(
                        attributes: tags(point.attributes), count: point.count, sum: point.sum, min: point.min, max: point.max,
                        explicitBounds: point.explicitBounds, bucketCounts: point.bucketCounts,
                        startTimeUnixNano: point.startTimeUnixNano, timeUnixNano: point.timeUnixNano)
                }, \.attributes), temporality: temporality)
            case .gauge(let points):
                data = .gauge(MetricsClient.ordered(points.map { point in
                    MetricsClient.GaugePoint(
                        attributes: tags(point.attributes), value: point.value.doubleValue, timeUnixNano: point.timeUnixNano)
                }, \.attributes))
            case .exponentialHistogram:
                return nil
            }
            return MetricsClient.Metric(name: metric.name, unit: metric.unit, description: metric.description, data: data)
        }
        self.init(resource: resource, scopeName: MetricsClient.scopeName, metrics: metrics.sorted { $0.name < $1.name })
    }
}
