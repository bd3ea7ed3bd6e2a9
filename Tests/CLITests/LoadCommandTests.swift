import Foundation
import OTLPProto
import OTLPTestSupport
import OTLPTesting
import Testing

/// `otlp load` end to end: the built `otlp` binary into the embedded collector.
@Suite(.serialized) struct LoadCommandTests {
    var otlp: String { TestEnvironment.productsDirectory.appendingPathComponent("otlp").path }

    /// Parses `created=N exported=N dropped=N failed=N elapsed=S rate=N/s`.
    func summary(_ output: String) -> [String: String]? {
        guard let last = output.split(separator: "\n").last else { return nil }
        var fields: [String: String] = [:]
        for part in last.split(separator: " ") {
            guard let eq = part.firstIndex(of: "=") else { return nil }
            fields[String(part[..<eq])] = String(part[part.index(after: eq)...])
        }
        return Array(fields.keys).sorted() == ["created", "dropped", "elapsed", "exported", "failed", "rate"] ? fields : nil
    }

    /// The attributes of every span or log record received, in arrival order.
    static func itemAttributes(_ collector: OTLPTestCollector, _ signal: String) -> [[CommonV1KeyValue]] {
        signal == "traces" ? collector.spans.map(\.span.attributes) : collector.logRecords.map(\.record.attributes)
    }

    /// Spans or log records received.
    static func itemCount(_ collector: OTLPTestCollector, _ signal: String) -> Int {
        signal == "traces" ? collector.counters.spans : collector.counters.logRecords
    }

    /// A value of the last metrics request's data points, summed over its points.
    static func lastMetricsTotal(_ collector: OTLPTestCollector) -> Double? {
        guard let last = collector.requests.last(where: { $0.signal == .metrics }),
              case .metrics(let request) = last.payload else { return nil }
        var total = 0.0
        for resource in request.resourceMetrics {
            for scope in resource.scopeMetrics {
                for metric in scope.metrics {
                    guard case .sum(let sum) = metric.data else { continue }
                    for point in sum.dataPoints {
                        switch point.value {
                        case .asInt(let value): total += Double(value)
                        case .asDouble(let value): total += value
                        case nil: break
                        }
                    }
                }
            }
        }
        return total
    }

    static func collector(grpc: Bool, port: UInt16 = 0, tls: OTLPTestCollector.TLSMode = .none) throws -> OTLPTestCollector {
        try OTLPTestCollector(grpc: grpc, http: !grpc,
                              configuration: .init(grpcPort: grpc ? port : 0, httpPort: grpc ? 0 : port, tls: tls))
    }

    @Test(arguments: [("traces", "grpc"), ("logs", "http/protobuf"), ("traces", "http/json"), ("metrics", "grpc")])
    func loadDeliversEveryItemAndExitsZero(signal: String, protocolName: String) async throws {
        let collector = try Self.collector(grpc: protocolName == "grpc")
        let endpoint = try #require(collector.grpcEndpoint ?? collector.httpEndpoint)
        let output = try await ChildProcess.run(otlp, ["load", "--endpoint", endpoint, "--signal", signal,
                                                 "--protocol", protocolName, "--count", "300", "--workers", "3",
                                                 "--attributes", "run=test", "--batch-size", "64"], timeout: 60)
        #expect(output.status == 0, "\(output.stdoutText) \(output.stderrText)")
        let fields = try #require(summary(output.stdoutText), "summary line: \(output.stdoutText)")
        #expect(fields["created"] == "300" && fields["exported"] == "300")
        #expect(fields["dropped"] == "0" && fields["failed"] == "0")
        #expect(fields["rate"]?.hasSuffix("/s") == true && Double(fields["elapsed"] ?? "") != nil)
        let encoding: OTLPTestCollector.Encoding = protocolName == "grpc" ? .grpc : protocolName == "http/json" ? .httpJSON : .httpProtobuf
        #expect(collector.requests.allSatisfy { $0.encoding == encoding })
        #expect(collector.counters.rejected == 0)
        if signal == "metrics" {
            // 300 measurements of one counter, one stream per worker: the last cumulative points sum to 300.
            try await collector.waitFor(metricPoints: 1, timeout: .seconds(10))
            #expect(Self.lastMetricsTotal(collector) == 300)
        } else {
            #expect(Self.itemCount(collector, signal) == 300)
            let attributes = try #require(Self.itemAttributes(collector, signal).first)
            #expect(attributes.text(of: "run") == "test")
            #expect(attributes.text(of: "load.string") == "value")
            #expect(attributes.text(of: "load.bool") != nil && attributes.text(of: "load.double") != nil
                    && attributes.text(of: "load.int") != nil)
            if signal == "traces" {
                #expect(Set(collector.spans.map(\.span.spanId)).count == 300)
            }
        }
        await collector.stop()
    }

    @Test func collectorStoppedAndRestartedMidRunEveryItemIsDeliveredOrCounted() async throws {
        var collector = try Self.collector(grpc: true)
        let port = try #require(collector.grpcPort)
        let load = try ChildProcess(otlp, ["load", "--endpoint", try #require(collector.grpcEndpoint), "--count", "3000", "--rate", "1500",
                                           "--batch-size", "100", "--queue-size", "8192"])
        defer { load.kill() }
        try await collector.waitFor(requests: 2, timeout: .seconds(30))
        await collector.stop()
        let firstRunIDs = collector.spans.map(\.span.spanId)
        var spanIDs = Set(firstRunIDs)
        let firstRun = spanIDs.count
        try await Task.sleep(for: .milliseconds(500))  // collector down: the exporter retries, the queue holds spans
        collector = try Self.collector(grpc: true, port: port)
        let output = try await load.wait(timeout: 60)
        let fields = try #require(summary(output.stdoutText), "\(output.stdoutText) \(output.stderrText)")
        let created = Int(fields["created"] ?? "") ?? -1
        let exported = Int(fields["exported"] ?? "") ?? -1
        let dropped = Int(fields["dropped"] ?? "") ?? -1
        let failed = Int(fields["failed"] ?? "") ?? -1
        #expect(created == 3000)
        #expect(created == exported + dropped + failed)
        // The queue (8192) holds everything produced while the collector was down: no losses.
        #expect(dropped == 0 && failed == 0 && output.status == 0, "\(output.stdoutText) \(output.stderrText)")
        let secondRunIDs = collector.spans.map(\.span.spanId)
        spanIDs.formUnion(secondRunIDs)
        #expect(firstRun > 0 && firstRun < 3000)
        #expect(spanIDs.count == exported, "distinct spans delivered to the two collectors")
        // Arrivals are counted, not only distinct spans: neither collector saw a span twice, and
        // spans both saw (stored by the stopped one, answer lost, sent again) are duplicates, at
        // most the requests in flight at the stop (4 of 100 spans).
        #expect(firstRun == firstRunIDs.count && Set(secondRunIDs).count == secondRunIDs.count)
        let duplicates = firstRunIDs.count + secondRunIDs.count - spanIDs.count
        #expect(duplicates <= 4 * 100, "\(duplicates) spans arrived twice")
        await collector.stop()
    }

    @Test(arguments: ["traces", "logs"])
    func losslessPacesTheGeneratorSoASmallQueueDropsNothing(signal: String) async throws {
        let collector = try Self.collector(grpc: true)
        let common = ["load", "--endpoint", try #require(collector.grpcEndpoint), "--signal", signal, "--count", "20000",
                      "--queue-size", "1024", "--batch-size", "256"]
        // Without pacing, a tight loop overruns a 1024-item queue while the collector holds its
        // first answers for half a second each.
        collector.enqueueFaults(Array(repeating: .delay(.milliseconds(500)), count: 8))
        let flooding = try await ChildProcess.run(otlp, common, timeout: 120)
        let flooded = try #require(summary(flooding.stdoutText), "\(flooding.stdoutText) \(flooding.stderrText)")
        #expect(flooding.status == 1 && (Int(flooded["dropped"] ?? "") ?? 0) > 0, "\(flooding.stdoutText)")
        let delivered = Int(flooded["exported"] ?? "") ?? 0
        #expect(Self.itemCount(collector, signal) == delivered)
        // Four workers on the same small queue, paced by back-pressure: nothing dropped, even with
        // the same slow first answers.
        collector.enqueueFaults(Array(repeating: .delay(.milliseconds(500)), count: 8))
        let paced = try await ChildProcess.run(otlp, common + ["--lossless", "--workers", "4"], timeout: 120)
        let fields = try #require(summary(paced.stdoutText), "\(paced.stdoutText) \(paced.stderrText)")
        #expect(paced.status == 0, "\(paced.stdoutText) \(paced.stderrText)")
        #expect(fields["created"] == "20000" && fields["exported"] == "20000")
        #expect(fields["dropped"] == "0" && fields["failed"] == "0")
        #expect(Self.itemCount(collector, signal) == delivered + 20000)
        await collector.stop()
    }

    @Test func losslessMetricsFromManyWorkersAreAllAggregated() async throws {
        let collector = try Self.collector(grpc: true)
        let output = try await ChildProcess.run(otlp, ["load", "--endpoint", try #require(collector.grpcEndpoint), "--signal", "metrics",
                                                 "--count", "50000", "--queue-size", "1024", "--workers", "4", "--lossless"], timeout: 120)
        let fields = try #require(summary(output.stdoutText), "\(output.stdoutText) \(output.stderrText)")
        #expect(output.status == 0 && fields["created"] == "50000" && fields["dropped"] == "0", "\(output.stdoutText)")
        // The last collection's cumulative points (one per worker) add up to every measurement.
        try await collector.waitFor(metricPoints: 1, timeout: .seconds(10))
        #expect(Self.lastMetricsTotal(collector) == 50000)
        await collector.stop()
    }

    @Test func shutdownTimeoutBoundsTheFinalFlushAndCountsTheRestAsFailed() async throws {
        // A collector that holds its answers for 30 s: the final flush cannot finish, so the
        // shutdown timeout ends the run and every span is counted, as failed.
        let collector = try Self.collector(grpc: true)
        collector.enqueueFaults(Array(repeating: .delay(.seconds(30)), count: 4))
        let start = Date()
        let output = try await ChildProcess.run(otlp, ["load", "--endpoint", try #require(collector.grpcEndpoint), "--count", "100",
                                                 "--timeout", "20", "--shutdown-timeout", "1"], timeout: 60)
        let elapsed = Date().timeIntervalSince(start)
        let fields = try #require(summary(output.stdoutText), "\(output.stdoutText) \(output.stderrText)")
        #expect(output.status == 1)
        #expect(fields["created"] == "100" && fields["exported"] == "0" && fields["failed"] == "100", "\(output.stdoutText)")
        #expect(elapsed < 15, "the run took \(elapsed) s; the shutdown timeout is 1 s, the export timeout 20 s")
        #expect(output.stderrText.contains("shutdown"), "\(output.stderrText)")
        #expect(collector.counters.spans == 100, "the request arrived; only its answer was held")
        await collector.stop()
    }

    @Test func tlsCollectorIsReachedWithCAFileOrInsecureAndRejectedOtherwise() async throws {
        let collector = try Self.collector(grpc: true, tls: .generated(requireClientCertificate: false))
        let ca = try #require(collector.certificates).caCertificateFile
        let port = try #require(collector.grpcPort)
        let common = ["load", "--endpoint", "https://localhost:\(port)", "--signal", "traces",
                      "--protocol", "grpc", "--count", "40", "--max-retry-seconds", "1", "--timeout", "3"]
        for (extra, delivered) in [(["--ca-file", ca], true), (["--insecure"], true), ([], false)] {
            let before = collector.counters.spans
            let output = try await ChildProcess.run(otlp, common + extra, timeout: 60)
            let fields = try #require(summary(output.stdoutText), "summary line: \(output.stdoutText) \(output.stderrText)")
            if delivered {
                #expect(output.status == 0 && fields["exported"] == "40", "\(extra): \(output.stdoutText)")
                #expect(collector.counters.spans == before + 40)
            } else {
                // The test CA is not in the system store: every span fails, counted, exit 1.
                #expect(output.status == 1 && fields["exported"] == "0" && fields["failed"] == "40", "\(output.stdoutText)")
                #expect(collector.counters.spans == before)
            }
        }
        await collector.stop()
    }

    @Test func unreachableCollectorCountsFailuresAndExitsOne() async throws {
        let port = freeLoopbackPort()
        let output = try await ChildProcess.run(otlp, ["load", "--endpoint", "http://127.0.0.1:\(port)", "--count", "50",
                                                 "--max-retry-seconds", "0.5"], timeout: 60)
        #expect(output.status == 1)
        let fields = try #require(summary(output.stdoutText))
        #expect(fields["created"] == "50" && fields["exported"] == "0" && fields["failed"] == "50")
    }

    @Test func badUsageExitsTwo() async throws {
        for arguments in [["load", "--count", "1", "--duration", "1"], ["load", "--signal", "spans", "--count", "1"],
                          ["load", "--protocol", "udp", "--count", "1"], ["load"]] {
            let output = try await ChildProcess.run(otlp, arguments, timeout: 30)
            #expect(output.status == 2, "\(arguments): \(output.stderrText)")
        }
    }
}
