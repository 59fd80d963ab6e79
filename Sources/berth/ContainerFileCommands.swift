import ArgumentParser
import Engine
import Foundation

struct CpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cp", abstract: "Copy files/folders between a container and the local filesystem.",
        discussion: "berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\nberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH")
    @OptionGroup var options: EngineOptions
    @Flag(name: .shortAndLong, help: "Archive mode (copy all uid/gid information).") var archive = false
    @Flag(name: [.customShort("L"), .customLong("follow-link")], help: "Always follow symbol link in SRC_PATH.") var followLink = false
    @Argument(help: "Source.") var source: String
    @Argument(help: "Destination.") var destination: String

    func run() throws {
        try engineCommand {
            let engine = try options.open()
            func split(_ text: String) -> (String, String)? {
                guard !text.hasPrefix("/"), !text.hasPrefix("."), let colon = text.firstIndex(of: ":") else { return nil }
                return (String(text[..<colon]), String(text[text.index(after: colon)...]))
            }
            switch (split(source), split(destination)) {
            case (let (container, path)?, nil):
                try engine.copyOut(container, path: path, to: destination, archive: archive)
            case (nil, let (container, path)?):
                try engine.copyIn(container, from: source, path: path, archive: archive)
            case (nil, nil):
                throw EngineError("must specify at least one container source", "CONTAINER:PATH")
            default:
                throw EngineError("copying between containers is not supported", "")
            }
        }
    }
}

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: "Inspect changes to files or directories on a container's filesystem.")
    @OptionGroup var options: EngineOptions
    @Argument(help: "Container.") var container: String
    func run() throws {
        try engineCommand {
            for change in try options.open().diff(container) { print("\(change.kind) \(change.path)") }
        }
    }
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Export a container's filesystem as a tar archive.")
    @OptionGroup var options: EngineOptions
    @Option(name: .shortAndLong, help: "Write to a file, instead of STDOUT.") var output: String?
    @Argument(help: "Container.") var container: String
    func run() throws {
        try engineCommand {
            let engine = try options.open()
            if output == nil && isatty(1) == 1 {
                throw EngineError("cowardly refusing to save to a terminal", "use the -o flag or redirect")
            }
            guard let output else { return try engine.export(container, to: 1) }
            // Written beside the file and renamed into place when whole: a failed export (no such container,
            // a full disk) leaves neither an empty file nor a truncated earlier one, as docker's.
            let partial = output + ".berth-\(getpid())"
            let fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw EngineError("opening \(output)", String(cString: strerror(errno))) }
            do { try engine.export(container, to: fd) } catch { close(fd); unlink(partial); throw error }
            let synced = fsync(fd) == 0
            let closed = close(fd) == 0
            if !synced || !closed || rename(partial, output) != 0 {
                let reason = String(cString: strerror(errno))
                unlink(partial)
                throw EngineError("writing \(output)", reason)
            }
        }
    }
}

struct UpdateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "update", abstract: "Update configuration of one or more containers.")
    @OptionGroup var options: EngineOptions
    @Option(name: [.customShort("m"), .customLong("memory")], help: "Memory limit.") var memory: String?
    @Option(name: .customLong("memory-swap"), help: "Swap limit equal to memory plus swap: -1 to enable unlimited swap.") var memorySwap: String?
    @Option(name: .customLong("memory-reservation"), help: "Memory soft limit.") var memoryReservation: String?
    @Option(name: .customLong("cpus"), help: "Number of CPUs.") var cpus: String?
    @Option(name: [.customShort("c"), .customLong("cpu-shares")], help: "CPU shares (relative weight).") var cpuShares: Int64?
    @Option(name: .customLong("cpuset-cpus"), help: "CPUs in which to allow execution.") var cpusetCpus: String?
    @Option(name: .customLong("cpuset-mems"), help: "MEMs in which to allow execution.") var cpusetMems: String?
    @Option(name: .customLong("pids-limit"), help: "Tune container pids limit (-1 for unlimited).") var pidsLimit: Int64?
    @Option(name: .customLong("blkio-weight"), help: "Block IO (relative weight), between 10 and 1000.") var blkioWeight: UInt16?
    @Option(name: .customLong("restart"), help: "Restart policy to apply when a container exits.") var restart: String?
    @Argument(help: "Containers.") var containers: [String]

    func run() throws {
        let engine = try engineOpen(options)
        let memory = try self.memory.map { (text) throws -> Int64 in try Sizes.parse(text, flag: "--memory") }
        let swap = try memorySwap.map { (text) throws -> Int64 in text == "-1" ? -1 : try Sizes.parse(text, flag: "--memory-swap") }
        let reservation = try memoryReservation.map { (text) throws -> Int64 in try Sizes.parse(text, flag: "--memory-reservation") }
        let nanoCpus = try cpus.map { (text) throws -> Int64 in
            guard let value = Double(text), value > 0 else { throw engineFailure(EngineError("invalid argument \"\(text)\" for \"--cpus\" flag", "")) }
            return Int64(value * 1e9)
        }
        let policy = try restart.map { (text) throws -> RestartPolicyJSON in
            guard let policy = RestartPolicyParser.parse(text) else { throw engineFailure(EngineError("invalid restart policy", text)) }
            return policy
        }
        try eachContainer(containers) { reference in
            try engine.update(reference) { host in
                if let memory { host.Memory = memory }
                if let swap { host.MemorySwap = swap }
                if let reservation { host.MemoryReservation = reservation }
                if let nanoCpus { host.NanoCpus = nanoCpus }
                if let cpuShares { host.CpuShares = cpuShares }
                if let cpusetCpus { host.CpusetCpus = cpusetCpus }
                if let cpusetMems { host.CpusetMems = cpusetMems }
                if let pidsLimit { host.PidsLimit = pidsLimit }
                if let blkioWeight { host.BlkioWeight = blkioWeight }
                if let policy { host.RestartPolicy = policy }
            }
        }
    }
}

struct CommitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "commit", abstract: "Create a new image from a container's changes.")
    @OptionGroup var options: EngineOptions
    @Option(name: .shortAndLong, help: "Author.") var author: String?
    @Option(name: [.customShort("c"), .customLong("change")], help: "Apply Dockerfile instruction to the created image.") var change: [String] = []
    @Option(name: .shortAndLong, help: "Commit message.") var message = ""
    @Option(name: .shortAndLong, help: "Pause container during commit.") var pause = true
    @Argument(help: "Container.") var container: String
    @Argument(help: "REPOSITORY[:TAG]") var repository: String?

    func run() async throws {
        do {
            let image = try await options.open().commit(container, repository: repository, author: author, message: message,
                                                        changes: change, pause: pause)
            print(image.configDigest.description)
        } catch {
            throw engineFailure(error)
        }
    }
}
