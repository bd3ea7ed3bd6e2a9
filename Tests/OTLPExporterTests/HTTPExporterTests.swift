import Foundation
import HTTP2Transport
import OTLPTestSupport
import OTLPSync
import Testing
@testable import OTLPExporter

func httpExporter(_ signal: OTLPSignal, _ base: String, json: Bool = false, retry: OTLPRetryPolicy = fastRetry,
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

@Suite(.serialized) struct HTTPExporterTests {
    @Test func protobufExportsOfEverySignalArriveOnceOverOneKeptAliveConnection() async throws {
        let receiver = try OTLPReceiverPeer(.http, detail: true)
        defer { receiver.stop() }
        let traces = try httpExporter(.traces, receiver.endpoint)
        let metrics = try httpExporter(.metrics, receiver.endpoint)
        let logs = try httpExporter(.logs, receiver.endpoint)
        defer { traces.shutdown(); metrics.shutdown(); logs.shutdown() }
        for i in 0..<5 {
            await traces.export(encodedRequest: TestRequests.traces(["s\(i)a", "s\(i)b"]), itemCount: 2)
        }
        await metrics.export(encodedRequest: TestRequests.metrics(name: "m", values: [7, 8]), itemCount: 2)
        await logs.export(encodedRequest: TestRequests.logs(["l1"]), itemCount: 1)
        await receiver.settle(calls: 7, accepted: 7)
        #expect(traces.counts.exported == 10 && metrics.counts.exported == 2 && logs.counts.exported == 1)
        #expect(receiver.acceptedKeys("traces") == (0..<5).flatMap { ["s\($0)a", "s\($0)b"] })
        #expect(receiver.acceptedKeys("metrics") == ["m:7", "m:8"])
        #expect(receiver.acceptedKeys("logs") == ["l1"])
        let calls = receiver.calls.filter { $0.signal == "traces" }
        #expect(calls.allSatisfy { $0.contentType == "application/x-protobuf" })
        let peers = Set(receiver.lines(key: "peer").compactMap { $0 as? Int })
        #expect(peers.count == 3, "one kept-alive connection per exporter, saw client ports \(peers)")
    }

    @Test func jsonExportsCarryHexIdsAndContent() async throws {
        let receiver = try OTLPReceiverPeer(.http, detail: true)
        defer { receiver.stop() }
        let traces = try httpExporter(.traces, receiver.endpoint, json: true)
        let logs = try httpExporter(.logs, receiver.endpoint, json: true, compression: .gzip)
        let metrics = try httpExporter(.metrics, receiver.endpoint, json: true)
        defer { traces.shutdown(); logs.shutdown(); metrics.shutdown() }
        await traces.export(encodedRequest: JSONRequests.traces(["j1", "j2"]), itemCount: 2)
        await logs.export(encodedRequest: JSONRequests.logs(["hello json"]), itemCount: 1)
        await metrics.export(encodedRequest: JSONRequests.metrics(name: "jm", values: [42]), itemCount: 1)
        await receiver.settle(calls: 3, accepted: 3)
        #expect(receiver.acceptedKeys("traces") == ["j1", "j2"])
        #expect(receiver.acceptedKeys("logs") == ["hello json"])
        #expect(receiver.acceptedKeys("metrics") == ["jm:42"])
        let first = receiver.accepted.first { $0.signal == "traces" }?.items.first as? [String: Any]
        #expect(first?["trace_id"] as? String == "0102030405060708090a0b0c0d0e0f10")
        #expect(receiver.calls.allSatisfy { $0.contentType == "application/json" })
        #expect(receiver.lines(key: "encoding").contains { ($0 as? String) == "gzip" })
    }

    @Test func status429WithRetryAfterSecondsIsRetriedAfterThatDelay() async throws {
        let receiver = try OTLPReceiverPeer(.http, script: #"[{"status":429,"retry_after":"2"}]"#)
        defer { receiver.stop() }
        let clock = OTLPVirtualClock()
        let exporter = try httpExporter(.traces, receiver.endpoint, options: OTLPExportOptions(clock: clock, random: OTLPFixedRandom(0.5)))
        defer { exporter.shutdown() }
        let result = await exporter.export(encodedRequest: TestRequests.traces(["t"]), itemCount: 1)
        #expect(result.isDelivered && result.attempts == 2)
        #expect(clock.sleeps == [.seconds(2)])
        await receiver.settle(calls: 2, accepted: 1)
        #expect(receiver.calls.map(\.status) == [429, 200])
        #expect(receiver.acceptedKeys("traces") == ["t"])
    }

    @Test func status503WithRetryAfterHTTPDateIsRetriedAfterThatDelay() async throws {
        // 784111777 = Sun, 06 Nov 1994 08:49:37 GMT; the virtual wall clock is 3 s before it.
        let receiver = try OTLPReceiverPeer(.http, script: #"[{"status":503,"retry_after":"Sun, 06 Nov 1994 08:49:37 GMT"},{"status":502},{"status":504}]"#)
        defer { receiver.stop() }
        let clock = OTLPVirtualClock(wallClockStart: 784_111_774)
        let exporter = try httpExporter(.logs, receiver.endpoint, options: OTLPExportOptions(clock: clock, random: OTLPFixedRandom(0.5)))
        defer { exporter.shutdown() }
        let result = await exporter.export(encodedRequest: TestRequests.logs(["d"]), itemCount: 1)
        #expect(result.isDelivered && result.attempts == 4)
        #expect(clock.sleeps == [.seconds(3), .milliseconds(30), .milliseconds(45)])
        await receiver.settle(calls: 4, accepted: 1)
        #expect(receiver.acceptedKeys("logs") == ["d"])
    }

    @Test func otherErrorStatusesAreNotRetried() async throws {
        let receiver = try OTLPReceiverPeer(.http, script: #"[{"status":400,"body":"bad data"},{"status":500}]"#)
        defer { receiver.stop() }
        let exporter = try httpExporter(.traces, receiver.endpoint, options: OTLPExportOptions(diagnostics: { _ in }))
        defer { exporter.shutdown() }
        let first = await exporter.export(encodedRequest: TestRequests.traces(["x"]), itemCount: 1)
        let second = await exporter.export(encodedRequest: TestRequests.traces(["y"]), itemCount: 1)
        #expect(first == .rejected(reason: "HTTP status 400: bad data", attempts: 1))
        #expect(second.attempts == 1 && !second.isDelivered)
        await receiver.settle(calls: 2, accepted: 0)
        #expect(exporter.counts.failed == 2 && receiver.calls.count == 2)
    }

    @Test func partialSuccessIsParsedFromProtobufAndJSONResponses() async throws {
        let receiver = try OTLPReceiverPeer(.http, script: #"[{"partial":1},{"partial":2}]"#)
        defer { receiver.stop() }
        let messages = Messages()
        let options = OTLPExportOptions(diagnostics: messages.sink)
        let proto = try httpExporter(.traces, receiver.endpoint, options: options)
        let json = try httpExporter(.traces, receiver.endpoint, json: true, options: options)
        defer { proto.shutdown(); json.shutdown() }
        let a = await proto.export(encodedRequest: TestRequests.traces(["a", "b"]), itemCount: 2)
        let b = await json.export(encodedRequest: JSONRequests.traces(["c", "d", "e"]), itemCount: 3)
        await receiver.settle(calls: 2, accepted: 2)
        #expect(a == .delivered(partialSuccess: OTLPPartialSuccess(rejectedItems: 1, errorMessage: "scripted partial success"), attempts: 1))
        #expect(b == .delivered(partialSuccess: OTLPPartialSuccess(rejectedItems: 2, errorMessage: "scripted partial success"), attempts: 1))
        #expect(proto.counts.rejected == 1 && proto.counts.exported == 1)
        #expect(json.counts.rejected == 2 && json.counts.exported == 1)
        #expect(messages.all.count == 2)  // once per interval, per exporter
    }

    @Test func slowResponsePastTheTimeoutIsRetriedOnANewConnection() async throws {
        let receiver = try OTLPReceiverPeer(.http, script: #"[{"sleep_ms":1200}]"#)
        defer { receiver.stop() }
        let exporter = try httpExporter(.traces, receiver.endpoint, timeout: .milliseconds(300))
        defer { exporter.shutdown() }
        let result = await exporter.export(encodedRequest: TestRequests.traces(["slow"]), itemCount: 1)
        #expect(result.isDelivered && result.attempts == 2)
        #expect(exporter.counts.exported == 1 && exporter.counts.retries == 1)
    }

    @Test func receiverDownAtStartIsDeliveredAfterItComesUp() async throws {
        let port = freeLoopbackPort()
        let exporter = try httpExporter(.metrics, "http://127.0.0.1:\(port)")
        defer { exporter.shutdown() }
        let export = Task { await exporter.export(encodedRequest: TestRequests.metrics(name: "late", values: [1]), itemCount: 1) }
        try await Task.sleep(for: .milliseconds(400))
        let receiver = try OTLPReceiverPeer(.http, port: port)
        defer { receiver.stop() }
        let result = await export.value
        #expect(result.isDelivered && result.attempts > 1)
        await receiver.settle(calls: 1, accepted: 1)
        #expect(receiver.acceptedKeys("metrics") == ["late:1"])
    }

    @Test func receiverRestartBetweenExportsIsSurvivedOnTheKeptAliveConnection() async throws {
        var receiver = try OTLPReceiverPeer(.http)
        let port = receiver.port
        let exporter = try httpExporter(.logs, receiver.endpoint)
        defer { exporter.shutdown() }
        await exporter.export(encodedRequest: TestRequests.logs(["before"]), itemCount: 1)
        receiver.stop()
        receiver = try OTLPReceiverPeer(.http, port: port)
        defer { receiver.stop() }
        let result = await exporter.export(encodedRequest: TestRequests.logs(["after"]), itemCount: 1)
        #expect(result.isDelivered)
        await receiver.settle(calls: 1, accepted: 1)
        #expect(receiver.acceptedKeys("logs") == ["after"])
        #expect(exporter.counts.exported == 2 && exporter.counts.failed == 0)
    }

    @Test func headersAndTheHeaderProviderAreSent() async throws {
        let receiver = try OTLPReceiverPeer(.http)
        defer { receiver.stop() }
        let counter = LockedValue(0)
        let exporter = try httpExporter(.traces, receiver.endpoint, headers: ["X-Tenant": "acme"],
                                        options: OTLPExportOptions(headerProvider: {
                                            ["authorization": "Bearer \(counter.withLock { $0 += 1; return $0 })"]
                                        }))
        defer { exporter.shutdown() }
        await exporter.export(encodedRequest: TestRequests.traces(["h1"]), itemCount: 1)
        await exporter.export(encodedRequest: TestRequests.traces(["h2"]), itemCount: 1)
        await receiver.settle(calls: 2, accepted: 2)
        #expect(exporter.counts.exported == 2, "\(exporter.counts) \(receiver.stderr)")
        #expect(receiver.accepted.map(\.headers) == [["authorization": "Bearer 1", "x-tenant": "acme"],
                                                     ["authorization": "Bearer 2", "x-tenant": "acme"]])
    }
}
