import Foundation
import HTTP2Transport
import OTLPProto
import OTLPTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `otlp collect` end to end: the built binary on ephemeral ports, fed over gRPC and OTLP/HTTP.
@Suite("otlp collect")
struct CollectCommandTests {
    var otlp: String { TestEnvironment.productsDirectory.appendingPathComponent("otlp").path }

    func listeningPorts(_ line: String) -> (grpc: UInt16, http: UInt16)? {
        guard let match = line.firstMatch(of: /listening grpc=127\.0\.0\.1:([0-9]+) http=127\.0\.0\.1:([0-9]+)/),
              let grpc = UInt16(match.1), let http = UInt16(match.2) else { return nil }
        return (grpc, http)
    }

    func traceRequest(_ name: String) -> [UInt8] {
        var span = TraceV1Span()
        span.traceId = [UInt8](repeating: 1, count: 16)
        span.spanId = [UInt8](repeating: 2, count: 8)
        span.name = name
        var scopeSpans = TraceV1ScopeSpans()
        scopeSpans.spans = [span]
        var resourceSpans = TraceV1ResourceSpans()
        resourceSpans.scopeSpans = [scopeSpans]
        var request = CollectorTraceV1ExportTraceServiceRequest()
        request.resourceSpans = [resourceSpans]
        return request.serializedBytes()
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func jsonModePrintsEachRequestAsOneLineAndTotalsOnTermination(signal: Int32) async throws {
        let child = try ChildProcess(otlp, ["collect", "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0", "--print", "json"])
        defer { child.kill() }
        let first = try await offPool { try child.waitForOutput(containing: "\n", timeout: 20) }
        let ports = try #require(listeningPorts(first), "first line: \(first)")

        let grpc = try GRPCClient(configuration: HTTP2ClientConfiguration(endpoint: Endpoint(host: "127.0.0.1", port: ports.grpc, useTLS: false)))
        defer { grpc.shutdown() }
        let status = try await grpc.unary(path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                          message: traceRequest("from-grpc"), timeout: .seconds(5)).get()
        #expect(status.code == .ok)
        let http = try HTTP1Client(configuration: HTTP1ClientConfiguration(endpoint: Endpoint(host: "127.0.0.1", port: ports.http, useTLS: false)))
        defer { http.shutdown(graceful: false) }
        let json = #"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"from-http"}}]}]}]}"#
        let response = try await http.execute(HTTP2Request(path: "/v1/logs", headers: [HTTPField("content-type", "application/json")],
                                                           body: Array(json.utf8), timeout: .seconds(5)))
        #expect(response.status == 200)
        let bad = try await http.execute(HTTP2Request(path: "/v1/logs", headers: [HTTPField("content-type", "text/plain")],
                                                      body: Array("x".utf8), timeout: .seconds(5)))
        #expect(bad.status == 415)

        _ = try await offPool { try child.waitForOutput(containing: "from-http", timeout: 10) }
        kill(child.pid, signal)
        let output = try await offPool { try child.wait(timeout: 20) }
        #expect(output.status == 0, "\(output.stderrText)")
        let lines = output.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(output.stdoutText)")
        let requests = lines.dropFirst().dropLast()
        #expect(requests.contains { $0.hasPrefix(#"{"resourceSpans":"#) && $0.contains("from-grpc") })
        #expect(requests.contains { $0 == json })
        #expect(lines.last == "spans=1 metric_points=0 log_records=1 requests=3 rejected=1")
    }

    @Test func waterfallIsNotImplementedYetAndSaysSo() throws {
        let output = try ChildProcess.run(otlp, ["collect", "--grpc", "127.0.0.1:0", "--print", "waterfall"], timeout: 20)
        #expect(output.status == 2)
        #expect(output.stderrText.contains("not implemented"))
    }
}
