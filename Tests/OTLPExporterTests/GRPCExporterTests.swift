import Foundation
import HTTP2Transport
import OTLPTestSupport
import OTLPSync
import Testing
@testable import OTLPExporter

/// Fast retries for tests against real peers (the real clock; backoff in milliseconds).
let fastRetry = OTLPRetryPolicy(initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200), multiplier: 1.5,
                                jitter: 0.2, maxElapsedTime: .seconds(20))

final class Messages: Sendable {
    let lines = LockedValue<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    var sink: @Sendable (String) -> Void { { [self] line in lines.withLock { $0.append(line) } } }
}

func grpcExporter(_ signal: OTLPSignal, _ endpoint: String, retry: OTLPRetryPolicy = fastRetry,
                  timeout: Duration = .seconds(5), compression: OTLPCompression = .none,
                  headers: [String: String] = [:], options: OTLPExportOptions = OTLPExportOptions()) throws -> OTLPGRPCExporter {
    let config = OTLPExporterConfiguration(signal: signal, protocol: .grpc, endpoint: endpoint, headers: headers,
                                           timeout: timeout, compression: compression, retry: retry)
    return try OTLPGRPCExporter(configuration: config, options: options)
}

@Suite(.serialized) struct GRPCExporterTests {
    @Test func everyItemOfEverySignalArrivesExactlyOnceWithItsContent() async throws {
        let collector = try OTLPReceiverPeer(.grpc, detail: true)
        defer { collector.stop() }
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
        await collector.settle(calls: 10, accepted: 10)
        #expect(traces.counts.exported == 200 && traces.counts.failed == 0)
        #expect(metrics.counts.exported == 3)
        #expect(logs.counts.exported == 2)
        #expect(collector.acceptedKeys("traces").sorted() == spanNames.sorted())
        #expect(collector.acceptedKeys("metrics").sorted() == ["requests:1", "requests:2", "requests:3"])
        #expect(collector.acceptedKeys("logs") == ["hello", "world"])
        let record = collector.accepted.first { $0.signal == "traces" }?.items.first as? [String: Any]
        #expect(record?["kind"] as? Int == 2)
        #expect((record?["resource"] as? [String: Any])?["service.name"] as? String == "tests")
        #expect((record?["attrs"] as? [String: Any])?["index"] != nil)
        #expect(collector.calls.map(\.inflight).max() ?? 0 <= 6)
    }

    @Test func concurrentExportsShareOneConnectionUpToTheLimit() async throws {
        // Every call sleeps 300 ms, so concurrent calls overlap at the collector.
        let script = "[" + Array(repeating: "{\"sleep_ms\":300}", count: 8).joined(separator: ",") + "]"
        let collector = try OTLPReceiverPeer(.grpc, script: script)
        defer { collector.stop() }
        let exporter = try grpcExporter(.traces, collector.endpoint, options: OTLPExportOptions(maxConcurrentExports: 3))
        defer { exporter.shutdown() }
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<8 { group.addTask { await exporter.export(encodedRequest: TestRequests.traces(["c\(i)"]), itemCount: 1) } }
        }
        await collector.settle(calls: 8, accepted: 8)
        #expect(exporter.counts.exported == 8)
        let inflight = collector.calls.map(\.inflight)
        #expect(inflight.max() == 3, "in flight at the collector: \(inflight)")
    }

    @Test func unavailableTwiceThenOKIsDeliveredOnce() async throws {
        let collector = try OTLPReceiverPeer(.grpc, script: #"[{"status":14},{"status":14}]"#)
        defer { collector.stop() }
        let exporter = try grpcExporter(.traces, collector.endpoint)
        defer { exporter.shutdown() }
        let result = await exporter.export(encodedRequest: TestRequests.traces(["a", "b"]), itemCount: 2)
        #expect(result.isDelivered && result.attempts == 3)
        await collector.settle(calls: 3, accepted: 1)
        #expect(collector.calls.map(\.status) == [14, 14, 0])
        #expect(collector.acceptedKeys("traces") == ["a", "b"])
        #expect(exporter.counts.exported == 2 && exporter.counts.retries == 2)
    }

    @Test func resourceExhaustedWithRetryInfoWaitsTheServerDelay() async throws {
        let collector = try OTLPReceiverPeer(.grpc, script: #"[{"status":8,"retry_ms":1500}]"#)
        defer { collector.stop() }
        let clock = OTLPVirtualClock()
        let exporter = try grpcExporter(.logs, collector.endpoint,
                                        options: OTLPExportOptions(clock: clock, random: OTLPFixedRandom(0.5)))
        defer { exporter.shutdown() }
        let result = await exporter.export(encodedRequest: TestRequests.logs(["x"]), itemCount: 1)
        #expect(result.isDelivered && result.attempts == 2)
        #expect(clock.sleeps == [.milliseconds(1500)])  // RetryInfo (1.5 s) beat the 20 ms backoff
        await collector.settle(calls: 2, accepted: 1)
        #expect(collector.acceptedKeys("logs") == ["x"])
    }

    @Test func resourceExhaustedWithoutRetryInfoIsNotRetried() async throws {
        let collector = try OTLPReceiverPeer(.grpc, script: #"[{"status":8}]"#)
        defer { collector.stop() }
        let messages = Messages()
        let exporter = try grpcExporter(.traces, collector.endpoint, options: OTLPExportOptions(diagnostics: messages.sink))
        defer { exporter.shutdown() }
        let result = await exporter.export(encodedRequest: TestRequests.traces(["x", "y"]), itemCount: 2)
        guard case .rejected(_, 1) = result else { Issue.record("\(result)"); return }
        await collector.settle(calls: 1, accepted: 0)
        #expect(collector.calls.count == 1)
        #expect(exporter.counts.failed == 2 && exporter.counts.exported == 0)
        #expect(messages.all.count == 1 && messages.all[0].contains("RESOURCE_EXHAUSTED"))
    }

    @Test func invalidArgumentIsNotRetried() async throws {
        let collector = try OTLPReceiverPeer(.grpc, script: #"[{"status":3,"message":"bad"}]"#)
        defer { collector.stop() }
        let exporter = try grpcExporter(.metrics, collector.endpoint, options: OTLPExportOptions(diagnostics: { _ in }))
        defer { exporter.shutdown() }
        let result = await exporter.export(encodedRequest: TestRequests.metrics(name: "m", values: [5]), itemCount: 1)
        #expect(result == .rejected(reason: "gRPC status INVALID_ARGUMENT: bad", attempts: 1))
        await collector.settle(calls: 1, accepted: 0)
        #expect(collector.calls.count == 1 && exporter.counts.failed == 1)
    }

    @Test func partialSuccessIsCountedAsRejectedAndLoggedOncePerInterval() async throws {
        let collector = try OTLPReceiverPeer(.grpc, script: #"[{"partial":2},{"partial":1}]"#)
        defer { collector.stop() }
        let messages = Messages()
        let exporter = try grpcExporter(.traces, collector.endpoint,
                                        options: OTLPExportOptions(diagnostics: messages.sink, diagnosticsInterval: .seconds(3600)))
        defer { exporter.shutdown() }
        let first = await exporter.export(encodedRequest: TestRequests.traces(["a", "b", "c"]), itemCount: 3)
        let second = await exporter.export(encodedRequest: TestRequests.traces(["d", "e"]), itemCount: 2)
        #expect(first.attempts == 1 && second.attempts == 1)  // never retried
        #expect(exporter.counts.rejected == 3 && exporter.counts.exported == 2)
        await collector.settle(calls: 2, accepted: 2)
        #expect(collector.calls.count == 2)
        #expect(messages.all.count == 1)
        #expect(messages.all.first?.contains("2 rejected: scripted partial success") == true)
    }

    @Test func slowResponsePastTheTimeoutIsRetried() async throws {
        let collector = try OTLPReceiverPeer(.grpc, script: #"[{"sleep_ms":1500}]"#)
        defer { collector.stop() }
        let exporter = try grpcExporter(.traces, collector.endpoint, timeout: .milliseconds(300))
        defer { exporter.shutdown() }
        let result = await exporter.export(encodedRequest: TestRequests.traces(["slow"]), itemCount: 1)
        #expect(result.isDelivered && result.attempts == 2)
        // The first call timed out at the client (the collector saw its deadline pass): only the
        // second one is accepted.
        #expect(await collector.wait(timeout: 3) { $0.calls.count == 2 })
        try await Task.sleep(for: .milliseconds(1300))  // let the slow first call finish at the collector
        #expect(collector.acceptedKeys("traces") == ["slow"])
    }

    @Test func headerProviderIsAskedBeforeEveryExport() async throws {
        let collector = try OTLPReceiverPeer(.grpc, script: #"[{"status":14}]"#)
        defer { collector.stop() }
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
        await collector.settle(calls: 3, accepted: 2)
        let headers = collector.accepted.map(\.headers)
        #expect(headers == [["authorization": "Bearer token-2", "x-tenant": "acme"],
                            ["authorization": "Bearer token-3", "x-tenant": "acme"]])
    }

    @Test func requestOverTheCapIsDroppedAndCountedNeverSent() async throws {
        let collector = try OTLPReceiverPeer(.grpc)
        defer { collector.stop() }
        let messages = Messages()
        let exporter = try grpcExporter(.traces, collector.endpoint,
                                        options: OTLPExportOptions(maxRequestBytes: 200, diagnostics: messages.sink))
        defer { exporter.shutdown() }
        let big = TestRequests.traces((0..<20).map { "span-\($0)" })
        let result = await exporter.export(encodedRequest: big, itemCount: 20)
        #expect(result.attempts == 0 && !result.isDelivered)
        await exporter.export(encodedRequest: TestRequests.traces(["ok"]), itemCount: 1)
        await collector.settle(calls: 1, accepted: 1)
        #expect(exporter.counts.dropped == 20 && exporter.counts.exported == 1)
        #expect(collector.calls.count == 1)
        #expect(messages.all.count == 1 && messages.all[0].contains("exceed"))
    }

    @Test func collectorDownAtStartIsDeliveredAfterItComesUp() async throws {
        let port = freeLoopbackPort()
        let exporter = try grpcExporter(.traces, "http://127.0.0.1:\(port)")
        defer { exporter.shutdown() }
        let export = Task { await exporter.export(encodedRequest: TestRequests.traces(["late"]), itemCount: 1) }
        try await Task.sleep(for: .milliseconds(400))
        let collector = try OTLPReceiverPeer(.grpc, port: port)
        defer { collector.stop() }
        let result = await export.value
        #expect(result.isDelivered && result.attempts > 1)
        await collector.settle(calls: 1, accepted: 1)
        #expect(collector.acceptedKeys("traces") == ["late"])
    }

    @Test func collectorKilledAndRestartedMidRunLosesNothingUncounted() async throws {
        var collector = try OTLPReceiverPeer(.grpc)
        let port = collector.port
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
        #expect(await collector.wait(timeout: 10) { $0.calls.count >= 10 })
        collector.stop()
        try await Task.sleep(for: .milliseconds(300))  // also lets the dead collector's last output arrive
        let beforeKill = collector.acceptedKeys("traces")
        collector = try OTLPReceiverPeer(.grpc, port: port)
        defer { collector.stop() }
        await producer.value
        await collector.wait(timeout: 5) { Set(beforeKill + $0.acceptedKeys("traces")).count >= requests * 10 }
        let afterRestart = collector.acceptedKeys("traces")
        let delivered = Set(beforeKill + afterRestart)
        let counts = exporter.counts
        // Big enough retry budget: zero losses, and the exporter's count matches what arrived.
        #expect(counts.exported + counts.failed + counts.dropped == requests * 10)
        #expect(counts.failed == 0 && counts.dropped == 0)
        #expect(delivered.count == requests * 10)
        #expect(counts.retries > 0)
        // Arrivals are counted, not only distinct items: each collector saw every item at most
        // once, and an item both saw (stored by the killed one, its answer lost, sent again) is a
        // duplicate, at most the four requests in flight at the kill.
        #expect(Set(beforeKill).count == beforeKill.count && Set(afterRestart).count == afterRestart.count)
        let duplicates = beforeKill.count + afterRestart.count - delivered.count
        #expect(duplicates <= 4 * 10, "\(duplicates) items arrived twice")
    }
}
