import Logging
import Testing
import Telemetry
import TelemetryCore
import TelemetrySession
import TelemetryPipeline

/// Log-only versus trace-safe routing for any swift-log logger, and W3C injection without a span.
@Suite("swift-log routing and W3C injection without a span")
struct LogRoutingAndInjectionTests {
    func makeTelemetry() throws -> ConfiguredTelemetry {
        var settings = TelemetrySettings(serviceName: "route")
        settings.traceExporter = .inMemory
        settings.logExporter = .inMemory
        return try #require(try TelemetryProvider.make(settings: settings))
    }

    @Test func logOnlyRouteGivesALogRecordAndNoSpanEvent() async throws {
        let telemetry = try makeTelemetry()
        let provider = telemetry.provider
        let logger = Logger(label: "app") { provider.logHandler(label: $0) }
        provider.tracer("t").withSpan("turn") { _ in
            logger.info("prompt sent", metadata: ["otel.route": "log_only", "prompt": "hello"])
        }
        try await telemetry.shutdown(timeout: .seconds(10))
        let record = try #require(telemetry.inMemoryLogs?.records.first)
        #expect(record.attributes.contains { $0.key == "prompt" && $0.value == .string("hello") })
        #expect(!record.attributes.contains { $0.key == TelemetryLogHandler.routeMetadataKey })
        let spans = try #require(telemetry.inMemorySpans).spans
        #expect(spans.map(\.name) == ["turn"] && spans.first?.events.isEmpty == true)
    }

    @Test func traceSafeRouteGivesASpanEventWithoutPersonalDataAndNoLogRecord() async throws {
        let telemetry = try makeTelemetry()
        let provider = telemetry.provider
        let logger = Logger(label: "app") { provider.logHandler(label: $0) }
        provider.tracer("t").withSpan("turn") { _ in
            logger.info("prompt sent", metadata: ["otel.route": "trace_safe", "prompt": "hello", "prompt_length": "5"])
        }
        logger.info("outside", metadata: ["otel.route": "trace_safe", "user.email": "ada@example.com"])
        try await telemetry.shutdown(timeout: .seconds(10))
        #expect(telemetry.inMemoryLogs?.records.isEmpty == true)
        let spans = try #require(telemetry.inMemorySpans).spans
        let turn = try #require(spans.first { $0.name == "turn" })
        let event = try #require(turn.events.first)
        #expect(event.name == "prompt sent")
        #expect(event.attributes.contains { $0.key == "prompt_length" && $0.value == .string("5") })
        #expect(!event.attributes.contains { $0.key == "prompt" || $0.key == TelemetryLogHandler.routeMetadataKey })
        // Without a current span the event gets a zero-length span of its own.
        let outside = try #require(spans.first { $0.name == "outside" })
        #expect(outside.events.map(\.name) == ["outside"])
        #expect(!outside.attributes.contains { $0.key == "user.email" })
    }

    @Test func injectWithoutACurrentSpanRemovesStaleTraceContextHeaders() {
        var headers: [String: String] = [
            "Traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "a=b", "accept": "*/*",
        ]
        #expect(!W3CPropagation.inject(into: &headers))
        #expect(headers == ["accept": "*/*"])
        var fields: [(name: String, value: String)] = [("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), ("TraceState", "a=b"), ("accept", "*/*")]
        #expect(!W3CPropagation.inject(into: &fields))
        #expect(fields.map(\.name) == ["accept"])
    }
}
