import Foundation
import HTTP2Transport
import HTTPTransportCore
@testable import OTLPExporter
import OTLPProto
import OTLPSync
import OTLPTestSupport
import OTLPTesting
import TelemetryCore
import TelemetryPipeline
import Testing

func httpExporter(_ signal: TelemetrySignal, _ base: String, json: Bool = false, retry: OTLPRetryPolicy = fastRetry,
                  timeout: Duration = .seconds(5), compression: OTLPCompression = .none,
                  headers: [String: String] = [:], options: OTLPExportOptions = OTLPExportOptions()) throws -> OTLPHTTPExporter {
    let config = OTLPExporterConfiguration(signal: signal, protocol: json ? .httpJSON : .httpProtobuf,
                                           endpoint: "\(base)/\(signal.httpPath)", headers: headers, timeout: timeout,
                                           compression: compression, retry: retry)
    return try OTLPHTTPExporter(configuration: config, options: options)
}

enum JSONRequests {
    static func traces(_ names: [String]) -> [UInt8] {
        let spans = names.enumerated().map { i, name in
            let traceID = (0..<16).map { String(format: "%02x", ($0 + i + 1) & 0xFF) }.joined()
            let spanID = (0..<8).map { String(format: "%02x", ($0 * 3 + i + 1) & 0xFF) }.joined()
            return #"{"traceId":"\#(traceID)","spanId":"\#(spanID)","name":"\#(name)","kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000000500000","attributes":[{"key":"index","value":{"intValue":"\#(i)"}}]}"#
        }.joined(separator: ",")
        return Array(#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"tests"}}]},"scopeSpans":[{"scope":{"name":"swift-otlp-tests"},"spans":[\#(spans)]}]}]}"#.utf8)
    }

    static func logs(_ bodies: [String]) -> [UInt8] {
        let records = bodies.map { #"{"timeUnixNano":"1700000000000000000","severityNumber":9,"body":{"stringValue":"\#($0)"}}"# }
            .joined(separator: ",")
        return Array(#"{"resourceLogs":[{"resource":{},"scopeLogs":[{"scope":{"name":"t"},"logRecords":[\#(records)]}]}]}"#.utf8)
    }

    static func metrics(name: String, values: [Int]) -> [UInt8] {
        let points = values.map { #"{"timeUnixNano":"1700000000000000000","asInt":"\#($0)"}"# }.joined(separator: ",")
        return Array(#"{"resourceMetrics":[{"resource":{},"scopeMetrics":[{"scope":{"name":"t"},"metrics":[{"name":"\#(name)","sum":{"dataPoints":[\#(points)],"aggregationTemporality":2,"isMonotonic":true}}]}]}]}"#.utf8)
    }
}

/// The OTLP/HTTP exporter against the embedded collector; faults are scripted per call.
@Suite(.serialized) struct HTTPExporterTests {
    @Test func protobufExportsOfEverySignalArriveOnceOverOneKeptAliveConnection() async throws {
        let collector = try OTLPTestCollector.started(grpc: false)
        let traces = try httpExporter(.traces, collector.endpoint)
        let metrics = try httpExporter(.metrics, collector.endpoint)
        let logs = try httpExporter(.logs, collector.endpoint)
        defer { traces.shutdown(); metrics.shutdown(); logs.shutdown() }
        for i in 0..<5 {
            await traces.export(encodedRequest: TestRequests.traces(["s\(i)a", "s\(i)b"]), itemCount: 2)
        }
        await metrics.export(encodedRequest: TestRequests.metrics(name: "m", values: [7, 8]), itemCount: 2)
        await logs.export(encodedRequest: TestRequests.logs(["l1"]), itemCount: 1)
        #expect(traces.counts.exported == 10 && metrics.counts.exported == 2 && logs.counts.exported == 1)
        #expect(collector.counters.requests == 7 && collector.counters.rejected == 0)
        #expect(collector.spanNames == (0..<5).flatMap { ["s\($0)a", "s\($0)b"] })
        #expect(collector.metricKeys == ["m:7", "m:8"])
        #expect(collector.logBodies == ["l1"])
        let requests = collector.requests
        #expect(requests.allSatisfy { $0.encoding == .httpProtobuf && $0.header("content-type") == "application/x-protobuf" })
        let connections = Set(requests.map(\.connectionID))
        #expect(connections.count == 3, "one kept-alive connection per exporter, saw connections \(connections)")
        #expect(Set(requests.filter { $0.signal == .traces }.map(\.connectionID)).count == 1)
        await collector.stop()
    }

    @Test func jsonExportsCarryHexIdsAndContent() async throws {
        let collector = try OTLPTestCollector.started(grpc: false)
        let traces = try httpExporter(.traces, collector.endpoint, json: true)
        let logs = try httpExporter(.logs, collector.endpoint, json: true, compression: .gzip)
        let metrics = try httpExporter(.metrics, collector.endpoint, json: true)
        defer { traces.shutdown(); logs.shutdown(); metrics.shutdown() }
        await traces.export(encodedRequest: JSONRequests.traces(["j1", "j2"]), itemCount: 2)
        await logs.export(encodedRequest: JSONRequests.logs(["hello json"]), itemCount: 1)
        await metrics.export(encodedRequest: JSONRequests.metrics(name: "jm", values: [42]), itemCount: 1)
        #expect(collector.counters.requests == 3 && collector.counters.rejected == 0)
        #expect(collector.spanNames == ["j1", "j2"])
        #expect(collector.logBodies == ["hello json"])
        #expect(collector.metricKeys == ["jm:42"])
        #expect(collector.spans.first?.span.traceId == Array(1...16))
        let requests = collector.requests
        #expect(requests.allSatisfy { $0.encoding == .httpJSON && $0.header("content-type") == "application/json" })
        #expect(requests.map(\.compressed) == [false, true, false])
        await collector.stop()
    }

    @Test func status429WithRetryAfterSecondsIsRetriedAfterThatDelay() async throws {
        let collector = try OTLPTestCollector.started(grpc: false)
        collector.enqueueFault(.httpStatus(429, retryAfter: .seconds(2)))
        let clock = OTLPVirtualClock()
        let exporter = try httpExporter(.traces, collector.endpoint, options: OTLPExportOptions(clock: clock, random: OTLPFixedRandom(0.5)))
        defer { exporter.shutdown() }
        let result = await exporter.export(encodedRequest: TestRequests.traces(["t"]), itemCount: 1)
        #expect(result.isDelivered && result.attempts == 2)
        #expect(clock.sleeps == [.seconds(2)])
        #expect(collector.counters.requests == 2 && collector.counters.rejectedRequests == 1)
        #expect(collector.spanNames == ["t"])
        await collector.stop()
    }

    @Test func status503WithRetryAfterHTTPDateIsRetriedAfterThatDelay() async throws {
        // 784111777 = Sun, 06 Nov 1994 08:49:37 GMT; the virtual wall clock is 3 s before it.
        // A server of its own: the collector's faults give Retry-After in seconds only.
        let answers: [HTTPServerResponse] = [
            HTTPServerResponse(status: 503, headers: [HTTPField("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]),
            HTTPServerResponse(status: 502),
            HTTPServerResponse(status: 504),
            HTTPServerResponse(status: 200, headers: [HTTPField("content-type", "application/x-protobuf")]),
        ]
        let received = LockedValue<[HTTPServerRequest]>([])
        let server = try HTTPServer(configuration: HTTPServerConfiguration()) { request in
            let index = received.withLock { $0.append(request); return $0.count - 1 }
            return answers[min(index, answers.count - 1)]
        }
        defer { server.shutdown() }
        let clock = OTLPVirtualClock(wallClockStart: 784_111_774)
        let exporter = try httpExporter(.logs, "http://\(server.authority)", options: OTLPExportOptions(clock: clock, random: OTLPFixedRandom(0.5)))
        defer { exporter.shutdown() }
        let request = TestRequests.logs(["d"])
        let result = await exporter.export(encodedRequest: request, itemCount: 1)
        #expect(result.isDelivered && result.attempts == 4)
        #expect(clock.sleeps == [.seconds(3), .milliseconds(30), .milliseconds(45)])
        let requests = received.withLock { $0 }
        #expect(requests.count == 4)
        #expect(requests.allSatisfy { $0.path == "/v1/logs" && $0.body == request })
    }

    @Test func otherErrorStatusesAreNotRetried() async throws {
        let collector = try OTLPTestCollector.started(grpc: false)
        collector.enqueueFaults([.grpcStatus(.invalidArgument, message: "bad data"), .httpStatus(500)])
        let exporter = try httpExporter(.traces, collector.endpoint, options: OTLPExportOptions(diagnostics: { _ in }))
        defer { exporter.shutdown() }
        let first = await exporter.export(encodedRequest: TestRequests.traces(["x"]), itemCount: 1)
        let second = await exporter.export(encodedRequest: TestRequests.traces(["y"]), itemCount: 1)
        #expect(first == .rejected(reason: "HTTP status 400: bad data", attempts: 1))
        #expect(second.attempts == 1 && !second.isDelivered)
        #expect(exporter.counts.failed == 2)
        #expect(collector.counters.requests == 2 && collector.counters.rejectedRequests == 2 && collector.spans.isEmpty)
        await collector.stop()
    }

    @Test func partialSuccessIsParsedFromProtobufAndJSONResponses() async throws {
        let collector = try OTLPTestCollector.started(grpc: false)
        collector.enqueueFaults([.partialSuccess(rejected: 1, message: "scripted partial success"),
                                 .partialSuccess(rejected: 2, message: "scripted partial success")])
        let messages = Messages()
        let options = OTLPExportOptions(diagnostics: messages.sink)
        let proto = try httpExporter(.traces, collector.endpoint, options: options)
        let json = try httpExporter(.traces, collector.endpoint, json: true, options: options)
        defer { proto.shutdown(); json.shutdown() }
        let a = await proto.export(encodedRequest: TestRequests.traces(["a", "b"]), itemCount: 2)
        let b = await json.export(encodedRequest: JSONRequests.traces(["c", "d", "e"]), itemCount: 3)
        #expect(a == .delivered(partialSuccess: OTLPPartialSuccess(rejectedItems: 1, errorMessage: "scripted partial success"), attempts: 1))
        #expect(b == .delivered(partialSuccess: OTLPPartialSuccess(rejectedItems: 2, errorMessage: "scripted partial success"), attempts: 1))
        #expect(proto.counts.rejected == 1 && proto.counts.exported == 1)
        #expect(json.counts.rejected == 2 && json.counts.exported == 1)
        #expect(collector.requests.map(\.encoding) == [.httpProtobuf, .httpJSON])
        #expect(messages.all.count == 2)  // once per interval, per exporter
        await collector.stop()
    }

    @Test func slowResponsePastTheTimeoutIsRetriedOnANewConnection() async throws {
        let collector = try OTLPTestCollector.started(grpc: false)
        collector.enqueueFault(.delay(.milliseconds(1200)))
        let exporter = try httpExporter(.traces, collector.endpoint, timeout: .milliseconds(300))
        defer { exporter.shutdown() }
        let result = await exporter.export(encodedRequest: TestRequests.traces(["slow"]), itemCount: 1)
        #expect(result.isDelivered && result.attempts == 2)
        #expect(exporter.counts.exported == 1 && exporter.counts.retries == 1)
        let requests = collector.requests
        #expect(requests.count == 2 && collector.spanNames == ["slow", "slow"])
        #expect(Set(requests.map(\.connectionID)).count == 2, "the retry opened a new connection")
        await collector.stop()
    }

    @Test func receiverDownAtStartIsDeliveredAfterItComesUp() async throws {
        let port = freeLoopbackPort()
        let exporter = try httpExporter(.metrics, "http://127.0.0.1:\(port)")
        defer { exporter.shutdown() }
        let export = Task { await exporter.export(encodedRequest: TestRequests.metrics(name: "late", values: [1]), itemCount: 1) }
        try await Task.sleep(for: .milliseconds(400))
        let collector = try OTLPTestCollector.started(grpc: false, port: port)
        let result = await export.value
        #expect(result.isDelivered && result.attempts > 1)
        #expect(collector.metricKeys == ["late:1"])
        await collector.stop()
    }

    @Test func receiverRestartBetweenExportsIsSurvivedOnTheKeptAliveConnection() async throws {
        var collector = try OTLPTestCollector.started(grpc: false)
        let port = try #require(collector.httpPort)
        let exporter = try httpExporter(.logs, collector.endpoint)
        defer { exporter.shutdown() }
        await exporter.export(encodedRequest: TestRequests.logs(["before"]), itemCount: 1)
        #expect(collector.logBodies == ["before"])
        await collector.stop()
        collector = try OTLPTestCollector.started(grpc: false, port: port)
        let result = await exporter.export(encodedRequest: TestRequests.logs(["after"]), itemCount: 1)
        #expect(result.isDelivered)
        #expect(collector.logBodies == ["after"])
        #expect(exporter.counts.exported == 2 && exporter.counts.failed == 0)
        await collector.stop()
    }

    @Test func headersAndTheHeaderProviderAreSent() async throws {
        let collector = try OTLPTestCollector.started(grpc: false)
        let counter = LockedValue(0)
        let exporter = try httpExporter(.traces, collector.endpoint, headers: ["X-Tenant": "acme"],
                                        options: OTLPExportOptions(headerProvider: {
                                            ["authorization": "Bearer \(counter.withLock { $0 += 1; return $0 })"]
                                        }))
        defer { exporter.shutdown() }
        await exporter.export(encodedRequest: TestRequests.traces(["h1"]), itemCount: 1)
        await exporter.export(encodedRequest: TestRequests.traces(["h2"]), itemCount: 1)
        #expect(exporter.counts.exported == 2, "\(exporter.counts)")
        let requests = collector.requests
        #expect(requests.map { $0.headers.filter { $0.name == "authorization" }.map(\.value) } == [["Bearer 1"], ["Bearer 2"]])
        #expect(requests.map { $0.header("x-tenant") } == ["acme", "acme"])
        await collector.stop()
    }
}
