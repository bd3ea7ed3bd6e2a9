import ArgumentParser

/// `otlp demo`: not implemented yet (placeholder until its issue lands).
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "(not implemented yet)")

    func run() throws {
        print("otlp demo: not implemented yet")
        throw ExitCode(2)
    }
}
