import Foundation
import OTLPProto
import OTLPTestSupport
import OTLPTesting
import Testing

/// `otlp send` end to end: the built `otlp` binary against the embedded collector (one per
/// test, so that each test's scripted faults answer only its own calls).
@Suite("otlp send")
struct SendCommandTests {
    static func collector(tls: OTLPTestCollector.TLSMode = .none) throws -> OTLPTestCollector {
        try OTLPTestCollector(grpc: true, http: false, configuration: .init(tls: tls))
    }
    var otlp: String { TestEnvironment.productsDirectory.appendingPathComponent("otlp").path }

    static func traceRequest(spans: Int) -> [UInt8] {
        var scope = TraceV1ScopeSpans()
        for i in 0..<spans {
            var span = TraceV1Span()
            span.traceId = [UInt8](repeating: 1, count: 16)
            span.spanId = [UInt8](repeating: UInt8(i + 1), count: 8)
            span.name = "span-\(i)"
            scope.spans.append(span)
        }
        var resource = TraceV1ResourceSpans()
        resource.scopeSpans = [scope]
        var request = CollectorTraceV1ExportTraceServiceRequest()
        request.resourceSpans = [resource]
        return request.serializedBytes()
    }

    func writeTemporary(_ bytes: [UInt8]) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("otlp-send-\(UUID().uuidString).bin")
        try Data(bytes).write(to: url)
        return url.path
    }

    func send(_ arguments: [String], stdin: [UInt8]? = nil) async throws -> ChildProcess.Output {
        let otlp = otlp
        return try await offPool { try ChildProcess.run(otlp, ["send"] + arguments, stdin: stdin.map { Data($0) }, timeout: 30) }
    }

    @Test func okCallPrintsStatusAndPartialSuccessAndExitsZero() async throws {
        let collector = try Self.collector()
        collector.enqueueFault(.partialSuccess(rejected: 2, message: "partial"))
        let file = try writeTemporary(Self.traceRequest(spans: 3))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let output = try await send(["--endpoint", try #require(collector.grpcEndpoint), "--signal", "traces", file,
                               "--header", "x-tenant=acme", "--gzip", "--timeout", "5"])
        #expect(output.status == 0, "\(output.stderrText)")
        #expect(output.stdoutText.contains("status: OK (0)"))
        #expect(output.stdoutText.contains("partial success: 2 rejected spans: partial"))
        let request = try #require(collector.requests.first)
        #expect(collector.requests.count == 1 && request.compressed && request.header("x-tenant") == "acme")
        #expect(collector.spans.map(\.span.name) == ["span-0", "span-1", "span-2"])
        await collector.stop()
    }

    @Test func requestFromStdinIsSent() async throws {
        let collector = try Self.collector()
        let output = try await send(["--endpoint", try #require(collector.grpcEndpoint), "--signal", "traces"], stdin: Self.traceRequest(spans: 1))
        #expect(output.status == 0, "\(output.stderrText)")
        #expect(output.stdoutText.contains("status: OK (0)"))
        #expect(collector.spans.map(\.span.name) == ["span-0"])
        await collector.stop()
    }

    @Test func grpcErrorStatusExitsOne() async throws {
        let collector = try Self.collector()
        collector.enqueueFault(.grpcStatus(.unavailable, message: "try later"))
        let file = try writeTemporary(Self.traceRequest(spans: 1))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let output = try await send(["--endpoint", try #require(collector.grpcEndpoint), "--signal", "traces", file])
        #expect(output.status == 1)
        #expect(output.stdoutText.contains("status: UNAVAILABLE (14)"))
        #expect(output.stdoutText.contains("message: try later"))
        #expect(output.stderrText.split(separator: "\n").count == 1)
        #expect(collector.counters.requests == 1 && collector.counters.rejectedRequests == 1)
        await collector.stop()
    }

    @Test func badUsageAndBadInputExitTwo() async throws {
        let collector = try Self.collector()
        let endpoint = try #require(collector.grpcEndpoint)
        let garbage = try writeTemporary([0xFF, 0xFF, 0xFF])
        defer { try? FileManager.default.removeItem(atPath: garbage) }
        let cases: [[String]] = [
            ["--signal", "traces", garbage],  // no endpoint
            ["--endpoint", endpoint, "--signal", "spans", garbage],
            ["--endpoint", "ftp://x", "--signal", "traces", garbage],
            ["--endpoint", endpoint, "--signal", "traces", garbage],  // not a protobuf request
            ["--endpoint", endpoint, "--signal", "traces", "/nonexistent/file"],
            ["--endpoint", "https://127.0.0.1:1", "--signal", "traces", "--client-cert", "/x.pem", garbage],
            ["--endpoint", endpoint, "--signal", "traces", "--header", "novalue", garbage],
        ]
        for arguments in cases {
            let output = try await send(arguments)
            #expect(output.status == 2, "\(arguments): \(output.stderrText)")
            #expect(output.stderrText.hasPrefix("otlp send: "), "\(arguments)")
        }
        #expect(collector.counters.requests == 0, "nothing was sent")
        await collector.stop()
    }

    @Test func unreachableCollectorExitsThree() async throws {
        let file = try writeTemporary(Self.traceRequest(spans: 1))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let port = freeLoopbackPort()
        let output = try await send(["--endpoint", "http://127.0.0.1:\(port)", "--signal", "traces", file, "--timeout", "2"])
        #expect(output.status == 3)
        #expect(output.stderrText.contains("transport error"))
    }

    @Test func tlsWithCAFileAndClientCertificate() async throws {
        let collector = try await offPool { try Self.collector(tls: .generated(requireClientCertificate: true)) }
        let certs = try #require(collector.certificates)
        let file = try writeTemporary(Self.traceRequest(spans: 1))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let port = try #require(collector.grpcPort)
        let url = "https://localhost:\(port)"
        let ok = try await send(["--endpoint", url, "--signal", "traces", file, "--ca-file", certs.caCertificateFile,
                           "--client-cert", certs.clientCertificateFile, "--client-key", certs.clientKeyFile, "--timeout", "5"])
        #expect(ok.status == 0, "\(ok.stderrText)")
        #expect(collector.spans.count == 1)
        let noClientCertificate = try await send(["--endpoint", url, "--signal", "traces", file, "--ca-file", certs.caCertificateFile,
                                                  "--timeout", "5"])
        #expect(noClientCertificate.status == 3, "\(noClientCertificate.stdoutText)")
        let untrusted = try await send(["--endpoint", url, "--signal", "traces", file, "--timeout", "5"])
        #expect(untrusted.status == 3)
        #expect(untrusted.stderrText.contains("certificate"))
        #expect(collector.spans.count == 1)
        await collector.stop()
    }
}

/// Runs blocking work on its own thread, off the cooperative pool.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
