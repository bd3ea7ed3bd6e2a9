import Foundation
import PackagePlugin

/// Generates the `main.swift` of the target from the Swift code block of the package's
/// `README.md` (the quick start), so that the README's code is compiled as written, as top-level
/// code, on every build: a block that stops compiling breaks the build.
@main
struct ReadmeQuickstartPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let tool = try context.tool(named: "ReadmeCodeBlock").url
        let readme = context.package.directoryURL.appendingPathComponent("README.md")
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("main.swift")
        return [
            .buildCommand(
                displayName: "README.md quick start → main.swift",
                executable: tool,
                arguments: [readme.path, output.path],
                inputFiles: [tool, readme],
                outputFiles: [output]
            )
        ]
    }
}
