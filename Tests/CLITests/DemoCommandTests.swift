import Foundation
import OTLPTestSupport
import Testing

/// `otlp demo` end to end: the built binary starts its embedded collector, plays the session and
/// prints what the collector received. No Python: the environment points it at none.
@Suite("otlp demo")
struct DemoCommandTests {
    @Test(arguments: ["grpc", "http/protobuf", "http/json"])
    func summaryNamesEveryPhaseWithADurationTheTTFTAndThePersonalDataSplit(protocol proto: String) async throws {
        let otlp = TestEnvironment.productsDirectory.appendingPathComponent("otlp").path
        let output = try await offPool {
            try ChildProcess.run(otlp, ["demo", "--protocol", proto], environment: ["OTLP_TEST_PYTHON": "/nonexistent"], timeout: 60)
        }
        #expect(output.status == 0, "stderr: \(String(decoding: output.stderr, as: UTF8.self))")
        let lines = output.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.contains("received by the collector") })
        let phases = ["thread_start_create_thread", "startup_prewarm_total", "startup_prewarm_create_turn_context",
                      "startup_prewarm_build_tools", "startup_prewarm_build_prompt",
                      "startup_prewarm_websocket_warmup", "startup_prewarm_resolve"]
        for phase in phases {
            let line = lines.first { $0.split(separator: " ").first.map(String.init) == phase }
            #expect(line?.range(of: #"\s[0-9]+\.[0-9] ms\s+█+$"#, options: .regularExpression) != nil,
                    "no duration line for \(phase) in:\n\(output.stdoutText)")
        }
        #expect(lines.contains { $0.range(of: #"turn TTFT .*: [0-9]+\.[0-9] ms"#, options: .regularExpression) != nil })
        #expect(lines.contains { $0.range(of: #"^received: spans=[1-9][0-9]* metric_points=[1-9][0-9]* log_records=[1-9][0-9]*$"#, options: .regularExpression) != nil })
        // 11 log records all carry user.email; no span does.
        #expect(lines.contains { $0.range(of: #"^personal data: user.email in ([1-9][0-9]*) of \1 log records, in 0 of [1-9][0-9]* spans$"#, options: .regularExpression) != nil },
                "\(output.stdoutText)")
    }
}
