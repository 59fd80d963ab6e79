import ArgumentParser
import Engine
import Foundation
import Template

struct VolumeGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "volume", abstract: "Manage volumes.",
        subcommands: [VolumeCreate.self, VolumeList.self, VolumeInspect.self, VolumeRemove.self, VolumePrune.self])

    struct VolumeCreate: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a volume.")
        @OptionGroup var options: EngineOptions
        @Option(name: [.customShort("l"), .customLong("label")], help: "Set metadata for a volume.") var label: [String] = []
        @Option(name: [.customShort("d"), .customLong("driver")], help: "Specify volume driver name.") var driver = "local"
        @Argument(help: "Volume name.") var name: String?
        func run() throws {
            try engineCommand {
                guard driver == "local" else { throw EngineError("error looking up volume plugin \(driver)", "only the local driver exists") }
                var labels: [String: String] = [:]
                for entry in label {
                    let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
                    labels[parts[0]] = parts.count == 2 ? parts[1] : ""
                }
                print(try options.open().createVolume(name: name, labels: labels).Name)
            }
        }
    }

    struct VolumeList: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List volumes.", aliases: ["list"])
        @OptionGroup var options: EngineOptions
        @Flag(name: .shortAndLong, help: "Only display volume names.") var quiet = false
        @Option(name: .long, help: "Format output using a Go template, or json.") var format: String?
        func run() throws {
            try engineCommand {
                let volumes = try options.open().volumes()
                if quiet { for volume in volumes { print(volume.Name) }; return }
                let rows = volumes.map { volume -> TemplateValue in
                    .object([("Driver", .string(volume.Driver)), ("Labels", .string(volume.Labels.keys.sorted().map { "\($0)=\(volume.Labels[$0] ?? "")" }.joined(separator: ","))),
                             ("Mountpoint", .string(volume.Mountpoint)), ("Name", .string(volume.Name)), ("Scope", .string(volume.Scope))])
                }
                print(try Formatting.render(format: format, rows: rows, defaultTable: "table {{.Driver}}\t{{.Name}}",
                                            headers: ["Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT", "Scope": "SCOPE", "Labels": "LABELS"]),
                      terminator: "")
            }
        }
    }

    struct VolumeInspect: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Display detailed information on one or more volumes.")
        @OptionGroup var options: EngineOptions
        @Option(name: [.customShort("f"), .customLong("format")], help: "Format output using a Go template.") var format: String?
        @Argument(help: "Volumes.") var names: [String]
        func run() throws {
            try engineCommand {
                let engine = try options.open()
                let values = try names.map { try Formatting.value(InspectView.volume(try engine.volume($0))) }
                if let format { print(try Formatting.each(format, values), terminator: "") } else { print(Formatting.indentedJSON(.array(values))) }
            }
        }
    }

    struct VolumeRemove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more volumes.", aliases: ["remove"])
        @OptionGroup var options: EngineOptions
        @Flag(name: .shortAndLong, help: "Do not fail on a missing volume.") var force = false
        @Argument(help: "Volumes.") var names: [String]
        func run() throws {
            let engine = try engineOpen(options)
            try eachContainer(names) { try engine.removeVolume($0, force: force) }
        }
    }

    struct VolumePrune: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused local volumes.")
        @OptionGroup var options: EngineOptions
        @Flag(name: .shortAndLong, help: "Remove all unused volumes, not just anonymous ones.") var all = false
        @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.") var force = false
        func run() throws {
            try engineCommand {
                let removed = try options.open().pruneVolumes(all: all)
                if !removed.isEmpty { print("Deleted Volumes:"); for name in removed { print(name) } ; print("") }
                print("Total reclaimed space: 0B")
            }
        }
    }
}

struct ContainerPruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove all stopped containers.")
    @OptionGroup var options: EngineOptions
    @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.") var force = false
    func run() throws {
        try engineCommand {
            let engine = try options.open()
            var removed: [String] = []
            for record in try engine.containers() where !record.State.Running {
                try engine.remove(record.Id, force: false, volumes: false)
                removed.append(record.Id)
            }
            if !removed.isEmpty { print("Deleted Containers:"); for id in removed { print(id) }; print("") }
            print("Total reclaimed space: 0B")
        }
    }
}

struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "Get real time events from the engine.")
    @OptionGroup var options: EngineOptions
    @Option(name: .long, help: "Show all events created since timestamp.") var since: String?
    @Option(name: .long, help: "Stream events until this timestamp.") var until: String?
    @Option(name: [.customShort("f"), .customLong("filter")], help: "Filter output based on conditions provided.") var filter: [String] = []
    @Option(name: .long, help: "Format output using a Go template, or json.") var format: String?

    func run() throws {
        try engineCommand {
            let engine = try options.open()
            let sinceTime = try since.map { (text) throws -> Double in
                guard let time = Timestamps.parseUserTime(text) else { throw EngineError("invalid value for \"since\"", text) }
                return time
            }
            let untilTime = try until.map { (text) throws -> Double in
                guard let time = Timestamps.parseUserTime(text) else { throw EngineError("invalid value for \"until\"", text) }
                return time
            }
            let terms = filter.map { $0.split(separator: "=", maxSplits: 1).map(String.init) }
            let template: Template? = try format.flatMap { $0 == "json" ? nil : try Template($0.replacingOccurrences(of: "\\t", with: "\t")) }
            // docker follows by default; with --until it stops there.
            engine.events(since: sinceTime, until: untilTime, follow: true) { event in
                for term in terms where term.count == 2 {
                    let (key, value) = (term[0], term[1])
                    switch key {
                    case "type": if event.Type != value { return true }
                    case "event", "status": if event.Action != value { return true }
                    case "container": if event.Type != "container" || !(event.Actor.ID.hasPrefix(value) || event.Actor.Attributes["name"] == value) { return true }
                    case "image": if event.Actor.Attributes["image"] != value { return true }
                    case "label":
                        let parts = value.split(separator: "=", maxSplits: 1).map(String.init)
                        if event.Actor.Attributes[parts[0]] == nil || (parts.count == 2 && event.Actor.Attributes[parts[0]] != parts[1]) { return true }
                    default: break
                    }
                }
                if format == "json" {
                    if let value = try? Formatting.value(event) { print(value.jsonString()) }
                } else if let template, let value = try? Formatting.value(event) {
                    print((try? template.render(value)) ?? "")
                } else {
                    let seconds = Double(event.timeNano) / 1e9
                    let date = Date(timeIntervalSince1970: seconds)
                    let formatter = DateFormatter()
                    formatter.locale = Locale(identifier: "en_US_POSIX")
                    formatter.timeZone = TimeZone(identifier: "UTC")
                    formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSSZZZZZ"
                    let attributes = event.Actor.Attributes.keys.sorted().map { "\($0)=\(event.Actor.Attributes[$0] ?? "")" }.joined(separator: ", ")
                    print("\(formatter.string(from: date)) \(event.Type) \(event.Action) \(event.Actor.ID) (\(attributes))")
                }
                fflush(nil)
                return true
            }
        }
    }
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Show the Berth version information.")
    @Option(name: [.customShort("f"), .customLong("format")], help: "Format output using a Go template.") var format: String?
    func run() throws {
        try engineCommand {
            var uts = utsname()
            uname(&uts)
            let kernel = withUnsafeBytes(of: &uts.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            let value: TemplateValue = .object([
                ("Client", .object([("Version", .string(BerthVersion.string)), ("Os", .string("linux")), ("Arch", .string("amd64"))])),
                ("Server", .object([("Version", .string(BerthVersion.string)), ("ApiVersion", .string("none (daemonless)")),
                                    ("KernelVersion", .string(kernel)), ("Runtime", .string("berth-runtime"))])),
            ])
            if let format { print(try Formatting.each(format, [value]), terminator: ""); return }
            print("Client:\n Version:    \(BerthVersion.string)\n OS/Arch:    linux/amd64\n\nEngine:\n Version:    \(BerthVersion.string) (daemonless)\n Kernel:     \(kernel)\n Runtime:    berth-runtime")
        }
    }
}

enum BerthVersion { static let string = "0.8.0" }

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Display system-wide information.")
    @OptionGroup var options: EngineOptions
    @Option(name: [.customShort("f"), .customLong("format")], help: "Format output using a Go template.") var format: String?
    func run() throws {
        try engineCommand {
            let engine = try options.open()
            let containers = try engine.containers()
            let images = (try? engine.images.list())?.count ?? 0
            let running = containers.filter { $0.State.Running && !$0.State.Paused }.count
            let paused = containers.filter { $0.State.Paused }.count
            let value: TemplateValue = .object([
                ("Containers", .int(Int64(containers.count))), ("ContainersRunning", .int(Int64(running))),
                ("ContainersPaused", .int(Int64(paused))), ("ContainersStopped", .int(Int64(containers.count - running - paused))),
                ("Images", .int(Int64(images))), ("Driver", .string("overlay")), ("DockerRootDir", .string(engine.root)),
                ("CgroupVersion", .string(CgroupInfo.version)), ("OperatingSystem", .string("linux")),
                ("NCPU", .int(Int64(sysconf(Int32(_SC_NPROCESSORS_ONLN))))), ("ServerVersion", .string(BerthVersion.string)),
                ("DefaultRuntime", .string("berth-runtime")), ("LoggingDriver", .string("json-file")),
            ])
            if let format { print(try Formatting.each(format, [value]), terminator: ""); return }
            print("""
            Containers: \(containers.count)
             Running: \(running)
             Paused: \(paused)
             Stopped: \(containers.count - running - paused)
            Images: \(images)
            Server Version: \(BerthVersion.string) (daemonless)
            Storage Driver: overlay
            Logging Driver: json-file
            Cgroup Version: \(CgroupInfo.version)
            Default Runtime: berth-runtime
            Berth Root Dir: \(engine.root)
            Run Root: \(engine.runroot)
            """)
        }
    }
}

import Cgroups
enum CgroupInfo {
    static var version: String { Cgroups.detectMode() == .unified ? "2" : "1" }
}

struct SystemGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "system", abstract: "Manage Berth.",
        subcommands: [SystemInfo.self, SystemDf.self, SystemPrune.self, SystemBoot.self])

    struct SystemInfo: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "info", abstract: "Display system-wide information.")
        @OptionGroup var info: InfoCommand
        func run() throws { try info.run() }
    }

    struct SystemDf: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "df", abstract: "Show disk usage.")
        @OptionGroup var options: EngineOptions
        func run() throws {
            try engineCommand {
                let engine = try options.open()
                let containers = try engine.containers()
                let images = (try? engine.images.list()) ?? []
                let volumes = try engine.volumes()
                let imageSize = images.reduce(Int64(0)) { $0 + $1.size }
                let containerSize = containers.reduce(Int64(0)) { $0 + engine.writableSize($1.Id) }
                let active = containers.filter { $0.State.Running }.count
                print("TYPE            TOTAL     ACTIVE    SIZE")
                print("Images          \(String(images.count).padding(toLength: 10, withPad: " ", startingAt: 0))\(String(Set(containers.map(\.Image)).count).padding(toLength: 10, withPad: " ", startingAt: 0))\(HumanTime.bytes(Double(imageSize)))")
                print("Containers      \(String(containers.count).padding(toLength: 10, withPad: " ", startingAt: 0))\(String(active).padding(toLength: 10, withPad: " ", startingAt: 0))\(HumanTime.bytes(Double(containerSize)))")
                print("Local Volumes   \(String(volumes.count).padding(toLength: 10, withPad: " ", startingAt: 0))\(String(volumes.filter { v in containers.contains { $0.Mounts.contains { $0.Name == v.Name } } }.count).padding(toLength: 10, withPad: " ", startingAt: 0))\(HumanTime.bytes(Double(volumes.reduce(Int64(0)) { $0 + DirectorySizeCLI.of($1.Mountpoint) })))")
            }
        }
    }

    struct SystemPrune: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove stopped containers and unused anonymous volumes.")
        @OptionGroup var options: EngineOptions
        @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.") var force = false
        @Flag(name: .long, help: "Prune anonymous volumes.") var volumes = false
        func run() throws {
            try engineCommand {
                let engine = try options.open()
                for record in try engine.containers() where !record.State.Running {
                    try engine.remove(record.Id, force: false, volumes: true)
                    print("Deleted Container: \(record.Id)")
                }
                if volumes { for name in try engine.pruneVolumes(all: false) { print("Deleted Volume: \(name)") } }
            }
        }
    }

    /// At boot (contrib/berth-restart.service): start the containers whose policy says so.
    struct SystemBoot: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "boot", abstract: "Start the containers with restart policy always or unless-stopped (run at boot).")
        @OptionGroup var options: EngineOptions
        func run() throws {
            try engineCommand {
                let engine = try options.open()
                for name in try engine.bootStart() { print(name) }
            }
        }
    }
}

enum DirectorySizeCLI {
    static func of(_ path: String) -> Int64 {
        var total: Int64 = 0
        guard let enumerator = FileManager.default.enumerator(atPath: path) else { return 0 }
        while let item = enumerator.nextObject() as? String {
            if let size = (try? FileManager.default.attributesOfItem(atPath: path + "/" + item))?[.size] as? Int64 { total += size }
        }
        return total
    }
}
