import Foundation
import Glibc
import Linux
import Network

/// A container's networks while it has them: its network namespace file and what each network's ADD gave it.
public struct ContainerNetworkState: Codable, Sendable, Equatable {
    public var namespacePath: String
    public var attachments: [Attachment]
    /// The published ports, random host ports resolved.
    public var ports: [PortMapping]
}

/// `-p` as docker parses it: `[HOSTIP:][HOSTPORT:]CONTAINERPORT[/PROTO]`, ports or equal-length ranges.
public enum PortSpec {
    public static func parse(_ text: String) throws(EngineError) -> [(key: String, binding: PortBindingJSON)] {
        let invalid = EngineError("invalid port specification: \"\(text)\"", "use [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|/udp]")
        var body = Substring(text)
        var proto = "tcp"
        if let slash = body.lastIndex(of: "/") {
            proto = String(body[body.index(after: slash)...]).lowercased()
            body = body[..<slash]
            guard ["tcp", "udp", "sctp"].contains(proto) else { throw invalid }
        }
        var parts = body.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count) else { throw invalid }
        var hostIP = ""
        if parts.count == 3 {
            hostIP = parts.removeFirst()
            guard hostIP.isEmpty || Subnet.parse(hostIP) != nil else { throw invalid }
        }
        let containerPorts = try range(parts.removeLast(), invalid)
        let hostPorts = parts.isEmpty || parts[0].isEmpty ? nil : try range(parts[0], invalid)
        if let hostPorts, hostPorts.count != containerPorts.count && hostPorts.count != 1 { throw invalid }
        return containerPorts.enumerated().map { index, port in
            let host = hostPorts.map { $0.count == 1 ? $0[0] : $0[index] }.map(String.init) ?? ""
            return ("\(port)/\(proto)", PortBindingJSON(HostIp: hostIP, HostPort: host))
        }
    }

    private static func range(_ text: String, _ invalid: EngineError) throws(EngineError) -> [Int] {
        let ends = text.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
        guard (1...2).contains(ends.count), let low = ends[0], let high = ends.last ?? nil, low >= 1, high <= 65535, low <= high else { throw invalid }
        return Array(low...high)
    }
}

extension ContainerInfo {
    /// "80/tcp" → the host addresses it is published on (while the container has its network), docker's
    /// NetworkSettings.Ports; exposed but unpublished ports map to nothing.
    public var publishedPorts: [(port: String, bindings: [PortBindingJSON])] {
        var ports: [String: [PortBindingJSON]] = [:]
        for key in (Config.ExposedPorts ?? [:]).keys { ports[key.contains("/") ? key : key + "/tcp"] = [] }
        for mapping in Network?.ports ?? [] {
            ports["\(mapping.containerPort)/\(mapping.proto)", default: []]
                .append(PortBindingJSON(HostIp: mapping.hostIP.isEmpty ? "0.0.0.0" : mapping.hostIP, HostPort: String(mapping.hostPort)))
        }
        return ports.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// `ps`'s PORTS column: `127.0.0.1:8080->80/tcp, 443/tcp`.
    public var portSummary: String {
        publishedPorts.flatMap { entry in
            entry.bindings.isEmpty ? [entry.port] : entry.bindings.map { "\($0.HostIp):\($0.HostPort)->\(entry.port)" }
        }.joined(separator: ", ")
    }
}

extension Engine {
    public var networks: NetworkStore { NetworkStore(configDirectory: networkConfigDirectory) }

    /// The CNI network of a network mode (nil for none, host, container:NAME and pasta).
    func cniNetwork(_ mode: String) throws(EngineError) -> NetworkDefinition? {
        if mode == "none" || mode == "host" || mode.hasPrefix("container:") || mode == PastaNetwork.mode { return nil }
        do { return try networks.network(mode == "default" ? NetworkDefinition.defaultName : mode) } catch {
            throw EngineError(error.what, error.why)
        }
    }

    /// Whether a container of this network mode has a network namespace of its own that CNI (or pasta) sets up.
    static func hasOwnNetwork(_ mode: String) -> Bool { !(mode == "none" || mode == "host" || mode.hasPrefix("container:")) }

    /// What a start's network setup works from: the namespace file and each endpoint's network, resolved.
    struct NetworkPlan: Sendable {
        let namespacePath: String
        let endpoints: [EndpointConfig]
        let definitions: [NetworkDefinition]
        let ports: [PortMapping]
        /// `--network pasta`: no CNI network, pasta on the namespace file.
        var pasta = false
    }

    /// Before the monitor starts: anything left from before (a killed monitor, a reboot) is torn down, so that
    /// nothing (lease, veth, rule) is kept twice; the networks are resolved and the ports checked; the network
    /// namespace file is made. Nil when the container has no network of its own.
    func prepareNetwork(_ record: inout ContainerInfo) throws(EngineError) -> NetworkPlan? {
        tearDownNetwork(&record)
        guard Self.hasOwnNetwork(record.HostConfig.NetworkMode) else { return nil }
        let endpoints = record.endpoints
        var definitions: [NetworkDefinition] = []
        for endpoint in endpoints { definitions.append(try network(endpoint.Network)) }
        let ports = try resolvePorts(record)
        let directory = runroot + "/netns"
        let path = directory + "/" + record.Id
        do { try Files.makeDirectories(directory, mode: 0o755) } catch { throw EngineError("creating \(directory)", error.description) }
        // What is about to be made is recorded first: a CLI killed at any later moment leaves a record from which
        // `rm` DELs every interface (a DEL of one never added succeeds) and removes the namespace file.
        record.Network = ContainerNetworkState(namespacePath: path, attachments: zip(endpoints, endpoints.indices).map { endpoint, index in
            Attachment(network: endpoint.Network, interface: "eth\(index)", address: "", prefixLength: 0, gateway: "", mac: "")
        }, ports: [])
        try metadata.update(record)
        NetworkNamespaceFile.remove(at: path)
        do throws(NetworkError) { try NetworkNamespaceFile.create(at: path) } catch {
            record.Network = nil
            try? metadata.update(record)
            throw EngineError("creating the network namespace of \(record.Name)", error.description)
        }
        return NetworkPlan(namespacePath: path, endpoints: endpoints, definitions: definitions, ports: ports,
                           pasta: record.HostConfig.NetworkMode == PastaNetwork.mode)
    }

    /// Every network's ADD: eth0, eth1, … in the order of the endpoints, the published ports on the first. On a
    /// failure the networks already added are deleted again and the namespace file goes. Touches neither the
    /// database nor the engine, so that it can run on a thread of its own during the container's create.
    static func attach(_ plan: NetworkPlan, containerID: String, name: String) -> Result<[Attachment], EngineError> {
        var attachments: [Attachment] = []
        for (index, (endpoint, network)) in zip(plan.endpoints, plan.definitions).enumerated() {
            do throws(NetworkError) {
                try NetworkMasquerade.ensure(network)
                attachments.append(try NetworkAttachment.attach(network, containerID: containerID, netns: plan.namespacePath,
                                                                ifname: "eth\(index)", ports: index == 0 ? plan.ports : [],
                                                                staticIP: endpoint.IPv4Address, mac: endpoint.MacAddress))
            } catch {
                for (attachment, done) in zip(attachments, plan.definitions).reversed() {
                    try? NetworkAttachment.detach(done, containerID: containerID, netns: plan.namespacePath, ifname: attachment.interface)
                }
                NetworkNamespaceFile.remove(at: plan.namespacePath)
                return .failure(EngineError("setting up network \(network.name) for \(name)", error.description))
            }
        }
        if plan.pasta {
            do throws(EngineError) { try PastaNetwork.start(namespacePath: plan.namespacePath, ports: plan.ports) } catch {
                NetworkNamespaceFile.remove(at: plan.namespacePath)
                return .failure(EngineError("setting up network pasta for \(name)", error.description))
            }
        }
        return .success(attachments)
    }

    /// After the ADDs: the container's state, its /etc/hosts with its address (in place: the runtime may have
    /// bind-mounted the file already), its names on the user networks.
    func recordNetwork(_ record: inout ContainerInfo, plan: NetworkPlan, attachments: [Attachment]) throws(EngineError) {
        record.Network = ContainerNetworkState(namespacePath: plan.namespacePath, attachments: attachments,
                                               ports: attachments.isEmpty && !plan.pasta ? [] : plan.ports)
        try writeEtcFiles(record)
        try metadata.update(record)
        for network in plan.definitions { try refreshNames(network) }
    }

    /// `network connect`: a running container gets the network now, as its next interface (ADD into its
    /// namespace file); a stopped one at its next start. docker's refusals: a container of the host, none
    /// or another container's network, a network it is on already, an address outside the subnet or taken.
    public func connect(_ networkReference: String, container reference: String, aliases: [String], ip: String?) throws(EngineError) {
        let network = try self.network(networkReference)
        let found = try container(reference)
        try locked(found.Id) { () throws(EngineError) in
            var record = withLiveState(try container(found.Id))
            let mode = record.HostConfig.NetworkMode
            if mode == "host" { throw EngineError("container cannot be disconnected from host network or connected to host network", "") }
            if mode == "none" {
                throw EngineError("container cannot be connected to multiple networks with one of the networks in private (none) mode", "")
            }
            if mode.hasPrefix("container:") { throw EngineError("conflicting options: container type network can't be used with other networks", "") }
            var endpoints = record.endpoints
            if endpoints.contains(where: { $0.Network == network.name }) {
                throw EngineError("endpoint with name \(record.Name) already exists in network \(network.name)", "")
            }
            if let ip { try checkRequestedAddress(ip, on: network, for: record.Id) }
            let endpoint = EndpointConfig(Network: network.name, Aliases: aliases.isEmpty ? nil : aliases, IPv4Address: ip)
            if record.State.Running, var state = record.Network {
                let used = Set(state.attachments.map(\.interface))
                let ifname = (0...).lazy.map { "eth\($0)" }.first { !used.contains($0) } ?? "eth9"
                do throws(NetworkError) {
                    try NetworkMasquerade.ensure(network)
                    state.attachments.append(try NetworkAttachment.attach(network, containerID: record.Id, netns: state.namespacePath,
                                                                          ifname: ifname, ports: [], staticIP: ip))
                } catch {
                    throw EngineError("connecting \(record.Name) to network \(network.name)", error.description)
                }
                record.Network = state
            }
            endpoints.append(endpoint)
            record.Endpoints = endpoints
            try metadata.update(record)
            if record.Network != nil { try writeEtcFiles(record) }
            try refreshNames(network)
            Events.record(self, type: "network", action: "connect", id: network.id, attributes: ["container": record.Id, "name": network.name, "type": "bridge"])
        }
    }

    /// `network disconnect`: the network's interface goes (DEL) if the container runs, and the endpoint from
    /// its configuration either way.
    public func disconnect(_ networkReference: String, container reference: String) throws(EngineError) {
        let found = try container(reference)
        let network: NetworkDefinition
        do { network = try networks.network(networkReference) } catch {
            // A network removed behind our back can still be let go of by name.
            guard found.endpoints.contains(where: { $0.Network == networkReference }) else { throw EngineError(error.what, error.why) }
            network = NetworkDefinition(name: networkReference, id: "", created: "", bridge: "", subnet: "", gateway: "")
        }
        try locked(found.Id) { () throws(EngineError) in
            var record = withLiveState(try container(found.Id))
            if record.HostConfig.NetworkMode == "host" {
                throw EngineError("container cannot be disconnected from host network or connected to host network", "")
            }
            var endpoints = record.endpoints
            guard let index = endpoints.firstIndex(where: { $0.Network == network.name }) else {
                throw EngineError("container \(record.Id) is not connected to network \(network.name)", "")
            }
            if var state = record.Network, let attached = state.attachments.firstIndex(where: { $0.network == network.name }) {
                let attachment = state.attachments[attached]
                if let definition = NetworkAttachment.cachedNetwork(named: network.name, containerID: record.Id, ifname: attachment.interface)
                    ?? (network.id.isEmpty ? nil : network) {
                    do throws(NetworkError) {
                        try NetworkAttachment.detach(definition, containerID: record.Id, netns: state.namespacePath, ifname: attachment.interface)
                    } catch {
                        throw EngineError("disconnecting \(record.Name) from network \(network.name)", error.description)
                    }
                }
                state.attachments.remove(at: attached)
                if attached == 0 { state.ports = [] }   // they were published on that interface's address
                record.Network = state
            }
            endpoints.remove(at: index)
            record.Endpoints = endpoints
            try metadata.update(record)
            if record.Network != nil { try writeEtcFiles(record) }
            if !network.id.isEmpty { try refreshNames(network) }
            Events.record(self, type: "network", action: "disconnect", id: network.id, attributes: ["container": record.Id, "name": network.name, "type": "bridge"])
        }
    }

    /// `--ip` or `network connect --ip`: inside the network's subnet (and range), not another container's.
    func checkRequestedAddress(_ ip: String, on network: NetworkDefinition, for id: String?) throws(EngineError) {
        guard let address = Subnet.parse(ip), let subnet = Subnet(parsing: network.subnet), subnet.contains(address) else {
            throw EngineError("invalid --ip \(ip)", "it is not in network \(network.name)'s subnet \(network.subnet)")
        }
        if let range = network.ipRange.flatMap(Subnet.init(parsing:)), !range.contains(address) {
            throw EngineError("invalid --ip \(ip)", "it is not in network \(network.name)'s --ip-range \(range.description)")
        }
        let users = try metadata.containers().filter { other in
            other.Id != id && (other.Network?.attachments.contains { $0.address == ip && $0.network == network.name } == true
                || other.endpoints.contains { $0.Network == network.name && $0.IPv4Address == ip })
        }
        if let user = users.first { throw EngineError("Address already in use", "\(ip) is \(user.Name)'s") }
    }

    var dnsDirectory: String { runroot + "/aardvark-dns" }

    /// The names of `network`'s containers for aardvark-dns, from the database (user networks only: docker's
    /// default bridge has no names either).
    func refreshNames(_ network: NetworkDefinition) throws(EngineError) {
        guard !network.isDefault else { return }
        let records = try containers(on: network).compactMap { record -> AardvarkDNS.Record? in
            guard let attachment = record.Network?.attachments.first(where: { $0.network == network.name }), !attachment.isPending else { return nil }
            let aliases = record.endpoints.first { $0.Network == network.name }?.Aliases ?? []
            return AardvarkDNS.Record(id: record.Id, address: attachment.address, names: [record.Name] + aliases + [String(record.Id.prefix(12))])
        }
        do { try AardvarkDNS.update(directory: dnsDirectory, network: network, records: records) } catch {
            throw EngineError(error.what, error.why)
        }
    }

    /// Every network's DEL (with the cached ADD results), then the namespace file. Repeatable; errors are kept
    /// in the debug trail only, since every cleanup path runs it again.
    func tearDownNetwork(_ record: inout ContainerInfo) {
        guard let state = record.Network else { return }
        Self.detach(state, containerID: record.Id, store: networks)
        forgetNetwork(&record, state)
    }

    /// The DELs of `tearDownNetwork` alone: no database, so that `rm` can run them beside its other work.
    static func detach(_ state: ContainerNetworkState, containerID: String, store: NetworkStore) {
        let namespaceLost = !Mounts.isMountPoint(state.namespacePath)
        for attachment in state.attachments {
            guard let network = NetworkAttachment.cachedNetwork(named: attachment.network, containerID: containerID, ifname: attachment.interface)
                ?? (try? store.network(attachment.network)) else { continue }
            do { try NetworkAttachment.detach(network, containerID: containerID, netns: state.namespacePath, ifname: attachment.interface) } catch {
                Trace.log("network teardown of \(containerID): \(error)")
            }
        }
        if namespaceLost { NetworkCleanup.removeNATRules(containerID: containerID) }
        PastaNetwork.stop(namespacePath: state.namespacePath)
        NetworkNamespaceFile.remove(at: state.namespacePath)
    }

    /// The bookkeeping after the DELs: the record without its network, the names gone from DNS.
    func forgetNetwork(_ record: inout ContainerInfo, _ state: ContainerNetworkState) {
        record.Network = nil
        try? metadata.update(record)
        for attachment in state.attachments {
            if let network = try? networks.network(attachment.network) { try? refreshNames(network) }
        }
    }

    /// `-p`/`-P` with random host ports chosen, each checked free: not published by another running container
    /// and not bound on the host (docker's "port is already allocated", before anything is made).
    func resolvePorts(_ record: ContainerInfo) throws(EngineError) -> [PortMapping] {
        var requested = record.HostConfig.PortBindings ?? [:]
        if record.HostConfig.PublishAllPorts == true {
            for port in (record.Config.ExposedPorts ?? [:]).keys where requested[port] == nil {
                requested[port.contains("/") ? port : port + "/tcp"] = [PortBindingJSON(HostIp: "", HostPort: "")]
            }
        }
        if requested.isEmpty { return [] }   // no read of every row when nothing is published
        let taken = try metadata.containers().filter { $0.Id != record.Id }.flatMap { $0.Network?.ports ?? [] }
        var mappings: [PortMapping] = []
        for (key, bindings) in requested.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "/")
            guard let containerPort = Int(parts[0]) else { continue }
            let proto = parts.count > 1 ? String(parts[1]) : "tcp"
            for binding in bindings {
                var hostPort = Int(binding.HostPort) ?? 0
                if hostPort == 0 {
                    hostPort = Self.freePort(proto: proto, avoiding: Set(taken.map(\.hostPort) + mappings.map(\.hostPort)))
                } else {
                    let inUse = taken.contains { $0.hostPort == hostPort && $0.proto == proto && ($0.hostIP == binding.HostIp || $0.hostIP.isEmpty || binding.HostIp.isEmpty) }
                        || mappings.contains { $0.hostPort == hostPort && $0.proto == proto }
                    if inUse || !Self.portIsFree(hostPort, proto: proto, address: binding.HostIp) {
                        throw EngineError("Bind for \(binding.HostIp.isEmpty ? "0.0.0.0" : binding.HostIp):\(hostPort) failed", "port is already allocated")
                    }
                }
                mappings.append(PortMapping(hostIP: binding.HostIp, hostPort: hostPort, containerPort: containerPort, proto: proto))
            }
        }
        return mappings
    }

    static func portIsFree(_ port: Int, proto: String, address: String) -> Bool {
        let fd = socket(AF_INET, proto == "udp" ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var sockaddr = sockaddr_in()
        sockaddr.sin_family = sa_family_t(AF_INET)
        sockaddr.sin_port = in_port_t(UInt16(port).bigEndian)
        sockaddr.sin_addr.s_addr = (Subnet.parse(address) ?? 0).bigEndian
        return withUnsafePointer(to: &sockaddr) {
            $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// A host port the kernel would give an ephemeral bind, not one another container publishes.
    static func freePort(proto: String, avoiding: Set<Int>) -> Int {
        for _ in 0..<100 {
            let fd = socket(AF_INET, proto == "udp" ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { break }
            var sockaddr = sockaddr_in()
            sockaddr.sin_family = sa_family_t(AF_INET)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let port = withUnsafeMutablePointer(to: &sockaddr) { pointer -> Int in
                pointer.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) {
                    guard bind(fd, $0, length) == 0, getsockname(fd, $0, &length) == 0 else { return 0 }
                    return Int(UInt16(bigEndian: pointer.pointee.sin_port))
                }
            }
            close(fd)
            if port > 0 && !avoiding.contains(port) { return port }
        }
        return Int.random(in: 40000...60000)
    }
}

extension Engine {
    /// Every network: the default bridge (made on first use) and the user networks.
    public func listNetworks() throws(EngineError) -> [NetworkDefinition] {
        do { _ = try networks.ensureDefault() } catch { throw EngineError(error.what, error.why) }
        return networks.list().sorted { ($0.isDefault ? "" : $0.name) < ($1.isDefault ? "" : $1.name) }
    }

    public func network(_ reference: String) throws(EngineError) -> NetworkDefinition {
        do { return try networks.network(reference) } catch { throw EngineError(error.what, error.why) }
    }

    /// The containers with an endpoint on `network` now (docker's "active endpoints").
    public func containers(on network: NetworkDefinition) throws(EngineError) -> [ContainerInfo] {
        try metadata.containers().filter { $0.Network?.attachments.contains { $0.network == network.name } == true }
    }

    public func createNetwork(name: String, subnet: String?, gateway: String?, ipRange: String?, isInternal: Bool,
                              labels: [String: String], driver: String) throws(EngineError) -> NetworkDefinition {
        do throws(NetworkError) {
            let network = try networks.create(name: name, subnet: subnet, gateway: gateway, ipRange: ipRange, isInternal: isInternal,
                                              labels: labels, driver: driver)
            Events.record(self, type: "network", action: "create", id: network.id, attributes: ["name": network.name, "type": "bridge"])
            return network
        } catch {
            throw EngineError(error.what, error.why)
        }
    }

    public func removeNetwork(_ reference: String) throws(EngineError) {
        let network = try self.network(reference)
        if network.isDefault { throw EngineError("bridge is a pre-defined network and cannot be removed", "") }
        let users = try containers(on: network)
        if !users.isEmpty {
            throw EngineError("error while removing network: network \(network.name) id \(network.id) has active endpoints",
                              "used by \(users.map(\.Name).joined(separator: ", "))")
        }
        do { try networks.remove(network) } catch { throw EngineError(error.what, error.why) }
        Events.record(self, type: "network", action: "destroy", id: network.id, attributes: ["name": network.name, "type": "bridge"])
    }

    /// `network prune`: the user networks no container is configured for.
    public func pruneNetworks() throws(EngineError) -> [String] {
        let all = try metadata.containers()
        var removed: [String] = []
        for network in networks.list() where !network.isDefault {
            if all.contains(where: { $0.endpoints.contains { $0.Network == network.name } || $0.Network?.attachments.contains { $0.network == network.name } == true }) { continue }
            try removeNetwork(network.name)
            removed.append(network.name)
        }
        return removed
    }
}
