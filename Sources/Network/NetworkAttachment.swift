import Foundation
import Glibc
import Linux

/// `-p HOSTIP:HOSTPORT:CONTAINERPORT/PROTO` after parsing (the portmap plugin's `portMappings` entry).
public struct PortMapping: Sendable, Equatable, Codable {
    public var hostIP: String
    public var hostPort: Int
    public var containerPort: Int
    public var proto: String
    public init(hostIP: String, hostPort: Int, containerPort: Int, proto: String) {
        self.hostIP = hostIP; self.hostPort = hostPort; self.containerPort = containerPort; self.proto = proto
    }
    var cni: [String: Any] { ["hostIP": hostIP, "hostPort": hostPort, "containerPort": containerPort, "protocol": proto] }
}

/// What ADD gave a container on one network.
public struct Attachment: Sendable, Equatable, Codable {
    public var network: String
    public var interface: String
    public var address: String
    public var prefixLength: Int
    public var gateway: String
    public var mac: String

    public init(network: String, interface: String, address: String, prefixLength: Int, gateway: String, mac: String) {
        self.network = network; self.interface = interface; self.address = address; self.prefixLength = prefixLength
        self.gateway = gateway; self.mac = mac
    }

    /// Recorded before its ADD ran (so that a teardown after a crash knows to DEL it): no address yet.
    public var isPending: Bool { address.isEmpty }
}

/// A container joined to networks through the plugins of each conflist, in order (ADD) and in reverse with the
/// cached ADD result (DEL), as libcni does. The result cache uses libcni's layout, so that a DEL can be run
/// by any libcni tool too.
public enum NetworkAttachment {
    public static let cacheDirectory = "/var/lib/cni/results"

    static func cachePath(_ network: NetworkDefinition, _ containerID: String, _ ifname: String) -> String {
        "\(cacheDirectory)/\(network.cniName)-\(containerID)-\(ifname)"
    }

    /// ADD of every plugin; on a failure the plugins already run are deleted again, so nothing is left.
    public static func attach(_ network: NetworkDefinition, containerID: String, netns: String, ifname: String,
                              ports: [PortMapping], staticIP: String?, mac: String? = nil) throws(NetworkError) -> Attachment {
        let conflist = network.conflist()
        var capabilityArgs: [String: Any] = [:]
        if !ports.isEmpty { capabilityArgs["portMappings"] = ports.map(\.cni) }
        if let mac { capabilityArgs["mac"] = mac }
        let plugins = activePlugins(conflist, capabilityArgs: capabilityArgs)
        var args: [(String, String)] = []
        if let staticIP { args.append(("IP", staticIP)) }
        var result: [String: Any]?
        var done = 0
        do throws(NetworkError) {
            for plugin in plugins {
                let config = pluginConfig(plugin, network: network, prevResult: result, capabilityArgs: capabilityArgs)
                result = try CNIPlugin(type: plugin["type"] as? String ?? "").invoke(.add, config: config, containerID: containerID,
                                                                                  netns: netns, ifname: ifname, args: args)
                done += 1
            }
        } catch {
            for plugin in plugins.prefix(done + 1).reversed() {   // the one that failed too, as the spec asks
                let config = pluginConfig(plugin, network: network, prevResult: result, capabilityArgs: capabilityArgs)
                _ = try? CNIPlugin(type: plugin["type"] as? String ?? "").invoke(.del, config: config, containerID: containerID,
                                                                                 netns: netns, ifname: ifname, args: args)
            }
            // A bridge the failed ADD made but never gave its address keeps an all-zero MAC once its port is gone,
            // and the bridge plugin (1.1.1) then fails every later ADD ("could not set bridge's mac"). A bridge
            // without ports serves no one: it goes, and the next ADD makes it afresh.
            if let ports = try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net/\(network.bridge)/brif"), ports.isEmpty {
                NetworkCleanup.run("/usr/sbin/ip", ["ip", "link", "delete", network.bridge])
            }
            throw error
        }
        let final = result ?? [:]
        try writeCache(network: network, conflist: conflist, containerID: containerID, ifname: ifname, args: args,
                       capabilityArgs: capabilityArgs, result: final)
        return try parse(final, network: network, ifname: ifname)
    }

    /// The plugins to run for this container. A plugin whose configuration is nothing but runtime capabilities
    /// (`portmap`, a bare `tuning`) does nothing when the container brings none of them: its ADD returns the
    /// previous result unchanged and its DEL has nothing to undo. Skipping it saves an exec of a Go binary
    /// (10-20 ms) each way; the same rule on ADD and DEL keeps the two symmetric.
    static func activePlugins(_ conflist: [String: Any], capabilityArgs: [String: Any]) -> [[String: Any]] {
        (conflist["plugins"] as? [[String: Any]] ?? []).filter { plugin in
            guard ["portmap", "tuning"].contains(plugin["type"] as? String ?? ""),
                  Set(plugin.keys).isSubset(of: ["type", "capabilities"]) else { return true }
            let wanted = (plugin["capabilities"] as? [String: Bool] ?? [:]).filter(\.value).keys
            return wanted.contains { capabilityArgs[$0] != nil }
        }
    }

    /// DEL of every plugin, last first, with the cached result; then the cache entry goes. Repeatable: a DEL
    /// of what is already gone succeeds (the CNI spec asks plugins for that).
    public static func detach(_ network: NetworkDefinition, containerID: String, netns: String, ifname: String) throws(NetworkError) {
        let path = cachePath(network, containerID, ifname)
        var prevResult: [String: Any]?
        var capabilityArgs: [String: Any] = [:]
        var args: [(String, String)] = []
        if let data = FileManager.default.contents(atPath: path),
           let cache = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] {
            prevResult = cache["result"] as? [String: Any]
            capabilityArgs = cache["capabilityArgs"] as? [String: Any] ?? [:]
            args = ((cache["cniArgs"] as? [[String]]) ?? []).compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil }
        }
        var failure: NetworkError?
        for plugin in activePlugins(network.conflist(), capabilityArgs: capabilityArgs).reversed() {
            let config = pluginConfig(plugin, network: network, prevResult: prevResult, capabilityArgs: capabilityArgs)
            do throws(NetworkError) {
                _ = try CNIPlugin(type: plugin["type"] as? String ?? "").invoke(.del, config: config, containerID: containerID,
                                                                                netns: netns, ifname: ifname, args: args)
            } catch {
                if failure == nil { failure = error }
            }
        }
        if let failure { throw failure }
        unlink(path)
    }

    /// The network as it was at ADD, from the conflist libcni's cache keeps: DEL works even when the network's
    /// file is gone or this process looks in another configuration directory.
    public static func cachedNetwork(named name: String, containerID: String, ifname: String) -> NetworkDefinition? {
        let cniName = name == NetworkDefinition.defaultName ? NetworkDefinition.defaultCNIName : name
        guard let data = FileManager.default.contents(atPath: "\(cacheDirectory)/\(cniName)-\(containerID)-\(ifname)"),
              let cache = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let encoded = cache["config"] as? String, let config = Data(base64Encoded: encoded),
              let conflist = (try? JSONSerialization.jsonObject(with: config)) as? [String: Any] else { return nil }
        return NetworkDefinition(conflist: conflist)
    }

    /// A plugin's stdin: its conflist entry with the network's name and version, the previous result, and the
    /// `runtimeConfig` of the capabilities it declares (libcni's rule: only those).
    static func pluginConfig(_ plugin: [String: Any], network: NetworkDefinition, prevResult: [String: Any]?,
                             capabilityArgs: [String: Any]) -> [String: Any] {
        var config = plugin
        config["name"] = network.cniName
        config["cniVersion"] = NetworkDefinition.cniVersion
        if let prevResult { config["prevResult"] = prevResult }
        let declared = (plugin["capabilities"] as? [String: Bool] ?? [:]).filter(\.value).keys
        let runtimeConfig = capabilityArgs.filter { declared.contains($0.key) }
        if !runtimeConfig.isEmpty { config["runtimeConfig"] = runtimeConfig }
        return config
    }

    static func writeCache(network: NetworkDefinition, conflist: [String: Any], containerID: String, ifname: String,
                           args: [(String, String)], capabilityArgs: [String: Any], result: [String: Any]) throws(NetworkError) {
        let config = (try? JSONSerialization.data(withJSONObject: conflist, options: [.sortedKeys])) ?? Data()
        let cache: [String: Any] = [
            "kind": "cniCacheV1", "containerId": containerID, "config": config.base64EncodedString(), "ifName": ifname,
            "networkName": network.cniName, "cniArgs": args.map { [$0.0, $0.1] },
            "capabilityArgs": capabilityArgs, "result": result,
        ]
        do {
            try Files.makeDirectories(cacheDirectory, mode: 0o700)
            let data = try JSONSerialization.data(withJSONObject: cache, options: [.sortedKeys])
            try Files.replace(cachePath(network, containerID, ifname), Array(data), mode: 0o600)
        } catch {
            throw NetworkError("caching the CNI result of \(containerID)", "\(error)")
        }
    }

    static func parse(_ result: [String: Any], network: NetworkDefinition, ifname: String) throws(NetworkError) -> Attachment {
        let interfaces = result["interfaces"] as? [[String: Any]] ?? []
        let inside = interfaces.firstIndex { $0["sandbox"] as? String != nil && $0["name"] as? String == ifname }
        let ips = result["ips"] as? [[String: Any]] ?? []
        guard let ip = ips.first(where: { inside == nil || $0["interface"] as? Int == inside }) ?? ips.first,
              let address = ip["address"] as? String else {
            throw NetworkError("CNI result for \(network.name) has no address", "")
        }
        let parts = address.split(separator: "/")
        return Attachment(network: network.name, interface: ifname, address: String(parts[0]),
                          prefixLength: parts.count > 1 ? Int(parts[1]) ?? 0 : 0, gateway: ip["gateway"] as? String ?? network.gateway,
                          mac: inside.flatMap { interfaces[$0]["mac"] as? String } ?? "")
    }
}

/// A network's outbound NAT: `-s SUBNET ! -o BRIDGE -j MASQUERADE` in nat/POSTROUTING, docker's rule, made on the
/// network's first use after boot and removed with the network. Traffic between the network's containers
/// (and to the host through the bridge) is not rewritten. An `--internal` network has none.
public enum NetworkMasquerade {
    static func rule(_ network: NetworkDefinition) -> [String] {
        ["POSTROUTING", "-s", network.subnet, "!", "-o", network.bridge, "-m", "comment", "--comment", "berth network \(network.cniName)",
         "-j", "MASQUERADE"]
    }

    /// Checks for the rule (one iptables run) and adds it if it is missing.
    public static func ensure(_ network: NetworkDefinition) throws(NetworkError) {
        guard !network.isInternal else { return }
        if NetworkCleanup.run("/usr/sbin/iptables", ["iptables", "-w", "-t", "nat", "-C"] + rule(network)) == 0 { return }
        let status = NetworkCleanup.run("/usr/sbin/iptables", ["iptables", "-w", "-t", "nat", "-A"] + rule(network))
        if status != 0 { throw NetworkError("adding the outbound NAT rule of network \(network.name)", "iptables exited with \(status)") }
    }

    public static func remove(_ network: NetworkDefinition) {
        while NetworkCleanup.run("/usr/sbin/iptables", ["iptables", "-w", "-t", "nat", "-D"] + rule(network)) == 0 {}
    }
}

/// What the plugins' DEL does not remove.
public enum NetworkCleanup {
    /// The bridge device of a removed network (the bridge plugin never deletes it).
    public static func removeBridge(_ name: String) {
        removeIsolationRules(bridge: name)
        guard Files.exists("/sys/class/net/\(name)") else { return }
        run("/usr/sbin/ip", ["ip", "link", "delete", name])
    }

    /// The NAT rules of a container whose network namespace vanished without a DEL (its runroot wiped): the
    /// bridge plugin's DEL then returns early, before its ipMasq cleanup (it finds the addresses inside the
    /// namespace), and the leftover rule keeps the next DEL of that container from deleting its chain. The rules
    /// carry the container id in their comment; the chains they jump to go with them.
    public static func removeNATRules(containerID: String) {
        guard let rules = output("/usr/sbin/iptables-save", ["iptables-save", "-t", "nat"]) else { return }
        var chains: Set<String> = []
        for line in rules.split(separator: "\n") where line.hasPrefix("-A ") && line.contains("id: \\\"\(containerID)\\\"") {
            if let jump = line.range(of: " -j ") { chains.insert(String(line[jump.upperBound...].split(separator: " ").first ?? "")) }
            run("/bin/sh", ["sh", "-c", "iptables -t nat -D " + line.dropFirst(3)])
        }
        for chain in chains where chain.hasPrefix("CNI-") && !["CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"].contains(chain) {
            run("/usr/sbin/iptables", ["iptables", "-t", "nat", "-F", chain])
            run("/usr/sbin/iptables", ["iptables", "-t", "nat", "-X", chain])
        }
    }

    /// The firewall plugin's `ingressPolicy: same-bridge` adds two rules per bridge to the shared
    /// CNI-ISOLATION-STAGE-1/2 chains, and no DEL removes them: they go with the network.
    static func removeIsolationRules(bridge: String) {
        guard let rules = output("/usr/sbin/iptables-save", ["iptables-save", "-t", "filter"]) else { return }
        for line in rules.split(separator: "\n") where line.hasPrefix("-A CNI-ISOLATION-STAGE-")
            && (line.contains(" -i \(bridge) ") || line.contains(" -o \(bridge) ")) {
            // iptables-save quotes as the shell does; the rule is ours (our bridge name, the plugin's comment).
            run("/bin/sh", ["sh", "-c", "iptables -t filter -D " + line.dropFirst(3)])
        }
    }

    @discardableResult
    static func run(_ path: String, _ args: [String]) -> Int32 {
        guard let pid = try? Spawn.spawn(path: path, args: args, env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]) else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return Processes.exitCode(status)
    }

    static func output(_ path: String, _ args: [String]) -> String? {
        guard let pipe = try? FileDescriptors.pipe() else { return nil }
        guard let pid = try? Spawn.spawn(path: path, args: args, env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], files: [1: pipe.write, 2: 2]) else {
            close(pipe.read); close(pipe.write); return nil
        }
        close(pipe.write)
        let data = CNIPlugin.readAll(pipe.read)
        close(pipe.read)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return String(decoding: data, as: UTF8.self)
    }
}
