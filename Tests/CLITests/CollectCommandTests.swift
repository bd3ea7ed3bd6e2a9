import Foundation
import HTTP2Transport
import HTTPTransportCore
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
        #expect(lines.last == "spans=1 metric_points=0 log_records=1 requests=3 rejected=1 duplicates=0")
    }

    @Test func waterfallDrawsEachTraceAsATreeWithTimeBars() async throws {
        let child = try ChildProcess(otlp, ["collect", "--http", "127.0.0.1:0", "--print", "waterfall"])
        defer { child.kill() }
        let first = try await offPool { try child.waitForOutput(containing: "\n", timeout: 20) }
        let port = try #require(first.firstMatch(of: /http=127\.0\.0\.1:([0-9]+)/).flatMap { UInt16($0.1) }, "first line: \(first)")
        #expect(first.hasPrefix("listening grpc=- http="))
        let trace = "0102030405060708090a0b0c0d0e0f10"
        func span(_ id: Int, parent: Int?, _ name: String, _ start: Int, _ end: Int) -> String {
            let parentField = parent.map { #","parentSpanId":"000000000000000\#($0)""# } ?? ""
            return #"{"traceId":"\#(trace)","spanId":"000000000000000\#(id)"\#(parentField),"name":"\#(name)","startTimeUnixNano":"\#(start)","endTimeUnixNano":"\#(end)"}"#
        }
        let json = #"{"resourceSpans":[{"scopeSpans":[{"spans":["# + [
            span(3, parent: 1, "render", 1_060_000_000, 1_100_000_000),
            span(1, parent: nil, "request", 1_000_000_000, 1_100_000_000),
            span(2, parent: 1, "db.query", 1_000_000_000, 1_050_000_000),
        ].joined(separator: ",") + "]}]}]}"
        let http = try HTTP1Client(configuration: HTTP1ClientConfiguration(endpoint: Endpoint(host: "127.0.0.1", port: port, useTLS: false)))
        defer { http.shutdown(graceful: false) }
        let response = try await http.execute(HTTP2Request(path: "/v1/traces", headers: [HTTPField("content-type", "application/json")],
                                                           body: Array(json.utf8), timeout: .seconds(5)))
        #expect(response.status == 200)
        _ = try await offPool { try child.waitForOutput(containing: "render", timeout: 10) }
        kill(child.pid, SIGTERM)
        let output = try await offPool { try child.wait(timeout: 20) }
        let lines = output.stdoutText.split(separator: "\n").map(String.init)
        #expect(output.status == 0)
        #expect(lines.count == 6, "\(output.stdoutText)")
        guard lines.count == 6 else { return }
        #expect(lines[1] == "trace \(trace) 3 spans 100.0 ms")
        // Tree order (parent, then children by start), indentation by depth, bars on the trace's time line.
        #expect(lines[2].hasPrefix("  request ") && lines[2].hasSuffix("100.0 ms |" + String(repeating: "█", count: 40)))
        #expect(lines[3].hasPrefix("    db.query ") && lines[3].hasSuffix("50.0 ms |" + String(repeating: "█", count: 20)))
        #expect(lines[4].hasPrefix("    render ") && lines[4].hasSuffix("40.0 ms |" + String(repeating: " ", count: 24) + String(repeating: "█", count: 16)))
        #expect(lines[5] == "spans=3 metric_points=0 log_records=0 requests=1 rejected=0 duplicates=0")
    }
}

extension CollectCommandTests {
    @Test func intervalPrintsRunningCountsWhenStdoutIsNotATerminal() async throws {
        let child = try ChildProcess(otlp, ["collect", "--grpc", "127.0.0.1:0", "--no-duplicates", "--interval", "0.05"])
        defer { child.kill() }
        let first = try await offPool { try child.waitForOutput(containing: "\n", timeout: 20) }
        let port = try #require(first.firstMatch(of: /listening grpc=127\.0\.0\.1:([0-9]+) http=-/).flatMap { UInt16($0.1) }, "first line: \(first)")
        _ = try await offPool { try child.waitForOutput(containing: "spans=0 ", timeout: 10) }

        let grpc = try GRPCClient(configuration: HTTP2ClientConfiguration(endpoint: Endpoint(host: "127.0.0.1", port: port, useTLS: false)))
        defer { grpc.shutdown() }
        let status = try await grpc.unary(path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                          message: traceRequest("counted"), timeout: .seconds(5)).get()
        #expect(status.code == .ok)
        // A later periodic line carries the span, while the collector still runs.
        _ = try await offPool { try child.waitForOutput(containing: "spans=1 ", timeout: 10) }
        #expect(child.isRunning)
    }

    @Test func intervalOutsideItsRangeIsAUsageError() async throws {
        let output = try await ChildProcess.run(otlp, ["collect", "--grpc", "127.0.0.1:0", "--interval", "0"], timeout: 30)
        #expect(output.status == 2, "\(output.stderrText)")
        #expect(output.stderrText.contains("--interval"))
    }
}
