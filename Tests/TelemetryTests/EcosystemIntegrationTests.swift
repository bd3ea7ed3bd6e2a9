import CoreMetrics
import Foundation
import Logging
import Testing
import Tracing
@testable import Telemetry

// The swift-log, swift-metrics and swift-distributed-tracing back-ends, used directly (no
// process-wide bootstrap: that can happen once per process and is tested once, in
// TelemetryProviderSettingsTests).

struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}

struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

struct ExampleError: Error, CustomStringConvertible {
    var description: String { "example failure" }
}

private func value(_ attributes: [Attribute], _ key: String) -> AttributeValue? {
    attributes.first { $0.key == key }?.value
}

private func string(_ value: AttributeValue?) -> String {
    if case .string(let s)? = value { return s }
    return ""
}

private func numberPoints(_ metric: MetricData?) -> [NumberDataPoint] {
    switch metric?.points {
    case .sum(_, _, let points)?, .gauge(let points)?: return points
    default: return []
    }
}

private func histogramPoints(_ metric: MetricData?) -> [HistogramDataPoint] {
    if case .histogram(_, let points)? = metric?.points { return points }
    return []
}

@Suite("swift-log back-end (TelemetryLogHandler)")
struct TelemetryLogHandlerTests {
    @Test func messagesBecomeRecordsWithSeverityMetadataSourceAndTheCurrentSpansIDs() async throws {
        let logs = InMemoryLogExporter(), spans = InMemorySpanExporter()
        let provider = makeProvider(spans: spans, logs: logs)
        var logger = Logger(label: "app.http") { TelemetryLogHandler(label: $0, provider: provider, logLevel: .trace) }
        logger[metadataKey: "handler"] = "h"
        logger[metadataKey: "k"] = "handler-value"
        let spanID = provider.tracer("t").withSpan("request") { span in
            logger.notice("hello", metadata: ["k": "v", "nested": ["a": "1", "b": ["c": "2"]], "list": ["x", "y"], "n": "\(5)"])
            return span.context.spanID
        }
        try await provider.shutdown(timeout: .seconds(10))
        let record = try #require(logs.records.first)
        #expect(logs.records.count == 1)
        #expect(record.severity == Severity(rawValue: 10))
        #expect(record.severityText == "NOTICE")
        #expect(record.body == .string("hello"))
        #expect(record.scope.name == "app.http")
        #expect(record.spanID == spanID)
        #expect(record.traceID == spans.spans.first?.context.traceID)
        #expect(value(record.attributes, "k") == .string("v"))  // the call's metadata wins
        #expect(value(record.attributes, "handler") == .string("h"))
        #expect(value(record.attributes, "nested.a") == .string("1"))
        #expect(value(record.attributes, "nested.b.c") == .string("2"))
        #expect(value(record.attributes, "list") == .stringArray(["x", "y"]))
        #expect(value(record.attributes, "n") == .string("5"))
        #expect(value(record.attributes, "code.file.path") == .string(#fileID))
        #expect(string(value(record.attributes, "code.function.name")).contains("messagesBecomeRecords"))
        if case .int(let line)? = value(record.attributes, "code.line.number") { #expect(line > 0) } else { Issue.record("no line") }
    }

    @Test func everyLevelMapsToItsSeverityAndTheLogLevelFilters() async throws {
        let logs = InMemoryLogExporter()
        let provider = makeProvider(logs: logs)
        var logger = Logger(label: "levels") { TelemetryLogHandler(label: $0, provider: provider) }
        logger.logLevel = .trace
        for level in Logger.Level.allCases { logger.log(level: level, "\(level)") }
        logger.logLevel = .warning
        logger.info("filtered out")
        logger.warning("kept")
        try await provider.shutdown(timeout: .seconds(10))
        let records = logs.records
        #expect(records.map { $0.severity?.rawValue } == [1, 5, 9, 10, 13, 17, 21, 13])
        #expect(records.map(\.severityText) == ["TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "WARNING"])
        #expect(records.last?.body == .string("kept"))
    }

    @Test func anAttachedErrorBecomesExceptionAttributesAndTheMetadataProviderIsMerged() async throws {
        let logs = InMemoryLogExporter()
        let provider = makeProvider(logs: logs)
        let metadataProvider = Logger.MetadataProvider { ["request.id": "r-1", "k": "from-provider"] }
        var handler = TelemetryLogHandler(label: "errors", provider: provider, metadataProvider: metadataProvider)
        handler.metadata = ["k": "from-handler"]
        handler.log(event: LogEvent(
            level: .error, message: "failed", error: ExampleError(), metadata: nil, source: nil, file: "F.swift",
            function: "f()", line: 7))
        try await provider.shutdown(timeout: .seconds(10))
        let record = try #require(logs.records.first)
        #expect(string(value(record.attributes, "exception.type")).contains("ExampleError"))
        #expect(value(record.attributes, "exception.message") == .string("example failure"))
        #expect(value(record.attributes, "request.id") == .string("r-1"))
        #expect(value(record.attributes, "k") == .string("from-handler"))
        #expect(value(record.attributes, "code.line.number") == .int(7))
        #expect(record.spanID == nil)
    }
}

@Suite("swift-metrics back-end (TelemetryMetricsFactory)")
struct TelemetryMetricsFactoryTests {
    @Test func countersMetersRecordersAndTimersBecomeOTLPInstruments() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter)
        let factory = provider.metricsFactory()
        let counter = CoreMetrics.Counter(label: "requests", dimensions: [("route", "/a")], factory: factory)
        counter.increment(by: 3)
        counter.increment()
        CoreMetrics.Counter(label: "requests", dimensions: [("route", "/b")], factory: factory).increment(by: 10)
        let bytes = FloatingPointCounter(label: "bytes", factory: factory)
        bytes.increment(by: 1.5)
        bytes.increment(by: 2.25)
        let queue = CoreMetrics.Meter(label: "queue.depth", dimensions: [("queue", "q1")], factory: factory)
        queue.set(10)
        queue.increment(by: 5)
        queue.decrement(by: 2)
        let sizes = Recorder(label: "payload.size", factory: factory)
        sizes.record(100)
        sizes.record(300.5)
        let last = Recorder(label: "temperature", aggregate: false, factory: factory)
        last.record(20)
        last.record(21.5)
        let timer = CoreMetrics.Timer(label: "db.query", dimensions: [("op", "select")], factory: factory)
        timer.recordNanoseconds(1_500_000_000)
        timer.recordMilliseconds(250)
        try await provider.forceFlush(timeout: .seconds(10))
        let metrics = Dictionary(uniqueKeysWithValues: exporter.lastCollection.map { ($0.name, $0) })

        let requests = numberPoints(metrics["requests"])
        #expect(requests.first { $0.attributes == ["route": "/a"] }?.value == .int(4))
        #expect(requests.first { $0.attributes == ["route": "/b"] }?.value == .int(10))
        if case .sum(let monotonic, _, _)? = metrics["requests"]?.points { #expect(monotonic) } else { Issue.record("requests is not a sum") }
        #expect(numberPoints(metrics["bytes"]).map(\.value) == [.double(3.75)])
        guard case .gauge(let depth)? = metrics["queue.depth"]?.points else {
            Issue.record("queue.depth is not a gauge")
            return
        }
        #expect(depth.map(\.value) == [.double(13)])
        #expect(depth.first?.attributes == ["queue": "q1"])
        let size = try #require(histogramPoints(metrics["payload.size"]).first)
        #expect(size.count == 2 && size.sum == 400.5)
        guard case .gauge(let temperature)? = metrics["temperature"]?.points else {
            Issue.record("a non-aggregating recorder is not a gauge")
            return
        }
        #expect(temperature.map(\.value) == [.double(21.5)])
        #expect(metrics["db.query"]?.unit == "s")
        let query = try #require(histogramPoints(metrics["db.query"]).first)
        #expect(query.count == 2 && abs(query.sum - 1.75) < 1e-9)
        #expect(query.explicitBounds == DurationBuckets.seconds)
        #expect(query.attributes == ["op": "select"])
        #expect(metrics["requests"]?.scope.name == "swift-metrics")
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test func meterIncrementsFromManyThreadsEndAtTheExactTotal() async throws {
        let exporter = InMemoryMetricExporter()
        let provider = makeProvider(metrics: exporter)
        let gauge = CoreMetrics.Meter(label: "inflight", factory: provider.metricsFactory())
        let counter = CoreMetrics.Counter(label: "events", factory: provider.metricsFactory())
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<500 {
                gauge.increment(by: 1)
                counter.increment()
            }
        }
        try await provider.forceFlush(timeout: .seconds(10))
        let metrics = Dictionary(uniqueKeysWithValues: exporter.lastCollection.map { ($0.name, $0) })
        #expect(numberPoints(metrics["inflight"]).map(\.value) == [.double(4000)])
        #expect(numberPoints(metrics["events"]).map(\.value) == [.int(4000)])
        try await provider.shutdown(timeout: .seconds(10))
    }
}

@Suite("swift-distributed-tracing back-end (DistributedTracer)")
struct DistributedTracerTests {
    @Test func withSpanRecordsNestingAttributesEventsLinksStatusAndErrors() async throws {
        let spans = InMemorySpanExporter()
        let provider = makeProvider(spans: spans, spanAttributes: ["team": "core"])
        let tracer = provider.distributedTracer(scope: "dt")
        let other = tracer.startSpan("other", context: .topLevel)
        other.end()
        struct Failure: Error {}
        #expect(throws: Failure.self) {
            try tracer.withSpan("parent", context: .topLevel, ofKind: .server) { parent in
                parent.attributes["http.route"] = "/items"
                parent.attributes["count"] = 3
                parent.attributes["ratio"] = 0.5
                parent.attributes["ok"] = true
                parent.attributes["tags"] = ["a", "b"] as [String]
                parent.attributes["int32"] = SpanAttribute.int32(7)
                parent.addEvent(Tracing.SpanEvent(name: "cache.miss", attributes: ["key": "k1"]))
                parent.addLink(other)
                parent.operationName = "GET /items"
                tracer.withSpan("child") { child in
                    child.setStatus(Tracing.SpanStatus(code: .error, message: "partial"))
                }
                throw Failure()
            }
        }
        try await provider.shutdown(timeout: .seconds(10))
        let byName = Dictionary(uniqueKeysWithValues: spans.spans.map { ($0.name, $0) })
        let parent = try #require(byName["GET /items"])
        let child = try #require(byName["child"])
        let linked = try #require(byName["other"])
        #expect(child.parentSpanID == parent.context.spanID)
        #expect(child.context.traceID == parent.context.traceID)
        #expect(parent.parentSpanID == nil)
        #expect(parent.kind == .server)
        #expect(parent.scope.name == "dt")
        #expect(value(parent.attributes, "team") == .string("core"))  // the provider's span attributes
        #expect(value(parent.attributes, "http.route") == .string("/items"))
        #expect(value(parent.attributes, "count") == .int(3))
        #expect(value(parent.attributes, "ratio") == .double(0.5))
        #expect(value(parent.attributes, "ok") == .bool(true))
        #expect(value(parent.attributes, "tags") == .stringArray(["a", "b"]))
        #expect(value(parent.attributes, "int32") == .int(7))
        #expect(parent.events.map(\.name) == ["cache.miss", "exception"])
        #expect(value(parent.events[0].attributes, "key") == .string("k1"))
        #expect(string(value(parent.events[1].attributes, "exception.type")).contains("Failure"))
        #expect(parent.status == .error(description: ""))
        #expect(parent.links.map(\.context.spanID) == [linked.context.spanID])
        #expect(child.status == .error(description: "partial"))
        #expect(parent.endTimeUnixNano >= parent.startTimeUnixNano)
    }

    @Test func attributesReadBackAndAssignmentReplacesTheSet() async throws {
        let spans = InMemorySpanExporter()
        let provider = makeProvider(spans: spans)
        let span = provider.distributedTracer().startSpan("s", context: .topLevel)
        span.attributes["a"] = "1"
        span.attributes["b"] = 2
        #expect(span.attributes.get("a") == .string("1"))
        #expect(span.attributes.get("b") == .int64(2))
        span.updateAttributes { $0["a"] = nil }
        #expect(span.attributes.get("a") == nil)
        #expect(span.isRecording)
        span.end()
        span.end()  // ignored
        span.attributes["late"] = "x"  // ignored after end
        try await provider.shutdown(timeout: .seconds(10))
        #expect(spans.spans.count == 1)
        #expect(spans.spans.first?.attributes.map(\.key) == ["b"])
    }

    @Test func injectWritesW3CHeadersAndExtractContinuesTheTraceWithConfiguredTracestate() async throws {
        let spans = InMemorySpanExporter()
        let configured = try ConfiguredTraceState(["example": ["alpha": "one"]])
        let provider = TelemetryProvider(resource: Resource(serviceName: "dt"), spanExporters: [spans], tracestate: configured)
        let tracer = provider.distributedTracer()
        let incoming = [
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "tracestate": "rojo=00f067aa0ba902b7,example=alpha:old;keep:1",
        ]
        var context = InstrumentationContext.topLevel
        tracer.extract(incoming, into: &context, using: DictionaryExtractor())
        var outgoing: [String: String] = [:]
        let serverSpanID = tracer.withSpan("handle", context: context, ofKind: .server) { span in
            tracer.inject(InstrumentationContext.current ?? .topLevel, into: &outgoing, using: DictionaryInjector())
            return span.spanContext.spanID
        }
        // A context that was only extracted (no span of ours) forwards the upserted tracestate.
        var forwarded: [String: String] = [:]
        tracer.inject(context, into: &forwarded, using: DictionaryInjector())
        // Garbage is ignored: no parent.
        var bad = InstrumentationContext.topLevel
        tracer.extract(["traceparent": "00-zz-00-01"], into: &bad, using: DictionaryExtractor())
        var none: [String: String] = [:]
        tracer.inject(bad, into: &none, using: DictionaryInjector())
        try await provider.shutdown(timeout: .seconds(10))

        let span = try #require(spans.spans.first)
        #expect(span.context.traceID.hexString == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(span.parentSpanID == SpanID(0x00f0_67aa_0ba9_02b7))
        #expect(span.context.traceState == "example=alpha:one;keep:1,rojo=00f067aa0ba902b7")
        #expect(outgoing["traceparent"] == "00-4bf92f3577b34da6a3ce929d0e0e4736-\(serverSpanID.hexString)-01")
        #expect(outgoing["tracestate"] == "example=alpha:one;keep:1,rojo=00f067aa0ba902b7")
        #expect(forwarded["traceparent"] == incoming["traceparent"])
        #expect(forwarded["tracestate"] == "example=alpha:one;keep:1,rojo=00f067aa0ba902b7")
        #expect(none.isEmpty)
    }

    @Test func sdkAndDistributedSpansNestInBothDirectionsAndLogsFollowTheInnermost() async throws {
        let spans = InMemorySpanExporter(), logs = InMemoryLogExporter()
        let provider = makeProvider(spans: spans, logs: logs)
        let sdk = provider.tracer("sdk")
        let dt = provider.distributedTracer()
        let logger = provider.logger("l")
        sdk.withSpan("sdk-outer") { _ in
            dt.withSpan("dt-middle") { _ in
                logger.info("in dt-middle")
                sdk.withSpan("sdk-inner") { _ in
                    logger.info("in sdk-inner")
                    dt.withSpan("dt-inner") { _ in logger.info("in dt-inner") }
                }
                logger.info("back in dt-middle")
            }
        }
        try await provider.shutdown(timeout: .seconds(10))
        let byName = Dictionary(uniqueKeysWithValues: spans.spans.map { ($0.name, $0) })
        func id(_ name: String) -> SpanID? { byName[name]?.context.spanID }
        #expect(byName["dt-middle"]?.parentSpanID == id("sdk-outer"))
        #expect(byName["sdk-inner"]?.parentSpanID == id("dt-middle"))
        #expect(byName["dt-inner"]?.parentSpanID == id("sdk-inner"))
        #expect(Set(spans.spans.map(\.context.traceID)).count == 1)
        let bodyToSpan = Dictionary(uniqueKeysWithValues: logs.records.map { record -> (String, SpanID?) in
            guard case .string(let body)? = record.body else { return ("", record.spanID) }
            return (body, record.spanID)
        })
        #expect(bodyToSpan["in dt-middle"] == id("dt-middle"))
        #expect(bodyToSpan["in sdk-inner"] == id("sdk-inner"))
        #expect(bodyToSpan["in dt-inner"] == id("dt-inner"))
        #expect(bodyToSpan["back in dt-middle"] == id("dt-middle"))
    }

    @Test func unsampledDistributedSpansAreNotRecordingButPropagate() async throws {
        let spans = InMemorySpanExporter()
        let provider = makeProvider(spans: spans, sampler: .alwaysOff)
        let tracer = provider.distributedTracer()
        var headers: [String: String] = [:]
        tracer.withSpan("off", context: .topLevel) { span in
            #expect(!span.isRecording)
            span.attributes["ignored"] = "x"
            tracer.inject(span.context, into: &headers, using: DictionaryInjector())
        }
        try await provider.shutdown(timeout: .seconds(10))
        #expect(spans.spans.isEmpty)
        #expect(headers["traceparent"]?.hasSuffix("-00") == true)
    }
}
