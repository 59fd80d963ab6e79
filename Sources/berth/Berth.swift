import ArgumentParser

/// `berth`: the engine CLI and the cgroup/namespace toolkit. Each area registers its commands in its own file.
@main
struct Berth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "Berth: containers, images, and the kernel's cgroups and namespaces made visible.",
        subcommands: ToolkitCommands.all + ImageCommands.all
    )
}
