import ArgumentParser

/// `otlp load`: not implemented yet (placeholder until its issue lands).
struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "load", abstract: "(not implemented yet)")

    func run() throws {
        print("otlp load: not implemented yet")
        throw ExitCode(2)
    }
}
