import Dispatch
import OTLPSync
import TelemetryCore
public import TelemetryPipeline

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
    /// Attribute, event and link limits of spans (and of log records unless ``logRecordLimits`` differ).
    public let limits: AttributeLimits
    /// Attribute limits of log records.
    public let logRecordLimits: AttributeLimits
    /// Attributes set on every span this provider's tracers start.
    public let spanAttributes: [Attribute]
    /// Tracestate members in every span's tracestate: a root span's tracestate is these members;
    /// for a span continuing a remote parent they are upserted into the parent's tracestate (see
    /// ``W3CTraceState/upserting(_:)``); local children inherit their parent's. Propagated
    /// `traceparent`/`tracestate` of these spans therefore carry them.
    public var tracestate: ConfiguredTraceState { traceStatePolicy.configured }
    /// How long `deinit` waits for its best-effort flush (see ``init(resource:spanExporters:metricExporters:logExporters:configuration:sampler:limits:spanAttributes:tracestate:deinitFlushTimeout:logRecordLimits:)``).
    public let deinitFlushTimeout: Duration
    let traceStatePolicy: SpanTraceStatePolicy

    /// Creates a provider and starts its pipeline worker.
    /// - Parameters:
    ///   - resource: `service.name`, `service.version`, `deployment.environment` and others.
    ///   - spanExporters, metricExporters, logExporters: each signal's exporters (none: dropped after batching).
    ///   - configuration: queue sizes, batch sizes and delays, metric interval, clock, diagnostics.
    ///   - sampler: the trace sampler (default parent-based, always-on for roots).
    ///   - limits: attribute count/length, event and link limits of spans (spec defaults).
    ///   - logRecordLimits: attribute limits of log records; `nil` (the default) uses `limits`.
    ///   - spanAttributes: attributes applied to every span.
    ///   - tracestate: tracestate members put into every span's tracestate (see ``tracestate``).
    ///   - deinitFlushTimeout: when the provider is released without ``shutdown(deadline:)``,
    ///     `deinit` starts a shutdown (exporting what was accepted) and, on a thread outside Swift
    ///     concurrency, waits at most this long for it; `.zero` starts it without waiting. Released
    ///     inside a task, it never waits (blocking a concurrency thread could starve the export).
    ///     Nothing happens after an explicit shutdown.
    public init(
        resource: Resource, spanExporters: [any SpanExporter] = [], metricExporters: [any MetricExporter] = [],
        logExporters: [any LogExporter] = [], configuration: PipelineConfiguration = PipelineConfiguration(),
        sampler: Sampler = .default, limits: AttributeLimits = AttributeLimits(), spanAttributes: [Attribute] = [],
        tracestate: ConfiguredTraceState = ConfiguredTraceState(), deinitFlushTimeout: Duration = .seconds(2),
        logRecordLimits: AttributeLimits? = nil
    ) {
        self.resource = resource
        self.sampler = sampler
        self.limits = limits
        self.logRecordLimits = logRecordLimits ?? limits
        self.spanAttributes = spanAttributes
        self.traceStatePolicy = SpanTraceStatePolicy(tracestate)
        self.deinitFlushTimeout = deinitFlushTimeout
        pipeline = Pipeline(
            resource: resource, configuration: configuration, spanExporters: spanExporters,
            metricExporters: metricExporters, logExporters: logExporters)
    }

    deinit {
        Self.bestEffortShutdown(timeout: deinitFlushTimeout) { [pipeline] deadline in
            try await pipeline.shutdown(deadline: deadline)
        } skipIf: { pipeline.isShutDown }
    }

    /// The best-effort flush of a released provider: runs `shutdown` in a detached task on the
    /// library's export threads (so it never throws into or crashes the releasing code, and needs
    /// no thread of the cooperative pool) and waits for it at most `timeout` (the task goes on
    /// past that, bounded by the same deadline). Does nothing when `skipIf()` holds.
    package static func bestEffortShutdown(
        timeout: Duration, _ shutdown: @escaping @Sendable (ContinuousClock.Instant) async throws -> Void,
        skipIf: () -> Bool
    ) {
        if skipIf() { return }
        let deadline = ContinuousClock.now + max(timeout, .milliseconds(100))
        let done = DispatchSemaphore(value: 0)
        Task.detached(executorPreference: ExportExecutor.shared) {
            try? await shutdown(deadline)
            done.signal()
        }
        guard timeout > .zero else { return }
        // Inside a task the releasing thread is one of Swift concurrency's few shared threads:
        // blocking it would take a thread from the application. There the shutdown only starts;
        // a plain thread (e.g. the end of `main`) waits.
        if withUnsafeCurrentTask(body: { $0 != nil }) { return }
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = Int(clamping: seconds) &* 1_000_000_000 &+ Int(attoseconds / 1_000_000_000)
        _ = done.wait(timeout: .now() + .nanoseconds(nanoseconds))
    }

    /// A tracer for the instrumentation scope `name`.
    public func tracer(_ name: String, version: String? = nil, attributes: [Attribute] = []) -> Tracer {
        Tracer(pipeline: pipeline, scope: InstrumentationScope(name: name, version: version, attributes: attributes),
               sampler: sampler, limits: limits, spanAttributes: spanAttributes, clock: pipeline.configuration.clock,
               traceState: traceStatePolicy)
    }

    /// A meter for the instrumentation scope `name`.
    public func meter(_ name: String, version: String? = nil, attributes: [Attribute] = []) -> Meter {
        Meter(pipeline: pipeline, scope: InstrumentationScope(name: name, version: version, attributes: attributes))
    }

    /// A logger for the instrumentation scope `name`.
    public func logger(_ name: String, version: String? = nil, attributes: [Attribute] = []) -> TelemetryLogger {
        TelemetryLogger(pipeline: pipeline, scope: InstrumentationScope(name: name, version: version, attributes: attributes),
                        limits: logRecordLimits, clock: pipeline.configuration.clock)
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

    /// ``forceFlush(timeout:)`` for synchronous code (e.g. `main` or a thread of your own): blocks
    /// the calling thread until the flush is done, throwing ``TelemetryError`` with code
    /// `timedOut` past `timeout`. Do not call it from a task: use the async variant there.
    public func forceFlushSynchronously(timeout: Duration = .seconds(30)) throws {
        try pipeline.forceFlushSynchronously(timeout: timeout)
    }

    /// ``shutdown(timeout:)`` for synchronous code: blocks the calling thread until shutdown is
    /// done, throwing ``TelemetryError`` with code `timedOut` past `timeout`. Do not call it from
    /// a task: use the async variant there.
    public func shutdownSynchronously(timeout: Duration = .seconds(30)) throws {
        try pipeline.shutdownSynchronously(timeout: timeout)
    }

    /// Self-observability counters of `signal`: accepted, dropped (buffer full), dropped after
    /// shutdown, exported, failed.
    public func statistics(_ signal: TelemetrySignal) -> SignalStatistics {
        pipeline.statistics(signal)
    }
}
