import ArgumentParser

/// `otlp codec`: not implemented yet (placeholder until its issue lands).
struct CodecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "codec", abstract: "(not implemented yet)")

    func run() throws {
        print("otlp codec: not implemented yet")
        throw ExitCode(2)
    }
}
