import ArgumentParser
import Foundation
import Glibc
import Linux

/// `berth`: the engine CLI and the cgroup/namespace toolkit. Each area registers its commands in its own file.
@main
struct Berth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "Berth: containers, images, and the kernel's cgroups and namespaces made visible.",
        subcommands: ContainerCommands.all + [ContainerGroup.self, VolumeGroup.self, NetworkGroup.self, EventsCommand.self, SystemGroup.self,
                                              InfoCommand.self, VersionCommand.self]
            + ToolkitCommands.all + ImageCommands.all
    )

    /// podman's global options may come before the command; usage errors exit 125, as docker's do.
    static func main() async {
        // An ordinary user's berth re-executes itself inside its user namespace first (docs/rootless.md).
        RootlessEntry.enterIfNeeded()
        let arguments = GlobalOptions.extract(from: Array(CommandLine.arguments.dropFirst()))
        // `--debug` (or `--log-level debug`): the syscall trail and each CNI plugin's run, on stderr.
        if ProcessInfo.processInfo.environment["BERTH_LOG_LEVEL"] == "debug" { Trace.enabled = true }
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data("berth: \(fullMessage(for: error))\nSee 'berth --help'.\n".utf8))
                Glibc.exit(125)
            }
            Self.exit(withError: error)
        }
    }
}
