import ArgumentParser

import Foundation

/// `otlp`: inspect, send and generate OTLP telemetry.
///
/// Each subcommand lives in its own file (`CodecCommand.swift`, `SendCommand.swift`, ...).
/// Exit statuses are the subcommands' own (0 ok, 1 remote error, 2 bad usage or input,
/// 3 transport error); a usage error ArgumentParser detects (unknown option, missing value)
/// also exits 2 rather than ArgumentParser's default 64.
@main
struct OTLPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "otlp",
        abstract: "Inspect, send and generate OpenTelemetry (OTLP) telemetry.",
        subcommands: [CodecCommand.self, SendCommand.self, LoadCommand.self, CollectCommand.self, DemoCommand.self]
    )

    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                let message = fullMessage(for: error)
                FileHandle.standardError.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
