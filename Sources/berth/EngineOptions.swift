import ArgumentParser
import Engine
import Foundation

/// `--root` and `--runroot`, after the command (`berth ps --root X`) or, as podman takes them, before it
/// (`berth --root X ps`: `GlobalOptions` moves those into the environment before parsing).
struct EngineOptions: ParsableArguments {
    @Option(name: .long, help: "Images, metadata and volumes.")
    var root: String = ProcessInfo.processInfo.environment["BERTH_ROOT"] ?? "/var/lib/berth"
    @Option(name: .long, help: "Runtime state (a tmpfs: gone at boot).")
    var runroot: String = ProcessInfo.processInfo.environment["BERTH_RUNROOT"] ?? "/run/berth"

    func open() throws -> Engine { try Engine(root: root, runroot: runroot) }
}

/// Options podman takes before the command: `--root`, `--runroot`, `--network-config-dir`, `--log-level`, `--debug`.
enum GlobalOptions {
    static func extract(from arguments: [String]) -> [String] {
        var rest = arguments
        while let first = rest.first, first.hasPrefix("--") {
            let parts = first.split(separator: "=", maxSplits: 1).map(String.init)
            let name = parts[0]
            guard ["--root", "--runroot", "--network-config-dir", "--log-level", "--debug"].contains(name) else { break }
            rest.removeFirst()
            var value = parts.count == 2 ? parts[1] : nil
            if name != "--debug" && value == nil && !rest.isEmpty { value = rest.removeFirst() }
            switch name {
            case "--root": setenv("BERTH_ROOT", value ?? "", 1)
            case "--runroot": setenv("BERTH_RUNROOT", value ?? "", 1)
            case "--network-config-dir": setenv("BERTH_CNI_CONFIG_DIR", value ?? "", 1)
            case "--log-level": setenv("BERTH_LOG_LEVEL", value ?? "info", 1)
            default: setenv("BERTH_LOG_LEVEL", "debug", 1)
            }
        }
        return rest
    }
}

/// Prints an engine failure as docker does (`berth: Error response: …`) and exits with its code (125 for the
/// engine's own errors, as docker).
func engineFailure(_ error: any Error) -> ExitCode {
    if let exit = error as? ExitCode { return exit }
    let code: Int32 = (error as? EngineError)?.exitCode ?? 125
    FileHandle.standardError.write(Data("berth: \(error)\n".utf8))
    return ExitCode(code)
}

/// Runs an engine command body with docker's error reporting.
func engineCommand(_ body: () throws -> Void) throws {
    do { try body() } catch let error as CleanExit { throw error } catch { throw engineFailure(error) }
}
