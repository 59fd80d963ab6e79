import Glibc
import Linux
import Runtime

/// berth-runtime: an OCI runtime with runc's command line.
let arguments = Array(CommandLine.arguments.dropFirst())
nonisolated(unsafe) var log = Log()

let globalFlags: [ArgumentScanner.FlagSpec] = [
    .init(names: ["root"], kind: .value), .init(names: ["log"], kind: .value), .init(names: ["log-format"], kind: .value),
    .init(names: ["debug"], kind: .bool), .init(names: ["systemd-cgroup"], kind: .bool), .init(names: ["rootless"], kind: .value),
    .init(names: ["criu"], kind: .value), .init(names: ["version", "v"], kind: .bool), .init(names: ["help", "h"], kind: .bool),
]

// Global flags come before the command name.
var commandIndex = 0
var globalArguments: [String] = []
while commandIndex < arguments.count, arguments[commandIndex].hasPrefix("-") {
    let argument = arguments[commandIndex]
    globalArguments.append(argument)
    commandIndex += 1
    let name = argument.drop { $0 == "-" }
    if !name.contains("="), ["root", "log", "log-format", "rootless", "criu"].contains(String(name)), commandIndex < arguments.count {
        globalArguments.append(arguments[commandIndex])
        commandIndex += 1
    }
}

do {
    let global = try ArgumentScanner(globalArguments, flags: globalFlags)
    try log.open(path: global.string("log"), format: global.string("log-format") ?? "text")
    if global.bool("debug") {
        // runc's debug lines are logrus lines at level debug, on stderr unless --log names a file.
        Trace.enabled = true
        if log.fd >= 0 { Trace.sink = log.fd }
        let json = log.json
        Trace.format = { Log.line(level: "debug", $0, json: json) }
    }
    if global.bool("version") {
        Output.print("berth-runtime version \(RuntimeVersion.version)\nspec: \(RuntimeVersion.spec)\n")
        exit(0)
    }
    guard commandIndex < arguments.count, !global.bool("help") else {
        Output.print(Usage.text)
        exit(global.bool("help") ? 0 : 1)
    }
    if global.bool("systemd-cgroup") && !Files.isDirectory("/run/systemd/system") {
        throw CommandError("--systemd-cgroup", "the systemd cgroup driver needs systemd running as PID 1, and it is not here; use the default cgroupfs driver")
    }
    if ["create", "run", "exec"].contains(arguments[commandIndex]) {
        // These put processes into containers: from here on, only a read-only clone of this binary runs.
        ExecutableSeal.reexecIfWritable()
    }
    let root = global.string("root") ?? "/run/berth"
    let commands = Commands(runtime: Runtime(root: root, warn: { message in log.warning(message) }))
    let code = try commands.run(arguments[commandIndex], Array(arguments[(commandIndex + 1)...]))
    exit(code)
} catch let error as ExitError {
    log.error(error.message)
    exit(error.code)
} catch let error as ArgumentScanner.UsageError {
    log.error(error.message)
    exit(1)
} catch {
    log.error("\(error)")
    exit(1)
}
