import Foundation
import PackagePlugin

/// Runs `protogen` on every `.proto` file of the target (found through the target's `Protos`
/// folder, e.g. a symlink to the package's `Protos/`), one build command per file, so the
/// generated Swift is rebuilt whenever a `.proto` file or the generator changes.
@main
struct ProtoGenPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let module = target.sourceModule else { return [] }
        let generator = try context.tool(named: "protogen").url
        let protoRoot = module.directoryURL.appendingPathComponent("Protos")
        let protos = module.sourceFiles(withSuffix: "proto").map(\.url)
        let rootPath = protoRoot.standardizedFileURL.path
        return protos.map { proto in
            var relative = proto.standardizedFileURL.path
            if relative.hasPrefix(rootPath + "/") { relative = String(relative.dropFirst(rootPath.count + 1)) }
            let outputName = relative.replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: ".proto", with: ".pb.swift")
            let output = context.pluginWorkDirectoryURL.appendingPathComponent(outputName)
            return .buildCommand(
                displayName: "protogen \(relative)",
                executable: generator,
                arguments: ["--proto-root", protoRoot.path, "--output", output.path, relative],
                inputFiles: [generator] + protos,
                outputFiles: [output]
            )
        }
    }
}
