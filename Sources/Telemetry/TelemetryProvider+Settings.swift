// A provider built from `TelemetrySettings` (issue 6 item 2): per-signal exporters (OTLP/gRPC,
// OTLP/HTTP protobuf or JSON, in-memory), a MetricsClient for session metrics, a process-wide
// default, and one shutdown that flushes everything.

import OTLPSync
import OTLPExporter
import Synchronization
import TelemetryPipeline

/// Everything a ``TelemetrySettings`` value asks for, wired together: a ``TelemetryProvider``
/// (tracer, meter, logger over the one pipeline), a ``MetricsClient`` for session metrics sharing
/// the metric exporter, and the in-memory exporters when a signal is configured `inMemory`.
///
/// ```swift
/// var settings = TelemetrySettings(serviceName: "my-agent")
/// settings.traceExporter = .otlpGRPC(signal: .traces, endpoint: "http://localhost:4317")
/// guard let telemetry = try TelemetryProvider.make(settings: settings) else { return }  // all none
/// telemetry.installAsDefault()
/// let session = telemetry.sessionTelemetry(metadata: metadata)
/// try await telemetry.shutdown(timeout: .seconds(5))
/// ```
public final class ConfiguredTelemetry: Sendable {
    /// The settings this was built from.
    public let settings: TelemetrySettings
    /// Tracers, meters and loggers; spans and log records go to the configured exporters.
    public let provider: TelemetryProvider
    /// Session metrics (``SessionTelemetry``'s counters and histograms); `nil` when the metrics
    /// exporter is `none`.
    public let metrics: MetricsClient?
    /// Spans kept when `traceExporter` is ``TelemetryExporter/inMemory``.
    public let inMemorySpans: InMemorySpanExporter?
    /// Log records kept when `logExporter` is ``TelemetryExporter/inMemory``.
    public let inMemoryLogs: InMemoryLogExporter?
    /// Metric batches (provider meters and the metrics client) kept when `metricsExporter` is
    /// ``TelemetryExporter/inMemory``.
    public let inMemoryMetrics: InMemoryMetricExporter?
    /// The OTLP exporters built from the settings (for their ``OTLPExportCounts``).
    public let otlpExporters: [OTLPSignalExporter]
    private let bridge: MetricExporterBridge?
    private let shutDown = LockedValue(false)

    init(settings: TelemetrySettings, pipelineConfiguration: PipelineConfiguration, exportOptions: OTLPExportOptions) throws {
        self.settings = settings
        var otlp: [OTLPSignalExporter] = []

        var spanExporters: [any SpanExporter] = []
        var spans: InMemorySpanExporter?
        switch settings.traceExporter {
        case .none: break
        case .inMemory: let e = InMemorySpanExporter(); spans = e; spanExporters.append(e)
        case .otlp(let configuration):
            let e = try OTLPSpanExporter(configuration: configuration, options: exportOptions)
            otlp.append(e.exporter); spanExporters.append(e)
        }
        var logExporters: [any LogExporter] = []
        var logs: InMemoryLogExporter?
        switch settings.logExporter {
        case .none: break
        case .inMemory: let e = InMemoryLogExporter(); logs = e; logExporters.append(e)
        case .otlp(let configuration):
            let e = try OTLPLogExporter(configuration: configuration, options: exportOptions)
            otlp.append(e.exporter); logExporters.append(e)
        }
        var metricExporters: [any MetricExporter] = []
        var metricsMemory: InMemoryMetricExporter?
        switch settings.metricsExporter {
        case .none: break
        case .inMemory: let e = InMemoryMetricExporter(); metricsMemory = e; metricExporters.append(e)
        case .otlp(let configuration):
            let e = try OTLPMetricExporter(configuration: configuration, options: exportOptions)
            otlp.append(e.exporter); metricExporters.append(e)
        }

        var configuration = pipelineConfiguration
        configuration.metrics.exportInterval = settings.metricExportInterval
        configuration.metrics.temporality = settings.metricsTemporality == .delta ? .delta : .cumulative
        let resource = Resource(
            serviceName: settings.serviceName, serviceVersion: settings.serviceVersion,
            deploymentEnvironment: settings.environment)
        provider = TelemetryProvider(
            resource: resource, spanExporters: spanExporters, metricExporters: metricExporters,
            logExporters: logExporters, configuration: configuration,
            spanAttributes: settings.spanAttributes.sorted { $0.key < $1.key }.map { Attribute($0.key, .string($0.value)) })

        if metricExporters.isEmpty {
            bridge = nil
            metrics = nil
        } else {
            // The provider's pipeline owns (and shuts down) the exporters; the bridge only forwards.
            let bridge = MetricExporterBridge(metricExporters.map { ForwardingMetricExporter(base: $0) })
            self.bridge = bridge
            do {
                metrics = try MetricsClient(MetricsClient.Configuration(
                    environment: settings.environment, serviceName: settings.serviceName,
                    serviceVersion: settings.serviceVersion, temporality: settings.metricsTemporality,
                    exportInterval: settings.metricExportInterval, exporter: bridge))
            } catch {
                bridge.shutdown()
                throw error
            }
        }
        inMemorySpans = spans
        inMemoryLogs = logs
        inMemoryMetrics = metricsMemory
        otlpExporters = otlp
    }

    deinit {
        // Best effort: stop periodic metric collection; the pipeline flushes on its own shutdown.
        if !shutDown.withLock({ $0 }) {
            try? metrics?.shutdown()
            bridge?.shutdown()
        }
    }

    /// Session telemetry whose events go to this provider and whose metrics go to ``metrics``,
    /// with the settings' namespace and prompt-logging choice.
    public func sessionTelemetry(metadata: SessionMetadata, metricsUseMetadataTags: Bool = true) -> SessionTelemetry {
        var metadata = metadata
        metadata.logUserPrompts = metadata.logUserPrompts && settings.logUserPrompts
        if metadata.serviceName == nil { metadata.serviceName = settings.serviceName }
        return SessionTelemetry(
            metadata: metadata, provider: provider, namespace: settings.namespace, metrics: metrics,
            metricsUseMetadataTags: metricsUseMetadataTags)
    }

    // MARK: Process-wide default

    private static let installed = LockedValue<ConfiguredTelemetry?>(nil)

    /// The process-wide default set by ``installAsDefault()``, if any.
    public static var current: ConfiguredTelemetry? { installed.withLock { $0 } }

    /// Makes this the process-wide default (``current``), replacing any earlier one.
    public func installAsDefault() {
        Self.installed.withLock { $0 = self }
    }

    /// Clears ``current`` if it is this instance.
    public func uninstallAsDefault() {
        Self.installed.withLock { if $0 === self { $0 = nil } }
    }

    // MARK: Shutdown

    /// Collects and exports the session metrics, then exports everything the provider accepted and
    /// shuts every exporter down. Idempotent (later calls return at once). Throws
    /// ``TelemetryError`` with code `timedOut` when `deadline` passes first.
    public func shutdown(deadline: ContinuousClock.Instant) async throws {
        let first = shutDown.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        uninstallAsDefault()
        if let metrics, let bridge {
            try? metrics.shutdown()  // collects once more and hands the snapshot to the bridge
            bridge.shutdown()
            try await Self.wait(for: { await bridge.finished() }, until: deadline)
        }
        try await provider.shutdown(deadline: deadline)
    }

    /// ``shutdown(deadline:)`` with a deadline `timeout` from now.
    public func shutdown(timeout: Duration = .seconds(30)) async throws {
        try await shutdown(deadline: .now + timeout)
    }

    private static func wait(for work: @escaping @Sendable () async -> Void, until deadline: ContinuousClock.Instant) async throws {
        let finished = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { await work(); return true }
            group.addTask { try await Task.sleep(until: deadline, clock: .continuous); return false }
            let first = try await group.next() ?? false
            group.cancelAll()
            return first
        }
        if !finished {
            throw TelemetryError(code: .timedOut, message: "telemetry shutdown: the metrics client did not flush before the deadline")
        }
    }
}

/// Forwards exports to `base` without ever shutting it down (its owner does that).
private struct ForwardingMetricExporter: MetricExporter {
    let base: any MetricExporter
    func export(_ batch: MetricBatch) async throws { try await base.export(batch) }
    func forceFlush() async throws { try await base.forceFlush() }
    func shutdown() async {}
}

extension TelemetryProvider {
    /// Builds the provider, exporters and metrics client `settings` asks for; `nil` when every
    /// exporter is ``TelemetryExporter/none``. Throws ``TelemetrySettingsError`` for invalid
    /// settings (see ``TelemetrySettings/validate()``) and the exporters' configuration errors.
    /// - Parameters:
    ///   - pipelineConfiguration: queue and batch sizes and delays (the metric interval and
    ///     temporality come from `settings`).
    ///   - exportOptions: concurrency, header provider and diagnostics of the OTLP exporters.
    public static func make(
        settings: TelemetrySettings, pipelineConfiguration: PipelineConfiguration = PipelineConfiguration(),
        exportOptions: OTLPExportOptions = OTLPExportOptions()
    ) throws -> ConfiguredTelemetry? {
        if settings.allExportersDisabled { return nil }
        try settings.validate()
        return try ConfiguredTelemetry(settings: settings, pipelineConfiguration: pipelineConfiguration, exportOptions: exportOptions)
    }
}
