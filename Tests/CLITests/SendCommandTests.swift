import Foundation
import OTLPProto
import OTLPTestSupport
import Testing

/// `otlp send` end to end: the built `otlp` binary against the Python collector.
@Suite("otlp send")
struct SendCommandTests {
    static let collector = Task { try await offPool { try CollectorPeer() } }
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
        let peer = try await Self.collector.value
        let file = try writeTemporary(Self.traceRequest(spans: 3))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let output = try await send(["--endpoint", peer.httpURL, "--signal", "traces", file,
                               "--header", "x-test-partial=2", "--gzip", "--timeout", "5"])
        #expect(output.status == 0, "\(output.stderrText)")
        #expect(output.stdoutText.contains("status: OK (0)"))
        #expect(output.stdoutText.contains("partial success: 2 rejected spans: partial"))
    }

    @Test func requestFromStdinIsSent() async throws {
        let peer = try await Self.collector.value
        let output = try await send(["--endpoint", peer.httpURL, "--signal", "traces"], stdin: Self.traceRequest(spans: 1))
        #expect(output.status == 0, "\(output.stderrText)")
        #expect(output.stdoutText.contains("status: OK (0)"))
    }

    @Test func grpcErrorStatusExitsOne() async throws {
        let peer = try await Self.collector.value
        let file = try writeTemporary(Self.traceRequest(spans: 1))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let output = try await send(["--endpoint", peer.httpURL, "--signal", "traces", file,
                               "--header", "x-test-status=14", "--header", "x-test-message=try later"])
        #expect(output.status == 1)
        #expect(output.stdoutText.contains("status: UNAVAILABLE (14)"))
        #expect(output.stdoutText.contains("message: try later"))
        #expect(output.stderrText.split(separator: "\n").count == 1)
    }

    @Test func badUsageAndBadInputExitTwo() async throws {
        let peer = try await Self.collector.value
        let garbage = try writeTemporary([0xFF, 0xFF, 0xFF])
        defer { try? FileManager.default.removeItem(atPath: garbage) }
        let cases: [[String]] = [
            ["--signal", "traces", garbage],  // no endpoint
            ["--endpoint", peer.httpURL, "--signal", "spans", garbage],
            ["--endpoint", "ftp://x", "--signal", "traces", garbage],
            ["--endpoint", peer.httpURL, "--signal", "traces", garbage],  // not a protobuf request
            ["--endpoint", peer.httpURL, "--signal", "traces", "/nonexistent/file"],
            ["--endpoint", "https://127.0.0.1:1", "--signal", "traces", "--client-cert", "/x.pem", garbage],
            ["--endpoint", peer.httpURL, "--signal", "traces", "--header", "novalue", garbage],
        ]
        for arguments in cases {
            let output = try await send(arguments)
            #expect(output.status == 2, "\(arguments): \(output.stderrText)")
            #expect(output.stderrText.hasPrefix("otlp send: "), "\(arguments)")
        }
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
        let certs = try await offPool { try TestCertificates.generate() }
        defer { certs.remove() }
        let peer = try await offPool { try CollectorPeer(tls: (certs.serverCert, certs.serverKey), clientCA: certs.caCert) }
        defer { peer.stop() }
        let file = try writeTemporary(Self.traceRequest(spans: 1))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let url = "https://localhost:\(peer.port)"
        let ok = try await send(["--endpoint", url, "--signal", "traces", file, "--ca-file", certs.caCert,
                           "--client-cert", certs.clientCert, "--client-key", certs.clientKey, "--timeout", "5"])
        #expect(ok.status == 0, "\(ok.stderrText)")
        let untrusted = try await send(["--endpoint", url, "--signal", "traces", file, "--timeout", "5"])
        #expect(untrusted.status == 3)
        #expect(untrusted.stderrText.contains("certificate"))
    }
}

/// Runs blocking work on its own thread, off the cooperative pool.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
