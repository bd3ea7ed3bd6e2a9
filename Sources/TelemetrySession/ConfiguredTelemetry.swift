// A provider built from `TelemetrySettings`: per-signal exporters (OTLP/gRPC,
// OTLP/HTTP protobuf or JSON, in-memory), a MetricsClient for session metrics on the provider's
// Meter, a process-wide default, and one shutdown that flushes everything.

public import OTLPExporter
import OTLPSync
import Synchronization
public import Telemetry
public import TelemetryCore
import TelemetryPipeline

/// Everything a ``TelemetrySettings`` value asks for, wired together: a ``TelemetryProvider``
/// (tracer, meter, logger over the one pipeline), a ``MetricsClient`` for session metrics on the
/// provider's ``Meter`` (scope ``MetricsClient/scopeName``; ``MetricsClient/init(meter:defaultTags:)``),
/// and the in-memory exporters when a signal is configured `inMemory`.
///
/// ```swift
/// var settings = TelemetrySettings(serviceName: "my-agent")
/// settings.traceExporter = .otlpGRPC(signal: .traces, endpoint: "http://localhost:4317")
/// guard let telemetry = try TelemetryProvider.make(settings: settings, installAsDefault: .all) else { return }  // all none
/// Logger(label: "app").info("up")                       // swift-log → OTLP log records
/// InstrumentationSystem.tracer.withSpan("turn") { _ in } // swift-distributed-tracing → OTLP spans
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
    /// Where pre-session start-up phases are recorded (``StartupRecorder/shared`` unless given to
    /// ``TelemetryProvider/make(settings:pipelineConfiguration:exportOptions:installAsDefault:startupRecorder:)``):
    /// the first session takes them over; ``shutdown(deadline:)`` exports any left.
    public let startupRecorder: StartupRecorder
    private let shutDown = LockedValue(false)
    /// The tracer of `DistributedTracer.processDefault` while this is the default (scope
    /// `swift-distributed-tracing`).
    let distributedTracingTracer: Tracer
    /// The meter of `TelemetryMetricsFactory.processDefault` while this is the default (scope
    /// `swift-metrics`).
    let swiftMetricsMeter: Meter

    init(
        settings: TelemetrySettings, pipelineConfiguration: PipelineConfiguration, exportOptions: OTLPExportOptions,
        startupRecorder: StartupRecorder = .shared
    ) throws {
        self.settings = settings
        self.startupRecorder = startupRecorder
        var otlp: [OTLPSignalExporter] = []

        var spanExporters: [any SpanExporter] = []
        var spans: InMemorySpanExporter?
        switch settings.traceExporter {
        case .none: break
        case .inMemory: let e = InMemorySpanExporter(); spans = e; spanExporters.append(e)
        case .otlp(let configuration):
            let bounded = configuration.boundingExport(by: settings.spanProcessor.exportTimeout)
            let e = try OTLPSpanExporter(configuration: bounded, options: exportOptions)
            otlp.append(e.exporter); spanExporters.append(e)
        }
        var logExporters: [any LogExporter] = []
        var logs: InMemoryLogExporter?
        switch settings.logExporter {
        case .none: break
        case .inMemory: let e = InMemoryLogExporter(); logs = e; logExporters.append(e)
        case .otlp(let configuration):
            let bounded = configuration.boundingExport(by: settings.logProcessor.exportTimeout)
            let e = try OTLPLogExporter(configuration: bounded, options: exportOptions)
            otlp.append(e.exporter); logExporters.append(e)
        }
        var metricExporters: [any MetricExporter] = []
        var metricsMemory: InMemoryMetricExporter?
        switch settings.metricsExporter {
        case .none: break
        case .inMemory: let e = InMemoryMetricExporter(); metricsMemory = e; metricExporters.append(e)
        case .otlp(let configuration):
            let bounded = configuration.boundingExport(by: settings.metricExportTimeout)
            let e = try OTLPMetricExporter(configuration: bounded, options: exportOptions)
            otlp.append(e.exporter); metricExporters.append(e)
        }

        var configuration = pipelineConfiguration
        configuration.metrics.exportInterval = settings.metricExportInterval
        configuration.metrics.temporality = settings.metricsTemporality == .delta ? .delta : .cumulative
        Self.apply(settings.spanProcessor, to: &configuration.traces)
        Self.apply(settings.logProcessor, to: &configuration.logs)
        let extraResource = settings.resourceAttributes
            .filter { !TelemetrySettings.resourceKeysOfOwnSettings.contains($0.key) }
            .sorted { $0.key < $1.key }.map { Attribute($0.key, .string($0.value)) }
        let resource = Resource(
            serviceName: settings.serviceName, serviceVersion: settings.serviceVersion,
            deploymentEnvironment: settings.environment, attributes: extraResource)
        provider = TelemetryProvider(
            resource: resource, spanExporters: spanExporters, metricExporters: metricExporters,
            logExporters: logExporters, configuration: configuration, sampler: settings.sampler,
            limits: settings.spanLimits,
            spanAttributes: settings.spanAttributes.sorted { $0.key < $1.key }.map { Attribute($0.key, .string($0.value)) },
            tracestate: settings.tracestate, deinitFlushTimeout: .zero, logRecordLimits: settings.logRecordLimits)
        distributedTracingTracer = provider.tracer("swift-distributed-tracing")
        swiftMetricsMeter = provider.meter("swift-metrics")

        // Session metrics record through the provider's pipeline (its temporality and interval
        // come from the settings above).
        metrics = metricExporters.isEmpty ? nil : try MetricsClient(meter: provider.meter(MetricsClient.scopeName))
        inMemorySpans = spans
        inMemoryLogs = logs
        inMemoryMetrics = metricsMemory
        otlpExporters = otlp
    }

    /// How long `deinit` waits for its best-effort flush when ``shutdown(deadline:)`` was not
    /// called: the session metrics are collected and exported, then the provider shut down, in a
    /// detached task bounded by this time (pre-session start-up phases no session took over are
    /// emitted first). Nothing happens after an explicit shutdown.
    public static let deinitFlushTimeout: Duration = .seconds(2)

    deinit {
        let first = shutDown.withLock { done in
            defer { done = true }
            return !done
        }
        let provider = provider
        if first, !provider.pipeline.isShutDown { emitPendingStartupPhases() }
        TelemetryProvider.bestEffortShutdown(timeout: Self.deinitFlushTimeout) { deadline in
            try await provider.shutdown(deadline: deadline)
        } skipIf: { !first || provider.pipeline.isShutDown }
    }

    /// A batch processor's settings as the pipeline's batching of that signal.
    static func apply(_ processor: OTLPBatchProcessorConfiguration, to batching: inout PipelineConfiguration.Batching) {
        batching = PipelineConfiguration.Batching(
            maxQueueSize: processor.maxQueueSize, maxExportBatchSize: processor.maxExportBatchSize,
            scheduledDelay: processor.scheduleDelay, maxConcurrentExports: batching.maxConcurrentExports)
    }

    /// A swift-distributed-tracing tracer over this provider that injects and extracts the
    /// headers of ``TelemetrySettings/propagators``.
    public func distributedTracer(scope: String = "swift-distributed-tracing") -> DistributedTracer {
        DistributedTracer(provider.tracer(scope), propagators: settings.propagators)
    }

    /// Session telemetry whose events go to this provider and whose metrics go to ``metrics``,
    /// with the settings' namespace, prompt-logging choice and runtime metrics
    /// (``SessionTelemetry/runtimeMetricsSummary()`` when ``TelemetrySettings/runtimeMetrics``).
    public func sessionTelemetry(metadata: SessionMetadata, metricsUseMetadataTags: Bool = true) -> SessionTelemetry {
        var metadata = metadata
        metadata.logUserPrompts = metadata.logUserPrompts && settings.logUserPrompts
        if metadata.serviceName == nil { metadata.serviceName = settings.serviceName }
        return SessionTelemetry(
            metadata: metadata, provider: provider, namespace: settings.namespace, metrics: metrics,
            metricsUseMetadataTags: metricsUseMetadataTags, runtimeMetrics: settings.runtimeMetrics,
            startupRecorder: startupRecorder)
    }

    /// Emits the pre-session start-up phases no session took over (a process that never created
    /// one), with the service's name and version as the only metadata.
    func emitPendingStartupPhases() {
        guard !startupRecorder.pendingPhases.isEmpty else { return }
        let (phases, _) = startupRecorder.takeOver()
        let metadata = SessionMetadata(
            sessionID: "", model: "", slug: "", originator: settings.serviceName, sessionSource: "process",
            appVersion: settings.serviceVersion, serviceName: settings.serviceName)
        let emitter = SessionTelemetry(
            metadata: metadata, provider: provider, namespace: settings.namespace, metrics: metrics,
            metricsUseMetadataTags: true, runtimeMetrics: false)
        emitter.emitPreSessionPhases(phases, processStart: startupRecorder.processStartUnixNano)
    }

    // MARK: Process-wide default

    /// The process-wide default set by ``installAsDefault(backends:)``, if any.
    public static var current: ConfiguredTelemetry? { ProcessDefaultTelemetry.current?.owner as? ConfiguredTelemetry }

    /// The ecosystem systems this process has bootstrapped with the forwarding back-ends (each at
    /// most once: `LoggingSystem`, `MetricsSystem` and `InstrumentationSystem` allow one bootstrap).
    public static var bootstrappedBackends: ProcessDefaultBackends { ProcessDefaultTelemetry.bootstrappedBackends }

    /// Makes this the process-wide default (``current``), replacing any earlier one, and the
    /// first time each of `backends` is asked for, bootstraps that swift-log / swift-metrics /
    /// swift-distributed-tracing system with a back-end that follows ``current``:
    /// ``TelemetryLogHandler/processDefault(label:logLevel:metadataProvider:)``,
    /// ``TelemetryMetricsFactory/processDefault``, ``DistributedTracer/processDefault``.
    ///
    /// Because those systems can be bootstrapped only once per process, the back-ends forward to
    /// whichever provider is current: a later `installAsDefault` (e.g. a new provider after a
    /// shutdown) takes effect without bootstrapping again. After ``shutdown(deadline:)`` (which
    /// uninstalls) logs go to standard error, metrics and spans nowhere. Pass `[]` when the
    /// application bootstraps those systems itself (e.g. with a `MultiplexLogHandler` containing
    /// ``TelemetryLogHandler``): bootstrapping one twice is a crash in those libraries.
    /// swift-metrics handlers bind to the provider current when they are made.
    public func installAsDefault(backends: ProcessDefaultBackends = .all) {
        ProcessDefaultTelemetry.install(
            ProcessDefaultTelemetry(
                provider: provider, propagators: settings.propagators, distributedTracingTracer: distributedTracingTracer,
                swiftMetricsMeter: swiftMetricsMeter, owner: self),
            backends: backends)
    }

    /// Clears ``current`` if it is this instance.
    public func uninstallAsDefault() {
        ProcessDefaultTelemetry.uninstall(owner: self)
    }

    // MARK: Shutdown

    /// Exports everything the provider accepted (session metrics included: they are collected one
    /// last time) and shuts every exporter down. Idempotent (later calls return at once). Throws
    /// ``TelemetryError`` with code `timedOut` when `deadline` passes first.
    public func shutdown(deadline: ContinuousClock.Instant) async throws {
        let first = shutDown.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        uninstallAsDefault()
        emitPendingStartupPhases()
        try await provider.shutdown(deadline: deadline)
        metrics?.markShutDown()  // the provider exported them; later session metrics are counted warnings
    }

    /// ``shutdown(deadline:)`` with a deadline `timeout` from now.
    public func shutdown(timeout: Duration = .seconds(30)) async throws {
        try await shutdown(deadline: .now + timeout)
    }

    /// ``shutdown(deadline:)`` for callers outside async code (codex-otel's synchronous
    /// `OtelProvider::shutdown()`): on a plain thread it waits at most `timeout`. Inside a Swift
    /// concurrency task it never waits (blocking a cooperative thread could starve the export
    /// itself): the shutdown is started and ``TelemetryError`` with code `wouldBlock` thrown; await
    /// ``shutdown(timeout:)`` there.
    /// - Throws: ``TelemetryError``: `timedOut` past the deadline, `wouldBlock` inside a task.
    public func shutdownSynchronously(timeout: Duration = .seconds(30)) throws {
        let deadline = ContinuousClock.now + timeout
        switch BlockingWait.run(timeout: timeout, { [self] in try await shutdown(deadline: deadline) }) {
        case .finished(nil): return
        case .finished(let error?): throw error
        case .timedOut:
            throw TelemetryError(code: .timedOut, message: "shutdown did not complete within \(timeout)")
        case .insideTask:
            throw TelemetryError(
                code: .wouldBlock,
                message: "synchronous shutdown inside a Swift concurrency task: started, not waited for (use `try await shutdown(timeout:)`)")
        }
    }
}

extension TelemetryProvider {
    /// Builds the provider, exporters and metrics client `settings` asks for; `nil` when every
    /// exporter is ``TelemetryExporter/none`` or ``TelemetrySettings/sdkDisabled`` is set. Each
    /// OTLP exporter's export (retries included) is bounded by its processor's export timeout
    /// (``OTLPExporterConfiguration/boundingExport(by:)``). Throws ``TelemetrySettingsError`` for invalid
    /// settings (see ``TelemetrySettings/validate()``) and the exporters' configuration errors.
    /// - Parameters:
    ///   - pipelineConfiguration: clock, diagnostics, concurrency and metric queue size; the span
    ///     and log batching (queue size, batch size, delay), the metric interval and temporality
    ///     come from `settings`.
    ///   - exportOptions: concurrency, header provider and diagnostics of the OTLP exporters.
    ///   - installAsDefault: when set, the result is installed as the process-wide default with
    ///     these ecosystem back-ends (see ``ConfiguredTelemetry/installAsDefault(backends:)``):
    ///     `.all` routes swift-log, swift-metrics and swift-distributed-tracing into it.
    ///   - startupRecorder: where pre-session start-up phases are recorded (default
    ///     ``StartupRecorder/shared``); the first session takes them over.
    public static func make(
        settings: TelemetrySettings, pipelineConfiguration: PipelineConfiguration = PipelineConfiguration(),
        exportOptions: OTLPExportOptions = OTLPExportOptions(), installAsDefault: ProcessDefaultBackends? = nil,
        startupRecorder: StartupRecorder = .shared
    ) throws -> ConfiguredTelemetry? {
        if settings.sdkDisabled || settings.allExportersDisabled { return nil }
        try settings.validate()
        let telemetry = try ConfiguredTelemetry(
            settings: settings, pipelineConfiguration: pipelineConfiguration, exportOptions: exportOptions,
            startupRecorder: startupRecorder)
        if let backends = installAsDefault { telemetry.installAsDefault(backends: backends) }
        return telemetry
    }
}
