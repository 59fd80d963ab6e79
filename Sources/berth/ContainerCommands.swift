import ArgumentParser
import Engine
import Foundation
import Images
import Linux
import OCISpec

/// The container commands, at the top level and under `berth container …`, as docker has them.
enum ContainerCommands {
    static let all: [any ParsableCommand.Type] = [
        RunCommand.self, CreateCommand.self, StartCommand.self, StopCommand.self, RestartCommand.self, KillCommand.self,
        RmCommand.self, PsCommand.self, LogsCommand.self, InspectCommand.self, ExecCommand.self, WaitCommand.self,
        PauseCommand.self, UnpauseCommand.self, RenameCommand.self, TopCommand.self, StatsCommand.self, AttachCommand.self,
        PortCommand.self, CpCommand.self, DiffCommand.self, ExportCommand.self, UpdateCommand.self, CommitCommand.self,
    ]
}

struct ContainerGroup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "container", abstract: "Manage containers.",
        subcommands: ContainerCommands.all + [ContainerListCommand.self, ContainerPruneCommand.self, ContainerCleanupCommand.self])
}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Create and run a new container from an image.",
                                                    helpNames: [.long])
    @OptionGroup var options: EngineOptions
    @Flag(name: [.customShort("d"), .customLong("detach")], help: "Run container in background and print container ID.") var detach = false
    @Flag(name: .customLong("rm"), help: "Automatically remove the container when it exits.") var remove = false
    @Option(name: .customLong("detach-keys"), help: "Override the key sequence for detaching a container.") var detachKeys = "ctrl-p,ctrl-q"
    @Option(name: .customLong("sig-proxy"), help: "Proxy received signals to the process.") var sigProxy = true
    @OptionGroup var flags: RunFlags
    @Argument(help: "IMAGE [COMMAND] [ARG...]") var image: String
    @Argument(parsing: .captureForPassthrough, help: .hidden) var command: [String] = []

    func run() async throws {
        do {
            let engine = try options.open()
            let record = try await flags.createContainer(engine: engine, image: image, command: command, autoRemove: remove)
            if detach {
                do { try engine.start(record.Id) } catch {
                    if remove { try? engine.remove(record.Id, force: true, volumes: true) }
                    throw error
                }
                print(record.Id)
                return
            }
            let code = try Attaching.runAttached(engine: engine, id: record.Id, interactive: flags.interactive, tty: flags.tty,
                                                 detachKeys: detachKeys, sigProxy: sigProxy, autoRemove: remove)
            if code != 0 { throw ExitCode(code) }
        } catch {
            throw engineFailure(error)
        }
    }
}

/// `run` without -d and `start -a`: hold the start until attached, then copy until the container exits.
enum Attaching {
    static func runAttached(engine: Engine, id: String, interactive: Bool, tty: Bool, detachKeys: String, sigProxy: Bool,
                            autoRemove: Bool) throws -> Int32 {
        let keys = try AttachSession.parseDetachKeys(detachKeys)
        let started: StartedContainer?
        do { started = try engine.start(id, waitForAttach: true) } catch {
            if autoRemove { try? engine.remove(id, force: true, volumes: true) }
            throw error
        }
        guard let started else { return 0 }
        let socket: Int32
        do {
            socket = try AttachSession.connect(engine.attachSocket(id), sendStdin: interactive, claimCleanup: true)
            try started.waitStarted()
        } catch {
            // The monitor reports why the process could not start; docker's 125/126/127 come with it.
            var status: Int32 = 0
            waitpid(started.monitorPid, &status, 0)
            if autoRemove { try? engine.remove(id, force: true, volumes: true) }
            throw error
        }
        let session = AttachSession(socketPath: engine.attachSocket(id), sendStdin: interactive, tty: tty, detachKeys: keys,
                                    proxy: sigProxy && !tty ? { signal in try? engine.kill(id, signal: signal) } : nil)
        let outcome = session.run(socket: socket)
        switch outcome {
        case .detached:
            return 0
        case .exited(let code):
            // We said we would do the exit command's work (bookkeeping, --rm): the monitor exits without it,
            // and we wait for the removal as docker does. Should the monitor restart the container instead,
            // it runs the exit command itself later and this cleanup finds the container running.
            if waitForMonitor(started.monitorPid, engine: engine, id: id) { try? engine.cleanup(id) }
            return code
        case .disconnected:
            var status: Int32 = 0
            waitpid(started.monitorPid, &status, 0)
            let record = try? engine.container(id)
            return record.map { engine.withLiveState($0).State.ExitCode } ?? 125
        }
    }
}

extension RunFlags {
    /// What `run` and `create` share: the request from the flags, the image pulled if need be, the container
    /// made, its ID written to `--cidfile`.
    func createContainer(engine: Engine, image: String, command: [String], autoRemove: Bool) async throws -> ContainerInfo {
        var request = try self.request(image: image, command: command)
        request.hostConfig.AutoRemove = autoRemove
        try await ImagePulling.ensure(image, policy: pull, engine: engine, quiet: false, platform: platform)
        let record = try engine.create(request)
        if let cidfile { try Data(record.Id.utf8).write(to: URL(fileURLWithPath: cidfile)) }
        return record
    }
}

/// Waits for the monitor to exit (true), or to start the container again under its restart policy (false:
/// it stays and runs its exit command later itself).
func waitForMonitor(_ pid: pid_t, engine: Engine, id: String) -> Bool {
    var status: Int32 = 0
    while true {
        let reaped = waitpid(pid, &status, WNOHANG)
        if reaped == pid || (reaped < 0 && errno == ECHILD) { return true }
        if let record = try? engine.container(id) {
            let state = engine.withLiveState(record).State
            if state.Restarting || (state.Running && state.ExitCode == 0 && record.RestartCount > 0) { return false }
        }
        usleep(2_000)
    }
}

enum ImagePulling {
    /// `--pull missing|always|never`, as docker's run pulls an image it does not have. With `--platform`, a
    /// local image of another platform counts as missing (docker's rule), and `never` then refuses it.
    static func ensure(_ image: String, policy: String, engine: Engine, quiet: Bool, platform: String? = nil) async throws {
        var wanted: Platform?
        if let platform {
            guard let parsed = Platform(parsing: platform.lowercased()) else {
                throw EngineError("invalid platform \"\(platform)\"", "use os/arch[/variant], e.g. linux/amd64")
            }
            wanted = parsed
        }
        let local = try? engine.images.resolve(image)
        var mismatch: String?
        if let local, let wanted {
            let actual = Platform(architecture: local.config.architecture, os: local.config.os, variant: local.config.variant)
            let matches = actual.os == wanted.os && actual.architecture == wanted.architecture
                && (wanted.variant == nil || actual.variant == nil || actual.variant == wanted.variant)
            if !matches {
                mismatch = "image with reference \(image) was found but does not match the specified platform: wanted \(wanted.description), actual: \(actual.description)"
            }
        }
        let have = local != nil && mismatch == nil
        if policy == "never" {
            if let mismatch { throw EngineError(mismatch, "--pull never") }
            return
        }
        if policy == "missing" && have { return }
        if local == nil { FileHandle.standardError.write(Data("Unable to find image '\(image)' locally\n".utf8)) }
        do {
            let display = PullProgress(quiet: quiet)
            var options = PullOptions()
            options.platform = wanted
            let record = try await engine.images.pull(image, options: options) { display.handle($0) }
            display.finish(record)
        } catch {
            if have && policy == "always" { throw EngineError("pulling \(image)", "\(error)") }
            if let mismatch { throw EngineError(mismatch, "and pulling that platform failed: \(error)") }
            throw EngineError("Unable to find image '\(image)'", "\(error)")
        }
    }
}

struct CreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a new container.", helpNames: [.long])
    @OptionGroup var options: EngineOptions
    @Flag(name: .customLong("rm"), help: "Automatically remove the container when it exits.") var remove = false
    @OptionGroup var flags: RunFlags
    @Argument(help: "IMAGE [COMMAND] [ARG...]") var image: String
    @Argument(parsing: .captureForPassthrough, help: .hidden) var command: [String] = []

    func run() async throws {
        do {
            let record = try await flags.createContainer(engine: try options.open(), image: image, command: command, autoRemove: remove)
            print(record.Id)
        } catch {
            throw engineFailure(error)
        }
    }
}

struct StartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start one or more stopped containers.")
    @OptionGroup var options: EngineOptions
    @Flag(name: .shortAndLong, help: "Attach STDOUT/STDERR and forward signals.") var attach = false
    @Flag(name: .shortAndLong, help: "Attach container's STDIN.") var interactive = false
    @Option(name: .customLong("detach-keys"), help: "Override the key sequence for detaching a container.") var detachKeys = "ctrl-p,ctrl-q"
    @Argument(help: "Containers.") var containers: [String]

    func run() throws {
        try engineCommand {
            let engine = try options.open()
            var failed = false
            for reference in containers {
                do {
                    if attach || interactive {
                        let record = try engine.container(reference)
                        let code = try Attaching.runAttached(engine: engine, id: record.Id, interactive: interactive,
                                                             tty: record.Config.Tty, detachKeys: detachKeys, sigProxy: true,
                                                             autoRemove: record.HostConfig.AutoRemove)
                        if code != 0 { throw ExitCode(code) }
                    } else {
                        try engine.start(reference)
                        print(reference)
                    }
                } catch let exit as ExitCode {
                    throw exit
                } catch {
                    FileHandle.standardError.write(Data("berth: \(error)\n".utf8))
                    failed = true
                }
            }
            if failed { throw ExitCode(1) }
        }
    }
}

/// Runs `body` for each container, printing each name as docker does and failing at the end if any failed.
func eachContainer(_ references: [String], print echo: Bool = true, _ body: (String) throws -> Void) throws {
    var failed = false
    for reference in references {
        do {
            try body(reference)
            if echo { print(reference) }
        } catch {
            FileHandle.standardError.write(Data("berth: \(error)\n".utf8))
            failed = true
        }
    }
    if failed { throw ExitCode(1) }
}

struct StopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop one or more running containers.")
    @OptionGroup var options: EngineOptions
    @Option(name: [.customShort("t"), .customLong("time"), .customLong("timeout")], help: "Seconds to wait before killing the container.") var time: Int?
    @Option(name: [.customShort("s"), .customLong("signal")], help: "Signal to send to the container.") var signal: String?
    @Argument(help: "Containers.") var containers: [String]

    func run() throws {
        let engine = try engineOpen(options)
        try eachContainer(containers) { try engine.stop($0, timeout: time) }
    }
}

func engineOpen(_ options: EngineOptions) throws -> Engine {
    do { return try options.open() } catch { throw engineFailure(error) }
}

struct RestartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restart", abstract: "Restart one or more containers.")
    @OptionGroup var options: EngineOptions
    @Option(name: [.customShort("t"), .customLong("time"), .customLong("timeout")], help: "Seconds to wait before killing the container.") var time: Int?
    @Argument(help: "Containers.") var containers: [String]

    func run() throws {
        let engine = try engineOpen(options)
        try eachContainer(containers) { reference in
            try engine.stop(reference, timeout: time)
            try engine.start(reference)
        }
    }
}

struct KillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "Kill one or more running containers.")
    @OptionGroup var options: EngineOptions
    @Option(name: [.customShort("s"), .customLong("signal")], help: "Signal to send to the container.") var signal = "KILL"
    @Argument(help: "Containers.") var containers: [String]

    func run() throws {
        let engine = try engineOpen(options)
        guard let number = Signals.parse(signal) else { throw engineFailure(EngineError("invalid signal: \(signal)", "")) }
        try eachContainer(containers) { try engine.kill($0, signal: number) }
    }
}

struct RmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more containers.")
    @OptionGroup var options: EngineOptions
    @Flag(name: .shortAndLong, help: "Force the removal of a running container (uses SIGKILL).") var force = false
    @Flag(name: .shortAndLong, help: "Remove anonymous volumes associated with the container.") var volumes = false
    @Argument(help: "Containers.") var containers: [String]

    func run() throws {
        let engine = try engineOpen(options)
        var failed = false
        for reference in containers {
            do {
                try engine.remove(reference, force: force, volumes: volumes)
                print(reference)
            } catch where force && error.isNoSuchContainer {
                // As docker's: `rm -f` of a container that is not there says so and succeeds, so that
                // cleanup scripts can remove whatever may exist.
                FileHandle.standardError.write(Data("berth: \(error)\n".utf8))
            } catch {
                FileHandle.standardError.write(Data("berth: \(error)\n".utf8))
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

struct WaitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wait", abstract: "Block until containers stop, then print their exit codes.")
    @OptionGroup var options: EngineOptions
    @Argument(help: "Containers.") var containers: [String]

    func run() throws {
        let engine = try engineOpen(options)
        try eachContainer(containers, print: false) { reference in
            let id = try engine.container(reference).Id
            while true {
                guard let record = try? engine.container(id) else { throw EngineError.init("No such container", reference) }
                let live = engine.withLiveState(record)
                if !live.State.Running && live.State.Status != "created" { print(live.State.ExitCode); return }
                if live.State.Status == "created" && !engine.monitorIsRunning(id) { print(live.State.ExitCode); return }
                usleep(20_000)
            }
        }
    }
}

struct PauseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Pause all processes within one or more containers.")
    @OptionGroup var options: EngineOptions
    @Argument(help: "Containers.") var containers: [String]
    func run() throws {
        let engine = try engineOpen(options)
        try eachContainer(containers) { try engine.pause($0) }
    }
}

struct UnpauseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unpause", abstract: "Unpause all processes within one or more containers.")
    @OptionGroup var options: EngineOptions
    @Argument(help: "Containers.") var containers: [String]
    func run() throws {
        let engine = try engineOpen(options)
        try eachContainer(containers) { try engine.unpause($0) }
    }
}

struct RenameCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rename", abstract: "Rename a container.")
    @OptionGroup var options: EngineOptions
    @Argument(help: "Container.") var container: String
    @Argument(help: "New name.") var newName: String
    func run() throws {
        try engineCommand { try options.open().rename(container, to: newName) }
    }
}

struct AttachCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attach", abstract: "Attach local standard input, output, and error streams to a running container.")
    @OptionGroup var options: EngineOptions
    @Option(name: .customLong("detach-keys"), help: "Override the key sequence for detaching a container.") var detachKeys = "ctrl-p,ctrl-q"
    @Flag(name: .customLong("no-stdin"), help: "Do not attach STDIN.") var noStdin = false
    @Option(name: .customLong("sig-proxy"), help: "Proxy all received signals to the process.") var sigProxy = true
    @Argument(help: "Container.") var container: String

    func run() throws {
        try engineCommand {
            let engine = try options.open()
            let record = engine.withLiveState(try engine.container(container))
            guard record.State.Running else { throw EngineError("You cannot attach to a stopped container", "start it first") }
            let sendStdin = !noStdin && record.Config.OpenStdin
            let socket = try AttachSession.connect(engine.attachSocket(record.Id), sendStdin: sendStdin)
            let session = AttachSession(socketPath: engine.attachSocket(record.Id), sendStdin: sendStdin, tty: record.Config.Tty,
                                        detachKeys: try AttachSession.parseDetachKeys(detachKeys),
                                        proxy: sigProxy && !record.Config.Tty ? { signal in try? engine.kill(record.Id, signal: signal) } : nil)
            switch session.run(socket: socket) {
            case .exited(let code): if code != 0 { throw ExitCode(code) }
            case .detached: FileHandle.standardError.write(Data("read escape sequence\n".utf8))
            case .disconnected: break
            }
        }
    }
}

struct ContainerCleanupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cleanup", abstract: "The monitor's exit command: record the exit, remove --rm containers.",
                                                    shouldDisplay: false)
    @OptionGroup var options: EngineOptions
    @Argument(help: "Container ID.") var id: String
    func run() throws {
        try engineCommand { try options.open().cleanup(id) }
    }
}
