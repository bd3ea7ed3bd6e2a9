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
    func loadDeliversEveryItemAndExitsZero(signal: String, protocolName: String) throws {
        let receiver = try OTLPReceiverPeer(protocolName == "grpc" ? .grpc : .http, detail: true)
        defer { receiver.stop() }
        let output = try ChildProcess.run(otlp, ["load", "--endpoint", receiver.endpoint, "--signal", signal,
                                                 "--protocol", protocolName, "--count", "300", "--workers", "3",
                                                 "--attributes", "run=test", "--batch-size", "64"], timeout: 60)
        #expect(output.status == 0, "\(output.stdoutText) \(output.stderrText)")
        let fields = try #require(summary(output.stdoutText), "summary line: \(output.stdoutText)")
        #expect(fields["created"] == "300" && fields["exported"] == "300")
        #expect(fields["dropped"] == "0" && fields["failed"] == "0")
        #expect(fields["rate"]?.hasSuffix("/s") == true && Double(fields["elapsed"] ?? "") != nil)
        if signal == "metrics" {
            // 300 measurements of one counter per worker: the last cumulative points sum to 300.
            receiver.settle(calls: 1, accepted: 1)
            let points = receiver.accepted.flatMap(\.items).compactMap { $0 as? [String: Any] }
            #expect(!points.isEmpty)
        } else {
            #expect(receiver.wait { $0.accepted.flatMap(\.items).count >= 300 })
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

    @Test func unreachableCollectorCountsFailuresAndExitsOne() throws {
        let port = freeLoopbackPort()
        let output = try ChildProcess.run(otlp, ["load", "--endpoint", "http://127.0.0.1:\(port)", "--count", "50",
                                                 "--max-retry-seconds", "0.5"], timeout: 60)
        #expect(output.status == 1)
        let fields = try #require(summary(output.stdoutText))
        #expect(fields["created"] == "50" && fields["exported"] == "0" && fields["failed"] == "50")
    }

    @Test func badUsageExitsTwo() throws {
        for arguments in [["load", "--count", "1", "--duration", "1"], ["load", "--signal", "spans", "--count", "1"],
                          ["load", "--protocol", "udp", "--count", "1"], ["load"]] {
            let output = try ChildProcess.run(otlp, arguments, timeout: 30)
            #expect(output.status == 2, "\(arguments): \(output.stderrText)")
        }
    }
}
