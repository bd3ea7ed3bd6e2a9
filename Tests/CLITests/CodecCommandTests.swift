import Foundation
import OTLPProto
import OTLPTestSupport
import Testing

/// `otlp codec`, run as the built executable against reference-produced inputs.
@Suite struct CodecCommandTests {
    var otlp: String { TestEnvironment.productsDirectory.appendingPathComponent("otlp").path }

    func codec(_ arguments: [String], stdin: [UInt8]) throws -> ChildProcess.Output {
        try ChildProcess.run(otlp, ["codec"] + arguments, stdin: Data(stdin), timeout: 30)
    }

    @Test(PythonPeers.trait, arguments: ReferencePeer.Signal.allCases)
    func binaryToBinaryReproducesTheReferenceEncoding(signal: ReferencePeer.Signal) async throws {
        for sample in try ReferencePeer.generate(signal, seed: 40, count: 3) {
            let output = try codec(["--signal", signal.rawValue, "--from", "binary", "--to", "binary"], stdin: sample.binary)
            #expect(output.status == 0, "\(output.stderrText)")
            #expect([UInt8](output.stdout) == sample.binary)
        }
    }

    @Test(PythonPeers.trait, arguments: ReferencePeer.Signal.allCases)
    func binaryToJSONMatchesTheReferenceJSON(signal: ReferencePeer.Signal) async throws {
        for sample in try ReferencePeer.generate(signal, seed: 41, count: 3) {
            let output = try codec(["--signal", signal.rawValue, "--from", "binary", "--to", "json"], stdin: sample.binary)
            #expect(output.status == 0, "\(output.stderrText)")
            let difference = try JSONComparison.difference(json: [UInt8](output.stdout), sample.json)
            #expect(difference == nil, "\(difference ?? "")")
        }
    }

    @Test(PythonPeers.trait) func jsonToBinaryFromAFileMatchesTheReferenceBytes() async throws {
        let sample = try ReferencePeer.generate(.metrics, seed: 42, count: 1)[0]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("codec-\(getpid()).json")
        try Data(sample.json).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        let output = try await ChildProcess.run(otlp, ["codec", "--signal", "metrics", "--from", "json", "--to", "binary", path.path], timeout: 30)
        #expect(output.status == 0, "\(output.stderrText)")
        #expect([UInt8](output.stdout) == sample.binary)
    }

    @Test func malformedBinaryExitsWithStatus2AndAOneLineError() async throws {
        // A length-delimited field (resource_spans) claiming 100 bytes with 2 present.
        let output = try codec(["--signal", "traces", "--from", "binary", "--to", "json"], stdin: [0x0A, 100, 1, 2])
        #expect(output.status == 2)
        #expect(output.stdout.isEmpty)
        let lines = output.stderrText.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(output.stderrText.contains("length past end"))
    }

    @Test func malformedJSONExitsWithStatus2AndAOneLineError() async throws {
        let output = try codec(["--signal", "logs", "--from", "json", "--to", "binary"], stdin: Array("{\"resourceLogs\": [".utf8))
        #expect(output.status == 2)
        #expect(output.stderrText.split(separator: "\n").count == 1)
        #expect(output.stderrText.contains("invalid JSON"))
    }

    @Test func missingFileExitsWithStatus2() async throws {
        let output = try await ChildProcess.run(otlp, ["codec", "--signal", "logs", "--from", "json", "--to", "binary", "/nonexistent/x.json"], timeout: 30)
        #expect(output.status == 2)
        #expect(output.stderrText.split(separator: "\n").count == 1)
    }
}
