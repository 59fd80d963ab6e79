import ArgumentParser
import Engine
import Network
import Foundation
import Linux
import OCISpec

/// The flags of `run` and `create`, with docker's names and defaults, turned into docker's Config and
/// HostConfig (`request`).
struct RunFlags: ParsableArguments {
    @Option(name: .customLong("name"), help: "Assign a name to the container.") var name: String?
    @Flag(name: [.customShort("i"), .customLong("interactive")], help: "Keep STDIN open even if not attached.") var interactive = false
    @Flag(name: [.customShort("t"), .customLong("tty")], help: "Allocate a pseudo-TTY.") var tty = false
    @Option(name: [.customShort("e"), .customLong("env")], help: "Set environment variables.") var env: [String] = []
    @Option(name: .customLong("env-file"), help: "Read in a file of environment variables.") var envFile: [String] = []
    @Option(name: [.customShort("w"), .customLong("workdir")], help: "Working directory inside the container.") var workdir: String?
    @Option(name: [.customShort("u"), .customLong("user")], help: "Username or UID (format: <name|uid>[:<group|gid>]).") var user: String?
    @Option(name: [.customShort("h"), .customLong("hostname")], help: "Container host name.") var hostname: String?
    @Option(name: .customLong("domainname"), help: "Container NIS domain name.") var domainname: String?
    @Option(name: .customLong("entrypoint"), help: "Overwrite the default ENTRYPOINT of the image.") var entrypoint: String?
    @Option(name: [.customShort("v"), .customLong("volume")], help: "Bind mount a volume.") var volume: [String] = []
    @Option(name: .customLong("mount"), help: "Attach a filesystem mount to the container.") var mount: [String] = []
    @Option(name: .customLong("tmpfs"), help: "Mount a tmpfs directory.") var tmpfs: [String] = []
    @Flag(name: .customLong("read-only"), help: "Mount the container's root filesystem as read only.") var readOnly = false
    @Option(name: [.customShort("m"), .customLong("memory")], help: "Memory limit.") var memory: String?
    @Option(name: .customLong("memory-swap"), help: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap.") var memorySwap: String?
    @Option(name: .customLong("memory-reservation"), help: "Memory soft limit.") var memoryReservation: String?
    @Option(name: .customLong("cpus"), help: "Number of CPUs.") var cpus: String?
    @Option(name: [.customShort("c"), .customLong("cpu-shares")], help: "CPU shares (relative weight).") var cpuShares: Int64?
    @Option(name: .customLong("cpuset-cpus"), help: "CPUs in which to allow execution (0-3, 0,1).") var cpusetCpus: String?
    @Option(name: .customLong("cpuset-mems"), help: "MEMs in which to allow execution (0-3, 0,1).") var cpusetMems: String?
    @Option(name: .customLong("pids-limit"), help: "Tune container pids limit (set -1 for unlimited).") var pidsLimit: Int64?
    @Option(name: .customLong("blkio-weight"), help: "Block IO (relative weight), between 10 and 1000, or 0 to disable.") var blkioWeight: UInt16?
    @Option(name: .customLong("device"), help: "Add a host device to the container.") var device: [String] = []
    @Option(name: .customLong("cap-add"), help: "Add Linux capabilities.") var capAdd: [String] = []
    @Option(name: .customLong("cap-drop"), help: "Drop Linux capabilities.") var capDrop: [String] = []
    @Flag(name: .customLong("privileged"), help: "Give extended privileges to this container.") var privileged = false
    @Option(name: .customLong("security-opt"), help: "Security options (seccomp=unconfined|builtin|FILE, no-new-privileges[=true|false], writable-cgroups, label=disable, apparmor=unconfined).") var securityOpt: [String] = []
    @Option(name: .customLong("ulimit"), help: "Ulimit options (nofile=1024:2048).") var ulimit: [String] = []
    @Option(name: .customLong("sysctl"), help: "Sysctl options.") var sysctl: [String] = []
    @Option(name: .customLong("shm-size"), help: "Size of /dev/shm.") var shmSize: String?
    @Option(name: .customLong("group-add"), help: "Add additional groups to join.") var groupAdd: [String] = []
    @Option(name: .customLong("restart"), help: "Restart policy (no, always, unless-stopped, on-failure[:max-retries]).") var restart: String = "no"
    @Option(name: .customLong("stop-signal"), help: "Signal to stop the container.") var stopSignal: String?
    @Option(name: .customLong("stop-timeout"), help: "Timeout (in seconds) to stop a container.") var stopTimeout: Int?
    @Flag(name: .customLong("init"), help: "Run an init inside the container that forwards signals and reaps processes.") var initProcess = false
    @Option(name: [.customShort("l"), .customLong("label")], help: "Set meta data on a container.") var label: [String] = []
    @Option(name: .customLong("label-file"), help: "Read in a line delimited file of labels.") var labelFile: [String] = []
    @Option(name: .customLong("health-cmd"), help: "Command to run to check health.") var healthCmd: String?
    @Option(name: .customLong("health-interval"), help: "Time between running the check (ms|s|m|h).") var healthInterval: String?
    @Option(name: .customLong("health-timeout"), help: "Maximum time to allow one check to run (ms|s|m|h).") var healthTimeout: String?
    @Option(name: .customLong("health-retries"), help: "Consecutive failures needed to report unhealthy.") var healthRetries: Int?
    @Option(name: .customLong("health-start-period"), help: "Start period for the container to initialize (ms|s|m|h).") var healthStartPeriod: String?
    @Flag(name: .customLong("no-healthcheck"), help: "Disable any container-specified HEALTHCHECK.") var noHealthcheck = false
    @Option(name: .customLong("log-driver"), help: "Logging driver for the container (json-file, none).") var logDriver: String = "json-file"
    @Option(name: .customLong("log-opt"), help: "Log driver options (max-size=, max-file=).") var logOpt: [String] = []
    @Option(name: .customLong("pull"), help: "Pull image before running (always, missing, never).") var pull: String = "missing"
    @Option(name: .customLong("platform"), help: "Set platform if server is multi-platform capable.") var platform: String?
    @Option(name: .customLong("cidfile"), help: "Write the container ID to the file.") var cidfile: String?
    @Flag(name: .customLong("oom-kill-disable"), help: "Disable OOM Killer.") var oomKillDisable = false
    @Option(name: .customLong("oom-score-adj"), help: "Tune host's OOM preferences (-1000 to 1000).") var oomScoreAdj: Int?
    @Option(name: .customLong("pid"), help: "PID namespace to use (host, container:NAME).") var pid: String?
    @Option(name: .customLong("ipc"), help: "IPC mode to use (private, shareable, host, container:NAME).") var ipc: String?
    @Option(name: .customLong("uts"), help: "UTS namespace to use (host).") var uts: String?
    @Option(name: .customLong("cgroupns"), help: "Cgroup namespace to use (host, private).") var cgroupns: String?
    @Option(name: .customLong("userns"), help: "User namespace to use (host, auto[:size=N]).") var userns: String?
    @Option(name: .customLong("uidmap"), help: "UID map of a new user namespace (CONTAINER_ID:HOST_ID:SIZE).") var uidmap: [String] = []
    @Option(name: .customLong("gidmap"), help: "GID map of a new user namespace (CONTAINER_ID:HOST_ID:SIZE).") var gidmap: [String] = []
    @Option(name: [.customLong("network"), .customLong("net")], help: "Connect a container to a network (bridge, NAME, none, host, container:NAME; pasta; default $BERTH_DEFAULT_NETWORK, else bridge, rootless pasta); repeat for more networks.")
    var networks: [String] = []
    /// The first `--network`: the container's network mode.
    var network: String {
        networks.first ?? ProcessInfo.processInfo.environment["BERTH_DEFAULT_NETWORK"] ?? (Rootless.isActive ? Rootless.defaultNetwork : "bridge")
    }
    @Option(name: .customLong("mac-address"), help: "Container MAC address (e.g., 92:d0:c6:0a:29:33).") var macAddress: String?
    @Option(name: [.customShort("p"), .customLong("publish")], help: "Publish a container's port(s) to the host ([HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]).") var publish: [String] = []
    @Flag(name: [.customShort("P"), .customLong("publish-all")], help: "Publish all exposed ports to random ports.") var publishAll = false
    @Option(name: .customLong("ip"), help: "IPv4 address (e.g., 172.30.100.104).") var ip: String?
    @Option(name: .customLong("expose"), help: "Expose a port or a range of ports.") var expose: [String] = []
    @Option(name: .customLong("network-alias"), help: "Add network-scoped alias for the container.") var networkAlias: [String] = []
    @Option(name: .customLong("dns"), help: "Set custom DNS servers.") var dns: [String] = []
    @Option(name: .customLong("dns-search"), help: "Set custom DNS search domains.") var dnsSearch: [String] = []
    @Option(name: .customLong("dns-option"), help: "Set DNS options.") var dnsOption: [String] = []
    @Option(name: .customLong("add-host"), help: "Add a custom host-to-IP mapping (host:ip).") var addHost: [String] = []

    func request(image: String, command: [String]) throws -> CreateRequest {
        var config = ContainerConfig(image: image)
        var host = HostConfig()
        config.Tty = tty
        config.OpenStdin = interactive
        config.AttachStdin = interactive
        config.StdinOnce = interactive
        var environment: [String] = []
        for file in envFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw EngineError("open \(file)", "no such file or directory")
            }
            for line in text.split(separator: "\n") {
                let entry = line.trimmingCharacters(in: .whitespaces)
                if entry.isEmpty || entry.hasPrefix("#") { continue }
                environment.append(Self.expandEnv(String(entry)))
            }
        }
        environment += env.map(Self.expandEnv)
        config.Env = environment
        config.Cmd = command.isEmpty ? nil : command
        if let entrypoint { config.Entrypoint = entrypoint.isEmpty ? [] : [entrypoint] }
        config.WorkingDir = workdir ?? ""
        if let workdir, !workdir.hasPrefix("/") {
            throw EngineError("the working directory '\(workdir)' is invalid", "it needs to be an absolute path")
        }
        config.User = user ?? ""
        config.Hostname = hostname ?? ""
        config.Domainname = domainname ?? ""
        var labels: [String: String] = [:]
        for file in labelFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw EngineError("open \(file)", "no such file or directory") }
            for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.isEmpty {
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                labels[parts[0]] = parts.count == 2 ? parts[1] : ""
            }
        }
        for entry in label {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            labels[parts[0]] = parts.count == 2 ? parts[1] : ""
        }
        config.Labels = labels
        config.StopSignal = stopSignal
        if let stopSignal, Signals.parse(stopSignal) == nil { throw EngineError("invalid signal: \(stopSignal)", "") }
        config.StopTimeout = stopTimeout
        if noHealthcheck {
            config.Healthcheck = HealthcheckJSON(Test: ["NONE"])
        } else if let healthCmd {
            var check = HealthcheckJSON(Test: ["CMD-SHELL", healthCmd])
            check.Interval = try healthInterval.map { try Self.duration($0, flag: "--health-interval") }
            check.Timeout = try healthTimeout.map { try Self.duration($0, flag: "--health-timeout") }
            check.StartPeriod = try healthStartPeriod.map { try Self.duration($0, flag: "--health-start-period") }
            check.Retries = healthRetries
            config.Healthcheck = check
        }

        var anonymous: [String: EmptyObject] = [:]
        for spec in volume {
            if spec.hasPrefix("/") && !spec.dropFirst().contains(":") {
                anonymous[spec] = EmptyObject()
            } else if !spec.contains(":") {
                throw EngineError("invalid volume specification: '\(spec)'", "a volume needs SOURCE:DESTINATION, or an absolute DESTINATION")
            } else {
                host.Binds.append(spec)
            }
        }
        if !anonymous.isEmpty { config.Volumes = anonymous }
        host.Mounts = try mount.map(Self.parseMount)
        for entry in tmpfs {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts[0].hasPrefix("/") else { throw EngineError("invalid tmpfs mount '\(entry)'", "the path must be absolute") }
            host.Tmpfs[parts[0]] = parts.count == 2 ? parts[1] : ""
        }
        host.ReadonlyRootfs = readOnly
        host.Memory = try memory.map { try Sizes.parse($0, flag: "--memory") } ?? 0
        if let memorySwap { host.MemorySwap = memorySwap == "-1" ? -1 : try Sizes.parse(memorySwap, flag: "--memory-swap") }
        host.MemoryReservation = try memoryReservation.map { try Sizes.parse($0, flag: "--memory-reservation") } ?? 0
        if let cpus {
            guard let value = Double(cpus), value > 0 else {
                throw EngineError("invalid argument \"\(cpus)\" for \"--cpus\" flag", "the number of CPUs must be a positive number such as 0.5 or 2")
            }
            host.NanoCpus = Int64(value * 1e9)
        }
        if let cpuShares {
            guard cpuShares >= 0 else { throw EngineError("invalid --cpu-shares \(cpuShares)", "it must not be negative") }
            host.CpuShares = cpuShares
        }
        host.CpusetCpus = cpusetCpus ?? ""
        host.CpusetMems = cpusetMems ?? ""
        host.PidsLimit = pidsLimit
        host.BlkioWeight = blkioWeight ?? 0
        host.Devices = try device.map { (entry) throws -> DeviceMapping in
            let parts = entry.split(separator: ":").map(String.init)
            guard let first = parts.first, first.hasPrefix("/") else { throw EngineError("invalid device specification: \(entry)", "") }
            let inside = parts.count >= 2 && parts[1].hasPrefix("/") ? parts[1] : first
            let permissions = parts.count == 3 ? parts[2] : (parts.count == 2 && !parts[1].hasPrefix("/") ? parts[1] : "rwm")
            return DeviceMapping(PathOnHost: first, PathInContainer: inside, CgroupPermissions: permissions)
        }
        host.CapAdd = capAdd
        host.CapDrop = capDrop
        for cap in capAdd + capDrop where cap.uppercased() != "ALL" && Capabilities.number(of: cap) == nil {
            throw EngineError("invalid capability \(cap)", "unknown capability")
        }
        host.Privileged = privileged
        // As docker's client: a profile file travels as its JSON; the engine checks every option at create.
        host.SecurityOpt = try SecurityOptions.inliningSeccompFiles(securityOpt)
        host.Ulimits = try ulimit.map { (entry) throws -> Ulimit in
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw EngineError("invalid ulimit argument: \(entry)", "use NAME=SOFT[:HARD]") }
            let values = parts[1].split(separator: ":").map { Int64($0) }
            guard let soft = values.first ?? nil, values.allSatisfy({ $0 != nil }) else {
                throw EngineError("invalid ulimit argument: \(entry)", "use NAME=SOFT[:HARD]")
            }
            let hard = values.count > 1 ? values[1] ?? soft : soft
            if soft > hard { throw EngineError("ulimit soft limit must be less than or equal to hard limit", "\(soft) > \(hard)") }
            return Ulimit(Name: parts[0], Soft: soft, Hard: hard)
        }
        for entry in sysctl {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw EngineError("invalid sysctl value \(entry)", "use NAME=VALUE") }
            host.Sysctls[parts[0]] = parts[1]
        }
        if let shmSize { host.ShmSize = try Sizes.parse(shmSize, flag: "--shm-size") }
        host.GroupAdd = groupAdd
        guard let policy = RestartPolicyParser.parse(restart) else {
            throw EngineError("invalid restart policy", "\(restart): use no, always, unless-stopped or on-failure[:max-retries]")
        }
        host.RestartPolicy = policy
        host.Init = initProcess ? true : nil
        if logDriver != "json-file" && logDriver != "none" {
            throw EngineError("logging driver \(logDriver) is not supported", "use json-file or none")
        }
        var logConfig: [String: String] = [:]
        for entry in logOpt {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, ["max-size", "max-file"].contains(parts[0]) else {
                throw EngineError("unknown log opt '\(parts[0])' for json-file log driver", "")
            }
            logConfig[parts[0]] = parts[1]
        }
        if let size = logConfig["max-size"] { _ = try Sizes.parse(size, flag: "--log-opt max-size") }
        host.LogConfig = LogConfig(Type: logDriver, Config: logConfig)
        host.OomKillDisable = oomKillDisable
        if let oomScoreAdj {
            guard (-1000...1000).contains(oomScoreAdj) else { throw EngineError("invalid value \(oomScoreAdj)", "--oom-score-adj must be between -1000 and 1000") }
            host.OomScoreAdj = oomScoreAdj
        }
        host.PidMode = pid ?? ""
        host.IpcMode = ipc ?? "private"
        host.UTSMode = uts ?? ""
        host.CgroupnsMode = cgroupns ?? ""
        host.UsernsMode = userns ?? ""
        if !uidmap.isEmpty || !gidmap.isEmpty { host.IDMappings = IDMappingsJSON(UidMap: uidmap, GidMap: gidmap) }
        host.NetworkMode = network == "default" ? "bridge" : network
        config.MacAddress = macAddress
        var bindings: [String: [PortBindingJSON]] = [:]
        for spec in publish {
            for entry in try PortSpec.parse(spec) { bindings[entry.key, default: []].append(entry.binding) }
        }
        if !bindings.isEmpty { host.PortBindings = bindings }
        host.PublishAllPorts = publishAll ? true : nil
        host.RequestedIPv4 = ip
        host.NetworkAliases = networkAlias.isEmpty ? nil : networkAlias
        for server in dns where Subnet.parse(server) == nil && !server.contains(":") {
            throw EngineError("\(server) is not an ip address", "--dns takes IP addresses")
        }
        host.Dns = dns.isEmpty ? nil : dns
        host.DnsSearch = dnsSearch.isEmpty ? nil : dnsSearch
        host.DnsOptions = dnsOption.isEmpty ? nil : dnsOption
        var exposed = config.ExposedPorts ?? [:]
        for spec in expose {
            for entry in try PortSpec.parse(spec) { exposed[entry.key] = EmptyObject() }
        }
        for key in bindings.keys { exposed[key] = EmptyObject() }
        if !exposed.isEmpty { config.ExposedPorts = exposed }
        if hostname != nil && network == "host" {
            throw EngineError("Conflicting options: hostname and the network mode", "")
        }
        host.ExtraHosts = try addHost.map { (entry) throws -> String in
            guard entry.split(separator: ":", maxSplits: 1).count == 2 else { throw EngineError("invalid argument \"\(entry)\" for \"--add-host\" flag", "use host:ip") }
            return entry
        }
        if !["always", "missing", "never"].contains(pull) { throw EngineError("invalid pull option: '\(pull)'", "must be one of: always, missing, never") }
        var request = CreateRequest(name: name, config: config, hostConfig: host)
        request.networks = networks.dropFirst().map { EndpointConfig(Network: $0 == "default" ? "bridge" : $0) }
        return request
    }

    /// `-e NAME` takes NAME's value from our own environment, as docker does.
    static func expandEnv(_ entry: String) -> String {
        if entry.contains("=") { return entry }
        if let value = ProcessInfo.processInfo.environment[entry] { return entry + "=" + value }
        return entry
    }

    static func duration(_ text: String, flag: String) throws -> Int64 {
        guard let seconds = Durations.parse(text), seconds >= 0 else {
            throw EngineError("invalid argument \"\(text)\" for \"\(flag)\" flag", "time: invalid duration \"\(text)\"")
        }
        return Int64(seconds * 1e9)
    }

    /// `--mount type=bind,source=/a,target=/b,readonly` and friends.
    static func parseMount(_ text: String) throws -> MountRequest {
        var request = MountRequest(Type: "volume", Source: "", Target: "", ReadOnly: false)
        for field in text.split(separator: ",") {
            let parts = field.split(separator: "=", maxSplits: 1).map(String.init)
            let key = parts[0].lowercased()
            let value = parts.count == 2 ? parts[1] : nil
            switch key {
            case "type": request.Type = value ?? ""
            case "source", "src": request.Source = value ?? ""
            case "target", "destination", "dst": request.Target = value ?? ""
            case "readonly", "ro": request.ReadOnly = value.map { $0 == "true" || $0 == "1" } ?? true
            case "tmpfs-size": request.TmpfsSize = try value.map { try Sizes.parse($0, flag: "--mount tmpfs-size") }
            case "tmpfs-mode": request.TmpfsMode = value.flatMap { UInt32($0, radix: 8) }
            case "volume-nocopy": request.NoCopy = value.map { $0 == "true" || $0 == "1" } ?? true
            case "bind-propagation", "consistency", "volume-driver", "volume-label", "volume-opt": break
            default: throw EngineError("invalid field '\(key)' must be a key=value pair", "in --mount \(text)")
            }
        }
        guard ["bind", "volume", "tmpfs"].contains(request.Type) else {
            throw EngineError("invalid mount type \(request.Type)", "use bind, volume or tmpfs")
        }
        guard !request.Target.isEmpty else { throw EngineError("invalid mount config", "target is required in --mount \(text)") }
        if request.Type == "bind" && request.Source.isEmpty { throw EngineError("invalid mount config for type \"bind\"", "field Source must not be empty") }
        return request
    }
}

enum RestartPolicyParser {
    static func parse(_ text: String) -> RestartPolicyJSON? {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        switch parts.first ?? "" {
        case "no", "": return parts.count == 1 || text.isEmpty ? RestartPolicyJSON(Name: "no", MaximumRetryCount: 0) : nil
        case "always", "unless-stopped": return parts.count == 1 ? RestartPolicyJSON(Name: parts[0], MaximumRetryCount: 0) : nil
        case "on-failure":
            if parts.count == 1 { return RestartPolicyJSON(Name: "on-failure", MaximumRetryCount: 0) }
            guard let count = Int(parts[1]), count >= 0 else { return nil }
            return RestartPolicyJSON(Name: "on-failure", MaximumRetryCount: count)
        default: return nil
        }
    }
}
