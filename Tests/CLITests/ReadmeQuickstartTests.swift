import Foundation
import OTLPProto
import OTLPTestSupport
import OTLPTesting
import Testing

/// README.md's quick start, run as written: its Swift block is the `main.swift` of the
/// `ReadmeQuickstart` program (generated from README.md on every build, so a block that stops
/// compiling breaks the build), and its `config.toml` comment is the configuration, pointed at the
/// embedded collector.
@Suite("README quick start")
struct ReadmeQuickstartTests {
    /// The `config.toml` lines of the README's Swift block: the comment lines after
    /// `// config.toml`, without their `//   ` prefix.
    static func configFromReadme() throws -> String {
        let readme = try String(
            contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0.hasPrefix("// config.toml") }, "README names no config.toml")
        let config = lines[(start + 1)...].prefix { $0.hasPrefix("//   ") }.map { $0.dropFirst("//   ".count) }
        return config.joined(separator: "\n") + "\n"
    }

    @Test func quickStartExportsSpansMetricsAndLogsToTheCollectorItConfigures() async throws {
        let program = TestEnvironment.productsDirectory.appendingPathComponent("ReadmeQuickstart").path
        try #require(FileManager.default.isExecutableFile(atPath: program), "build the package first (swift build)")
        let collector = try OTLPTestCollector(grpc: true, http: false)
        let endpoint = try #require(collector.grpcEndpoint)
        let config = try Self.configFromReadme()
        #expect(config.contains("http://127.0.0.1:4317"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("readme-quickstart-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try config.replacingOccurrences(of: "http://127.0.0.1:4317", with: endpoint)
            .write(to: directory.appendingPathComponent("config.toml"), atomically: true, encoding: .utf8)

        let run = try ChildProcess(program, [], currentDirectory: directory)
        let output = try await run.wait(timeout: 60)
        #expect(output.status == 0, "stdout: \(output.stdoutText) stderr: \(output.stderrText)")
        #expect(!output.stdoutText.contains("telemetry:"), "the config has warnings: \(output.stdoutText)")

        try await collector.waitFor(spans: 1, timeout: .seconds(30))
        try await collector.waitFor(metricPoints: 1, timeout: .seconds(30))
        try await collector.waitFor(logRecords: 1, timeout: .seconds(30))
        let spans = collector.spans.map(\.span.name)
        #expect(spans.contains("turn"))
        let metrics = collector.metricPoints.map(\.metricName)
        #expect(metrics.contains("codex.turn.ttft.duration_ms"), "metrics: \(metrics)")
        let bodies = collector.logRecords.compactMap { record -> String? in
            if case .stringValue(let body) = record.record.body?.value { return body }
            return nil
        }
        #expect(bodies.contains("turn started"), "log bodies: \(bodies)")
        let resource = collector.spans.first?.resource?.attributes ?? []
        #expect(resource.text(of: "service.name") == "my-agent")
        await collector.stop()
    }
}
