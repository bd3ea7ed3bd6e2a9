@testable import OTLPExporter
import TelemetryCore
import TelemetryPipeline
import Testing

@Suite("OTLP configuration from the environment")
struct ConfigurationEnvironmentTests {
    func load(_ env: [String: String]) -> OTLPEnvironmentConfiguration {
        OTLPEnvironmentConfiguration(environment: env, processName: "testproc")
    }

    @Test func emptyEnvironmentGivesSpecDefaultsAndNoWarnings() {
        let c = load([:])
        #expect(c.warnings.isEmpty)
        #expect(c.traces.protocol == .httpProtobuf)
        #expect(c.traces.endpoint == "http://localhost:4318/v1/traces")
        #expect(c.metrics.endpoint == "http://localhost:4318/v1/metrics")
        #expect(c.logs.endpoint == "http://localhost:4318/v1/logs")
        #expect(c.traces.timeout == .seconds(10))
        #expect(c.traces.compression == .none)
        #expect(c.traces.headers.isEmpty)
        #expect(c.traces.tls == OTLPTLSConfiguration())
        #expect(c.traces.retry == OTLPRetryPolicy(initialBackoff: .seconds(5), maxBackoff: .seconds(30),
            multiplier: 1.5, jitter: 0.5, maxElapsedTime: .seconds(300)))
        #expect(c.serviceName == "unknown_service:testproc")
        #expect(c.resourceAttributes == ["service.name": "unknown_service:testproc"])
        #expect(c.sdkDisabled == false)
        #expect(c.sampler == .parentBasedAlwaysOn)
        #expect(c.spanProcessor == OTLPBatchProcessorConfiguration(scheduleDelay: .milliseconds(5000),
            exportTimeout: .milliseconds(30000), maxQueueSize: 2048, maxExportBatchSize: 512))
        #expect(c.logProcessor == OTLPBatchProcessorConfiguration(scheduleDelay: .milliseconds(1000),
            exportTimeout: .milliseconds(30000), maxQueueSize: 2048, maxExportBatchSize: 512))
        #expect(c.metricExportInterval == .milliseconds(60000))
        #expect(c.metricExportTimeout == .milliseconds(30000))
        #expect(c.metricsTemporalityPreference == .cumulative)
    }

    @Test func grpcDefaultEndpointIsPort4317WithoutPath() {
        let c = load(["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"])
        for signal in TelemetrySignal.allCases {
            #expect(c.exporter(for: signal).endpoint == "http://localhost:4317")
            #expect(c.exporter(for: signal).protocol == .grpc)
        }
    }

    @Test func sharedHTTPEndpointGetsSignalPathAppended() {
        let c = load(["OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example:4318"])
        #expect(c.traces.endpoint == "https://collector.example:4318/v1/traces")
        #expect(c.metrics.endpoint == "https://collector.example:4318/v1/metrics")
        #expect(c.logs.endpoint == "https://collector.example:4318/v1/logs")
        let withPath = load(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://proxy/otlp/"])
        #expect(withPath.traces.endpoint == "http://proxy/otlp/v1/traces")
        let withPathNoSlash = load(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://proxy/otlp"])
        #expect(withPathNoSlash.logs.endpoint == "http://proxy/otlp/v1/logs")
    }

    @Test func perSignalEndpointIsUsedAsIs() {
        let c = load([
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://shared:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:9999/custom/path",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://metrics:9999",
        ])
        #expect(c.traces.endpoint == "http://traces:9999/custom/path")
        #expect(c.metrics.endpoint == "http://metrics:9999")  // no path appended
        #expect(c.logs.endpoint == "http://shared:4318/v1/logs")
        #expect(c.warnings.isEmpty)
    }

    @Test func sharedGRPCEndpointIsUsedWithoutPath() throws {
        let c = load(["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"])
        #expect(c.traces.endpoint == "collector:4317")
        #expect(try c.traces.usesTLS() == true)
        let insecure = load([
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317",
            "OTEL_EXPORTER_OTLP_INSECURE": "TRUE",
        ])
        #expect(try insecure.traces.usesTLS() == false)
    }

    @Test func perSignalSettingsOverrideShared() {
        let c = load([
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
            "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "700",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "none",
            "OTEL_EXPORTER_OTLP_HEADERS": "a=1,b=2",
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "c=3",
            "OTEL_EXPORTER_OTLP_CERTIFICATE": "/shared/ca.pem",
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": "/traces/ca.pem",
        ])
        #expect(c.warnings.isEmpty)
        #expect(c.traces.protocol == .httpJSON)
        #expect(c.metrics.protocol == .grpc)
        #expect(c.metrics.endpoint == "http://localhost:4317")
        #expect(c.traces.timeout == .milliseconds(2500))
        #expect(c.logs.timeout == .milliseconds(700))
        #expect(c.traces.compression == .none)
        #expect(c.metrics.compression == .gzip)
        #expect(c.traces.headers == ["a": "1", "b": "2"])
        #expect(c.logs.headers == ["c": "3"])  // replaces, does not merge
        #expect(c.traces.tls.caCertificateFile == "/traces/ca.pem")
        #expect(c.metrics.tls.caCertificateFile == "/shared/ca.pem")
    }

    @Test func headerValuesArePercentDecodedAndNamesLowerCased() {
        let c = load(["OTEL_EXPORTER_OTLP_HEADERS": " Authorization = Basic%20dXNlcjpwYXNz , x-tenant=a%2Cb%3Dc ,, "])
        #expect(c.warnings.isEmpty)
        #expect(c.traces.headers == ["authorization": "Basic dXNlcjpwYXNz", "x-tenant": "a,b=c"])
    }

    @Test func invalidHeaderEntriesAreSkippedWithOneWarningThatHidesValues() throws {
        let c = load(["OTEL_EXPORTER_OTLP_HEADERS": "good=ok,novalue,bad name=x,enc=%zz,secret=%0A"])
        #expect(c.traces.headers == ["good": "ok"])
        #expect(c.metrics.headers == ["good": "ok"])
        let headerWarnings = c.warnings.filter { $0.variable == "OTEL_EXPORTER_OTLP_HEADERS" }
        #expect(headerWarnings.count == 1)  // one warning although three signals read it
        let text = try #require(headerWarnings.first).description
        #expect(text.contains("entry without '='"))
        #expect(text.contains("'bad name'"))
        #expect(text.contains("'enc': invalid percent-encoding"))
        #expect(text.contains("'secret': value contains a control character"))
        #expect(text.contains("good"))
        #expect(!text.contains("%zz"))
    }

    @Test func invalidValuesGiveOneWarningNamingVariableAndDefault() {
        let c = load([
            "OTEL_EXPORTER_OTLP_TIMEOUT": "ten seconds",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "brotli",
            "OTEL_EXPORTER_OTLP_INSECURE": "yes",
            "OTEL_SDK_DISABLED": "1",
            "OTEL_BSP_MAX_QUEUE_SIZE": "-5",
            "OTEL_BLRP_SCHEDULE_DELAY": "soon",
            "OTEL_METRIC_EXPORT_INTERVAL": "0",
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "sometimes",
        ])
        func warning(_ name: String) -> OTLPConfigurationWarning {
            let matching = c.warnings.filter { $0.variable == name }
            #expect(matching.count == 1, "\(name): \(matching)")
            return matching.first ?? OTLPConfigurationWarning(variable: name, value: "", reason: "missing", fallback: "missing")
        }
        #expect(c.warnings.count == 9)
        #expect(warning("OTEL_EXPORTER_OTLP_TIMEOUT").fallback == "the default 10000 ms")
        #expect(c.traces.timeout == .seconds(10))
        #expect(warning("OTEL_EXPORTER_OTLP_PROTOCOL").fallback == "the default http/protobuf")
        #expect(c.logs.protocol == .httpProtobuf)
        #expect(warning("OTEL_EXPORTER_OTLP_COMPRESSION").fallback == "the default none")
        #expect(warning("OTEL_EXPORTER_OTLP_INSECURE").fallback == "the default false")
        #expect(warning("OTEL_SDK_DISABLED").description
            == "OTEL_SDK_DISABLED=\"1\" is invalid (not 'true' or 'false'); using the default false")
        #expect(c.sdkDisabled == false)
        #expect(warning("OTEL_BSP_MAX_QUEUE_SIZE").fallback == "the default 2048")
        #expect(c.spanProcessor.maxQueueSize == 2048)
        #expect(warning("OTEL_BLRP_SCHEDULE_DELAY").fallback == "the default 1000 ms")
        #expect(warning("OTEL_METRIC_EXPORT_INTERVAL").fallback == "the default 60000 ms")
        #expect(c.metricExportInterval == .seconds(60))
        #expect(warning("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE").fallback == "the default cumulative")
    }

    @Test func emptyValuesAreTreatedAsUnset() {
        let c = load(["OTEL_EXPORTER_OTLP_ENDPOINT": "", "OTEL_EXPORTER_OTLP_TIMEOUT": "  ", "OTEL_SERVICE_NAME": ""])
        #expect(c.warnings.isEmpty)
        #expect(c.traces.endpoint == "http://localhost:4318/v1/traces")
        #expect(c.serviceName == "unknown_service:testproc")
    }

    @Test func invalidPerSignalEndpointFallsBackToSharedWithWarning() throws {
        let c = load([
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://shared:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "ftp://nope",
        ])
        #expect(c.traces.endpoint == "http://shared:4318/v1/traces")
        let w = try #require(c.warnings.first)
        #expect(c.warnings.count == 1)
        #expect(w.variable == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        #expect(w.reason.contains("unsupported scheme 'ftp'"))
        #expect(w.fallback == "http://shared:4318/v1/traces from OTEL_EXPORTER_OTLP_ENDPOINT")
    }

    @Test func schemeLessEndpointIsRejectedForHTTP() throws {
        let c = load(["OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"])
        #expect(c.traces.endpoint == "http://localhost:4318/v1/traces")
        #expect(c.warnings.map(\.variable) == ["OTEL_EXPORTER_OTLP_ENDPOINT"])
    }

    @Test func clientCertificateWithoutKeyIsAWarningAndNotUsed() throws {
        let c = load(["OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": "/c.pem"])
        #expect(c.traces.tls.clientIdentity == nil)
        let w = try #require(c.warnings.first)
        #expect(c.warnings.count == 1)
        #expect(w.variable == "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE")
        #expect(w.fallback == "no client certificate")
        let both = load([
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": "/c.pem", "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY": "/logs-k.pem",
            "OTEL_EXPORTER_OTLP_CLIENT_KEY": "/k.pem",
        ])
        #expect(both.warnings.isEmpty)
        #expect(both.traces.tls.clientIdentity == .init(certificateFile: "/c.pem", privateKeyFile: "/k.pem"))
        #expect(both.logs.tls.clientIdentity == .init(certificateFile: "/c.pem", privateKeyFile: "/logs-k.pem"))
    }

    @Test func serviceNameAndResourceAttributes() {
        let c = load([
            "OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,deployment.environment=prod%20eu, team = a%2Cb",
        ])
        #expect(c.serviceName == "from-attrs")
        #expect(c.resourceAttributes == ["service.name": "from-attrs", "deployment.environment": "prod eu", "team": "a,b"])
        let named = load(["OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs", "OTEL_SERVICE_NAME": "svc"])
        #expect(named.serviceName == "svc")
        #expect(named.resourceAttributes["service.name"] == "svc")
    }

    @Test func resourceAttributesWithADecodingErrorAreDiscardedWhole() throws {
        let c = load(["OTEL_RESOURCE_ATTRIBUTES": "a=1,b=%G1"])
        #expect(c.resourceAttributes == ["service.name": "unknown_service:testproc"])
        #expect(try #require(c.warnings.first).variable == "OTEL_RESOURCE_ATTRIBUTES")
    }

    @Test func samplerVariants() {
        #expect(load(["OTEL_TRACES_SAMPLER": "always_off"]).sampler == .alwaysOff)
        #expect(load(["OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"]).sampler == .traceIDRatio(0.25))
        #expect(load(["OTEL_TRACES_SAMPLER": "parentbased_traceidratio"]).sampler == .parentBasedTraceIDRatio(1.0))
        let badArg = load(["OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"])
        #expect(badArg.sampler == .traceIDRatio(1.0))
        #expect(badArg.warnings.map(\.variable) == ["OTEL_TRACES_SAMPLER_ARG"])
        let unknown = load(["OTEL_TRACES_SAMPLER": "jaeger_remote"])
        #expect(unknown.sampler == .parentBasedAlwaysOn)
        #expect(unknown.warnings.map(\.variable) == ["OTEL_TRACES_SAMPLER"])
    }

    @Test func batchSizeLargerThanQueueIsClampedWithWarning() {
        let c = load(["OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "64", "OTEL_BLRP_MAX_QUEUE_SIZE": "128"])
        #expect(c.spanProcessor.maxQueueSize == 100)
        #expect(c.spanProcessor.maxExportBatchSize == 100)
        #expect(c.logProcessor.maxExportBatchSize == 64)
        #expect(c.warnings.map(\.variable) == ["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"])
    }

    @Test func sdkDisabledAndTemporality() {
        let c = load(["OTEL_SDK_DISABLED": "True", "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "LowMemory"])
        #expect(c.sdkDisabled)
        #expect(c.metricsTemporalityPreference == .lowMemory)
        #expect(load(["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta"]).metricsTemporalityPreference == .delta)
    }

    @Test func singleSignalLoaderAppendsItsWarnings() {
        var warnings: [OTLPConfigurationWarning] = []
        let c = OTLPExporterConfiguration.fromEnvironment(
            signal: .metrics, environment: ["OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": "-1"], warnings: &warnings)
        #expect(c.timeout == .seconds(10))
        #expect(warnings.map(\.variable) == ["OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"])
    }
}
