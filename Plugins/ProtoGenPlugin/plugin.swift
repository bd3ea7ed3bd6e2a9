import PackagePlugin

/// Placeholder: runs the generator over a target's `.proto` files (codec issue).
@main
struct ProtoGenPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] { [] }
}
