import ArgumentParser
import Engine
import Foundation
import Template

/// `ps` and `inspect`.
struct PsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List containers.")
    @OptionGroup var options: EngineOptions
    @Flag(name: .shortAndLong, help: "Show all containers (default shows just running).") var all = false
    @Flag(name: .shortAndLong, help: "Only display container IDs.") var quiet = false
    @Option(name: [.customShort("n"), .customLong("last")], help: "Show n last created containers (includes all states).") var last: Int?
    @Flag(name: [.customShort("l"), .customLong("latest")], help: "Show the latest created container (includes all states).") var latest = false
    @Flag(name: .shortAndLong, help: "Display total file sizes.") var size = false
    @Flag(name: .customLong("no-trunc"), help: "Don't truncate output.") var noTrunc = false
    @Option(name: [.customShort("f"), .customLong("filter")], help: "Filter output based on conditions provided.") var filter: [String] = []
    @Option(name: .long, help: "Format output using a Go template, or json.") var format: String?

    func run() throws {
        try engineCommand {
            let engine = try options.open()
            var records = try engine.containers()
            let filters = try ContainerFilter(filter)
            records = records.filter { filters.matches($0, engine: engine) }
            if !all && !latest && last == nil && !filters.mentionsStatus { records = records.filter { $0.State.Running } }
            if latest { records = Array(records.prefix(1)) }
            if let last, last >= 0 { records = Array(records.prefix(last)) }
            if quiet {
                for record in records { print(noTrunc ? record.Id : String(record.Id.prefix(12))) }
                return
            }
            let rows = records.map { ContainerRow.value($0, noTrunc: noTrunc, size: size, engine: engine) }
            var table = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
            if size { table += "\t{{.Size}}" }
            print(try Formatting.render(format: format, rows: rows, defaultTable: table, headers: ContainerRow.headers), terminator: "")
        }
    }
}

struct ContainerListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List containers.", aliases: ["list"])
    @OptionGroup var ps: PsCommand
    func run() throws { try ps.run() }
}

/// docker's `ps` row: the fields `--format` knows.
enum ContainerRow {
    static let headers = ["ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "RunningFor": "CREATED",
                          "CreatedAt": "CREATED AT", "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES", "Size": "SIZE",
                          "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS", "State": "STATE", "LocalVolumes": "LOCAL VOLUMES"]

    static func status(_ state: ContainerStateInfo) -> String {
        switch state.Status {
        case "created": return "Created"
        case "running", "paused":
            var text = "Up " + HumanTime.duration(Date().timeIntervalSince1970 - (Timestamps.parse(state.StartedAt) ?? 0))
            if let health = state.Health { text += health.Status == "starting" ? " (health: starting)" : " (\(health.Status))" }
            if state.Paused { text += " (Paused)" }
            return text
        case "restarting": return "Restarting (\(state.ExitCode)) " + HumanTime.ago(state.FinishedAt)
        case "exited":
            return "Exited (\(state.ExitCode)) " + HumanTime.ago(state.FinishedAt)
        default: return state.Status.capitalized
        }
    }

    /// docker's COMMAND: an argument holding a space in single quotes, cut to 20 characters, then Go-quoted
    /// (so a `"` in it shows as `\"`).
    static func command(_ record: ContainerInfo, noTrunc: Bool) -> String {
        let full = ([record.Path] + record.Args.map { $0.contains(" ") ? "'\($0)'" : $0 }).joined(separator: " ")
        return DockerFormat.quoted(noTrunc || full.count <= 20 ? full : full.prefix(19) + "…")
    }

    static func value(_ record: ContainerInfo, noTrunc: Bool, size: Bool, engine: Engine) -> TemplateValue {
        let labels = record.Config.Labels
        let labelText = labels.keys.sorted().map { "\($0)=\(labels[$0] ?? "")" }.joined(separator: ",")
        var fields: [(key: String, value: TemplateValue)] = [
            ("Command", .string(command(record, noTrunc: noTrunc))),
            ("CreatedAt", .string(HumanTime.createdAt(record.Created))),
            ("ID", .string(noTrunc ? record.Id : String(record.Id.prefix(12)))),
            ("Image", .string(record.ImageName)),
            ("Labels", .string(labelText)),
            ("LocalVolumes", .string(String(record.Mounts.filter { $0.Type == "volume" }.count))),
            ("Mounts", .string(record.Mounts.map { $0.Name ?? $0.Source }.joined(separator: ","))),
            ("Names", .string(record.Name)),
            ("Networks", .string(record.endpoints.isEmpty ? record.HostConfig.NetworkMode : record.endpoints.map(\.Network).joined(separator: ","))),
            ("Ports", .string(record.State.Running ? record.portSummary : "")),
            ("RunningFor", .string(HumanTime.ago(record.Created))),
            ("Size", .string(size ? HumanTime.bytes(Double(engine.writableSize(record.Id))) + " (virtual " + HumanTime.bytes(Double(engine.imageSize(record))) + ")" : "")),
            ("State", .string(record.State.Status)),
            ("Status", .string(status(record.State))),
        ]
        fields.append(("Label", .method({ arguments in
            guard case .string(let key)? = arguments.first else { throw TemplateMethodError("Label needs a label name") }
            return .string(labels[key] ?? "")
        })))
        return .object(fields)
    }
}

/// `--filter` for ps: name, id, label, status, ancestor, exited, health, before/since.
struct ContainerFilter {
    var terms: [(String, String)] = []
    var mentionsStatus: Bool { terms.contains { $0.0 == "status" || $0.0 == "exited" } }

    init(_ filters: [String]) throws {
        for filter in filters {
            let parts = filter.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw EngineError("bad format of filter (expected name=value)", filter) }
            guard ["name", "id", "label", "status", "ancestor", "exited", "health", "before", "since", "volume"].contains(parts[0]) else {
                throw EngineError("invalid filter '\(parts[0])'", "")
            }
            if parts[0] == "status", !["created", "restarting", "running", "removing", "paused", "exited", "dead"].contains(parts[1]) {
                throw EngineError("invalid filter 'status=\(parts[1])'", "")
            }
            terms.append((parts[0], parts[1]))
        }
    }

    func matches(_ record: ContainerInfo, engine: Engine) -> Bool {
        // docker: terms of one kind are ORed, different kinds ANDed.
        let kinds = Set(terms.map(\.0))
        return kinds.allSatisfy { kind in
            terms.filter { $0.0 == kind }.contains { term in match(kind, term.1, record, engine: engine) }
        }
    }

    private func match(_ kind: String, _ value: String, _ record: ContainerInfo, engine: Engine) -> Bool {
        switch kind {
        case "name": return record.Name.range(of: value.hasPrefix("/") ? String(value.dropFirst()) : value, options: .regularExpression) != nil
        case "id": return record.Id.hasPrefix(value)
        case "label":
            let parts = value.split(separator: "=", maxSplits: 1).map(String.init)
            guard let found = record.Config.Labels[parts[0]] else { return false }
            return parts.count == 1 || found == parts[1]
        case "status": return record.State.Status == value
        case "exited": return record.State.Status == "exited" && String(record.State.ExitCode) == value
        case "health":
            let status = record.State.Health?.Status ?? "none"
            return status == value
        case "ancestor":
            if record.ImageName == value || record.Image == value || record.Image.hasPrefix("sha256:" + value) { return true }
            return (try? engine.images.resolve(value))?.configDigest.description == record.Image
        case "volume": return record.Mounts.contains { $0.Name == value || $0.Destination == value || $0.Source == value }
        case "before", "since":
            guard let other = try? engine.container(value) else { return false }
            return kind == "before" ? record.Created < other.Created : record.Created > other.Created
        default: return false
        }
    }
}

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Return low-level information on containers, images or volumes.")
    @OptionGroup var options: EngineOptions
    @Option(name: [.customShort("f"), .customLong("format")], help: "Format output using a Go template.") var format: String?
    @Option(name: .customLong("type"), help: "Only inspect objects of this type (container, image, volume).") var type: String?
    @Flag(name: .customLong("kernel"), help: "Show the kernel behind a container: namespaces, cgroups, usage against limits, why it stopped.") var kernel = false
    @Flag(name: [.customShort("s"), .customLong("size")], help: "Display total file sizes.") var size = false
    @Argument(help: "Names or IDs.") var names: [String]

    func run() throws {
        try engineCommand {
            let engine = try options.open()
            if kernel {
                for name in names { print(try KernelView.render(engine: engine, reference: name, json: format == "json")) }
                return
            }
            var values: [TemplateValue] = []
            var missing: [String] = []
            for name in names {
                if type == nil || type == "container", let record = try? engine.container(name) {
                    values.append(try InspectView.container(engine.withLiveState(record), engine: engine))
                } else if type == nil || type == "image", let image = try? engine.images.resolve(name) {
                    values.append(try InspectView.image(image))
                } else if type == nil || type == "volume", let volume = try? engine.volume(name) {
                    values.append(try Formatting.value(InspectView.volume(volume)))
                } else {
                    missing.append(name)
                }
            }
            if let format, format != "json" {
                print(try Formatting.each(format, values), terminator: "")
            } else {
                print(Formatting.indentedJSON(.array(values)))
            }
            for name in missing { FileHandle.standardError.write(Data("Error: No such object: \(name)\n".utf8)) }
            if !missing.isEmpty { throw ExitCode(1) }
        }
    }
}
