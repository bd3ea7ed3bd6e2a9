import Foundation
import OTLPTestSupport
import Testing

/// `otlp demo` draws the start-up spans the collector received as a waterfall.
@Suite("otlp demo waterfall")
struct DemoWaterfallTests {
    @Test func demoDrawsTheReceivedStartupSpansNestedWithOffsetsAndPlainTextOffATerminal() async throws {
        let otlp = TestEnvironment.productsDirectory.appendingPathComponent("otlp").path
        let output = try await offPool { try ChildProcess.run(otlp, ["demo"], timeout: 60) }
        #expect(output.status == 0, "stderr: \(output.stderrText)")
        let text = output.stdoutText
        let lines = text.split(separator: "\n").map(String.init)
        let header = try #require(lines.firstIndex { $0.hasPrefix("startup waterfall: ") }, "no waterfall in:\n\(text)")
        let rows = lines[(header + 1)...].prefix { $0.hasSuffix("|") || $0.contains("✗") }
        let names = rows.map { $0.trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? "" }
        #expect(names.first == "process_startup")
        #expect(Set(names).isSuperset(of: ["process_start", "config_load", "thread_start_create_thread", "startup_prewarm_total",
                                           "startup_prewarm_build_tools", "startup_prewarm_resolve"]))
        // Nesting: the prewarm phases are indented under startup_prewarm_total.
        #expect(rows.contains { $0.hasPrefix("  startup_prewarm_build_tools ") })
        #expect(rows.contains { $0.hasPrefix("startup_prewarm_total ") })
        for row in rows {
            #expect(row.range(of: #"[0-9]+\.[0-9] ms\s+[0-9]+\.[0-9] ms  \|[ █]+\|$"#, options: .regularExpression) != nil, "\(row)")
        }
        #expect(!text.contains("\u{1B}["), "colour codes without a terminal")
    }

    @Test func demoAppliesOTELVariablesWhileItsExportersComeFromTheFlags() async throws {
        let otlp = TestEnvironment.productsDirectory.appendingPathComponent("otlp").path
        var environment = ProcessInfo.processInfo.environment
        environment["OTLP_TEST_PYTHON"] = TestEnvironment.python
        environment["OTEL_TRACES_SAMPLER"] = "always_off"
        environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:1"  // not used: the local collector wins
        let variables = environment
        let output = try await offPool { try ChildProcess.run(otlp, ["demo"], environment: variables, timeout: 60) }
        #expect(output.status == 0, "stderr: \(output.stderrText)")
        let lines = output.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.range(of: #"^received: spans=0 metric_points=[1-9][0-9]* log_records=[1-9][0-9]*$"#, options: .regularExpression) != nil },
                "\(output.stdoutText)")
    }
}
