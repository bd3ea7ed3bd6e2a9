import Foundation
import OTLPExporter
import Testing
@testable import Telemetry

@Suite("TelemetrySettings from code, TOML and the environment")
struct SettingsTests {
    @Test func defaultsMatchTheDocumentation() {
        let s = TelemetrySettings()
        #expect(s.environment == "dev")
        #expect(s.namespace == "codex")
        #expect(s.allExportersDisabled)
        #expect(!s.logUserPrompts)
        #expect(s.metricExportInterval == .seconds(60))
        #expect(s.metricsTemporality == .delta)
        #expect(!s.runtimeMetrics)
        #expect(s.tracestate.isEmpty)
    }

    @Test func codeValidationNamesTheSetting() throws {
        var s = TelemetrySettings(namespace: "bad ns")
        #expect(throws: TelemetrySettingsError.self) { try s.validate() }
        s = TelemetrySettings(traceExporter: .otlpHTTP(signal: .traces, endpoint: "collector:4318"))
        do {
            try s.validate()
            Issue.record("accepted a scheme-less OTLP/HTTP endpoint")
        } catch {
            #expect(error.key == "traceExporter")
        }
        s = TelemetrySettings(traceExporter: .otlpGRPC(signal: .traces, endpoint: "http://localhost:4317"))
        try s.validate()
        #expect(!s.allExportersDisabled)
    }

    static let fullTOML = """
        [otel]
        environment = "staging"
        service_name = "agent"
        service_version = "1.2.3"
        namespace = "acme"
        log_user_prompt = true
        runtime_metrics = true
        metric_export_interval_ms = 5000
        metrics_temporality = "cumulative"
        exporter = "in-memory"
        metrics_exporter = "none"

        [otel.trace_exporter.otlp-http]
        endpoint = "https://otel.example.com/v1/traces"
        protocol = "json"
        timeout_ms = 2500
        compression = "gzip"
        headers = { "X-Api-Key" = "secret" }
        tls = { ca-certificate = "certs/ca.pem", client-certificate = "/abs/c.pem", client-private-key = "k.pem" }

        [otel.span_attributes]
        "example.trace_attr" = "enabled"

        [otel.tracestate.example]
        alpha = "one"
        beta = "two"
        """

    @Test func fullTOMLIsReadWithoutWarnings() throws {
        let loaded = try TelemetrySettings.load(toml: Self.fullTOML, baseDirectory: "/etc/app", mode: .strict)
        #expect(loaded.warnings.isEmpty)
        let s = loaded.settings
        #expect(s.environment == "staging")
        #expect(s.serviceName == "agent")
        #expect(s.serviceVersion == "1.2.3")
        #expect(s.namespace == "acme")
        #expect(s.logUserPrompts)
        #expect(s.runtimeMetrics)
        #expect(s.metricExportInterval == .seconds(5))
        #expect(s.metricsTemporality == .cumulative)
        #expect(s.logExporter == .inMemory)
        #expect(s.metricsExporter == .none)
        guard case .otlp(let trace) = s.traceExporter else {
            Issue.record("trace exporter is \(s.traceExporter)")
            return
        }
        #expect(trace.signal == .traces)
        #expect(trace.protocol == .httpJSON)
        #expect(trace.endpoint == "https://otel.example.com/v1/traces")
        #expect(trace.timeout == .milliseconds(2500))
        #expect(trace.compression == .gzip)
        #expect(trace.headers == ["x-api-key": "secret"])
        #expect(trace.tls.caCertificateFile == "/etc/app/certs/ca.pem")
        #expect(trace.tls.clientIdentity == .init(certificateFile: "/abs/c.pem", privateKeyFile: "/etc/app/k.pem"))
        #expect(s.spanAttributes == ["example.trace_attr": "enabled"])
        #expect(s.tracestate.encodedValue(of: "example") == "alpha:one;beta:two")
    }

    @Test func grpcExporterTableAndStringShorthands() throws {
        let toml = """
            [otel]
            exporter = { otlp-grpc = { endpoint = "https://collector:4317", headers = { "x-otlp-meta" = "abc123" } } }
            trace_exporter = "otlp-grpc"
            metrics_exporter = "otlp-http"
            """
        let s = try TelemetrySettings.load(toml: toml, mode: .strict).settings
        #expect(s.logExporter == .otlp(OTLPExporterConfiguration(
            signal: .logs, protocol: .grpc, endpoint: "https://collector:4317", headers: ["x-otlp-meta": "abc123"])))
        #expect(s.traceExporter == .otlp(OTLPExporterConfiguration(signal: .traces, protocol: .grpc)))
        #expect(s.metricsExporter == .otlp(OTLPExporterConfiguration(signal: .metrics, protocol: .httpProtobuf)))
        guard case .otlp(let m) = s.metricsExporter else { return }
        #expect(m.endpoint == "http://localhost:4318/v1/metrics")
    }

    static let badTOML = """
        [otel]
        environment = 42
        log_user_prompt = "yes"
        colour = "blue"
        namespace = "has space"
        metric_export_interval_ms = -1
        exporter = "kafka"
        metrics_exporter = { otlp-http = { endpoint = "collector:4318" } }

        [otel.trace_exporter.otlp-grpc]
        endpoint = "https://ok:4317"
        tls = { client-certificate = "c.pem" }

        [otel.span_attributes]
        good = "yes"
        bad = 3

        [otel.tracestate.Bad]
        a = "1"
        [otel.tracestate.good]
        a = "1"
        [otel.tracestate.half]
        x = "a;b"
        """

    @Test func lenientTOMLSkipsInvalidEntriesWithWarningsNamingKeyAndReason() throws {
        let base = TelemetrySettings(environment: "prod", namespace: "codex", traceExporter: .inMemory)
        let loaded = try TelemetrySettings.load(toml: Self.badTOML, base: base)
        let byKey = Dictionary(grouping: loaded.warnings, by: \.key)
        func reason(_ key: String) -> String { byKey[key]?.map(\.reason).joined(separator: " | ") ?? "<none>" }

        #expect(reason("otel.environment").contains("expected a string, found integer"))
        #expect(reason("otel.log_user_prompt").contains("expected true or false"))
        #expect(reason("otel.colour") == "unknown key")
        #expect(reason("otel.namespace").contains("[A-Za-z0-9._-]+"))
        #expect(reason("otel.metric_export_interval_ms").contains("positive integer"))
        #expect(reason("otel.exporter").contains("unknown exporter \"kafka\""))
        #expect(reason("otel.metrics_exporter.otlp-http.endpoint").contains("needs an http:// or https:// URL"))
        #expect(reason("otel.trace_exporter.otlp-grpc.tls").contains("without its private key"))
        #expect(reason("otel.span_attributes.bad").contains("expected a string"))
        #expect(byKey["otel.tracestate"]?.count == 2)
        #expect(reason("otel.tracestate").contains("tracestate member 'Bad'"))
        #expect(reason("otel.tracestate").contains("tracestate member 'half' field 'x'"))
        #expect(loaded.warnings.count == 11)
        for warning in loaded.warnings {
            #expect(warning.description.hasPrefix("telemetry setting \(warning.key) ignored: "))
        }

        // What was valid is applied; what was invalid keeps the base value.
        let s = loaded.settings
        #expect(s.environment == "prod")
        #expect(s.namespace == "codex")
        #expect(!s.logUserPrompts)
        #expect(s.logExporter == .none)
        #expect(s.traceExporter == .inMemory)  // skipped: base kept
        #expect(s.metricsExporter == .none)
        #expect(s.spanAttributes == ["good": "yes"])
        #expect(s.tracestate.members.map(\.key) == ["good"])
    }

    @Test func strictTOMLThrowsTheFirstProblem() {
        do {
            _ = try TelemetrySettings.load(toml: Self.badTOML, mode: .strict)
            Issue.record("strict mode accepted invalid settings")
        } catch {
            #expect(error.key == "otel.colour")
            #expect(error.code == .unknownKey)
        }
        do {
            _ = try TelemetrySettings.load(toml: "[otel]\nexporter = \"kafka\"\n", mode: .strict)
            Issue.record("strict mode accepted an unknown exporter")
        } catch {
            #expect(error.key == "otel.exporter")
            #expect(error.code == .invalidValue)
        }
    }

    @Test func syntaxErrorsAreTypedWithPosition() {
        do {
            _ = try TelemetrySettings.load(toml: "[otel]\nenvironment = \n")
            Issue.record("accepted broken TOML")
        } catch {
            #expect(error.code == .syntax)
            #expect(error.reason.contains("line 2"))
        }
    }

    @Test func documentWithoutOtelTableKeepsBase() throws {
        let base = TelemetrySettings(serviceName: "svc")
        let loaded = try TelemetrySettings.load(toml: "[other]\nx = 1\n", base: base, mode: .strict)
        #expect(loaded.settings == base)
        #expect(loaded.warnings.isEmpty)
    }

    @Test func tomlFileRelativePathsResolveAgainstItsDirectory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("config.toml")
        try "[otel.exporter.otlp-grpc]\nendpoint = \"https://c:4317\"\ntls = { ca-certificate = \"ca.pem\" }\n"
            .write(to: file, atomically: true, encoding: .utf8)
        let s = try TelemetrySettings.load(tomlFile: file.path, mode: .strict).settings
        guard case .otlp(let c) = s.logExporter else {
            Issue.record("log exporter is \(s.logExporter)")
            return
        }
        #expect(c.tls.caCertificateFile == dir.path + "/ca.pem")

        do {
            _ = try TelemetrySettings.load(tomlFile: dir.appendingPathComponent("missing.toml").path)
            Issue.record("read a missing file")
        } catch {
            #expect(error.code == .unreadableFile)
        }
    }

    @Test func environmentFollowsTheSpecDefaultsAndOverrides() throws {
        let empty = try TelemetrySettings.load(environment: [:], mode: .strict)
        #expect(empty.warnings.isEmpty)
        // The spec's default exporter is otlp (http/protobuf to localhost:4318).
        #expect(empty.settings.traceExporter == .otlp(OTLPExporterConfiguration(signal: .traces)))

        let env = [
            "OTEL_SERVICE_NAME": "agent",
            "OTEL_RESOURCE_ATTRIBUTES": "service.version=2.0,deployment.environment.name=prod",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
            "OTEL_METRIC_EXPORT_INTERVAL": "1500",
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "cumulative",
        ]
        let base = TelemetrySettings(namespace: "ns", logUserPrompts: true)
        let s = try TelemetrySettings.load(environment: env, base: base, mode: .strict).settings
        #expect(s.serviceName == "agent")
        #expect(s.serviceVersion == "2.0")
        #expect(s.environment == "prod")
        #expect(s.logExporter == .none)
        #expect(s.metricsExporter == .otlp(OTLPExporterConfiguration(signal: .metrics, protocol: .grpc, endpoint: "http://collector:4317")))
        #expect(s.metricExportInterval == .milliseconds(1500))
        #expect(s.metricsTemporality == .cumulative)
        #expect(s.namespace == "ns")  // no standard variable: base kept
        #expect(s.logUserPrompts)
    }

    @Test func environmentWarningsAndStrictMode() throws {
        let env = ["OTEL_TRACES_EXPORTER": "zipkin", "OTEL_EXPORTER_OTLP_TIMEOUT": "x"]
        let loaded = try TelemetrySettings.load(environment: env)
        #expect(Set(loaded.warnings.map(\.key)) == ["OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TIMEOUT"])
        #expect(loaded.warnings.count == 2)
        #expect(loaded.settings.traceExporter == .none)
        #expect(throws: TelemetrySettingsError.self) { try TelemetrySettings.load(environment: env, mode: .strict) }
    }

    @Test func sdkDisabledTurnsEveryExporterOff() throws {
        let s = try TelemetrySettings.load(environment: ["OTEL_SDK_DISABLED": "true"]).settings
        #expect(s.allExportersDisabled)
    }
}
