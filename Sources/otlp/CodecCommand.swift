import ArgumentParser
import Foundation
import OTLPProto
import TelemetryCore

/// `otlp codec`: converts one Export{Trace,Metrics,Logs}ServiceRequest between the binary
/// protobuf encoding and OTLP/JSON (binary → binary reproduces the reference encoding).
struct CodecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec",
        abstract: "Convert an OTLP export request between binary protobuf and OTLP/JSON.",
        discussion: """
            Reads one Export{Trace,Metrics,Logs}ServiceRequest from FILE (or stdin) and writes it \
            to stdout in the requested form. Malformed input: exit status 2 and a one-line error on stderr.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case binary, json }

    @Option(help: "The signal of the request: traces, metrics or logs.")
    var signal: TelemetrySignal

    @Option(help: "The input encoding: binary or json.")
    var from: Format

    @Option(help: "The output encoding: binary or json.")
    var to: Format

    @Argument(help: "The input file (default: stdin).")
    var file: String?

    func run() throws {
        let input: [UInt8]
        do {
            if let file {
                input = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
            } else {
                input = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
            }
        } catch {
            fail("cannot read \(file ?? "stdin"): \(error.localizedDescription)")
        }
        let output: [UInt8]
        do {
            switch signal {
            case .traces: output = try convert(CollectorTraceV1ExportTraceServiceRequest.self, input)
            case .metrics: output = try convert(CollectorMetricsV1ExportMetricsServiceRequest.self, input)
            case .logs: output = try convert(CollectorLogsV1ExportLogsServiceRequest.self, input)
            }
        } catch {
            fail("malformed \(from.rawValue) \(signal.rawValue) request: \(error)")
        }
        FileHandle.standardOutput.write(Data(output))
    }

    private func convert<M: JSONMessage>(_ type: M.Type, _ input: [UInt8]) throws(ProtoDecodingError) -> [UInt8] {
        let message = from == .binary ? try M(serializedBytes: input) : try M(jsonBytes: input)
        return to == .binary ? message.serializedBytes() : message.jsonBytes()
    }

    private func fail(_ message: String) -> Never {
        let line = message.replacingOccurrences(of: "\n", with: " ")
        FileHandle.standardError.write(Data("otlp codec: error: \(line)\n".utf8))
        Foundation.exit(2)
    }
}

/// `--signal traces|metrics|logs`.
extension TelemetrySignal: ExpressibleByArgument {}
