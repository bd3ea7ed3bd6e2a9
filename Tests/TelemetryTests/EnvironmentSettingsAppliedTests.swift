import Foundation
import OTLPExporter
import OTLPTestSupport
import Testing
import Telemetry
import TelemetryCore
import TelemetrySession
import TelemetryPipeline
import Tracing

/// Each standard `OTEL_*` SDK variable, set in the environment given to
/// `TelemetrySettings.load(environment:)`, changes what `TelemetryProvider.make(settings:)` exports.
@Suite("OTEL_* variables applied end to end", .serialized)
struct EnvironmentSettingsAppliedTests {
    /// Settings from `environment`, with every signal kept in memory.
    func inMemorySettings(_ environment: [String: String]) throws -> TelemetrySettings {
        var settings = try TelemetrySettings.load(environment: environment).settings
        settings.traceExporter = .inMemory
        settings.logExporter = .inMemory
        settings.metricsExporter = .inMemory
        return settings
    }

    @Test func sdkDisabledBuildsNothingEvenWithExportersConfigured() throws {
        var settings = try TelemetrySettings.load(environment: ["OTEL_SDK_DISABLED": "true"]).settings
        #expect(settings.sdkDisabled)
        settings.traceExporter = .inMemory  // set from code afterwards: still disabled
        #expect(try TelemetryProvider.make(settings: settings) == nil)
    }

    @Test(PythonPeers.trait) func serviceNameAndEveryResourceAttributeReachTheCollectorPercentDecoded() async throws {
        let collector = try RecordingCollectorPeer()
        let loaded = try TelemetrySettings.load(environment: [
            "OTEL_SERVICE_NAME": "checkout",
            "OTEL_RESOURCE_ATTRIBUTES": "host.name=box%201,team=a%2Cb,service.version=2.1.0,service.name=ignored",
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
        ])
        #expect(loaded.warnings.isEmpty)
        let telemetry = try #require(try TelemetryProvider.make(settings: loaded.settings))
        telemetry.provider.tracer("t").withSpan("work") { _ in }
        try await telemetry.shutdown(timeout: .seconds(10))
        try await collector.waitFor { !collector.requests("traces").isEmpty }
        let resource = collector.resourceAttributes("traces")
        #expect(resource["service.name"] == "checkout")
        #expect(resource["service.version"] == "2.1.0")
        #expect(resource["host.name"] == "box 1")
        #expect(resource["team"] == "a,b")
    }

    @Test(arguments: [
        ("always_on", nil, 400), ("always_off", nil, 0), ("traceidratio", "0", 0), ("traceidratio", "1", 400),
        ("parentbased_always_off", nil, 0), ("parentbased_traceidratio", "1", 400),
    ] as [(String, String?, Int)])
    func tracesSamplerDecidesWhichRootSpansAreExported(sampler: String, argument: String?, expected: Int) async throws {
        var environment = ["OTEL_TRACES_SAMPLER": sampler]
        environment["OTEL_TRACES_SAMPLER_ARG"] = argument
        let telemetry = try #require(try TelemetryProvider.make(settings: try inMemorySettings(environment)))
        let tracer = telemetry.provider.tracer("t")
        for _ in 0..<400 { tracer.withSpan("root") { _ in } }
        try await telemetry.shutdown(timeout: .seconds(10))
        #expect(try #require(telemetry.inMemorySpans).spans.count == expected)
    }

    @Test func traceIDRatioSamplesAboutThatFractionOfTraces() async throws {
        let settings = try inMemorySettings(["OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"])
        #expect(settings.sampler == .traceIDRatio(0.25))
        let telemetry = try #require(try TelemetryProvider.make(settings: settings))
        let tracer = telemetry.provider.tracer("t")
        for _ in 0..<4000 { tracer.withSpan("root") { _ in } }
        try await telemetry.shutdown(timeout: .seconds(10))
        let kept = try #require(telemetry.inMemorySpans).spans.count
        #expect((700...1300).contains(kept), "kept \(kept) of 4000 at ratio 0.25")
    }

    @Test func parentBasedAlwaysOffFollowsASampledRemoteParent() async throws {
        let telemetry = try #require(try TelemetryProvider.make(
            settings: try inMemorySettings(["OTEL_TRACES_SAMPLER": "parentbased_always_off"])))
        let tracer = telemetry.provider.tracer("t")
        W3CPropagation.continueTrace(traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", tracestate: nil) { _ in
            tracer.withSpan("child of sampled") { _ in }
        }
        tracer.withSpan("root") { _ in }
        try await telemetry.shutdown(timeout: .seconds(10))
        #expect(try #require(telemetry.inMemorySpans).spans.map(\.name) == ["child of sampled"])
    }

    @Test func spanBatchProcessorVariablesSetBatchSizeDelayAndQueue() async throws {
        let telemetry = try #require(try TelemetryProvider.make(settings: try inMemorySettings([
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "3", "OTEL_BSP_SCHEDULE_DELAY": "20", "OTEL_BSP_MAX_QUEUE_SIZE": "64",
        ])))
        #expect(telemetry.provider.pipeline.configuration.traces.maxQueueSize == 64)
        let tracer = telemetry.provider.tracer("t")
        for _ in 0..<7 { tracer.withSpan("s") { _ in } }
        // No flush: the 20 ms delay (default 5 s) sends the partial batch on its own.
        let spans = try #require(telemetry.inMemorySpans)
        let deadline = ContinuousClock.now + .seconds(4)
        while spans.spans.count < 7, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(spans.spans.count == 7)
        #expect(spans.batches.allSatisfy { $0.count <= 3 })
        try await telemetry.shutdown(timeout: .seconds(10))
    }

    /// 1000 spans ended in a tight loop: a 4-span queue overflows (drops counted), the default
    /// 2048-span queue cannot.
    @Test(arguments: [("4", true), (nil, false)] as [(String?, Bool)])
    func spanQueueSizeBoundsWhatIsBufferedBeforeDrops(queueSize: String?, expectDrops: Bool) async throws {
        var environment = ["OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2"]
        environment["OTEL_BSP_MAX_QUEUE_SIZE"] = queueSize
        let telemetry = try #require(try TelemetryProvider.make(settings: try inMemorySettings(environment)))
        let tracer = telemetry.provider.tracer("t")
        for _ in 0..<1000 { tracer.startSpan("s").end() }
        try await telemetry.provider.forceFlush(timeout: .seconds(20))
        let statistics = telemetry.provider.statistics(.traces)
        #expect((statistics.dropped > 0) == expectDrops, "\(statistics)")
        #expect(statistics.dropped + (telemetry.inMemorySpans?.spans.count ?? 0) == 1000)
        try await telemetry.shutdown(timeout: .seconds(10))
    }

    @Test func logBatchProcessorVariablesSetBatchSizeAndDelay() async throws {
        let telemetry = try #require(try TelemetryProvider.make(settings: try inMemorySettings([
            "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "2", "OTEL_BLRP_SCHEDULE_DELAY": "20", "OTEL_BLRP_MAX_QUEUE_SIZE": "32",
        ])))
        #expect(telemetry.provider.pipeline.configuration.logs.maxQueueSize == 32)
        let logger = telemetry.provider.logger("l")
        for index in 0..<5 { logger.info("line \(index)") }
        let logs = try #require(telemetry.inMemoryLogs)
        let deadline = ContinuousClock.now + .seconds(4)
        while logs.records.count < 5, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(logs.records.count == 5)
        #expect(logs.batches.allSatisfy { $0.records.count <= 2 })
        try await telemetry.shutdown(timeout: .seconds(10))
    }

    @Test func metricExportIntervalExportsWithoutAFlush() async throws {
        let telemetry = try #require(try TelemetryProvider.make(
            settings: try inMemorySettings(["OTEL_METRIC_EXPORT_INTERVAL": "50"])))
        telemetry.provider.meter("m").counter("requests").add(1)
        let metrics = try #require(telemetry.inMemoryMetrics)
        let deadline = ContinuousClock.now + .seconds(4)
        while !metrics.metrics.contains(where: { $0.name == "requests" }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(metrics.metrics.contains { $0.name == "requests" })
        try await telemetry.shutdown(timeout: .seconds(10))
    }

    /// A collector that holds each call 5 s: with an export timeout of 1 s the export fails after
    /// about 1 s instead of the default 10 s attempt (and 5 min retry) budget.
    @Test(PythonPeers.trait, arguments: [("OTEL_BSP_EXPORT_TIMEOUT", "traces"), ("OTEL_BLRP_EXPORT_TIMEOUT", "logs"), ("OTEL_METRIC_EXPORT_TIMEOUT", "metrics")])
    func exportTimeoutBoundsOneExportWithItsRetries(variable: String, signal: String) async throws {
        let collector = try CollectorPeer()
        defer { collector.stop() }
        let settings = try TelemetrySettings.load(environment: [
            variable: "1000",
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.httpURL, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-test-sleep-ms=5000",
        ]).settings
        let telemetry = try #require(try TelemetryProvider.make(settings: settings))
        switch signal {
        case "traces": telemetry.provider.tracer("t").withSpan("s") { _ in }
        case "logs": telemetry.provider.logger("l").info("line")
        default: telemetry.provider.meter("m").counter("c").add(1)
        }
        let start = ContinuousClock.now
        try? await telemetry.provider.forceFlush(timeout: .seconds(20))
        let elapsed = ContinuousClock.now - start
        let statistics = telemetry.provider.statistics(signal == "traces" ? .traces : signal == "logs" ? .logs : .metrics)
        #expect(statistics.failed >= 1)
        #expect(elapsed < .seconds(4), "one export took \(elapsed)")
        try? await telemetry.shutdown(timeout: .seconds(5))
    }

    @Test func exportTimeoutLeavesRetriesOnlyTheTimeAnAttemptCanStillFinishIn() {
        let configuration = OTLPExporterConfiguration(signal: .traces, protocol: .grpc, endpoint: "http://localhost:4317")
        let bounded = configuration.boundingExport(by: .seconds(30))
        #expect(bounded.timeout == .seconds(10))
        #expect(bounded.retry.maxElapsedTime == .seconds(20))
        let tight = configuration.boundingExport(by: .seconds(2))
        #expect(tight.timeout == .seconds(2))
        #expect(tight.retry.maxElapsedTime == .zero)
    }

    @Test func attributeSpanAndLogRecordLimitsCutWhatIsExported() async throws {
        let settings = try inMemorySettings([
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "4", "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "2",
            "OTEL_SPAN_EVENT_COUNT_LIMIT": "1", "OTEL_SPAN_LINK_COUNT_LIMIT": "1",
            "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT": "1", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT": "1",
            "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT": "1", "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT": "3",
        ])
        let telemetry = try #require(try TelemetryProvider.make(settings: settings))
        var span = telemetry.provider.tracer("t").startSpan("limited")
        span.setAttribute("a", .string("abcdefgh"))
        span.setAttribute("b", .string("x"))
        span.setAttribute("c", .string("y"))
        span.addEvent("e1", attributes: ["k1": 1, "k2": 2])
        span.addEvent("e2")
        let other = SpanContext(traceID: TraceID(high: 1, low: 2), spanID: SpanID(3))
        span.addLink(other, attributes: ["k1": 1, "k2": 2])
        span.addLink(other)
        span.end()
        telemetry.provider.logger("l").info("line", attributes: ["p": .string("abcdef"), "q": .string("z")])
        try await telemetry.shutdown(timeout: .seconds(10))

        let data = try #require(telemetry.inMemorySpans?.spans.first)
        #expect(data.attributes.count == 2 && data.droppedAttributesCount == 1)
        #expect(data.attributes.first { $0.key == "a" }?.value == .string("abcd"))
        #expect(data.events.count == 1 && data.droppedEventsCount == 1)
        #expect(data.events.first?.attributes.count == 1)
        #expect(data.links.count == 1 && data.droppedLinksCount == 1)
        #expect(data.links.first?.attributes.count == 1)
        let record = try #require(telemetry.inMemoryLogs?.records.first)
        #expect(record.attributes.count == 1)
        #expect(record.attributes.first?.value == .string("abc"))
    }

    @Test func generalLimitsApplyWhereNoSpecificLimitIsSet() throws {
        let settings = try TelemetrySettings.load(environment: [
            "OTEL_ATTRIBUTE_COUNT_LIMIT": "5", "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "2", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "9",
        ]).settings
        #expect(settings.spanLimits.attributeCountLimit == 2)
        #expect(settings.spanLimits.eventAttributeCountLimit == 5 && settings.spanLimits.linkAttributeCountLimit == 5)
        #expect(settings.spanLimits.attributeValueLengthLimit == 9)
        #expect(settings.logRecordLimits.attributeCountLimit == 5 && settings.logRecordLimits.attributeValueLengthLimit == 9)
    }

    @Test func spanAttributeValueLengthLimitWinsOverTheGeneralOneForSpansOnly() async throws {
        let settings = try inMemorySettings([
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "6", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "2",
        ])
        #expect(settings.spanLimits.attributeValueLengthLimit == 2)
        #expect(settings.logRecordLimits.attributeValueLengthLimit == 6)
        let telemetry = try #require(try TelemetryProvider.make(settings: settings))
        var span = telemetry.provider.tracer("t").startSpan("cut")
        span.setAttribute("a", .string("abcdefgh"))
        span.end()
        telemetry.provider.logger("l").info("line", attributes: ["p": .string("abcdefgh")])
        try await telemetry.shutdown(timeout: .seconds(10))
        let data = try #require(telemetry.inMemorySpans?.spans.first)
        #expect(data.attributes.first { $0.key == "a" }?.value == .string("ab"))
        let record = try #require(telemetry.inMemoryLogs?.records.first)
        #expect(record.attributes.first?.value == .string("abcdef"))
    }

    struct Headers: Injector, Extractor {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    }

    @Test(arguments: [
        ("tracecontext,baggage", true, true), ("tracecontext", true, false), ("baggage", false, true), ("none", false, false),
    ])
    func propagatorsChooseTheHeadersInjectedAndExtracted(value: String, traceContext: Bool, baggage: Bool) async throws {
        let telemetry = try #require(try TelemetryProvider.make(settings: try inMemorySettings(["OTEL_PROPAGATORS": value])))
        let tracer = telemetry.distributedTracer()
        var context = ServiceContext.topLevel
        tracer.extract(
            ["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "baggage": "user=ada,tier=gold"],
            into: &context, using: Headers())
        #expect((context.w3cBaggage != nil) == baggage)
        let span = tracer.startSpan("outbound", context: context)
        var outgoing: [String: String] = [:]
        tracer.inject(span.context, into: &outgoing, using: Headers())
        span.end()
        #expect((outgoing["traceparent"] != nil) == traceContext)
        #expect(outgoing["traceparent"]?.contains("0af7651916cd43dd8448eb211c80319c") ?? !traceContext)
        #expect(outgoing["baggage"] == (baggage ? "user=ada,tier=gold" : nil))
        try await telemetry.shutdown(timeout: .seconds(10))
    }

    @Test func invalidValuesAreWarnedAboutByNameAndTheDefaultKept() throws {
        let loaded = try TelemetrySettings.load(environment: [
            "OTEL_TRACES_SAMPLER": "sometimes", "OTEL_BSP_MAX_QUEUE_SIZE": "lots", "OTEL_BLRP_SCHEDULE_DELAY": "-5",
            "OTEL_METRIC_EXPORT_TIMEOUT": "0", "OTEL_SPAN_EVENT_COUNT_LIMIT": "-1", "OTEL_PROPAGATORS": "b3,tracecontext",
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "x",
        ])
        let named = Set(loaded.warnings.map(\.key))
        #expect(named == [
            "OTEL_TRACES_SAMPLER", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BLRP_SCHEDULE_DELAY", "OTEL_METRIC_EXPORT_TIMEOUT",
            "OTEL_SPAN_EVENT_COUNT_LIMIT", "OTEL_PROPAGATORS", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        ])
        let settings = loaded.settings
        #expect(settings.sampler == .default)
        #expect(settings.spanProcessor == .spanDefaults)
        #expect(settings.logProcessor == .logDefaults)
        #expect(settings.metricExportTimeout == .seconds(30))
        #expect(settings.spanLimits.eventCountLimit == 128 && settings.spanLimits.attributeValueLengthLimit == nil)
        #expect(settings.propagators == [.traceContext])
    }

    @Test func tomlCarriesTheSameSDKSettingsAndTheyApply() async throws {
        let loaded = try TelemetrySettings.load(toml: """
            [otel]
            trace_exporter = "in-memory"
            exporter = "in-memory"
            sampler = "traceidratio"
            sampler_arg = 0
            metric_export_timeout_ms = 5000
            propagators = ["baggage"]
            [otel.resource_attributes]
            "host.name" = "box-1"
            [otel.span_processor]
            max_export_batch_size = 2
            schedule_delay_ms = 20
            [otel.log_processor]
            max_queue_size = 64
            [otel.span_limits]
            attribute_count = 1
            [otel.log_record_limits]
            attribute_value_length = 2
            """)
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        let settings = loaded.settings
        #expect(settings.sampler == .traceIDRatio(0))
        #expect(settings.metricExportTimeout == .seconds(5))
        #expect(settings.propagators == [.baggage])
        #expect(settings.spanProcessor.maxExportBatchSize == 2 && settings.spanProcessor.scheduleDelay == .milliseconds(20))
        #expect(settings.logProcessor.maxQueueSize == 64)
        #expect(settings.spanLimits.attributeCountLimit == 1 && settings.logRecordLimits.attributeValueLengthLimit == 2)
        let telemetry = try #require(try TelemetryProvider.make(settings: settings))
        telemetry.provider.tracer("t").withSpan("dropped by the sampler") { _ in }
        telemetry.provider.logger("l").info("x", attributes: ["k": .string("abcdef")])
        try await telemetry.shutdown(timeout: .seconds(10))
        #expect(telemetry.inMemorySpans?.spans.isEmpty == true)
        let record = try #require(telemetry.inMemoryLogs?.records.first)
        #expect(record.attributes.first?.value == .string("ab"))
        #expect(telemetry.provider.resource["host.name"] == .string("box-1"))
    }

    @Test func invalidTomlSDKSettingsAreWarnedAboutByKey() throws {
        let loaded = try TelemetrySettings.load(toml: """
            [otel]
            sampler = "sometimes"
            sampler_arg = 3
            propagators = ["b3"]
            [otel.span_processor]
            max_queue_size = 0
            flush_everything = true
            """)
        #expect(Set(loaded.warnings.map(\.key)) == [
            "otel.sampler", "otel.sampler_arg", "otel.propagators", "otel.span_processor.max_queue_size",
            "otel.span_processor.flush_everything",
        ])
        #expect(loaded.settings.sampler == .default)
        #expect(loaded.settings.spanProcessor == .spanDefaults)
    }
}
