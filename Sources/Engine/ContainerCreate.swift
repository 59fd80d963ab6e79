import Foundation
import Glibc
import Images
import Linux
import Network
import OCISpec

/// What `create`/`run` ask for: docker's Config and HostConfig, as the CLI (or later the API) filled them in.
public struct CreateRequest: Sendable {
    public var name: String?
    public var config: ContainerConfig
    public var hostConfig: HostConfig
    /// More networks than `hostConfig.NetworkMode`'s (a repeated `--network`, the API's EndpointsConfig).
    public var networks: [EndpointConfig] = []
    public init(name: String?, config: ContainerConfig, hostConfig: HostConfig) {
        self.name = name; self.config = config; self.hostConfig = hostConfig
    }
}

extension Engine {
    /// `create`: reserves the name, makes the container's rootfs (an overlay snapshot of the image) and its
    /// volumes. Nothing runs yet; `start` builds the runtime config and starts the monitor. A failure
    /// removes everything made so far.
    public func create(_ request: CreateRequest) throws(EngineError) -> ContainerInfo {
        var config = request.config
        var host = request.hostConfig
        if let name = request.name { try Self.validate(name: name) }
        let image: ImageRecord
        do { image = try images.resolve(config.Image) } catch {
            throw EngineError("Unable to find image '\(config.Image)' locally", "", exitCode: 125)
        }
        try Self.validate(host)
        try Rootless.checkLimits(host)
        if let network = try cniNetwork(host.NetworkMode), let ip = host.RequestedIPv4 {
            try checkRequestedAddress(ip, on: network, for: nil)
        }
        for extra in request.networks {
            guard Self.hasOwnNetwork(host.NetworkMode), Self.hasOwnNetwork(extra.Network) else {
                throw EngineError("conflicting options: cannot attach both user-defined and non-user-defined network-modes", "")
            }
            if extra.Network == host.NetworkMode || request.networks.filter({ $0.Network == extra.Network }).count > 1 {
                throw EngineError("network \(extra.Network) is given twice", "")
            }
            let definition = try network(extra.Network)
            if let ip = extra.IPv4Address { try checkRequestedAddress(ip, on: definition, for: nil) }
        }
        if let mac = config.MacAddress {
            guard Self.isUnicastMAC(mac) else { throw EngineError("invalid MAC address: \(mac)", "use six hex pairs, as 02:42:ac:11:00:02, of a unicast address") }
            guard Self.hasOwnNetwork(host.NetworkMode) else { throw EngineError("conflicting options: mac-address and the \(host.NetworkMode) network mode", "") }
        }
        let execution = image.config.config ?? ImageConfig.Execution()
        if config.Entrypoint == nil { config.Entrypoint = execution.Entrypoint }
        if config.Cmd == nil && request.config.Entrypoint == nil { config.Cmd = execution.Cmd }
        config.Env = Self.mergeEnvironment(execution.Env ?? [], config.Env)
        if config.WorkingDir.isEmpty { config.WorkingDir = execution.WorkingDir ?? "" }
        if config.User.isEmpty { config.User = execution.User ?? "" }
        if config.StopSignal == nil { config.StopSignal = execution.StopSignal }
        config.Labels = (execution.Labels ?? [:]).merging(config.Labels) { $1 }
        if config.ExposedPorts == nil { config.ExposedPorts = execution.ExposedPorts }
        if config.Volumes == nil { config.Volumes = execution.Volumes }
        let args = (config.Entrypoint ?? []) + (config.Cmd ?? [])
        guard let path = args.first else {
            throw EngineError("No command specified", "")
        }
        let id = Self.newID()
        // Under a lock from here to the insert, so that two `--userns=auto` containers never get the same ids.
        let allocation = try userNamespaceLock(needed: host.UsernsMode?.hasPrefix("auto") == true)
        defer { if allocation >= 0 { close(allocation) } }
        // Only auto needs the others' mappings: no read of every row on the plain path.
        let others = allocation >= 0 ? try metadata.containers().compactMap { UserNamespaces.map(of: $0.HostConfig) } : []
        try UserNamespaces.resolve(&host, others: others)
        if request.config.User.isEmpty, let keep = UserNamespaces.keepIDUser(host) { config.User = "\(keep.uid):\(keep.gid)" }
        if config.Hostname.isEmpty { config.Hostname = String(id.prefix(12)) }
        let name = request.name ?? NameGenerator.unique { (try? metadata.container(named: $0)) == nil }
        let directory = containerDirectory(id)
        var record = ContainerInfo(
            Id: id, Name: name, Created: Self.now(), Path: path, Args: Array(args.dropFirst()), State: .created,
            ImageName: config.Image, Image: image.configDigest.description, RestartCount: 0, Config: config,
            HostConfig: host, Mounts: [], AnonymousVolumes: [], LogPath: directory + "/\(id)-json.log")
        if !request.networks.isEmpty { record.Endpoints = record.endpoints + request.networks }
        try metadata.insert(record)
        do throws(EngineError) {
            do { try Files.makeDirectories(directory, mode: 0o710) } catch { throw EngineError("creating \(directory)", error.description) }
            // The runtime mounts the rootfs and the /etc files from inside the user namespace, as the
            // container's root: its group may pass through (not read) the directory, no one else.
            if let map = UserNamespaces.map(of: host), let gid = IDMap.hostID(0, in: map.gids) { chown(directory, uid_t.max, gid) }
            let bundle: ImageBundle
            do {
                bundle = try ImageBundle.create(store: images, image: image.manifestDigest.description, bundle: bundlePath(id),
                                                idMap: UserNamespaces.map(of: host))
            } catch {
                throw EngineError("creating the container's root filesystem", error.description)
            }
            try resolveMounts(&record, rootfs: bundle.rootfs)
            try addKeepIDUser(host, rootfs: bundle.rootfs)
            try writeEtcFiles(record)
            try metadata.update(record)
            Events.record(self, type: "container", action: "create", record: record)
            return record
        } catch {
            try? removeFiles(record)
            try? metadata.deleteContainer(id: id)
            throw error
        }
    }

    /// keep-id gives the container the user's name too (podman's rule): an /etc/passwd line (name, uid, gid, home
    /// as on the host) and an /etc/group line where the image has none for those ids.
    func addKeepIDUser(_ host: HostConfig, rootfs: String) throws(EngineError) {
        guard let keep = UserNamespaces.keepIDUser(host), let outer = IDMap.hostID(0, in: UserNamespaceFacts.ownMapping("/proc/self/uid_map")),
              let entry = getpwuid(outer) else { return }
        let name = String(cString: entry.pointee.pw_name), home = String(cString: entry.pointee.pw_dir)
        let rootFd = open(rootfs, 0o10000000 | O_DIRECTORY | O_CLOEXEC)   // O_PATH
        guard rootFd >= 0 else { throw EngineError("opening \(rootfs)", SystemError.message(errno)) }
        defer { close(rootFd) }
        // Opened inside the rootfs (RESOLVE_IN_ROOT, the last component not followed): the image's /etc/passwd
        // may be a symlink, and it must never lead to a file of the user's outside.
        func append(_ file: String, line: String, unlessID id: UInt32) throws(EngineError) {
            let fd: Int32
            do { fd = try ScopedPath.open(rootFd: rootFd, rootPath: rootfs, file, flags: O_RDWR | O_NOFOLLOW | O_CLOEXEC) } catch {
                return   // no such file in the image (or a symlink): nothing to add to
            }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG,
                  let bytes = try? Files.readAll(fd: fd, name: file) else { return }
            let text = String(decoding: bytes, as: UTF8.self)
            let taken = text.split(separator: "\n").contains { $0.split(separator: ":", omittingEmptySubsequences: false).dropFirst(2).first == Substring(String(id)) }
            guard !taken else { return }
            let addition = ((text.isEmpty || text.hasSuffix("\n")) ? "" : "\n") + line + "\n"
            do { try Files.writeAll(fd: fd, Array(addition.utf8), name: file) } catch {
                throw EngineError("adding the keep-id user to \(file)", error.description)
            }
        }
        try append("/etc/passwd", line: "\(name):*:\(keep.uid):\(keep.gid):\(name):\(home):/bin/sh", unlessID: keep.uid)
        try append("/etc/group", line: "\(name):x:\(keep.gid):", unlessID: keep.gid)
    }

    /// flock on `<root>/engine/userns.lock` when `needed`; -1 otherwise.
    func userNamespaceLock(needed: Bool) throws(EngineError) -> Int32 {
        guard needed else { return -1 }
        let path = root + "/engine/userns.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw EngineError("locking \(path)", SystemError.message(errno)) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { close(fd); throw EngineError("locking \(path)", SystemError.message(errno)) }
        }
        return fd
    }

    static func validate(name: String) throws(EngineError) {
        let bytes = Array(name.utf8)
        let valid = bytes.count >= 2 && bytes.enumerated().allSatisfy { index, byte in
            let alnum = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
            return alnum || (index > 0 && (byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")))
        }
        if !valid {
            throw EngineError("Invalid container name (\(name))", "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        }
    }

    static func validate(_ host: HostConfig) throws(EngineError) {
        _ = try SecurityOptions.parse(host.SecurityOpt)
        if host.Memory < 0 { throw EngineError("invalid memory limit", "\(host.Memory)") }
        if host.Memory > 0 && host.Memory < 6 * 1024 * 1024 {
            throw EngineError("Minimum memory limit allowed is 6MB", "")
        }
        if host.MemorySwap > 0 && host.Memory > 0 && host.MemorySwap < host.Memory {
            throw EngineError("Minimum memoryswap limit should be larger than memory limit", "see --memory-swap")
        }
        if host.NanoCpus < 0 { throw EngineError("invalid --cpus", "it must be positive") }
        let online = Int64(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        if host.NanoCpus > online * 1_000_000_000 {
            throw EngineError("range of CPUs is from 0.01 to \(online).00", "as there are only \(online) CPUs available")
        }
        if host.BlkioWeight != 0 && !(10...1000).contains(host.BlkioWeight) {
            throw EngineError("invalid --blkio-weight \(host.BlkioWeight)", "it must be between 10 and 1000")
        }
        if host.RequestedIPv4 != nil && ["none", "host"].contains(host.NetworkMode) || host.NetworkMode.hasPrefix("container:") && host.RequestedIPv4 != nil {
            throw EngineError("invalid --ip", "a fixed address needs a bridge or user network")
        }
        if let ip = host.RequestedIPv4, Subnet.parse(ip) == nil { throw EngineError("invalid IPv4 address: \(ip)", "") }
        if !(host.PortBindings ?? [:]).isEmpty && (host.NetworkMode == "host" || host.NetworkMode == "none" || host.NetworkMode.hasPrefix("container:")) {
            throw EngineError("conflicting options: port publishing and the \(host.NetworkMode) network mode", "")
        }
        for mode in [host.PidMode, host.UTSMode] where !(mode.isEmpty || mode == "host" || mode.hasPrefix("container:")) {
            throw EngineError("invalid namespace mode \(mode)", "use host or container:NAME")
        }
        if !["", "private", "shareable", "host"].contains(host.IpcMode) && !host.IpcMode.hasPrefix("container:") {
            throw EngineError("invalid IPC mode \(host.IpcMode)", "use private, shareable, host or container:NAME")
        }
        if !["", "private", "host"].contains(host.CgroupnsMode) {
            throw EngineError("invalid cgroup namespace mode \(host.CgroupnsMode)", "use private or host")
        }
    }

    /// `aa:bb:cc:dd:ee:ff`, with the multicast bit clear (the kernel refuses a multicast address for an interface).
    static func isUnicastMAC(_ text: String) -> Bool {
        let octets = text.split(separator: ":", omittingEmptySubsequences: false)
        guard octets.count == 6, octets.allSatisfy({ $0.count == 2 && UInt8($0, radix: 16) != nil }) else { return false }
        return (UInt8(octets[0], radix: 16) ?? 1) & 1 == 0
    }

    /// The image's environment with the user's on top, one entry per name.
    static func mergeEnvironment(_ base: [String], _ overrides: [String]) -> [String] {
        var result = base
        for entry in overrides {
            let key = entry.split(separator: "=", maxSplits: 1).first.map(String.init) ?? entry
            result.removeAll { ($0.split(separator: "=", maxSplits: 1).first.map(String.init) ?? $0) == key }
            result.append(entry)
        }
        return result
    }

    static func newID() -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        if fd >= 0 { _ = read(fd, &bytes, 32); close(fd) } else { bytes = bytes.map { _ in UInt8.random(in: 0...255) } }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func now() -> String { Clock.rfc3339Now() }

    /// /etc/hostname, /etc/hosts and /etc/resolv.conf of the container, bind-mounted at start.
    func writeEtcFiles(_ record: ContainerInfo) throws(EngineError) {
        let directory = containerDirectory(record.Id)
        let host = record.HostConfig
        var hosts: String
        var resolv: String
        if host.NetworkMode == "host" {
            hosts = (try? Files.read("/etc/hosts")) ?? "127.0.0.1\tlocalhost\n"
            resolv = (try? Files.read("/etc/resolv.conf")) ?? ""
        } else {
            hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
                + "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
            if let address = record.Network?.attachments.first?.address {
                hosts += "\(address)\t\(record.Config.Hostname)\n"
            } else if !host.NetworkMode.hasPrefix("container:") {
                hosts += "127.0.1.1\t\(record.Config.Hostname)\n"
            }
            // docker's rule: the host's resolvers, without loopback ones (unreachable from a network namespace).
            let hostResolv = (try? Files.read("/etc/resolv.conf")) ?? ""
            var lines = hostResolv.split(separator: "\n").map(String.init).filter { line in
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                return !(fields.first == "nameserver" && fields.count > 1 && (fields[1].hasPrefix("127.") || fields[1] == "::1"))
            }
            // On a user network the names of its containers come from aardvark-dns on the gateway, which
            // forwards everything else to the host's resolvers.
            if let attachment = record.Network?.attachments.first(where: { $0.network != NetworkDefinition.defaultName }) {
                lines.removeAll { $0.hasPrefix("nameserver") }
                lines.insert("nameserver \(attachment.gateway)", at: 0)
            }
            if let servers = host.Dns, !servers.isEmpty {
                lines.removeAll { $0.hasPrefix("nameserver") }
                lines += servers.map { "nameserver \($0)" }
            }
            if let search = host.DnsSearch, !search.isEmpty {
                lines.removeAll { $0.hasPrefix("search") || $0.hasPrefix("domain") }
                lines.append("search " + search.joined(separator: " "))
            }
            if let options = host.DnsOptions, !options.isEmpty {
                lines.removeAll { $0.hasPrefix("options") }
                lines.append("options " + options.joined(separator: " "))
            }
            resolv = lines.joined(separator: "\n") + "\n"
        }
        for entry in host.ExtraHosts {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            if parts.count == 2 { hosts += "\(parts[1])\t\(parts[0])\n" }
        }
        // Rewritten in place once they exist: a running container has them bind-mounted, and a new inode would
        // not reach it (`network connect` changes resolv.conf).
        func write(_ name: String, _ content: String) throws(SystemError) {
            let path = directory + "/" + name
            if Files.exists(path) { try Files.write(path, content, flags: O_WRONLY | O_TRUNC | O_NOFOLLOW) } else { try Files.replace(path, Array(content.utf8), mode: 0o644) }
        }
        do {
            try write("hostname", record.Config.Hostname + "\n")
            try write("hosts", hosts)
            try write("resolv.conf", resolv)
        } catch {
            throw EngineError("writing the container's /etc files", error.description)
        }
    }
}

/// docker's random names: adjective_surname.
enum NameGenerator {
    static let left = ["admiring", "bold", "brave", "busy", "calm", "clever", "eager", "elastic", "focused", "gallant",
                       "happy", "jolly", "keen", "kind", "lucid", "modest", "nifty", "optimistic", "quirky", "serene",
                       "sharp", "stoic", "tender", "vibrant", "wizardly", "zealous"]
    static let right = ["babbage", "bohr", "curie", "darwin", "dijkstra", "euler", "feynman", "gauss", "hopper",
                        "hypatia", "kepler", "knuth", "lamarr", "lovelace", "meitner", "noether", "pascal", "ritchie",
                        "shannon", "thompson", "torvalds", "turing", "wozniak", "yonath"]

    static func unique(_ isFree: (String) -> Bool) -> String {
        for attempt in 0..<50 {
            var name = "\(left.randomElement() ?? "bold")_\(right.randomElement() ?? "turing")"
            if attempt > 5 { name += String(Int.random(in: 0..<10)) }
            if isFree(name) { return name }
        }
        return "berth_" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
    }
}
