// The process-wide default that the swift-log, swift-metrics and swift-distributed-tracing
// back-ends forward to. The SDK keeps the slot and bootstraps the systems; what fills the slot
// (`ConfiguredTelemetry.installAsDefault(backends:)` in TelemetrySession) lives above it.

import CoreMetrics
public import Logging
package import OTLPExporter
import OTLPSync
import Tracing

/// The swift-log, swift-metrics and swift-distributed-tracing systems that
/// `ConfiguredTelemetry.installAsDefault(backends:)` bootstraps.
public struct ProcessDefaultBackends: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// `LoggingSystem` (swift-log) → ``TelemetryLogHandler``.
    public static let logging = ProcessDefaultBackends(rawValue: 1)
    /// `MetricsSystem` (swift-metrics) → ``TelemetryMetricsFactory``.
    public static let metrics = ProcessDefaultBackends(rawValue: 2)
    /// `InstrumentationSystem` (swift-distributed-tracing) → ``DistributedTracer``.
    public static let tracing = ProcessDefaultBackends(rawValue: 4)
    /// All three.
    public static let all: ProcessDefaultBackends = [.logging, .metrics, .tracing]
}

/// What the process-default back-ends use while installed: the provider, the propagators of
/// ``DistributedTracer/processDefault``, and the tracer and meter the ecosystem records with.
package struct ProcessDefaultTelemetry: Sendable {
    package let provider: TelemetryProvider
    package let propagators: [OTLPPropagator]
    /// The tracer of ``DistributedTracer/processDefault`` (scope `swift-distributed-tracing`).
    package let distributedTracingTracer: Tracer
    /// The meter of ``TelemetryMetricsFactory/processDefault`` (scope `swift-metrics`).
    package let swiftMetricsMeter: Meter
    /// What installed it, so that it can be found again (and uninstalled only by its owner).
    package let owner: any AnyObject & Sendable

    package init(
        provider: TelemetryProvider, propagators: [OTLPPropagator], distributedTracingTracer: Tracer, swiftMetricsMeter: Meter,
        owner: any AnyObject & Sendable
    ) {
        self.provider = provider
        self.propagators = propagators
        self.distributedTracingTracer = distributedTracingTracer
        self.swiftMetricsMeter = swiftMetricsMeter
        self.owner = owner
    }

    private static let installed = LockedValue<ProcessDefaultTelemetry?>(nil)
    private static let bootstrapped = LockedValue<ProcessDefaultBackends>([])

    /// The installed default, if any.
    package static var current: ProcessDefaultTelemetry? { installed.withLock { $0 } }

    /// The ecosystem systems this process has bootstrapped with the forwarding back-ends.
    package static var bootstrappedBackends: ProcessDefaultBackends { bootstrapped.withLock { $0 } }

    /// Makes `telemetry` the default (replacing any earlier one) and, the first time each of
    /// `backends` is asked for, bootstraps that system with a back-end that follows ``current``:
    /// those systems allow one bootstrap per process.
    package static func install(_ telemetry: ProcessDefaultTelemetry, backends: ProcessDefaultBackends) {
        installed.withLock { $0 = telemetry }
        let todo = bootstrapped.withLock { done in
            let todo = backends.subtracting(done)
            done.formUnion(todo)
            return todo
        }
        if todo.contains(.logging) {
            LoggingSystem.bootstrap { label in TelemetryLogHandler.processDefault(label: label) }
        }
        if todo.contains(.metrics) { MetricsSystem.bootstrap(TelemetryMetricsFactory.processDefault) }
        if todo.contains(.tracing) { InstrumentationSystem.bootstrap(DistributedTracer.processDefault) }
    }

    /// Clears ``current`` if `owner` installed it.
    package static func uninstall(owner: AnyObject) {
        installed.withLock { if $0?.owner === owner { $0 = nil } }
    }
}

extension TelemetryProvider {
    /// A swift-log handler emitting into this provider (see ``TelemetryLogHandler``).
    public func logHandler(label: String, logLevel: Logger.Level = .info) -> TelemetryLogHandler {
        TelemetryLogHandler(label: label, provider: self, logLevel: logLevel)
    }

    /// A swift-metrics factory recording through this provider's meter `scope` (see ``TelemetryMetricsFactory``).
    public func metricsFactory(scope: String = "swift-metrics") -> TelemetryMetricsFactory {
        TelemetryMetricsFactory(meter: meter(scope))
    }

    /// A swift-distributed-tracing tracer starting this provider's spans in `scope` (see ``DistributedTracer``).
    public func distributedTracer(scope: String = "swift-distributed-tracing") -> DistributedTracer {
        DistributedTracer(tracer(scope))
    }
}
