// Clients other than ours into the embedded collector: the grpcio reference client
// (opentelemetry-proto) and curl (HTTP/1.1 and h2c) with protobuf and JSON bodies.
import Foundation
import HTTP2Transport
import OTLPProto
import OTLPTesting
import OTLPTestSupport
import Testing

enum ReferencePython {
    static var client: String { TestEnvironment.repositoryRoot.appendingPathComponent("tools/peers/otlp_grpc_client.py").path }
}

/// Interop: the grpcio reference client (opentelemetry-proto) into the embedded collector.
@Suite(PythonPeers.trait)
struct GRPCIOReferenceClientInteropTests {
    @Test(arguments: [false, true])
    func grpcioClientExportsEverySignal(gzip: Bool) async throws {
        let collector = try await OTLPTestCollector.start(http: false)
        let output = try await offPool { try ChildProcess.run(TestEnvironment.python, [ReferencePython.client, "127.0.0.1:\(collector.grpcPort!)", "--count", "2"]
                                          + (gzip ? ["--gzip"] : []), timeout: 300) }
        #expect(output.status == 0, "\(output.stderrText)")
        #expect(output.stdoutText.split(separator: "\n") == Array(repeating: ["traces OK 0", "metrics OK 0", "logs OK 0"], count: 2).flatMap { $0 })
        #expect(collector.spans.map(\.span.name).sorted() == ["py-span-0-0", "py-span-0-1", "py-span-0-2", "py-span-1-0", "py-span-1-1", "py-span-1-2"])
        #expect(collector.spans.allSatisfy { $0.scope?.name == "grpcio-client" && $0.span.kind == .client })
        #expect(collector.metricPoints.count == 4 && collector.logRecords.count == 4)
        #expect(collector.requests.allSatisfy { $0.compressed == gzip && $0.header("user-agent")?.contains("grpc-python") == true })
        await collector.stop()
    }

    @Test func grpcioClientSeesScriptedStatusesAndPartialSuccess() async throws {
        let collector = try await OTLPTestCollector.start(http: false)
        collector.enqueueFault(.grpcStatus(.unavailable, message: "try later"), signal: .traces)
        collector.enqueueFault(.partialSuccess(rejected: 1, message: "one point dropped"), signal: .metrics)
        collector.enqueueFault(.httpStatus(429), signal: .logs)
        let output = try await offPool { try ChildProcess.run(TestEnvironment.python, [ReferencePython.client, "127.0.0.1:\(collector.grpcPort!)"], timeout: 300) }
        #expect(output.status == 0, "\(output.stderrText)")
        #expect(output.stdoutText.split(separator: "\n") == ["traces UNAVAILABLE 0", "metrics OK 1", "logs UNAVAILABLE 0"])
        #expect(collector.counters.rejectedRequests == 2 && collector.metricPoints.count == 2)
        await collector.stop()
    }
}

@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "needs curl"))
struct CurlClientTests {
    func curl(_ arguments: [String], body: [UInt8]) async throws -> (status: Int, body: String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("curl-body-\(UUID().uuidString)")
        try Data(body).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let output = try await offPool { try ChildProcess.run("/usr/bin/curl", ["-sS", "-o", "-", "-w", "\n%{http_code}", "--data-binary", "@\(file.path)"] + arguments, timeout: 120) }
        let lines = output.stdoutText.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    @Test(arguments: ["--http1.1", "--http2-prior-knowledge"])
    func curlPostsProtobufAndJSONBodies(httpVersion: String) async throws {
        let collector = try await OTLPTestCollector.start(grpc: false)
        let protobuf = try await curl([httpVersion, "-H", "content-type: application/x-protobuf", collector.httpURL(for: .traces)!],
                                body: Fixtures.traces(["curl-protobuf"]).serializedBytes())
        #expect(protobuf.status == 200)
        let json = try await curl([httpVersion, "-H", "content-type: application/json", collector.httpURL(for: .logs)!],
                            body: Fixtures.logs(["curl-json"]).jsonBytes())
        #expect(json.status == 200)
        #expect(json.body == "{}")
        let gzip = try await curl([httpVersion, "-H", "content-type: application/json", "-H", "content-encoding: gzip", collector.httpURL(for: .metrics)!],
                            body: try Gzip.compress(Fixtures.metrics(name: "curl.gzip", values: [7]).jsonBytes()))
        #expect(gzip.status == 200)
        #expect(collector.spans.map(\.span.name) == ["curl-protobuf"])
        #expect(collector.logRecords.map(\.record.body) == [CommonV1AnyValue(value: .stringValue("curl-json"))])
        #expect(collector.metricPoints.map(\.metricName) == ["curl.gzip"])
        #expect(collector.requests.map(\.httpProtocol) == Array(repeating: httpVersion == "--http1.1" ? .http1 : .http2, count: 3))
        // A large body: curl sends Expect: 100-continue over HTTP/1.1 and waits for the interim answer.
        let large = try await curl([httpVersion, "-H", "content-type: application/x-protobuf", collector.httpURL(for: .traces)!],
                             body: Fixtures.traces((0..<2000).map { "large-\($0)" }).serializedBytes())
        #expect(large.status == 200)
        #expect(collector.counters.spans == 2001)
        await collector.stop()
    }
}
