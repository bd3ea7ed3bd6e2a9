import Foundation
@testable import OTLPExporter
import OTLPProto
import OTLPSync
import OTLPTestSupport
import OTLPTesting
import TelemetryCore
import TelemetryPipeline
import Testing

/// Fast retries for tests against real peers (the real clock; backoff in milliseconds).
let fastRetry = OTLPRetryPolicy(initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200), multiplier: 1.5,
                                jitter: 0.2, maxElapsedTime: .seconds(20))

final class Messages: Sendable {
    let lines = LockedValue<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    var sink: @Sendable (String) -> Void { { [self] line in lines.withLock { $0.append(line) } } }
}

func grpcExporter(_ signal: TelemetrySignal, _ endpoint: String, retry: OTLPRetryPolicy = fastRetry,
                  timeout: Duration = .seconds(5), compression: OTLPCompression = .none,
                  headers: [String: String] = [:], options: OTLPExportOptions = OTLPExportOptions()) throws -> OTLPGRPCExporter {
    let config = OTLPExporterConfiguration(signal: signal, protocol: .grpc, endpoint: endpoint, headers: headers,
                                           timeout: timeout, compression: compression, retry: retry)
    return try OTLPGRPCExporter(configuration: config, options: options)
}

/// The gRPC exporter against the embedded collector (`OTLPTesting`); faults are scripted per call.
@Suite(.serialized) struct GRPCExporterTests {
    @Test func everyItemOfEverySignalArrivesExactlyOnceWithItsContent() async throws {
        let collector = try OTLPTestCollector.started(grpc: true)
        let traces = try grpcExporter(.traces, collector.endpoint, options: OTLPExportOptions(maxConcurrentExports: 4))
        let metrics = try grpcExporter(.metrics, collector.endpoint, compression: .gzip)
        let logs = try grpcExporter(.logs, collector.endpoint)
        defer { traces.shutdown(); metrics.shutdown(); logs.shutdown() }

        let spanNames = (0..<200).map { "span-\($0)" }
        await withTaskGroup(of: Void.self) { group in
            for chunk in stride(from: 0, to: spanNames.count, by: 25) {
                group.addTask { await traces.export(encodedRequest: TestRequests.traces(Array(spanNames[chunk..<chunk + 25])), itemCount: 25) }
            }
            group.addTask { await metrics.export(encodedRequest: TestRequests.metrics(name: "requests", values: [1, 2, 3]), itemCount: 3) }
            group.addTask { await logs.export(encodedRequest: TestRequests.logs(["hello", "world"]), itemCount: 2) }
        }
        try await collector.waitFor(requests: 10, timeout: .seconds(30))
        #expect(traces.counts.exported == 200 && traces.counts.failed == 0)
        #expect(metrics.counts.exported == 3)
        #expect(logs.counts.exported == 2)
        #expect(collector.counters.requests == 10 && collector.counters.rejected == 0)
        #expect(collector.spanNames.sorted() == spanNames.sorted())
        #expect(collector.metricKeys.sorted() == ["requests:1", "requests:2", "requests:3"])
        #expect(collector.logBodies == ["hello", "world"])
        let span = try #require(collector.spans.first)
        #expect(span.span.kind == .server)
        #expect(span.resource.flatMap { $0.attributes.text(of: "service.name") } == "tests")
        #expect(span.span.attributes.text(of: "index") != nil)
        let requests = collector.requests
        #expect(requests.filter { $0.signal == .metrics }.allSatisfy { $0.compressed })
        #expect(requests.filter { $0.signal != .metrics }.allSatisfy { !$0.compressed })
        // The eight concurrent trace exports share the exporter's one HTTP/2 connection.
        #expect(Set(requests.filter { $0.signal == .traces }.map(\.connectionID)).count == 1)
        #expect(requests.allSatisfy { $0.httpProtocol == .http2 })
        await collector.stop()
    }

    @Test func concurrentExportsShareOneConnectionUpToTheLimit() async throws {
        // Every call is answered 300 ms after it arrives, so concurrent calls overlap at the collector.
        let arrivals = Arrivals()
        let collector = try OTLPTestCollector.started(grpc: true, onRequest: arrivals.hook)
        collector.enqueueFaults(Array(repeating: .delay(.milliseconds(300)), count: 8))
        let exporter = try grpcExporter(.traces, collector.endpoint, options: OTLPExportOptions(maxConcurrentExports: 3))
        defer { exporter.shutdown() }
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<8 { group.addTask { await exporter.export(encodedRequest: TestRequests.traces(["c\(i)"]), itemCount: 1) } }
        }
        #expect(exporter.counts.exported == 8)
        #expect(collector.spanNames.sorted() == (0..<8).map { "c\($0)" })
        #expect(Set(collector.requests.map(\.connectionID)).count == 1)
        #expect(arrivals.count == 8)
        #expect(arrivals.mostWithin(.milliseconds(300)) == 3, "answers outstanding at the collector at once")
        await collector.stop()
    }

    @Test func unavailableTwiceThenOKIsDeliveredOnce() async throws {
        let collector = try OTLPTestCollector.started(grpc: true)
        collector.enqueueFaults([.grpcStatus(.unavailable), .grpcStatus(.unavailable)])
        let exporter = try grpcExporter(.traces, collector.endpoint)
        defer { exporter.shutdown() }
        let result = await exporter.export(encodedRequest: TestRequests.traces(["a", "b"]), itemCount: 2)
        #expect(result.isDelivered && result.attempts == 3)
        #expect(collector.counters.requests == 3 && collector.counters.rejectedRequests == 2 && collector.pendingFaults == 0)
        #expect(collector.spanNames == ["a", "b"])
        #expect(exporter.counts.exported == 2 && exporter.counts.retries == 2)
        await collector.stop()
    }

    @Test func resourceExhaustedWithRetryInfoWaitsTheServerDelay() async throws {
        let collector = try OTLPTestCollector.started(grpc: true)
        collector.enqueueFault(.grpcStatus(.resourceExhausted, retryDelay: .milliseconds(1500)))
        let clock = OTLPVirtualClock()
        let exporter = try grpcExporter(.logs, collector.endpoint,
                                        options: OTLPExportOptions(clock: clock, random: OTLPFixedRandom(0.5)))
        defer { exporter.shutdown() }
        let result = await exporter.export(encodedRequest: TestRequests.logs(["x"]), itemCount: 1)
        #expect(result.isDelivered && result.attempts == 2)
        #expect(clock.sleeps == [.milliseconds(1500)])  // RetryInfo (1.5 s) beat the 20 ms backoff
        #expect(collector.counters.requests == 2)
        #expect(collector.logBodies == ["x"])
        await collector.stop()
    }

    @Test func resourceExhaustedWithoutRetryInfoIsNotRetried() async throws {
        let collector = try OTLPTestCollector.started(grpc: true)
        collector.enqueueFault(.grpcStatus(.resourceExhausted))
        let messages = Messages()
        let exporter = try grpcExporter(.traces, collector.endpoint, options: OTLPExportOptions(diagnostics: messages.sink))
        defer { exporter.shutdown() }
        let result = await exporter.export(encodedRequest: TestRequests.traces(["x", "y"]), itemCount: 2)
        guard case .rejected(_, 1) = result else { Issue.record("\(result)"); return }
        #expect(collector.counters.requests == 1 && collector.spans.isEmpty)
        #expect(exporter.counts.failed == 2 && exporter.counts.exported == 0)
        #expect(messages.all.count == 1 && messages.all[0].contains("RESOURCE_EXHAUSTED"))
        await collector.stop()
    }

    @Test func invalidArgumentIsNotRetried() async throws {
        let collector = try OTLPTestCollector.started(grpc: true)
        collector.enqueueFault(.grpcStatus(.invalidArgument, message: "bad"))
        let exporter = try grpcExporter(.metrics, collector.endpoint, options: OTLPExportOptions(diagnostics: { _ in }))
        defer { exporter.shutdown() }
        let result = await exporter.export(encodedRequest: TestRequests.metrics(name: "m", values: [5]), itemCount: 1)
        #expect(result == .rejected(reason: "gRPC status INVALID_ARGUMENT: bad", attempts: 1))
        #expect(collector.counters.requests == 1 && exporter.counts.failed == 1)
        await collector.stop()
    }

    @Test func partialSuccessIsCountedAsRejectedAndLoggedOncePerInterval() async throws {
        let collector = try OTLPTestCollector.started(grpc: true)
        collector.enqueueFaults([.partialSuccess(rejected: 2, message: "scripted partial success"),
                                 .partialSuccess(rejected: 1, message: "scripted partial success")])
        let messages = Messages()
        let exporter = try grpcExporter(.traces, collector.endpoint,
                                        options: OTLPExportOptions(diagnostics: messages.sink, diagnosticsInterval: .seconds(3600)))
        defer { exporter.shutdown() }
        let first = await exporter.export(encodedRequest: TestRequests.traces(["a", "b", "c"]), itemCount: 3)
        let second = await exporter.export(encodedRequest: TestRequests.traces(["d", "e"]), itemCount: 2)
        #expect(first.attempts == 1 && second.attempts == 1)  // never retried
        #expect(exporter.counts.rejected == 3 && exporter.counts.exported == 2)
        #expect(collector.counters.requests == 2 && collector.spanNames == ["a", "b", "c", "d", "e"])
        #expect(messages.all.count == 1)
        #expect(messages.all.first?.contains("2 rejected: scripted partial success") == true)
        await collector.stop()
    }

    @Test func slowResponsePastTheTimeoutIsRetried() async throws {
        let collector = try OTLPTestCollector.started(grpc: true)
        collector.enqueueFault(.delay(.milliseconds(1500)))
        let exporter = try grpcExporter(.traces, collector.endpoint, timeout: .milliseconds(300))
        defer { exporter.shutdown() }
        let result = await exporter.export(encodedRequest: TestRequests.traces(["slow"]), itemCount: 1)
        #expect(result.isDelivered && result.attempts == 2)
        // The first call's answer was still on its way when the client's deadline passed: the
        // collector saw the same request twice, and the exporter counts it delivered once.
        #expect(collector.counters.requests == 2)
        #expect(collector.spanNames == ["slow", "slow"])
        #expect(exporter.counts.exported == 1 && exporter.counts.retries == 1)
        await collector.stop()
    }

    @Test func headerProviderIsAskedBeforeEveryExport() async throws {
        let collector = try OTLPTestCollector.started(grpc: true)
        collector.enqueueFault(.grpcStatus(.unavailable))
        let counter = LockedValue(0)
        let options = OTLPExportOptions(headerProvider: {
            let n = counter.withLock { $0 += 1; return $0 }
            return ["Authorization": "Bearer token-\(n)"]
        })
        let exporter = try grpcExporter(.traces, collector.endpoint, headers: ["x-tenant": "acme", "authorization": "static"],
                                        options: options)
        defer { exporter.shutdown() }
        await exporter.export(encodedRequest: TestRequests.traces(["one"]), itemCount: 1)  // 2 attempts
        await exporter.export(encodedRequest: TestRequests.traces(["two"]), itemCount: 1)
        #expect(counter.withLock { $0 } == 3)
        #expect(collector.counters.requests == 3)
        let accepted = collector.requests
        #expect(accepted.map { $0.headers.filter { $0.name == "authorization" }.map(\.value) } == [["Bearer token-2"], ["Bearer token-3"]])
        #expect(accepted.map { $0.header("x-tenant") } == ["acme", "acme"])
        await collector.stop()
    }

    @Test func requestOverTheCapIsDroppedAndCountedNeverSent() async throws {
        let collector = try OTLPTestCollector.started(grpc: true)
        let messages = Messages()
        let exporter = try grpcExporter(.traces, collector.endpoint,
                                        options: OTLPExportOptions(maxRequestBytes: 200, diagnostics: messages.sink))
        defer { exporter.shutdown() }
        let big = TestRequests.traces((0..<20).map { "span-\($0)" })
        let result = await exporter.export(encodedRequest: big, itemCount: 20)
        #expect(result.attempts == 0 && !result.isDelivered)
        await exporter.export(encodedRequest: TestRequests.traces(["ok"]), itemCount: 1)
        #expect(exporter.counts.dropped == 20 && exporter.counts.exported == 1)
        #expect(collector.counters.requests == 1 && collector.spanNames == ["ok"])
        #expect(messages.all.count == 1 && messages.all[0].contains("exceed"))
        await collector.stop()
    }

    @Test func collectorDownAtStartIsDeliveredAfterItComesUp() async throws {
        let port = freeLoopbackPort()
        let exporter = try grpcExporter(.traces, "http://127.0.0.1:\(port)")
        defer { exporter.shutdown() }
        let export = Task { await exporter.export(encodedRequest: TestRequests.traces(["late"]), itemCount: 1) }
        try await Task.sleep(for: .milliseconds(400))
        let collector = try OTLPTestCollector.started(grpc: true, port: port)
        let result = await export.value
        #expect(result.isDelivered && result.attempts > 1)
        #expect(collector.spanNames == ["late"])
        await collector.stop()
    }

    @Test func collectorStoppedAndRestartedMidRunLosesNothingUncounted() async throws {
        var collector = try OTLPTestCollector.started(grpc: true)
        let port = try #require(collector.grpcPort)
        let exporter = try grpcExporter(.traces, collector.endpoint, options: OTLPExportOptions(maxConcurrentExports: 4))
        defer { exporter.shutdown() }
        let requests = 60
        let producer = Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        for i in stride(from: worker, to: requests, by: 4) {
                            await exporter.export(encodedRequest: TestRequests.traces((0..<10).map { "r\(i)-\($0)" }), itemCount: 10)
                            try? await Task.sleep(for: .milliseconds(10))
                        }
                    }
                }
            }
        }
        try await collector.waitFor(requests: 10, timeout: .seconds(30))
        await collector.stop()
        let beforeStop = collector.spanNames
        try await Task.sleep(for: .milliseconds(300))  // collector down: the exporter retries
        collector = try OTLPTestCollector.started(grpc: true, port: port)
        await producer.value
        let afterRestart = collector.spanNames
        let delivered = Set(beforeStop + afterRestart)
        let counts = exporter.counts
        // Big enough retry budget: zero losses, and the exporter's count matches what arrived.
        #expect(counts.exported + counts.failed + counts.dropped == requests * 10)
        #expect(counts.failed == 0 && counts.dropped == 0)
        #expect(delivered.count == requests * 10)
        #expect(beforeStop.count >= 100 && beforeStop.count < requests * 10)
        #expect(counts.retries > 0)
        // Arrivals are counted, not only distinct items: each collector saw every item at most
        // once, and an item both saw (stored by the stopped one, its answer lost, sent again) is a
        // duplicate, at most the four requests in flight at the stop.
        #expect(Set(beforeStop).count == beforeStop.count && Set(afterRestart).count == afterRestart.count)
        let duplicates = beforeStop.count + afterRestart.count - delivered.count
        #expect(duplicates <= 4 * 10, "\(duplicates) items arrived twice")
        await collector.stop()
    }
}
