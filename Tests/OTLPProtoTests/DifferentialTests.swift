import Foundation
import OTLPProto
import OTLPTestSupport
import Testing

/// Live differential tests against the reference (Python protobuf/upb): 1,000 seeded random
/// messages per signal, binary and OTLP/JSON, both directions.
@Suite(PythonPeers.trait) struct DifferentialTests {
    static let count = Int(ProcessInfo.processInfo.environment["OTLP_DIFF_COUNT"] ?? "") ?? 1000

    func run<M: JSONMessage>(_ type: M.Type, _ signal: ReferencePeer.Signal, seed: Int) throws {
        let samples = try ReferencePeer.generate(signal, seed: seed, count: Self.count)
        let encoder = ProtoEncoder()
        var items: [(reference: [UInt8], binary: [UInt8], json: [UInt8])] = []
        var failures: [String] = []
        for (index, sample) in samples.enumerated() {
            do {
                // Reference binary → our decoder → our encoder: identical bytes.
                let message = try M(serializedBytes: sample.binary)
                let ours = message.serializedBytes()
                if ours != sample.binary {
                    failures.append("\(index): binary re-encoding differs (\(ours.count) vs \(sample.binary.count) bytes)")
                    continue
                }
                encoder.encode(message)
                if encoder.bytes != ours { failures.append("\(index): ProtoEncoder and serializedBytes differ") }
                // Reference JSON → our JSON decoder → same bytes as the reference binary.
                let fromJSON = try M(jsonBytes: sample.json)
                if fromJSON.serializedBytes() != sample.binary {
                    failures.append("\(index): decoding the reference JSON gives a different message")
                }
                items.append((sample.binary, ours, message.jsonBytes()))
            } catch {
                failures.append("\(index): \(error)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(5))")
        // Our binary and our JSON → the reference: same message, same JSON.
        let verdicts = try ReferencePeer.check(signal, items)
        #expect(verdicts.count == items.count)
        let bad = verdicts.filter { $0 != "ok" }
        #expect(bad.isEmpty, "\(bad.count) reference failures, first: \(bad.prefix(3))")
    }

    @Test func tracesMatchTheReferenceBinaryAndJSONBothWays() throws {
        try run(CollectorTraceV1ExportTraceServiceRequest.self, .traces, seed: 1)
    }

    @Test func metricsMatchTheReferenceBinaryAndJSONBothWays() throws {
        try run(CollectorMetricsV1ExportMetricsServiceRequest.self, .metrics, seed: 2)
    }

    @Test func logsMatchTheReferenceBinaryAndJSONBothWays() throws {
        try run(CollectorLogsV1ExportLogsServiceRequest.self, .logs, seed: 3)
    }
}
