import Foundation
import OTLPTestSupport
import Testing

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

    @Test(arguments: [("traces", "grpc"), ("logs", "http/protobuf"), ("traces", "http/json"), ("metrics", "grpc")])
    func loadDeliversEveryItemAndExitsZero(signal: String, protocolName: String) async throws {
        let receiver = try OTLPReceiverPeer(protocolName == "grpc" ? .grpc : .http, detail: true)
        defer { receiver.stop() }
        let output = try await ChildProcess.run(otlp, ["load", "--endpoint", receiver.endpoint, "--signal", signal,
                                                 "--protocol", protocolName, "--count", "300", "--workers", "3",
                                                 "--attributes", "run=test", "--batch-size", "64"], timeout: 60)
        #expect(output.status == 0, "\(output.stdoutText) \(output.stderrText)")
        let fields = try #require(summary(output.stdoutText), "summary line: \(output.stdoutText)")
        #expect(fields["created"] == "300" && fields["exported"] == "300")
        #expect(fields["dropped"] == "0" && fields["failed"] == "0")
        #expect(fields["rate"]?.hasSuffix("/s") == true && Double(fields["elapsed"] ?? "") != nil)
        if signal == "metrics" {
            // 300 measurements of one counter per worker: the last cumulative points sum to 300.
            await receiver.settle(calls: 1, accepted: 1)
            let points = receiver.accepted.flatMap(\.items).compactMap { $0 as? [String: Any] }
            #expect(!points.isEmpty)
        } else {
            #expect(await receiver.wait { $0.accepted.flatMap(\.items).count >= 300 })
            let items = receiver.accepted.flatMap(\.items).compactMap { $0 as? [String: Any] }
            #expect(items.count == 300)
            let attrs = items.first?["attrs"] as? [String: Any]
            #expect(attrs?["run"] as? String == "test")
            #expect(attrs?["load.string"] as? String == "value")
            #expect(attrs?["load.bool"] != nil && attrs?["load.double"] != nil && attrs?["load.int"] != nil)
            if signal == "traces" {
                let ids = Set(items.compactMap { $0["span_id"] as? String })
                #expect(ids.count == 300)
            }
        }
    }

    @Test func collectorKilledAndRestartedMidRunEveryItemIsDeliveredOrCounted() async throws {
        var collector = try OTLPReceiverPeer(.grpc, detail: true)
        let port = collector.port
        let load = try ChildProcess(otlp, ["load", "--endpoint", collector.endpoint, "--count", "3000", "--rate", "1500",
                                           "--batch-size", "100", "--queue-size", "8192"])
        defer { load.kill() }
        #expect(await collector.wait(timeout: 10) { $0.accepted.count >= 2 })
        collector.stop()
        try await Task.sleep(for: .milliseconds(300))  // the dead collector's last output arrives
        func ids(_ peer: OTLPReceiverPeer) -> [String] {
            peer.accepted.flatMap(\.items).compactMap { ($0 as? [String: Any])?["span_id"] as? String }
        }
        let firstRunIDs = ids(collector)
        var spanIDs = Set(firstRunIDs)
        let firstRun = spanIDs.count
        try await Task.sleep(for: .milliseconds(500))  // collector down: the exporter retries, the queue holds spans
        collector = try OTLPReceiverPeer(.grpc, port: port, detail: true)
        defer { collector.stop() }
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
        await collector.wait(timeout: 5) { peer in
            spanIDs.union(peer.accepted.flatMap(\.items).compactMap { ($0 as? [String: Any])?["span_id"] as? String }).count >= exported
        }
        let secondRunIDs = ids(collector)
        spanIDs.formUnion(secondRunIDs)
        #expect(firstRun > 0 && firstRun < 3000)
        #expect(spanIDs.count == exported, "distinct spans delivered to the two collectors")
        // Arrivals are counted, not only distinct spans: neither collector saw a span twice, and
        // spans both saw (stored by the killed one, answer lost, sent again) are duplicates, at
        // most the requests in flight at the kill (4 of 100 spans).
        #expect(firstRun == firstRunIDs.count && Set(secondRunIDs).count == secondRunIDs.count)
        let duplicates = firstRunIDs.count + secondRunIDs.count - spanIDs.count
        #expect(duplicates <= 4 * 100, "\(duplicates) spans arrived twice")
    }

    @Test(arguments: ["traces", "logs"])
    func losslessPacesTheGeneratorSoASmallQueueDropsNothing(signal: String) async throws {
        let receiver = try OTLPReceiverPeer(.grpc)
        defer { receiver.stop() }
        let common = ["load", "--endpoint", receiver.endpoint, "--signal", signal, "--count", "20000",
                      "--queue-size", "1024", "--batch-size", "256"]
        // Without pacing, a tight loop overruns a 1024-item queue in front of the Python collector.
        let flooding = try await ChildProcess.run(otlp, common, timeout: 120)
        let flooded = try #require(summary(flooding.stdoutText), "\(flooding.stdoutText) \(flooding.stderrText)")
        #expect(flooding.status == 1 && (Int(flooded["dropped"] ?? "") ?? 0) > 0, "\(flooding.stdoutText)")
        // Four workers on the same small queue, paced by back-pressure: nothing dropped.
        let paced = try await ChildProcess.run(otlp, common + ["--lossless", "--workers", "4"], timeout: 120)
        let fields = try #require(summary(paced.stdoutText), "\(paced.stdoutText) \(paced.stderrText)")
        #expect(paced.status == 0, "\(paced.stdoutText) \(paced.stderrText)")
        #expect(fields["created"] == "20000" && fields["exported"] == "20000")
        #expect(fields["dropped"] == "0" && fields["failed"] == "0")
        let delivered = Int(flooded["exported"] ?? "") ?? 0
        #expect(await receiver.wait(timeout: 10) { $0.acceptedKeys(signal).count >= delivered + 20000 })
        #expect(receiver.acceptedKeys(signal).count == delivered + 20000)
    }

    @Test func losslessMetricsFromManyWorkersAreAllAggregated() async throws {
        let receiver = try OTLPReceiverPeer(.grpc)
        defer { receiver.stop() }
        let output = try await ChildProcess.run(otlp, ["load", "--endpoint", receiver.endpoint, "--signal", "metrics", "--count", "50000",
                                                 "--queue-size", "1024", "--workers", "4", "--lossless"], timeout: 120)
        let fields = try #require(summary(output.stdoutText), "\(output.stdoutText) \(output.stderrText)")
        #expect(output.status == 0 && fields["created"] == "50000" && fields["dropped"] == "0", "\(output.stdoutText)")
        // The last collection's cumulative points (one per worker) add up to every measurement.
        #expect(await receiver.wait(timeout: 10) { !$0.acceptedKeys("metrics").isEmpty })
        let last = try #require(receiver.accepted.last { $0.signal == "metrics" })
        let total = last.keys.compactMap { Double($0.split(separator: ":").last ?? "") }.reduce(0, +)
        #expect(total == 50000, "\(last.keys)")
    }

    @Test func shutdownTimeoutBoundsTheFinalFlushAndCountsTheRestAsFailed() async throws {
        // A collector that never answers (accepts, then silence): the final flush cannot finish,
        // so the shutdown timeout ends the run and every span is counted, as failed.
        let collector = try OTLPReceiverPeer(.grpc, script: #"[{"sleep_ms": 30000}]"#)
        defer { collector.stop() }
        let start = Date()
        let output = try await ChildProcess.run(otlp, ["load", "--endpoint", collector.endpoint, "--count", "100",
                                                 "--timeout", "20", "--shutdown-timeout", "1"], timeout: 60)
        let elapsed = Date().timeIntervalSince(start)
        let fields = try #require(summary(output.stdoutText), "\(output.stdoutText) \(output.stderrText)")
        #expect(output.status == 1)
        #expect(fields["created"] == "100" && fields["exported"] == "0" && fields["failed"] == "100", "\(output.stdoutText)")
        #expect(elapsed < 15, "the run took \(elapsed) s; the shutdown timeout is 1 s, the export timeout 20 s")
        #expect(output.stderrText.contains("shutdown"), "\(output.stderrText)")
    }

    @Test func tlsCollectorIsReachedWithCAFileOrInsecureAndRejectedOtherwise() async throws {
        let certs = try TestCertificates.generate()
        defer { certs.remove() }
        let collector = try CollectorPeer(tls: (certs.serverCert, certs.serverKey))
        defer { collector.stop() }
        let common = ["load", "--endpoint", "https://localhost:\(collector.port)", "--signal", "traces",
                      "--protocol", "grpc", "--count", "40", "--max-retry-seconds", "1", "--timeout", "3"]
        for (extra, delivered) in [(["--ca-file", certs.caCert], true), (["--insecure"], true), ([], false)] {
            let output = try await ChildProcess.run(otlp, common + extra, timeout: 60)
            let fields = try #require(summary(output.stdoutText), "summary line: \(output.stdoutText) \(output.stderrText)")
            if delivered {
                #expect(output.status == 0 && fields["exported"] == "40", "\(extra): \(output.stdoutText)")
            } else {
                // The test CA is not in the system store: every span fails, counted, exit 1.
                #expect(output.status == 1 && fields["exported"] == "0" && fields["failed"] == "40", "\(output.stdoutText)")
            }
        }
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
