// TelemetrySettings: what a session service configures, modelled on
// codex-otel's `OtelSettings`, loadable from code, the OTEL_* environment and a TOML `[otel]` table.

public import OTLPExporter
import TelemetryCore
import TelemetryPipeline

/// Where one signal goes.
public enum TelemetryExporter: Sendable, Hashable {
    /// Nothing is exported for this signal.
    case none
    /// OTLP over gRPC or HTTP, as configured (the protocol is part of the configuration).
    case otlp(OTLPExporterConfiguration)
    /// Kept in memory for tests and assertions (the in-memory exporters).
    case inMemory

    /// The OTLP/HTTP body encodings (codex-otel's `OtelHttpProtocol`).
    public enum HTTPEncoding: String, Sendable, Hashable, CaseIterable {
        /// Binary protobuf (`application/x-protobuf`).
        case binary
        /// OTLP/JSON (`application/json`).
        case json
    }

    /// OTLP/gRPC to `endpoint` (e.g. `http://localhost:4317`).
    public static func otlpGRPC(
        signal: TelemetrySignal, endpoint: String, headers: [String: String] = [:],
        tls: OTLPTLSConfiguration = OTLPTLSConfiguration()
    ) -> TelemetryExporter {
        .otlp(OTLPExporterConfiguration(signal: signal, protocol: .grpc, endpoint: endpoint, headers: headers, tls: tls))
    }

    /// OTLP/HTTP to `endpoint`, the full URL requests are POSTed to (e.g. `http://localhost:4318/v1/traces`).
    public static func otlpHTTP(
        signal: TelemetrySignal, endpoint: String, headers: [String: String] = [:], encoding: HTTPEncoding = .binary,
        tls: OTLPTLSConfiguration = OTLPTLSConfiguration()
    ) -> TelemetryExporter {
        .otlp(OTLPExporterConfiguration(
            signal: signal, protocol: encoding == .binary ? .httpProtobuf : .httpJSON, endpoint: endpoint,
            headers: headers, tls: tls))
    }

    /// `true` unless ``none``.
    public var isEnabled: Bool { self != .none }
}

/// Settings of a telemetry provider and its session telemetry: one value that code, TOML and
/// the environment fill. `TelemetryProvider.make(settings:)` (module TelemetrySession) builds
/// from it; ``namespace``, ``logUserPrompts`` and ``runtimeMetrics`` are read only by the
/// session layer there.
///
/// Defaults: environment `dev`, service `unknown_service`, version `0.0.0`, namespace `codex`
/// (the seed's names: `codex.startup_phase`, `codex.turn.ttft.duration_ms`, …), every exporter
/// ``TelemetryExporter/none``, no span attributes or tracestate, prompts not logged, metrics
/// exported every 60 s with delta temporality, no runtime metrics; and the OpenTelemetry SDK
/// defaults of the specification's "Environment Variable Specification"
/// (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/):
/// sampler `parentbased_always_on`, batch processors (spans 5 s delay, logs 1 s; 30 s export
/// timeout, queue 2048, batch 512), metric export timeout 30 s, 128 attributes, events and links,
/// no value length limit, propagators `tracecontext,baggage`.
///
/// ```swift
/// var settings = TelemetrySettings(serviceName: "my-agent", serviceVersion: "1.2.0")
/// settings.traceExporter = .otlpGRPC(signal: .traces, endpoint: "http://localhost:4317")
/// settings.tracestate = try ConfiguredTraceState(["example": ["alpha": "one"]])
/// ```
public struct TelemetrySettings: Sendable, Hashable {
    /// Deployment environment (`deployment.environment.name`), e.g. `dev`, `staging`, `prod`.
    public var environment: String
    /// `service.name`.
    public var serviceName: String
    /// `service.version`.
    public var serviceVersion: String
    /// Prefix of event and metric names (`<namespace>.startup_phase`); `[A-Za-z0-9._-]+`.
    public var namespace: String
    /// Log records exporter (codex-otel's `exporter`).
    public var logExporter: TelemetryExporter
    /// Span exporter (`trace_exporter`).
    public var traceExporter: TelemetryExporter
    /// Metric exporter (`metrics_exporter`).
    public var metricsExporter: TelemetryExporter
    /// Attributes added to every span (`[otel.span_attributes]`).
    public var spanAttributes: [String: String]
    /// Tracestate members upserted into propagated context (`[otel.tracestate.<member>]`).
    public var tracestate: ConfiguredTraceState
    /// Whether user prompt text may be logged (else `[REDACTED]`). Default `false`.
    public var logUserPrompts: Bool
    /// Metric export interval. Default 60 s (`OTEL_METRIC_EXPORT_INTERVAL`'s default).
    public var metricExportInterval: Duration
    /// Temporality of exported metrics. Default delta.
    public var metricsTemporality: AggregationTemporality
    /// Whether sessions keep runtime metrics (codex-otel's `runtime_metrics`): a per-session
    /// summary of tool calls, API requests, streaming and WebSocket events — counts and total
    /// durations — read with `SessionTelemetry.runtimeMetricsSummary()`. Default `false`.
    public var runtimeMetrics: Bool
    /// `OTEL_SDK_DISABLED`: when `true`, `TelemetryProvider.make(settings:)`
    /// builds nothing (returns `nil`) whatever the exporters say. Default `false`.
    public var sdkDisabled: Bool
    /// Resource attributes besides `service.name`, `service.version` and the environment
    /// (`OTEL_RESOURCE_ATTRIBUTES`, percent-decoded). Those three come from ``serviceName``,
    /// ``serviceVersion`` and ``environment``, which win over the same keys here.
    public var resourceAttributes: [String: String]
    /// The trace sampler (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`). Default
    /// `parentBased(root: .alwaysOn)`.
    public var sampler: Sampler
    /// The span batch processor (`OTEL_BSP_*`): schedule delay, per-export timeout (one export
    /// with its retries), queue size, batch size. Default ``OTLPBatchProcessorConfiguration/spanDefaults``.
    public var spanProcessor: OTLPBatchProcessorConfiguration
    /// The log record batch processor (`OTEL_BLRP_*`). Default ``OTLPBatchProcessorConfiguration/logDefaults``.
    public var logProcessor: OTLPBatchProcessorConfiguration
    /// Longest time one metric export may take, retries included (`OTEL_METRIC_EXPORT_TIMEOUT`).
    /// Default 30 s.
    public var metricExportTimeout: Duration
    /// Span attribute, event and link limits (`OTEL_SPAN_*_LIMIT`, `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`,
    /// `OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`, `OTEL_ATTRIBUTE_*_LIMIT`). Default: the spec's.
    public var spanLimits: AttributeLimits
    /// Log record attribute limits (`OTEL_LOGRECORD_*_LIMIT`, `OTEL_ATTRIBUTE_*_LIMIT`).
    public var logRecordLimits: AttributeLimits
    /// Which headers ``DistributedTracer`` injects and extracts (`OTEL_PROPAGATORS`): `traceparent`
    /// and `tracestate` for ``OTLPPropagator/traceContext``, `baggage` for ``OTLPPropagator/baggage``.
    /// Default both.
    public var propagators: [OTLPPropagator]

    public init(
        environment: String = "dev",
        serviceName: String = "unknown_service",
        serviceVersion: String = "0.0.0",
        namespace: String = "codex",
        logExporter: TelemetryExporter = .none,
        traceExporter: TelemetryExporter = .none,
        metricsExporter: TelemetryExporter = .none,
        spanAttributes: [String: String] = [:],
        tracestate: ConfiguredTraceState = ConfiguredTraceState(),
        logUserPrompts: Bool = false,
        metricExportInterval: Duration = .seconds(60),
        metricsTemporality: AggregationTemporality = .delta,
        runtimeMetrics: Bool = false,
        sdkDisabled: Bool = false,
        resourceAttributes: [String: String] = [:],
        sampler: Sampler = .default,
        spanProcessor: OTLPBatchProcessorConfiguration = .spanDefaults,
        logProcessor: OTLPBatchProcessorConfiguration = .logDefaults,
        metricExportTimeout: Duration = OTLPEnvironmentConfiguration.defaultMetricExportTimeout,
        spanLimits: AttributeLimits = AttributeLimits(),
        logRecordLimits: AttributeLimits = AttributeLimits(),
        propagators: [OTLPPropagator] = OTLPPropagator.defaults
    ) {
        self.environment = environment
        self.serviceName = serviceName
        self.serviceVersion = serviceVersion
        self.namespace = namespace
        self.logExporter = logExporter
        self.traceExporter = traceExporter
        self.metricsExporter = metricsExporter
        self.spanAttributes = spanAttributes
        self.tracestate = tracestate
        self.logUserPrompts = logUserPrompts
        self.metricExportInterval = metricExportInterval
        self.metricsTemporality = metricsTemporality
        self.runtimeMetrics = runtimeMetrics
        self.sdkDisabled = sdkDisabled
        self.resourceAttributes = resourceAttributes
        self.sampler = sampler
        self.spanProcessor = spanProcessor
        self.logProcessor = logProcessor
        self.metricExportTimeout = metricExportTimeout
        self.spanLimits = spanLimits
        self.logRecordLimits = logRecordLimits
        self.propagators = propagators
    }

    /// `true` when every exporter is ``TelemetryExporter/none`` (no provider is needed).
    public var allExportersDisabled: Bool {
        !logExporter.isEnabled && !traceExporter.isEnabled && !metricsExporter.isEnabled
    }

    /// Checks values set from code: namespace grammar, a positive export interval, non-empty
    /// span attribute keys, and each OTLP exporter's ``OTLPExporterConfiguration/validate()``.
    /// - Throws: ``TelemetrySettingsError`` naming the setting.
    public func validate() throws(TelemetrySettingsError) {
        if let reason = Self.namespaceProblem(namespace) {
            throw TelemetrySettingsError(code: .invalidValue, key: "namespace", reason: reason)
        }
        if metricExportInterval <= .zero {
            throw TelemetrySettingsError(code: .invalidValue, key: "metricExportInterval", reason: "must be positive")
        }
        if metricExportTimeout <= .zero {
            throw TelemetrySettingsError(code: .invalidValue, key: "metricExportTimeout", reason: "must be positive")
        }
        for (key, processor) in [("spanProcessor", spanProcessor), ("logProcessor", logProcessor)] {
            if processor.exportTimeout <= .zero || processor.scheduleDelay < .zero {
                throw TelemetrySettingsError(code: .invalidValue, key: key, reason: "export timeout must be positive, delay not negative")
            }
            if processor.maxQueueSize < 1 || processor.maxExportBatchSize < 1 || processor.maxExportBatchSize > processor.maxQueueSize {
                throw TelemetrySettingsError(
                    code: .invalidValue, key: key, reason: "queue and batch sizes must be positive, the batch no larger than the queue")
            }
        }
        if case .traceIDRatio(let ratio) = sampler, !(0...1).contains(ratio) {
            throw TelemetrySettingsError(code: .invalidValue, key: "sampler", reason: "ratio \(ratio) is not in [0, 1]")
        }
        if spanAttributes.keys.contains("") {
            throw TelemetrySettingsError(code: .invalidValue, key: "spanAttributes", reason: "empty attribute key")
        }
        for (key, exporter) in [("logExporter", logExporter), ("traceExporter", traceExporter), ("metricsExporter", metricsExporter)] {
            if case .otlp(let configuration) = exporter {
                do throws(OTLPConfigurationError) {
                    try configuration.validate()
                } catch {
                    throw TelemetrySettingsError(code: .invalidValue, key: key, reason: error.message)
                }
            }
        }
    }

    package static func namespaceProblem(_ namespace: String) -> String? {
        if namespace.isEmpty { return "empty namespace" }
        if !namespace.utf8.allSatisfy(MetricNameRules.isNameByte) { return "namespace must match [A-Za-z0-9._-]+" }
        return nil
    }
}

/// How loaders treat invalid entries.
public enum TelemetrySettingsMode: Sendable, Hashable {
    /// Skip the entry (keeping the default) and report a ``TelemetrySettingsWarning``.
    case lenient
    /// Throw a ``TelemetrySettingsError`` for the first invalid entry.
    case strict
}

/// An invalid setting that was skipped: the key (TOML path or environment variable) and why.
public struct TelemetrySettingsWarning: Sendable, Hashable, CustomStringConvertible {
    /// TOML key path (`otel.exporter.otlp-http.endpoint`) or environment variable name.
    public var key: String
    /// Why it was skipped, and what is used instead.
    public var reason: String

    public init(key: String, reason: String) {
        self.key = key
        self.reason = reason
    }

    public var description: String { "telemetry setting \(key) ignored: \(reason)" }
}

/// An invalid setting in strict mode (or a file that cannot be read).
public struct TelemetrySettingsError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The TOML text does not parse.
        public static let syntax = Code("syntax")
        /// The file cannot be read.
        public static let unreadableFile = Code("unreadableFile")
        /// A key is not known.
        public static let unknownKey = Code("unknownKey")
        /// A value has the wrong TOML type.
        public static let wrongType = Code("wrongType")
        /// A value has the right type but is not allowed.
        public static let invalidValue = Code("invalidValue")
        public var description: String { name }
    }

    public var code: Code
    /// TOML key path or environment variable name.
    public var key: String
    /// What is wrong.
    public var reason: String

    public init(code: Code, key: String, reason: String) {
        self.code = code
        self.key = key
        self.reason = reason
    }

    public var description: String { "telemetry setting \(key): \(reason) (\(code))" }
}

/// The result of a lenient load: the settings and what was skipped.
public struct LoadedTelemetrySettings: Sendable, Hashable {
    public var settings: TelemetrySettings
    public var warnings: [TelemetrySettingsWarning]
}

/// Metric name and tag grammar shared by settings and the metrics client.
package enum MetricNameRules {
    /// `[A-Za-z0-9._-]`
    @inline(__always)
    package static func isNameByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: ".") || b == UInt8(ascii: "_")
            || b == UInt8(ascii: "-")
    }

    /// `[A-Za-z0-9._/-]`
    @inline(__always)
    package static func isTagByte(_ b: UInt8) -> Bool { isNameByte(b) || b == UInt8(ascii: "/") }
}
