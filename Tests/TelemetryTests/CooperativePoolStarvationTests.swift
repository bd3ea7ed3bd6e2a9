import Foundation
import OTLPTestSupport
import Testing

/// Export runs on the library's own threads: with every thread of the cooperative pool blocked
/// (in a process of its own, `PoolStarvationProbe`, so the other tests keep their pool), spans,
/// log records and metrics recorded from plain threads reach a live collector, and the async
/// `forceFlush` and the synchronous shutdown meet their deadlines.
@Suite(PythonPeers.trait) struct CooperativePoolStarvationTests {
    @Test func everySignalIsExportedFlushedAndShutDownWhileThePoolIsBlocked() async throws {
        let collector = try OTLPReceiverPeer(.grpc)
        defer { collector.stop() }
        let count = 2000
        let probe = TestEnvironment.productsDirectory.appendingPathComponent("PoolStarvationProbe").path
        let output = try await ChildProcess.run(probe, [collector.endpoint, String(count)], timeout: 120)
        let lines = output.stdoutText.split(separator: "\n").map(String.init)
        #expect(output.status == 0, "\(output.stdoutText) \(output.stderrText)")
        // The probe proves the pool was saturated: a task enqueued after the blockers never ran.
        #expect(lines.contains("pool-blocked=yes"), "\(lines)")
        #expect(lines.contains { $0.hasPrefix("flush=ok") }, "\(lines)")
        #expect(lines.contains("shutdown=ok"), "\(lines)")
        #expect(lines.contains("traces accepted=\(count) exported=\(count) failed=0 dropped=0"), "\(lines)")
        #expect(lines.contains("logs accepted=\(count) exported=\(count) failed=0 dropped=0"), "\(lines)")

        #expect(await collector.wait(timeout: 10) { $0.acceptedKeys("traces").count >= count && $0.acceptedKeys("logs").count >= count })
        #expect(Set(collector.acceptedKeys("traces")) == Set((0..<count).map { "span-\($0)" }))
        #expect(Set(collector.acceptedKeys("logs")) == Set((0..<count).map { "log-\($0)" }))
        // Two collections (the flush, the shutdown) of one cumulative counter per recording
        // thread part: the shutdown's points add up to every measurement.
        #expect(await collector.wait(timeout: 10) { $0.accepted.filter { $0.signal == "metrics" }.count >= 2 })
        let lastMetrics = try #require(collector.accepted.last { $0.signal == "metrics" })
        let total = lastMetrics.keys.compactMap { key -> Double? in
            guard key.hasPrefix("probe.adds:") else { return nil }
            return Double(key.dropFirst("probe.adds:".count))
        }.reduce(0, +)
        #expect(total == Double(count), "\(lastMetrics.keys)")
    }
}
