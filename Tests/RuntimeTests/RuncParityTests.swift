import Foundation
import Testing
import OCISpec

/// Exit codes and messages where runc's are observable: the same words (after `berth: `) and the same
/// status as runc 1.1.5 for containers that are missing or in the wrong state, compared with the host's
/// runc on twin containers where it is installed, and logrus-shaped --log/--debug lines.
@Suite("runc parity: exit codes, messages, log lines")
struct RuncParityTests {
    /// A container of each runtime in the same state: berth's (bundle.id) and runc's (bundle.id-runc).
    struct Twins {
        let bundle: Bundle
        let runcRoot: String
        var runcID: String { bundle.id + "-runc" }

        func berth(_ arguments: [String]) throws -> CommandResult { try bundle.runtime(arguments) }
        func runc(_ arguments: [String]) throws -> CommandResult? {
            guard let runc = Runc.path else { return nil }
            return try runCommand(runc, ["--root", runcRoot] + arguments)
        }
        func both(_ arguments: [String]) throws {
            try #require(try berth(arguments + [bundle.id]).succeeded)
            if let result = try runc(arguments + [runcID]) { try #require(result.succeeded, "runc \(arguments): \(result.stderr)") }
        }
        func destroy() {
            _ = try? runc(["delete", "--force", runcID])
            bundle.destroy()
        }
    }

    func twins(_ name: String = #function, args: [String]) throws -> Twins {
        let bundle = try Bundle(name, args: args)
        try bundle.writeConfig()
        return Twins(bundle: bundle, runcRoot: bundle.directory + "/runc-state")
    }

    /// Runs `command` (ID put where `{}` is, or last) against both, expects `status` and `message`.
    func expect(_ twins: Twins, _ command: [String], status: Int32, message: String,
                sourceLocation: SourceLocation = #_sourceLocation) throws {
        func arguments(_ id: String) -> [String] { command.contains("{}") ? command.map { $0 == "{}" ? id : $0 } : command + [id] }
        let ours = try twins.berth(arguments(twins.bundle.id))
        #expect(ours.status == status, "\(command): \(ours.stderr)", sourceLocation: sourceLocation)
        #expect(errorLine(ours) == "berth: " + message.replacingOccurrences(of: "{}", with: twins.bundle.id), "\(command)", sourceLocation: sourceLocation)
        if let theirs = try twins.runc(arguments(twins.runcID)) {
            #expect(theirs.status == status, "runc \(command): \(theirs.stderr)", sourceLocation: sourceLocation)
            #expect(logrusMessage(theirs.stderr) == message.replacingOccurrences(of: "{}", with: twins.runcID),
                    "runc \(command): \(theirs.stderr)", sourceLocation: sourceLocation)
        }
    }

    @Test func aMissingContainer() throws {
        let twins = try twins(args: ["true"])
        defer { twins.destroy() }
        let missing = ["state", "start", "kill", "delete", "pause", "resume", "ps", "events"].map { [$0] }
            + [["kill", "{}", "KILL"], ["kill", "{}", "NOSUCH"], ["update", "--memory", "10m"]]
        for command in missing {
            try expect(twins, command, status: 1, message: "container does not exist")
        }
        try expect(twins, ["exec", "{}", "true"], status: 255, message: "exec failed: container does not exist")
        #expect(try twins.berth(["delete", "--force", twins.bundle.id]).succeeded)
        let invalid = try twins.berth(["state", "a/b"])
        #expect(invalid.status == 1 && errorLine(invalid) == "berth: invalid container ID format")
        if let theirs = try twins.runc(["state", "a/b"]) { #expect(logrusMessage(theirs.stderr) == "invalid container ID format") }
    }

    @Test func aStoppedContainer() throws {
        let twins = try twins(args: ["true"])
        defer { twins.destroy() }
        try twins.both(["create", "--bundle", twins.bundle.directory])
        try twins.both(["start"])
        #expect(try twins.bundle.waitForStatus(.stopped))
        if Runc.path != nil {
            #expect(waitFor { (try? twins.runc(["state", twins.runcID]))??.stdout.contains("\"stopped\"") == true })
        }
        for command in [["kill"], ["kill", "{}", "KILL"], ["pause"], ["update", "--memory", "10m"]] {
            try expect(twins, command, status: 1, message: "container not running")
        }
        try expect(twins, ["start"], status: 1, message: "cannot start a container that has stopped")
        try expect(twins, ["kill", "{}", "NOSUCH"], status: 1, message: "unknown signal \"NOSUCH\"")
        try expect(twins, ["exec", "{}", "true"], status: 255, message: "exec failed: cannot exec in a stopped container")
        try expect(twins, ["events", "--stats"], status: 1, message: "container with id {} is not running")
        #expect(try twins.berth(["kill", "--all", twins.bundle.id]).succeeded, "--all of a stopped container is no error, as runc")
        #expect(try twins.berth(["ps", "-f", "json", twins.bundle.id]).stdout == "null\n")
        #expect(try twins.berth(["delete", twins.bundle.id]).succeeded)
    }

    @Test func aRunningAndAPausedContainer() throws {
        let twins = try twins(args: ["sleep", "1000"])
        defer { twins.destroy() }
        try twins.both(["run", "-d", "--bundle", twins.bundle.directory])
        try expect(twins, ["start"], status: 1, message: "cannot start an already running container")
        try expect(twins, ["resume"], status: 1, message: "container not paused")
        try expect(twins, ["delete"], status: 1, message: "cannot delete container {} that is not stopped: running")
        try expect(twins, ["kill", "{}", "99"], status: 1, message: "unable to signal init: invalid argument")
        try expect(twins, ["exec", "{}", "no-such-program"], status: 255,
                   message: "exec failed: unable to start container process: exec: \"no-such-program\": executable file not found in $PATH")
        try expect(twins, ["exec", "{}", "/no/such"], status: 255,
                   message: "exec failed: unable to start container process: exec: \"/no/such\": stat /no/such: no such file or directory")
        #expect(try twins.berth(["kill", twins.bundle.id, "0"]).succeeded, "a number is a signal, 0 included, as runc")

        try twins.both(["pause"])
        try expect(twins, ["pause"], status: 1, message: "container not running")
        try expect(twins, ["start"], status: 1, message: "cannot start a container in the paused state")
        try expect(twins, ["delete"], status: 1, message: "cannot delete container {} that is not stopped: paused")
        // Refused at once, never a hang (a process joining a frozen cgroup would freeze before starting).
        try expect(twins, ["exec", "{}", "true"], status: 255,
                   message: "exec failed: cannot exec in a paused container (use --ignore-paused to override)")
        // --ignore-paused, as runc (its cgroups.bats): the process joins the frozen cgroup and runs once
        // the container is resumed.
        let out = twins.bundle.directory + "/ignore-paused.out"
        let pid = try spawnInBackground(runtimeBinary, ["--root", twins.bundle.stateRoot, "exec", "--ignore-paused", twins.bundle.id,
                                                        "echo", "ok"], stdout: out)
        try twins.both(["resume"])
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        #expect(status == 0)
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "ok\n")
        #expect(try twins.bundle.state()?.status == .running)
    }

    @Test func logLinesAreLogrusLines() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        let stamp = #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)"#
        for json in [false, true] {
            let ours = bundle.directory + "/log-\(json)", theirs = bundle.directory + "/runc-log-\(json)"
            let format = json ? ["--log-format", "json"] : []
            let result = try runCommand(runtimeBinary, ["--root", bundle.stateRoot, "--log", ours] + format + ["kill", "no-such"])
            #expect(result.status == 1)
            let line = try String(contentsOfFile: ours, encoding: .utf8)
            let shape = json ? #"\{"level":"error","msg":"container does not exist","time":""# + stamp + #""\}\n"#
                : #"time=""# + stamp + #"" level=error msg="container does not exist"\n"#
            #expect(line.wholeMatch(of: try Regex(shape)) != nil, "\(line)")
            if let runc = Runc.path {
                _ = try runCommand(runc, ["--root", bundle.directory + "/runc-state", "--log", theirs] + format + ["kill", "no-such"])
                let runcLine = try String(contentsOfFile: theirs, encoding: .utf8)
                #expect(runcLine.wholeMatch(of: try Regex(shape)) != nil, "runc: \(runcLine)")
            }
        }
        // --debug: the syscall trail as logrus debug lines (on stderr without --log).
        try bundle.writeConfig()
        let debug = try bundle.runtime(["--debug", "run", "--bundle", bundle.directory, bundle.id])
        #expect(debug.succeeded)
        let lines = debug.stderr.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.contains("pivot_root(") })
        let debugShape = try Regex(#"time=""# + stamp + #"" level=debug msg="berth\[\d+\]: .*""#)
        #expect(lines.allSatisfy { $0.wholeMatch(of: debugShape) != nil }, "\(lines.first { $0.wholeMatch(of: debugShape) == nil } ?? "")")
        let jsonLog = bundle.directory + "/debug.json"
        let logged = try bundle.runtime(["--debug", "--log", jsonLog, "--log-format", "json", "run", "--bundle", bundle.directory, bundle.id])
        #expect(logged.succeeded, "\(logged.stderr)")
        let jsonLines = try String(contentsOfFile: jsonLog, encoding: .utf8).split(separator: "\n")
        let odd = jsonLines.filter { !($0.hasPrefix("{\"level\":\"debug\",\"msg\":\"berth[") && $0.contains("\",\"time\":\"")) }
        #expect(!jsonLines.isEmpty && odd.isEmpty, "\(odd.prefix(3))")

        let bad = try runCommand(runtimeBinary, ["--log-format", "yaml", "list"])
        #expect(bad.status == 1 && errorLine(bad) == "berth: invalid log-format: yaml")
        if let runc = Runc.path {
            #expect(logrusMessage(try runCommand(runc, ["--log-format", "yaml", "list"]).stderr) == "invalid log-format: yaml")
        }
    }
}

/// The msg of runc's last logrus line on stderr (`time="…" level=error msg="…"`), unquoted.
func logrusMessage(_ stderr: String) -> String {
    guard let line = stderr.split(separator: "\n").last, let start = line.range(of: " msg=") else { return "" }
    var value = String(line[start.upperBound...])
    if value.hasPrefix("\"") && value.hasSuffix("\"") {
        value = String(value.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\\\", with: "\\")
    }
    return value
}
