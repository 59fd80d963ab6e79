#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Linux
import OCISpec
import Runtime

/// One function per runc command: parse its flags, call Runtime, print what runc prints.
struct Commands {
    let runtime: Runtime

    typealias Flag = ArgumentScanner.FlagSpec

    func run(_ command: String, _ arguments: [String]) throws -> Int32 {
        switch command {
        case "create": return try create(arguments)
        case "start": try runtime.start(id: try single(arguments, "start")); return 0
        case "run": return try runContainer(arguments)
        case "state": return try state(arguments)
        case "list", "ls": return try list(arguments)
        case "kill": return try kill(arguments)
        case "delete", "rm", "del": return try delete(arguments)
        case "exec": return try exec(arguments)
        case "ps": return try ps(arguments)
        case "pause": try runtime.pause(id: try single(arguments, "pause")); return 0
        case "resume": try runtime.resume(id: try single(arguments, "resume")); return 0
        case "events": return try events(arguments)
        case "update": return try update(arguments)
        case "features": Output.print(RuncOutput.features(RuntimeFeatures.current())); return 0
        case "spec": return try spec(arguments)
        case "checkpoint", "restore":
            throw CommandError(command, "checkpoint/restore (CRIU) is not supported by berth-runtime")
        case "help": Output.print(Usage.text); return 0
        default:
            throw CommandError(command, "no such command (see berth-runtime --help)")
        }
    }

    private func single(_ arguments: [String], _ command: String, flags: [Flag] = []) throws -> String {
        let scanned = try ArgumentScanner(arguments, flags: flags)
        guard scanned.positional.count == 1 else {
            throw CommandError(command, "expects exactly one container ID, got \(scanned.positional.count) arguments")
        }
        return scanned.positional[0]
    }

    private static let createFlags: [Flag] = [
        .init(names: ["bundle", "b"], kind: .value), .init(names: ["console-socket"], kind: .value),
        .init(names: ["pid-file"], kind: .value), .init(names: ["no-pivot"], kind: .bool),
        .init(names: ["no-new-keyring"], kind: .bool), .init(names: ["preserve-fds"], kind: .value),
        .init(names: ["detach", "d"], kind: .bool), .init(names: ["keep"], kind: .bool),
        .init(names: ["no-subreaper"], kind: .bool),
    ]

    private func createOptions(_ scanned: ArgumentScanner) throws -> (String, String, CreateOptions) {
        guard scanned.positional.count == 1 else {
            throw CommandError("create", "expects exactly one container ID, got \(scanned.positional.count) arguments")
        }
        var options = CreateOptions()
        options.pidFile = scanned.string("pid-file")
        options.consoleSocket = scanned.string("console-socket")
        options.noPivot = scanned.bool("no-pivot")
        options.noNewKeyring = scanned.bool("no-new-keyring")
        options.preserveFds = Int32(try scanned.int("preserve-fds") ?? 0)
        options.listenFds = Self.listenFds()
        return (scanned.positional[0], scanned.string("bundle") ?? ".", options)
    }

    /// systemd's socket activation protocol, as go-systemd's activation.Files reads it: the fds count
    /// only when LISTEN_PID names this process.
    private static func listenFds() -> Int32 {
        guard let pid = getenv("LISTEN_PID").flatMap({ Int32(String(cString: $0)) }), pid == getpid(),
              let count = getenv("LISTEN_FDS").flatMap({ Int32(String(cString: $0)) }), count > 0 else { return 0 }
        return count
    }

    private func create(_ arguments: [String]) throws -> Int32 {
        let scanned = try ArgumentScanner(arguments, flags: Self.createFlags)
        let (id, bundle, options) = try createOptions(scanned)
        try runtime.create(id: id, bundle: bundle, options: options)
        return 0
    }

    /// `run`: create + start; in the foreground it relays the terminal (if the process has one and no
    /// --console-socket is given), passes signals on, waits, and deletes afterwards.
    private func runContainer(_ arguments: [String]) throws -> Int32 {
        let scanned = try ArgumentScanner(arguments, flags: Self.createFlags)
        var (id, bundle, options) = try createOptions(scanned)
        let detach = scanned.bool("detach")
        options.foreground = !detach
        let signals = detach ? nil : try ForegroundSignals()
        let created = try runtime.create(id: id, bundle: bundle, options: options)
        // Every way out of here puts the caller's terminal back.
        defer { created.console?.finish() }
        do {
            try created.console?.begin()
            try runtime.start(id: id)
        } catch {
            created.console?.finish()
            try? runtime.delete(id: id, force: true)
            throw error
        }
        guard let signals else { return 0 }
        let code = Foreground.wait(for: created.pid, signals: signals, relay: created.console)
        created.console?.finish()
        if !scanned.bool("keep") { try runtime.delete(id: id, force: true) }
        return code
    }

    private func state(_ arguments: [String]) throws -> Int32 {
        let id = try single(arguments, "state")
        // json.MarshalIndent with two spaces, and no newline after it (runc writes the bytes as they are).
        Output.print(RuncOutput.state(try runtime.state(id: id), owner: "").indented("  "))
        return 0
    }

    private func list(_ arguments: [String]) throws -> Int32 {
        let scanned = try ArgumentScanner(arguments, flags: [.init(names: ["format", "f"], kind: .value), .init(names: ["quiet", "q"], kind: .bool)])
        let states = runtime.list()
        if scanned.bool("quiet") {
            Output.print(states.map { $0.id + "\n" }.joined())
            return 0
        }
        let owned = states.map { ($0, owner: RuncOutput.owner(ofDirectory: runtime.store.directory(of: $0.id))) }
        switch scanned.string("format") ?? "table" {
        case "json": Output.print(RuncOutput.list(owned))
        case "table": Output.table(RuncOutput.table(owned))
        default: throw CommandError("invalid format option", "")
        }
        return 0
    }

    private func kill(_ arguments: [String]) throws -> Int32 {
        let scanned = try ArgumentScanner(arguments, flags: [.init(names: ["all", "a"], kind: .bool)])
        guard (1...2).contains(scanned.positional.count) else {
            throw CommandError("kill", "usage: kill [--all] <container-id> [signal]")
        }
        let text = scanned.positional.count == 2 ? scanned.positional[1] : "SIGTERM"
        // As runc: any number is taken as it is (the kernel judges it), a name must be known, and a
        // missing container is reported before a bad signal.
        guard let signal = Int32(text) ?? Signals.parse(text) else {
            _ = try runtime.record(id: scanned.positional[0])
            throw CommandError("unknown signal " + goQuoted(text), "")
        }
        try runtime.kill(id: scanned.positional[0], signal: signal, all: scanned.bool("all"))
        return 0
    }

    private func delete(_ arguments: [String]) throws -> Int32 {
        let scanned = try ArgumentScanner(arguments, flags: [.init(names: ["force", "f"], kind: .bool)])
        guard scanned.positional.count == 1 else { throw CommandError("delete", "expects exactly one container ID") }
        try runtime.delete(id: scanned.positional[0], force: scanned.bool("force"))
        return 0
    }

    private func exec(_ arguments: [String]) throws -> Int32 {
        let flags: [Flag] = [
            .init(names: ["console-socket"], kind: .value), .init(names: ["cwd"], kind: .value),
            .init(names: ["env", "e"], kind: .multi), .init(names: ["tty", "t"], kind: .bool),
            .init(names: ["user", "u"], kind: .value), .init(names: ["additional-gids", "g"], kind: .multi),
            .init(names: ["process", "p"], kind: .value), .init(names: ["detach", "d"], kind: .bool),
            .init(names: ["pid-file"], kind: .value), .init(names: ["process-label"], kind: .value),
            .init(names: ["apparmor"], kind: .value), .init(names: ["no-new-privs"], kind: .bool),
            .init(names: ["cap", "c"], kind: .multi), .init(names: ["preserve-fds"], kind: .value),
            .init(names: ["cgroup"], kind: .multi), .init(names: ["ignore-paused"], kind: .bool),
        ]
        let scanned = try ArgumentScanner(arguments, flags: flags, stopAtFirstPositional: true)
        guard let id = scanned.positional.first else { throw CommandError("exec", "expects a container ID") }
        // Past the argument check, every failure is runc's "exec failed: …" with exit status 255, which
        // callers tell apart from the process's own status.
        do {
            return try execProcess(id, scanned)
        } catch {
            throw ExitError(code: 255, message: "exec failed: \(error)")
        }
    }

    private func execProcess(_ id: String, _ scanned: ArgumentScanner) throws -> Int32 {
        var process: Spec.Process
        if let path = scanned.string("process") {
            let bytes = Self.withDefaultUser(try Files.readBytes(path))
            do {
                process = try SpecJSON.decode(Spec.Process.self, from: Data(bytes), file: path)
            } catch let error as SpecDecodingError {
                throw CommandError("exec --process", error.description)
            }
        } else {
            guard var base = try runtime.config(id: id).process else { throw CommandError("exec", "container has no process") }
            base.args = Array(scanned.positional.dropFirst())
            guard !(base.args ?? []).isEmpty else { throw CommandError("exec", "expects a command to run after the container ID") }
            base.env = (base.env ?? []) + scanned.strings("env")
            if let cwd = scanned.string("cwd") { base.cwd = cwd }
            base.terminal = scanned.bool("tty")
            if let user = scanned.string("user") {
                let parts = user.split(separator: ":")
                guard let uid = UInt32(parts[0]), parts.count <= 2, parts.count == 1 || UInt32(parts[1]) != nil else {
                    throw CommandError("exec --user", "\(user) is not uid[:gid] (names are not resolved)")
                }
                base.user = Spec.User(uid: uid, gid: parts.count == 2 ? UInt32(parts[1])! : 0)
            }
            let gids = try scanned.strings("additional-gids").map { text throws -> UInt32 in
                guard let gid = UInt32(text) else { throw CommandError("exec --additional-gids", "\(text) is not a gid") }
                return gid
            }
            if !gids.isEmpty { base.user.additionalGids = gids }
            // As runc (context.IsSet): given, the flag decides either way, so --no-new-privs=false turns
            // off the config's no_new_privs.
            if scanned.string("no-new-privs") != nil { base.noNewPrivileges = scanned.bool("no-new-privs") }
            let added = scanned.strings("cap")
            if !added.isEmpty {
                // runc's sets: not inheritable, so the ambient entry is raised only if the config already
                // has the capability inheritable.
                var caps = base.capabilities ?? Spec.Capabilities()
                caps.bounding = (caps.bounding ?? []) + added
                caps.effective = (caps.effective ?? []) + added
                caps.permitted = (caps.permitted ?? []) + added
                caps.ambient = (caps.ambient ?? []) + added
                base.capabilities = caps
            }
            process = base
        }
        if let label = scanned.string("apparmor"), !label.isEmpty {
            throw CommandError("exec --apparmor", "AppArmor is not enabled on this host")
        }
        if let label = scanned.string("process-label"), !label.isEmpty {
            throw CommandError("exec --process-label", "SELinux is not enabled on this host")
        }
        var options = ExecOptions(process: process)
        options.detach = scanned.bool("detach")
        options.pidFile = scanned.string("pid-file")
        options.consoleSocket = scanned.string("console-socket")
        options.preserveFds = Int32(try scanned.int("preserve-fds") ?? 0)
        options.ignorePaused = scanned.bool("ignore-paused")
        options.cgroups = scanned.strings("cgroup")
        return try runtime.exec(id: id, options: options)
    }

    private struct UserField: Decodable { let user: Spec.User? }

    /// runc's Process has `user` as a plain struct, so an `exec --process` file without one runs as
    /// uid 0, gid 0 (runc's tty.bats writes such files). The field is added before decoding.
    static func withDefaultUser(_ bytes: [UInt8]) -> [UInt8] {
        guard let probe = try? JSONDecoder().decode(UserField.self, from: Data(bytes)), probe.user == nil,
              let brace = bytes.firstIndex(of: UInt8(ascii: "{")) else { return bytes }
        let rest = bytes[(brace + 1)...].first { ![0x20, 0x09, 0x0a, 0x0d].contains($0) }
        let field = #""user":{"uid":0,"gid":0}"# + (rest == UInt8(ascii: "}") ? "" : ",")
        var patched = bytes
        patched.insert(contentsOf: Array(field.utf8), at: brace + 1)
        return patched
    }

    private func ps(_ arguments: [String]) throws -> Int32 {
        let scanned = try ArgumentScanner(arguments, flags: [.init(names: ["format", "f"], kind: .value)], stopAtFirstPositional: true)
        guard let id = scanned.positional.first else { throw CommandError("ps", "expects a container ID") }
        switch scanned.string("format") ?? "table" {
        case "table": break
        case "json": Output.print(RuncOutput.pids(try runtime.processes(id: id))); return 0
        default: throw CommandError("invalid format option", "")
        }
        let pids = try runtime.processes(id: id)
        let psArguments = scanned.positional.count > 1 ? Array(scanned.positional.dropFirst()) : ["-ef"]
        Output.print(try ProcessTable.render(pids: Set(pids), psArguments: psArguments))
        return 0
    }

    private func events(_ arguments: [String]) throws -> Int32 {
        let scanned = try ArgumentScanner(arguments, flags: [.init(names: ["stats"], kind: .bool), .init(names: ["interval"], kind: .value)])
        guard scanned.positional.count == 1 else { throw CommandError("events", "expects exactly one container ID") }
        let id = scanned.positional[0]
        let interval = try Durations.seconds(scanned.string("interval") ?? "5s")
        return try EventStream(runtime: runtime, id: id).run(interval: interval, once: scanned.bool("stats"))
    }

    private func update(_ arguments: [String]) throws -> Int32 {
        let scanned = try ArgumentScanner(arguments, flags: UpdateFlags.flags)
        guard scanned.positional.count == 1 else { throw CommandError("update", "expects exactly one container ID") }
        let resources = try UpdateFlags.resources(from: scanned, warn: runtime.warn)
        try runtime.update(id: scanned.positional[0], resources: resources)
        return 0
    }

    private func spec(_ arguments: [String]) throws -> Int32 {
        let scanned = try ArgumentScanner(arguments, flags: [.init(names: ["bundle", "b"], kind: .value), .init(names: ["rootless"], kind: .bool)])
        let bundle = scanned.string("bundle") ?? "."
        if !Files.isDirectory(bundle) { throw CommandError("chdir \(bundle)", SystemError.message(Files.exists(bundle) ? ENOTDIR : ENOENT)) }
        let path = bundle + "/config.json"
        // runc's words (it has changed into the bundle, so the name is relative).
        if Files.exists(path) { throw CommandError("File config.json exists. Remove it first", "") }
        // No newline at the end, as json.MarshalIndent leaves it.
        try Files.create(path, Array(SpecTemplate.text(rootless: scanned.bool("rootless")).utf8), mode: 0o666)
        return 0
    }
}
