import Cgroups
import Engine
import Foundation
import Images
import Linux
import Network
import Template

/// docker's `inspect` shapes for containers, images and volumes.
enum InspectView {
    static func container(_ record: ContainerInfo, engine: Engine) throws -> TemplateValue {
        guard case .object(var fields) = try Formatting.value(record) else { return .null }
        // docker's names start with a slash; its Image is the ID and Config.Image the name.
        fields = fields.map { field in
            switch field.key {
            case "Name": return (field.key, .string("/" + record.Name))
            case "HostConfig": return (field.key, dockerNulls(field.value))
            default: return field
            }
        }
        fields.removeAll { $0.key == "ImageName" || $0.key == "AnonymousVolumes" }
        let hostname = "\(engine.root)/containers/\(record.Id)/hostname"
        fields.insert(("ResolvConfPath", .string("\(engine.root)/containers/\(record.Id)/resolv.conf")), at: min(7, fields.count))
        fields.insert(("HostnamePath", .string(hostname)), at: min(8, fields.count))
        fields.insert(("HostsPath", .string("\(engine.root)/containers/\(record.Id)/hosts")), at: min(9, fields.count))
        fields.append(("Driver", .string("overlay")))
        fields.append(("Platform", .string("linux")))
        fields.append(("GraphDriver", .object([("Data", .object([("UpperDir", .string("\(engine.root)/containers/\(record.Id)/bundle/overlay/upper")),
                                                                 ("MergedDir", .string("\(engine.root)/containers/\(record.Id)/bundle/rootfs"))])),
                                               ("Name", .string("overlay"))])))
        fields.append(("NetworkSettings", networkSettings(record, engine: engine)))
        return .object(fields)
    }

    /// docker leaves the lists nobody gave nil, so they show as null (`"SecurityOpt": null`), not `[]`.
    static func dockerNulls(_ hostConfig: TemplateValue) -> TemplateValue {
        guard case .object(let fields) = hostConfig else { return hostConfig }
        return .object(fields.map { field in
            if ["SecurityOpt", "CapAdd", "CapDrop"].contains(field.key), case .array(let items) = field.value, items.isEmpty {
                return (field.key, .null)
            }
            return field
        })
    }

    /// docker's NetworkSettings: the address of each network, the published ports, the namespace.
    static func networkSettings(_ record: ContainerInfo, engine: Engine) -> TemplateValue {
        let running = record.State.Running
        let attachments = running ? record.Network?.attachments ?? [] : []
        let first = attachments.first
        let sandbox = record.Network?.namespacePath ?? (record.State.Pid > 0 && record.HostConfig.NetworkMode != "host" ? "/proc/\(record.State.Pid)/ns/net" : "")
        let ports: TemplateValue = .object(running ? record.publishedPorts.map { entry in
            (entry.port, entry.bindings.isEmpty ? .null : .array(entry.bindings.map { .object([("HostIp", .string($0.HostIp)), ("HostPort", .string($0.HostPort))]) }))
        } : [])
        // host and none have an entry of their own in docker; the container:NAME mode has none.
        var endpoints = record.endpoints
        if endpoints.isEmpty && ["host", "none"].contains(record.HostConfig.NetworkMode) { endpoints = [EndpointConfig(Network: record.HostConfig.NetworkMode)] }
        let networks: [(key: String, value: TemplateValue)] = endpoints.map { endpoint in
            let attachment = attachments.first { $0.network == endpoint.Network }
            let networkID = (try? engine.networks.network(endpoint.Network))?.id ?? ""
            return (endpoint.Network, .object([
                ("IPAMConfig", endpoint.IPv4Address.map { .object([("IPv4Address", .string($0))]) } ?? .null),
                ("Links", .null), ("Aliases", endpoint.Aliases.map { .array($0.map { .string($0) }) } ?? .null),
                ("MacAddress", .string(attachment?.mac ?? "")),
                ("NetworkID", .string(networkID)), ("EndpointID", .string(attachment == nil ? "" : record.Id)),
                ("Gateway", .string(attachment?.gateway ?? "")), ("IPAddress", .string(attachment?.address ?? "")),
                ("IPPrefixLen", .int(Int64(attachment?.prefixLength ?? 0))), ("IPv6Gateway", .string("")),
                ("GlobalIPv6Address", .string("")), ("GlobalIPv6PrefixLen", .int(0)),
                ("DNSNames", endpoint.Network == NetworkDefinition.defaultName || attachment == nil ? .null
                    : .array(([record.Name] + (endpoint.Aliases ?? []) + [String(record.Id.prefix(12))]).map { .string($0) })),
            ]))
        }
        return .object([
            ("Bridge", .string("")), ("SandboxID", .string(running ? record.Id : "")), ("SandboxKey", .string(running ? sandbox : "")),
            ("Ports", ports), ("Gateway", .string(first?.gateway ?? "")), ("IPAddress", .string(first?.address ?? "")),
            ("IPPrefixLen", .int(Int64(first?.prefixLength ?? 0))), ("MacAddress", .string(first?.mac ?? "")),
            ("Networks", .object(networks)),
        ])
    }

    static func image(_ image: ImageRecord) throws -> TemplateValue {
        let config = image.config.config
        var fields: [(key: String, value: TemplateValue)] = [
            ("Id", .string(image.configDigest.description)),
            ("RepoTags", .array(image.reference.map { [.string($0.description)] } ?? [])),
            ("RepoDigests", .array([])),
            ("Parent", .string("")),
            ("Comment", .string("")),
            ("Created", .string(image.config.created ?? "")),
            ("Author", .string(image.config.author ?? "")),
        ]
        fields.append(("Config", config.map { (try? Formatting.value($0)) ?? .null } ?? .null))
        fields.append(("Architecture", .string(image.config.architecture)))
        fields.append(("Os", .string(image.config.os)))
        fields.append(("Size", .int(image.size)))
        fields.append(("RootFS", .object([("Type", .string("layers")), ("Layers", .array(image.config.rootfs.diff_ids.map { .string($0) }))])))
        return .object(fields)
    }

    struct Volume: Encodable {
        let CreatedAt: String
        let Driver: String
        let Labels: [String: String]
        let Mountpoint: String
        let Name: String
        let Options: [String: String]
        let Scope: String
    }

    static func volume(_ volume: VolumeRecord) -> Volume {
        Volume(CreatedAt: volume.CreatedAt, Driver: volume.Driver, Labels: volume.Labels, Mountpoint: volume.Mountpoint,
               Name: volume.Name, Options: volume.Options, Scope: volume.Scope)
    }
}

/// `inspect --kernel`: what docker and podman leave out — the container's namespaces (shared with whom), its
/// cgroup in every hierarchy with live usage against each limit, and why it last stopped, in words.
enum KernelView {
    static func render(engine: Engine, reference: String, json: Bool) throws -> String {
        let record = engine.withLiveState(try engine.container(reference))
        var lines: [String] = []
        lines.append("container:  \(record.Name) (\(record.Id.prefix(12)))")
        lines.append("state:      \(record.State.Status)" + (record.State.Running ? ", PID \(record.State.Pid) on the host" : ""))
        if let reason = record.State.Reason ?? (record.State.Status == "exited" ? "exited with code \(record.State.ExitCode)" : nil) {
            lines.append("last stop:  \(reason)")
        }
        if record.RestartCount > 0 { lines.append("restarts:   \(record.RestartCount) (policy \(record.HostConfig.RestartPolicy.Name))") }
        guard record.State.Running, record.State.Pid > 0 else {
            return lines.joined(separator: "\n")
        }
        let pid = record.State.Pid
        lines.append("")
        lines.append("namespaces (inode; shared with):")
        let others = (try? engine.containers())?.filter { $0.State.Running && $0.Id != record.Id } ?? []
        for kind in NamespaceKind.allCases {
            guard let mine = try? NamespaceIdentity.of(pid: pid, kind) else { continue }
            var sharing: [String] = []
            // The host: this command runs in its namespaces (PID 1 may not be readable, or be a sandbox's).
            if let host = try? NamespaceIdentity.of(pid: getpid(), kind), host == mine { sharing.append("the host") }
            for other in others where (try? NamespaceIdentity.of(pid: other.State.Pid, kind)) == mine { sharing.append(other.Name) }
            let label = kind.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
            lines.append("  \(label) \(mine.inode)  " + (sharing.isEmpty ? "own" : sharing.joined(separator: ", ")))
        }
        lines.append("")
        lines.append("cgroups:")
        for membership in (try? CgroupToolkit.which(pid: pid)) ?? [] {
            let controllers = membership.controllers.isEmpty ? (membership.version == 2 ? "(unified)" : "(named)") : membership.controllers.joined(separator: ",")
            lines.append("  v\(membership.version) \(controllers.padding(toLength: 22, withPad: " ", startingAt: 0)) \(membership.path)")
        }
        if let stats = engine.cgroupStats(record.Id) {
            lines.append("")
            lines.append("usage against limits:")
            let memoryLimit = stats.memory.usage.limit
            let limitText = memoryLimit == 0 || memoryLimit >= 1 << 60 ? "no limit" : HumanTime.binaryBytes(Double(memoryLimit))
            lines.append("  memory   \(HumanTime.binaryBytes(Double(stats.memory.usage.usage))) of \(limitText)"
                         + " (peak \(HumanTime.binaryBytes(Double(stats.memory.usage.max))), limit hit \(stats.memory.usage.failcnt) times, OOM kills \(stats.memory.eventCount.oomKill))")
            let pidsLimit = stats.pids.limit == 0 ? "no limit" : String(stats.pids.limit)
            lines.append("  pids     \(stats.pids.current) of \(pidsLimit)")
            let throttling = stats.cpu.throttling
            lines.append("  cpu      \(String(format: "%.3f", Double(stats.cpu.usage.total) / 1e9)) s used; throttled in \(throttling.throttledPeriods) of \(throttling.periods) periods (\(String(format: "%.3f", Double(throttling.throttledTime) / 1e9)) s)")
            let read = stats.blkio.ioServiceBytesRecursive.filter { $0.op.lowercased() == "read" }.reduce(0) { $0 + $1.value }
            let write = stats.blkio.ioServiceBytesRecursive.filter { $0.op.lowercased() == "write" }.reduce(0) { $0 + $1.value }
            lines.append("  io       \(HumanTime.bytes(Double(read))) read, \(HumanTime.bytes(Double(write))) written")
            if let psi = stats.memory.psi { lines.append("  pressure memory some avg10 \(psi.some.avg10)%, cpu some avg10 \(stats.cpu.psi?.some.avg10 ?? 0)%") }
        }
        return lines.joined(separator: "\n")
    }
}
