// Our exporters (gRPC, HTTP protobuf, HTTP JSON, gzip) into the embedded collector, and its
// scripted faults as our exporters see them.
import Foundation
import OTLPExporter
import OTLPProto
import OTLPTesting
import TelemetryCore
import TelemetryPipeline
import Testing

// Generous deadlines: the whole package runs in one process (under ThreadSanitizer too), where a
// task may resume seconds late; they only bound how long a failing test takes.
let fastRetry = OTLPRetryPolicy(initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200), multiplier: 1.5,
                                jitter: 0.2, maxElapsedTime: .seconds(120))

func grpcExporter(_ signal: TelemetrySignal, _ endpoint: String, compression: OTLPCompression = .none,
                  headers: [String: String] = [:]) throws -> OTLPGRPCExporter {
    try OTLPGRPCExporter(configuration: OTLPExporterConfiguration(
        signal: signal, protocol: .grpc, endpoint: endpoint, headers: headers, timeout: .seconds(30),
        compression: compression, retry: fastRetry))
}

func httpExporter(_ signal: TelemetrySignal, _ url: String, json: Bool = false, compression: OTLPCompression = .none) throws -> OTLPHTTPExporter {
    try OTLPHTTPExporter(configuration: OTLPExporterConfiguration(
        signal: signal, protocol: json ? .httpJSON : .httpProtobuf, endpoint: url, timeout: .seconds(30),
        compression: compression, retry: fastRetry))
}

@Suite struct ExportersIntoCollectorTests {
    @Test func grpcExportsOfEverySignalArriveDecodedWithResourceAndScope() async throws {
        let collector = try await OTLPTestCollector.start(http: false)
        let endpoint = try #require(collector.grpcEndpoint)
        let traces = try grpcExporter(.traces, endpoint, headers: ["authorization": "Bearer t"])
        let metrics = try grpcExporter(.metrics, endpoint, compression: .gzip)
        let logs = try grpcExporter(.logs, endpoint)
        defer { traces.shutdown(); metrics.shutdown(); logs.shutdown() }

        let names = (0..<100).map { "span-\($0)" }
        await withTaskGroup(of: Void.self) { group in
            for chunk in stride(from: 0, to: names.count, by: 20) {
                group.addTask { await traces.export(encodedRequest: Fixtures.traces(Array(names[chunk..<chunk + 20])).serializedBytes(), itemCount: 20) }
            }
            group.addTask { await metrics.export(encodedRequest: Fixtures.metrics(name: "requests", values: [1, 2, 3]).serializedBytes(), itemCount: 3) }
            group.addTask { await logs.export(encodedRequest: Fixtures.logs(["hello", "world"]).serializedBytes(), itemCount: 2) }
        }
        let spans = try await collector.waitFor(spans: 100, timeout: .seconds(60))
        try await collector.waitFor(metricPoints: 3, timeout: .seconds(60))
        try await collector.waitFor(logRecords: 2, timeout: .seconds(60))
        #expect(traces.counts.exported == 100 && metrics.counts.exported == 3 && logs.counts.exported == 2)
        #expect(spans.map(\.span.name).sorted() == names.sorted())
        #expect(spans.allSatisfy { $0.resource == Fixtures.resource() && $0.scope?.name == "otlp-testing-tests" })
        let points = collector.metricPoints
        #expect(points.map(\.metricName) == ["requests", "requests", "requests"])
        let values: [Int64] = points.compactMap { point in
            guard case .sum(let number) = point.point, case .asInt(let value)? = number.value else { return nil }
            return value
        }
        #expect(values == [1, 2, 3])
        #expect(collector.logRecords.map { $0.record.body } == [CommonV1AnyValue(value: .stringValue("hello")), CommonV1AnyValue(value: .stringValue("world"))])
        let requests = collector.requests
        #expect(requests.allSatisfy { $0.encoding == .grpc && $0.httpProtocol == .http2 })
        #expect(requests.filter { $0.signal == .metrics }.allSatisfy { $0.compressed })
        #expect(requests.filter { $0.signal == .traces }.allSatisfy { $0.header("authorization") == "Bearer t" })
        #expect(Set(requests.filter { $0.signal == .traces }.map(\.connectionID)).count == 1)
        let counters = collector.counters
        #expect(counters.requests == 7 && counters.rejected == 0 && counters.spans == 100)
        #expect(counters.requestsBySignal == [.traces: 5, .metrics: 1, .logs: 1])
        await collector.stop()
    }

    @Test(arguments: [(false, OTLPCompression.none), (false, .gzip), (true, .none), (true, .gzip)])
    func httpExportsInProtobufAndJSONArriveDecoded(json: Bool, compression: OTLPCompression) async throws {
        let collector = try await OTLPTestCollector.start(grpc: false)
        let traces = try httpExporter(.traces, try #require(collector.httpURL(for: .traces)), json: json, compression: compression)
        let logs = try httpExporter(.logs, try #require(collector.httpURL(for: .logs)), json: json, compression: compression)
        defer { traces.shutdown(); logs.shutdown() }
        let traceRequest = Fixtures.traces(["a", "b"])
        let logRequest = Fixtures.logs(["x"])
        let traceResult = await traces.export(encodedRequest: json ? traceRequest.jsonBytes() : traceRequest.serializedBytes(), itemCount: 2)
        let logResult = await logs.export(encodedRequest: json ? logRequest.jsonBytes() : logRequest.serializedBytes(), itemCount: 1)
        #expect(traces.counts.exported == 2, "\(traceResult)")
        #expect(logs.counts.exported == 1, "\(logResult)")
        #expect(collector.spans.map(\.span) == traceRequest.resourceSpans[0].scopeSpans[0].spans)
        #expect(collector.logRecords.map(\.record) == logRequest.resourceLogs[0].scopeLogs[0].logRecords)
        let requests = collector.requests
        #expect(requests.allSatisfy { $0.encoding == (json ? .httpJSON : .httpProtobuf) && $0.compressed == (compression == .gzip) })
        #expect(requests.allSatisfy { $0.httpProtocol == .http1 })
        await collector.stop()
    }

    @Test func grpcUnavailableWithRetryInfoIsRetriedAfterTheDelayAndThenDelivered() async throws {
        let collector = try await OTLPTestCollector.start(http: false)
        collector.enqueueFault(.grpcStatus(.unavailable, message: "busy", retryDelay: .milliseconds(300)))
        let traces = try grpcExporter(.traces, try #require(collector.grpcEndpoint))
        defer { traces.shutdown() }
        let start = ContinuousClock.now
        await traces.export(encodedRequest: Fixtures.traces(["retried"]).serializedBytes(), itemCount: 1)
        let elapsed = ContinuousClock.now - start
        #expect(traces.counts.exported == 1)
        #expect(elapsed >= .milliseconds(300), "the exporter waited \(elapsed), not the RetryInfo delay")
        #expect(collector.counters.requests == 2 && collector.counters.rejectedRequests == 1)
        #expect(collector.spans.count == 1 && collector.pendingFaults == 0)
        await collector.stop()
    }

    @Test func httpServiceUnavailableWithRetryAfterIsRetriedAfterTheDelay() async throws {
        let collector = try await OTLPTestCollector.start(grpc: false)
        collector.enqueueFault(.httpStatus(503, retryAfter: .seconds(1)))
        let logs = try httpExporter(.logs, try #require(collector.httpURL(for: .logs)))
        defer { logs.shutdown() }
        let start = ContinuousClock.now
        await logs.export(encodedRequest: Fixtures.logs(["later"]).serializedBytes(), itemCount: 1)
        #expect(ContinuousClock.now - start >= .seconds(1))
        #expect(logs.counts.exported == 1 && collector.logRecords.count == 1)
        await collector.stop()
    }

    @Test func nonRetryableStatusIsAFailureAndNothingIsStored() async throws {
        let collector = try await OTLPTestCollector.start()
        collector.enqueueFault(.grpcStatus(.invalidArgument, message: "bad"), signal: .traces)
        collector.enqueueFault(.httpStatus(400), signal: .logs)
        let traces = try grpcExporter(.traces, try #require(collector.grpcEndpoint))
        let logs = try httpExporter(.logs, try #require(collector.httpURL(for: .logs)))
        defer { traces.shutdown(); logs.shutdown() }
        await traces.export(encodedRequest: Fixtures.traces(["x"]).serializedBytes(), itemCount: 1)
        await logs.export(encodedRequest: Fixtures.logs(["y"]).serializedBytes(), itemCount: 1)
        #expect(traces.counts.exported == 0 && traces.counts.failed == 1)
        #expect(logs.counts.exported == 0 && logs.counts.failed == 1)
        #expect(collector.spans.isEmpty && collector.logRecords.isEmpty)
        #expect(collector.counters.rejectedRequests == 2)
        await collector.stop()
    }

    @Test func partialSuccessIsCountedAsRejectedByTheExporter() async throws {
        let collector = try await OTLPTestCollector.start()
        collector.enqueueFault(.partialSuccess(rejected: 2, message: "two dropped"), signal: .traces)
        collector.enqueueFault(.partialSuccess(rejected: 1, message: "one dropped"), signal: .logs)
        let traces = try grpcExporter(.traces, try #require(collector.grpcEndpoint))
        let logs = try httpExporter(.logs, try #require(collector.httpURL(for: .logs)), json: true)
        defer { traces.shutdown(); logs.shutdown() }
        await traces.export(encodedRequest: Fixtures.traces(["a", "b", "c"]).serializedBytes(), itemCount: 3)
        await logs.export(encodedRequest: Fixtures.logs(["x", "y"]).jsonBytes(), itemCount: 2)
        #expect(traces.counts.rejected == 2 && traces.counts.exported == 1)
        #expect(logs.counts.rejected == 1 && logs.counts.exported == 1)
        #expect(collector.spans.count == 3)
        await collector.stop()
    }

    @Test(arguments: [OTLPTestCollector.Fault.closeConnection, .goAway])
    func aDroppedConnectionIsRetriedOnANewOne(fault: OTLPTestCollector.Fault) async throws {
        let collector = try await OTLPTestCollector.start(http: false)
        collector.enqueueFault(fault)
        let traces = try grpcExporter(.traces, try #require(collector.grpcEndpoint))
        defer { traces.shutdown() }
        await traces.export(encodedRequest: Fixtures.traces(["again"]).serializedBytes(), itemCount: 1)
        #expect(traces.counts.exported == 1)
        let spans = try await collector.waitFor(spans: 1, timeout: .seconds(60))
        #expect(spans.map(\.span.name) == ["again"])
        #expect(collector.counters.requests == 2)
        await collector.stop()
    }

    @Test func aDelayedAnswerDoesNotHoldUpOtherClients() async throws {
        let collector = try await OTLPTestCollector.start(http: false)
        collector.enqueueFault(.delay(.seconds(8)), signal: .traces)
        let endpoint = try #require(collector.grpcEndpoint)
        let slow = try OTLPGRPCExporter(configuration: OTLPExporterConfiguration(
            signal: .traces, protocol: .grpc, endpoint: endpoint, timeout: .seconds(30),
            retry: OTLPRetryPolicy(initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(10), maxElapsedTime: .zero)))
        let fast = try grpcExporter(.logs, endpoint)
        defer { fast.shutdown() }
        let slowTask = Task { await slow.export(encodedRequest: Fixtures.traces(["slow"]).serializedBytes(), itemCount: 1) }
        try await collector.waitFor(requests: 1, timeout: .seconds(60))
        await fast.export(encodedRequest: Fixtures.logs(["fast"]).serializedBytes(), itemCount: 1)
        // The fast export was answered while the slow one still waits for its delayed answer.
        #expect(fast.counts.exported == 1)
        #expect(slow.counts.exported == 0)
        _ = await slowTask.value
        await collector.stop()
    }

    @Test func waitingTimesOutWithWhatArrived() async throws {
        let collector = try await OTLPTestCollector.start()
        await #expect(throws: OTLPTestCollector.WaitError.self) { () async throws in
            try await collector.waitFor(spans: 1, timeout: .milliseconds(200))
        }
        await collector.stop()
    }
}
