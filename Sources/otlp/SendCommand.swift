import ArgumentParser

/// `otlp send`: not implemented yet (placeholder until its issue lands).
struct SendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "send", abstract: "(not implemented yet)")

    func run() throws {
        print("otlp send: not implemented yet")
        throw ExitCode(2)
    }
}
