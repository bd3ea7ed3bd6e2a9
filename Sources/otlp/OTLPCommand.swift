import ArgumentParser

/// `otlp`: inspect, send and generate OTLP telemetry.
///
/// Each subcommand lives in its own file (`CodecCommand.swift`, `SendCommand.swift`, ...).
@main
struct OTLPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "otlp",
        abstract: "Inspect, send and generate OpenTelemetry (OTLP) telemetry.",
        subcommands: [CodecCommand.self, SendCommand.self, LoadCommand.self, DemoCommand.self]
    )
}
