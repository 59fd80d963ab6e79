import ArgumentParser
import Engine
import Foundation
import Linux
import Template

struct LogsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Fetch the logs of a container.")
    @OptionGroup var options: EngineOptions
    @Flag(name: .shortAndLong, help: "Follow log output.") var follow = false
    @Option(name: [.customShort("n"), .customLong("tail")], help: "Number of lines to show from the end of the logs (all).") var tail = "all"
    @Option(name: .long, help: "Show logs since timestamp (2013-01-02T13:23:37Z) or relative (42m).") var since: String?
    @Option(name: .long, help: "Show logs before a timestamp or relative (42m).") var until: String?
    @Flag(name: .shortAndLong, help: "Show timestamps.") var timestamps = false
    @Argument(help: "Container.") var container: String

    func run() throws {
        try engineCommand {
            let engine = try options.open()
            var logOptions = Engine.LogOptions()
            logOptions.follow = follow
            if tail != "all" {
                guard let count = Int(tail) else { throw EngineError("invalid value for --tail", tail) }
                logOptions.tail = count
            }
            if let since {
                guard let time = Timestamps.parseUserTime(since) else { throw EngineError("invalid value for \"since\"", since) }
                logOptions.since = time
            }
            if let until {
                guard let time = Timestamps.parseUserTime(until) else { throw EngineError("invalid value for \"until\"", until) }
                logOptions.until = time
            }
            try engine.logs(container, options: logOptions) { entry in
                let line = timestamps ? entry.time + " " + entry.text : entry.text
                let fd: Int32 = entry.stream == "stderr" ? 2 : 1
                _ = try? Files.writeAll(fd: fd, Array(line.utf8))
                return true
            }
        }
    }
}

struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exec", abstract: "Execute a command in a running container.")
    @OptionGroup var options: EngineOptions
    @Flag(name: .shortAndLong, help: "Detached mode: run command in the background.") var detach = false
    @Flag(name: .shortAndLong, help: "Keep STDIN open even if not attached.") var interactive = false
    @Flag(name: .shortAndLong, help: "Allocate a pseudo-TTY.") var tty = false
    @Option(name: .shortAndLong, help: "Set environment variables.") var env: [String] = []
    @Option(name: .customLong("env-file"), help: "Read in a file of environment variables.") var envFile: [String] = []
    @Option(name: .shortAndLong, help: "Username or UID (format: <name|uid>[:<group|gid>]).") var user: String?
    @Option(name: .shortAndLong, help: "Working directory inside the container.") var workdir: String?
    @Flag(name: .long, help: "Give extended privileges to the command.") var privileged = false
    @Argument(help: "Container.") var container: String
    @Argument(parsing: .captureForPassthrough, help: "COMMAND [ARG...]") var command: [String] = []

    func run() throws {
        do {
            guard !command.isEmpty else { throw EngineError("exec", "no command given") }
            var request = Engine.ExecRequest(command: command)
            request.interactive = interactive
            request.tty = tty
            request.detach = detach
            var environment: [String] = []
            for file in envFile {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw EngineError("open \(file)", "no such file or directory") }
                environment += text.split(separator: "\n").map(String.init).filter { !$0.isEmpty && !$0.hasPrefix("#") }
            }
            request.env = (environment + env).map(RunFlags.expandEnv)
            request.user = user
            request.workdir = workdir
            request.privileged = privileged
            let code = try options.open().exec(container, request)
            if code != 0 { throw ExitCode(code) }
        } catch {
            throw engineFailure(error)
        }
    }
}

struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "top", abstract: "Display the running processes of a container.")
    @OptionGroup var options: EngineOptions
    @Argument(help: "Container.") var container: String
    @Argument(parsing: .captureForPassthrough, help: "ps options (default -ef).") var psOptions: [String] = []

    func run() throws {
        try engineCommand {
            let pids = Set(try options.open().processes(container))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/ps")
            process.arguments = psOptions.isEmpty ? ["-ef"] : psOptions
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
            guard let header = lines.first else { return }
            let columns = header.split(separator: " ", omittingEmptySubsequences: true)
            guard let pidColumn = columns.firstIndex(of: "PID") else {
                throw EngineError("Couldn't find PID field in ps output", "")
            }
            print(header)
            for line in lines.dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                if pidColumn < fields.count, let pid = Int32(fields[pidColumn]), pids.contains(pid) { print(line) }
            }
        }
    }
}

struct PortCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "port", abstract: "List port mappings or a specific mapping for the container.")
    @OptionGroup var options: EngineOptions
    @Argument(help: "Container.") var container: String
    @Argument(help: "PRIVATE_PORT[/PROTO]") var port: String?

    func run() throws {
        try engineCommand {
            let engine = try options.open()
            let record = engine.withLiveState(try engine.container(container))
            let published = record.State.Running ? record.publishedPorts.filter { !$0.bindings.isEmpty } : []
            if let port {
                let key = port.contains("/") ? port : port + "/tcp"
                guard let entry = published.first(where: { $0.port == key }) else {
                    throw EngineError("No public port '\(key)' published for \(record.Name)", "")
                }
                for binding in entry.bindings { print("\(binding.HostIp):\(binding.HostPort)") }
                return
            }
            for entry in published {
                for binding in entry.bindings { print("\(entry.port) -> \(binding.HostIp):\(binding.HostPort)") }
            }
        }
    }
}

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Display a live stream of container(s) resource usage statistics.")
    @OptionGroup var options: EngineOptions
    @Flag(name: .shortAndLong, help: "Show all containers (default shows just running).") var all = false
    @Flag(name: .customLong("no-stream"), help: "Disable streaming stats and only pull the first result.") var noStream = false
    @Flag(name: .customLong("no-trunc"), help: "Do not truncate output.") var noTrunc = false
    @Option(name: .long, help: "Format output using a Go template, or json.") var format: String?
    @Argument(help: "Containers (default: all running).") var containers: [String] = []

    func run() throws {
        try engineCommand {
            let engine = try options.open()
            var previous: [String: (cpu: UInt64, time: Double)] = [:]
            var first = true
            while true {
                var records = try containers.isEmpty ? engine.containers() : containers.map { engine.withLiveState(try engine.container($0)) }
                if containers.isEmpty && !all { records = records.filter { $0.State.Running } }
                var samples: [(ContainerInfo, Engine.Stats?)] = records.map { ($0, $0.State.Running ? engine.stats($0.Id) : nil) }
                if first {
                    // CPU % needs two samples: take a second one shortly after, as docker's first frame does.
                    for (record, sample) in samples { if let sample { previous[record.Id] = (sample.cpuTotal, sample.time) } }
                    usleep(500_000)
                    samples = records.map { ($0, $0.State.Running ? engine.stats($0.Id) : nil) }
                    first = false
                }
                var rows: [TemplateValue] = []
                for (record, sample) in samples {
                    var cpu = 0.0
                    if let sample, let before = previous[record.Id], sample.time > before.time {
                        cpu = Double(sample.cpuTotal &- before.cpu) / ((sample.time - before.time) * 1e9) * 100
                        previous[record.Id] = (sample.cpuTotal, sample.time)
                    }
                    let usage = Double(sample?.memoryUsage ?? 0)
                    let limit = Double(sample?.memoryLimit ?? 0)
                    rows.append(.object([
                        ("BlockIO", .string(HumanTime.bytes(Double(sample?.blockRead ?? 0)) + " / " + HumanTime.bytes(Double(sample?.blockWrite ?? 0)))),
                        ("CPUPerc", .string(String(format: "%.2f%%", cpu))),
                        ("Container", .string(noTrunc ? record.Id : String(record.Id.prefix(12)))),
                        ("ID", .string(noTrunc ? record.Id : String(record.Id.prefix(12)))),
                        ("MemPerc", .string(String(format: "%.2f%%", limit > 0 ? usage / limit * 100 : 0))),
                        ("MemUsage", .string(HumanTime.binaryBytes(usage) + " / " + HumanTime.binaryBytes(limit))),
                        ("Name", .string(record.Name)),
                        ("NetIO", .string("0B / 0B")),
                        ("PIDs", .string(String(sample?.pids ?? 0))),
                    ]))
                }
                let table = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
                let headers = ["ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
                               "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"]
                let text = try Formatting.render(format: format, rows: rows, defaultTable: table, headers: headers)
                if noStream { print(text, terminator: ""); return }
                print("\u{1b}[2J\u{1b}[H" + text, terminator: "")
                fflush(nil)
                sleep(1)
            }
        }
    }
}
