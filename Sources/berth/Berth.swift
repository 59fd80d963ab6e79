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
                FileHandle.standardError.write(Data(usageError(message(for: error), arguments: arguments).utf8))
                Glibc.exit(125)
            }
            Self.exit(withError: error)
        }
    }

    /// A usage error in docker's words: the fault on one line, then where the command's help is.
    static func usageError(_ message: String, arguments: [String]) -> String {
        let path = commandPath(arguments)
        if path.isEmpty, let first = arguments.first(where: { !$0.hasPrefix("-") }), message.hasPrefix("Unexpected argument '\(first)'") {
            return "berth: unknown command: berth \(first)\nRun 'berth --help' for more information.\n"
        }
        var text = message
        if text.hasPrefix("Unknown option '"), let end = text.dropFirst(16).firstIndex(of: "'") {
            text = "unknown flag: " + text[text.index(text.startIndex, offsetBy: 16)..<end] + text[text.index(after: end)...]
        } else if let first = text.first {
            text = first.lowercased() + text.dropFirst()
        }
        return "berth: \(text)\nSee 'berth \((path + ["--help"]).joined(separator: " "))'.\n"
    }

    /// The subcommands named at the start of `arguments` (`container ls`), as far as they name commands.
    static func commandPath(_ arguments: [String]) -> [String] {
        var level: [any ParsableCommand.Type] = configuration.subcommands
        var path: [String] = []
        for argument in arguments {
            guard let command = level.first(where: { type in
                let configuration = type.configuration
                return (configuration.commandName ?? "") == argument || configuration.aliases.contains(argument)
            }) else { break }
            path.append(argument)
            level = command.configuration.subcommands
        }
        return path
    }
}
