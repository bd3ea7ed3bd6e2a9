import TelemetryPipeline

/// Owns the resource, the one batching pipeline and the exporters of every signal, and hands out
/// tracers, meters and loggers.
///
/// ```swift
/// let spans = InMemorySpanExporter()
/// let provider = TelemetryProvider(resource: Resource(serviceName: "demo"), spanExporters: [spans])
/// let tracer = provider.tracer("demo")
/// tracer.withSpan("work") { span in span.setAttribute("items", 3) }
/// try await provider.shutdown(timeout: .seconds(5))
/// ```
public final class TelemetryProvider: Sendable {
    /// The resource every signal is reported under.
    public let resource: Resource
    /// The pipeline carrying spans, measurements and log records to the exporters.
    public let pipeline: Pipeline
    /// The sampler of every tracer.
    public let sampler: Sampler
    /// Attribute, event and link limits of spans and log records.
    public let limits: AttributeLimits
    /// Attributes set on every span this provider's tracers start.
    public let spanAttributes: [Attribute]

    /// Creates a provider and starts its pipeline worker.
    /// - Parameters:
    ///   - resource: `service.name`, `service.version`, `deployment.environment` and others.
    ///   - spanExporters, metricExporters, logExporters: each signal's exporters (none: dropped after batching).
    ///   - configuration: queue sizes, batch sizes and delays, metric interval, clock, diagnostics.
    ///   - sampler: the trace sampler (default parent-based, always-on for roots).
    ///   - limits: attribute count/length, event and link limits (spec defaults).
    ///   - spanAttributes: attributes applied to every span.
    public init(
        resource: Resource, spanExporters: [any SpanExporter] = [], metricExporters: [any MetricExporter] = [],
        logExporters: [any LogExporter] = [], configuration: PipelineConfiguration = PipelineConfiguration(),
        sampler: Sampler = .default, limits: AttributeLimits = AttributeLimits(), spanAttributes: [Attribute] = []
    ) {
        self.resource = resource
        self.sampler = sampler
        self.limits = limits
        self.spanAttributes = spanAttributes
        pipeline = Pipeline(
            resource: resource, configuration: configuration, spanExporters: spanExporters,
            metricExporters: metricExporters, logExporters: logExporters)
    }

    /// A tracer for the instrumentation scope `name`.
    public func tracer(_ name: String, version: String? = nil, attributes: [Attribute] = []) -> Tracer {
        Tracer(pipeline: pipeline, scope: InstrumentationScope(name: name, version: version, attributes: attributes),
               sampler: sampler, limits: limits, spanAttributes: spanAttributes, clock: pipeline.configuration.clock)
    }

    /// A meter for the instrumentation scope `name`.
    public func meter(_ name: String, version: String? = nil, attributes: [Attribute] = []) -> Meter {
        Meter(pipeline: pipeline, scope: InstrumentationScope(name: name, version: version, attributes: attributes))
    }

    /// A logger for the instrumentation scope `name`.
    public func logger(_ name: String, version: String? = nil, attributes: [Attribute] = []) -> TelemetryLogger {
        TelemetryLogger(pipeline: pipeline, scope: InstrumentationScope(name: name, version: version, attributes: attributes),
                        limits: limits, clock: pipeline.configuration.clock)
    }

    /// Exports everything recorded before the call (metrics are collected now) and flushes the
    /// exporters. Throws ``TelemetryError`` with code `timedOut` when `deadline` passes first.
    public func forceFlush(deadline: ContinuousClock.Instant) async throws {
        try await pipeline.forceFlush(deadline: deadline)
    }

    /// ``forceFlush(deadline:)`` with a deadline `timeout` from now.
    public func forceFlush(timeout: Duration = .seconds(30)) async throws {
        try await forceFlush(deadline: .now + timeout)
    }

    /// Exports everything recorded so far, then shuts the exporters and the worker down.
    /// Idempotent; recording afterwards is a no-op counted in ``statistics(_:)``.
    public func shutdown(deadline: ContinuousClock.Instant) async throws {
        try await pipeline.shutdown(deadline: deadline)
    }

    /// ``shutdown(deadline:)`` with a deadline `timeout` from now.
    public func shutdown(timeout: Duration = .seconds(30)) async throws {
        try await shutdown(deadline: .now + timeout)
    }

    /// Self-observability counters of `signal`: accepted, dropped (buffer full), dropped after
    /// shutdown, exported, failed.
    public func statistics(_ signal: TelemetrySignal) -> SignalStatistics {
        pipeline.statistics(signal)
    }
}
