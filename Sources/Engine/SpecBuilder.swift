import Foundation
import Glibc
import Images
import Linux
import OCISpec
import Cgroups

/// The OCI runtime config of an engine container: the image's config (through `RuntimeConfigBuilder`), then
/// docker's defaults and the user's flags — capabilities, masked paths, /dev/shm, the per-container
/// /etc/hostname, /etc/hosts and /etc/resolv.conf, volumes and binds, limits, namespaces.
struct SpecBuilder {
    let container: ContainerInfo
    let image: ImageConfig
    let rootfs: String
    let directory: String
    /// Resolved mounts: (destination, source on the host, read-only), volumes and binds alike.
    let volumeMounts: [(destination: String, source: String, readOnly: Bool)]
    let initBinary: String?
    let namespacePaths: [String: String]

    /// docker's default capability set (moby's oci/caps defaults, docker 28).
    static let defaultCapabilities = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                                      "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                                      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
    /// docker 28's masked paths: /proc/interrupts and each CPU's thermal_throttle counters leak what other
    /// tenants do (GHSA-6fw5-f8r9-fgfm), powercap their energy use (GHSA-jq35-85cj-fj4p).
    static let maskedPaths: [String] = {
        var paths = ["/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                     "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                     "/sys/devices/virtual/powercap"]
        for cpu in possibleCPUs() {
            let path = "/sys/devices/system/cpu/cpu\(cpu)/thermal_throttle"
            if Files.exists(path) { paths.append(path) }
        }
        return paths
    }()
    static let readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

    func build() throws(EngineError) -> Spec {
        let config = container.Config
        let host = container.HostConfig
        var execution = image.config ?? ImageConfig.Execution()
        execution.Entrypoint = config.Entrypoint
        execution.Cmd = config.Cmd
        execution.Env = config.Env
        execution.WorkingDir = config.WorkingDir.isEmpty ? nil : config.WorkingDir
        execution.User = config.User
        var imageConfig = image
        imageConfig.config = execution
        var spec: Spec
        do {
            spec = try RuntimeConfigBuilder.spec(for: imageConfig, rootfs: rootfs, terminal: config.Tty)
        } catch {
            throw EngineError("unable to find user \(config.User)", error.description)
        }
        guard var process = spec.process else { throw EngineError("building the container's config", "no process") }
        if initBinary != nil { process.args = ["/sbin/berth-init", "--"] + (process.args ?? []) }
        process.rlimits = host.Ulimits.isEmpty ? nil : try host.Ulimits.map { (limit) throws(EngineError) in
            guard let name = Self.rlimitNames[limit.Name] else { throw EngineError("invalid ulimit", "unknown limit \(limit.Name)") }
            return Spec.Rlimit(type: name, hard: UInt64(bitPattern: limit.Hard), soft: UInt64(bitPattern: limit.Soft))
        }
        let security = try SecurityOptions.parse(host.SecurityOpt)
        process.capabilities = capabilities(host)
        process.noNewPrivileges = security.noNewPrivileges
        // Always written, as docker does: left out, the container would inherit the monitor's -1000, and an
        // OOM in its cgroup would find no process it may kill (the kernel then loops, the container hangs).
        process.oomScoreAdj = host.OomScoreAdj
        if !host.GroupAdd.isEmpty {
            var groups = process.user.additionalGids ?? []
            for group in host.GroupAdd {
                guard let gid = UInt32(group) ?? Self.groupID(named: group, rootfs: rootfs) else {
                    throw EngineError("unable to find group \(group)", "no such group in the image's /etc/group")
                }
                if !groups.contains(gid) { groups.append(gid) }
            }
            process.user.additionalGids = groups
        }
        spec.process = process
        spec.hostname = config.Hostname
        if !config.Domainname.isEmpty { spec.domainname = config.Domainname }
        spec.root = Spec.Root(path: rootfs, readonly: host.ReadonlyRootfs)
        spec.mounts = mounts(host, writableCgroups: security.writableCgroups ?? host.Privileged)
        var annotations = spec.annotations ?? [:]
        annotations["io.berth.container.name"] = container.Name
        spec.annotations = annotations

        var linux = spec.linux ?? Spec.Linux()
        linux.namespaces = try namespaces(host)
        if let map = UserNamespaces.map(of: host) {
            linux.namespaces?.append(Spec.Namespace(type: "user"))
            linux.uidMappings = map.uids.map { IDMapping(containerID: $0.inside, hostID: $0.outside, size: $0.count) }
            linux.gidMappings = map.gids.map { IDMapping(containerID: $0.inside, hostID: $0.outside, size: $0.count) }
        }
        linux.cgroupsPath = Rootless.cgroupsPath(for: container.Id)
        linux.resources = try resources(host)
        linux.sysctl = host.Sysctls.isEmpty ? nil : host.Sysctls
        linux.maskedPaths = host.Privileged ? [] : Self.maskedPaths
        linux.readonlyPaths = host.Privileged ? [] : Self.readonlyPaths
        linux.devices = try devices(host)
        linux.seccomp = Self.seccomp(security.seccomp, privileged: host.Privileged, capabilities: process.capabilities?.bounding ?? [])
        spec.linux = linux
        return spec
    }

    /// docker's rules: privileged is every capability the kernel has; `--cap-add ALL` is all of them but the
    /// dropped ones; `--cap-drop ALL` is just the added ones; otherwise the defaults, minus drops, plus adds.
    private func capabilities(_ host: HostConfig) -> Spec.Capabilities {
        let normalize = { (name: String) -> String in
            let upper = name.uppercased()
            return upper == "ALL" || upper.hasPrefix("CAP_") ? upper : "CAP_" + upper
        }
        let adds = host.CapAdd.map(normalize), drops = host.CapDrop.map(normalize)
        var set: [String]
        if host.Privileged {
            set = Capabilities.hostBoundingSet()
        } else if adds.contains("ALL") {
            set = Capabilities.hostBoundingSet().filter { !drops.contains($0) }
        } else if drops.contains("ALL") {
            set = adds
        } else {
            set = Self.defaultCapabilities.filter { !drops.contains($0) }
            for cap in adds where !set.contains(cap) { set.append(cap) }
        }
        var unique: [String] = []
        for cap in set where !unique.contains(cap) { unique.append(cap) }
        return Spec.Capabilities(bounding: unique, effective: unique, inheritable: nil, permitted: unique, ambient: nil)
    }

    /// docker's choice of profile: none when unconfined, none for a privileged container that asked for
    /// nothing, else the one asked for or the built-in one — with the rules its bounding set allows.
    static func seccomp(_ choice: SecurityOptions.Seccomp, privileged: Bool, capabilities: [String]) -> Spec.Seccomp? {
        switch choice {
        case .unconfined: return nil
        case .implicitDefault: return privileged ? nil : SeccompProfile.builtin.oci(capabilities: capabilities)
        case .builtin: return SeccompProfile.builtin.oci(capabilities: capabilities)
        case .profile(let profile): return profile.oci(capabilities: capabilities)
        }
    }

    private func mounts(_ host: HostConfig, writableCgroups: Bool) -> [Spec.Mount] {
        var mounts: [Spec.Mount] = [
            Spec.Mount(destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"]),
            Spec.Mount(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            Spec.Mount(destination: "/dev/pts", type: "devpts", source: "devpts",
                       options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
            Spec.Mount(destination: "/sys", type: "sysfs", source: "sysfs",
                       options: ["nosuid", "noexec", "nodev", host.Privileged ? "rw" : "ro"]),
            Spec.Mount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup",
                       options: ["nosuid", "noexec", "nodev", "relatime", writableCgroups ? "rw" : "ro"]),
            Spec.Mount(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
        ]
        if host.IpcMode != "host" && !host.IpcMode.hasPrefix("container:") {
            mounts.append(Spec.Mount(destination: "/dev/shm", type: "tmpfs", source: "shm",
                                     options: ["nosuid", "noexec", "nodev", "mode=1777", "size=\(host.ShmSize)"]))
        }
        for file in ["hostname", "hosts", "resolv.conf"] {
            mounts.append(Spec.Mount(destination: "/etc/" + file, type: "bind", source: directory + "/" + file,
                                     options: ["rbind", "rprivate", host.ReadonlyRootfs ? "ro" : "rw"]))
        }
        if let initBinary {
            mounts.append(Spec.Mount(destination: "/sbin/berth-init", type: "bind", source: initBinary, options: ["bind", "ro", "rprivate"]))
        }
        var user: [Spec.Mount] = []
        for volume in volumeMounts {
            user.append(Spec.Mount(destination: volume.destination, type: "bind", source: volume.source,
                                   options: ["rbind", "rprivate", volume.readOnly ? "ro" : "rw"]))
        }
        for (destination, options) in host.Tmpfs {
            var list = ["nosuid", "nodev", "noexec"]
            if !options.isEmpty { list += options.split(separator: ",").map(String.init) }
            if !list.contains(where: { $0.hasPrefix("mode=") }) { list.append("mode=1777") }
            user.append(Spec.Mount(destination: destination, type: "tmpfs", source: "tmpfs", options: list))
        }
        for mount in host.Mounts where mount.Type == "tmpfs" {
            var list = ["nosuid", "nodev"]
            if let size = mount.TmpfsSize { list.append("size=\(size)") }
            list.append("mode=" + String(mount.TmpfsMode ?? 0o1777, radix: 8))
            if mount.ReadOnly { list.append("ro") }
            user.append(Spec.Mount(destination: mount.Target, type: "tmpfs", source: "tmpfs", options: list))
        }
        // A parent before what is mounted inside it, as docker orders them.
        user.sort { $0.destination.split(separator: "/").count < $1.destination.split(separator: "/").count }
        // A user mount replaces a default one at the same place (`--tmpfs /dev/shm`, `-v …:/etc/hosts`).
        let taken = Set(user.map(\.destination))
        return mounts.filter { !taken.contains($0.destination) } + user
    }

    private func namespaces(_ host: HostConfig) throws(EngineError) -> [Spec.Namespace] {
        var list: [Spec.Namespace] = [Spec.Namespace(type: "mount")]
        func add(_ type: String, mode: String, defaultNew: Bool = true) throws(EngineError) {
            if mode == "host" { return }
            if mode.hasPrefix("container:") {
                guard let path = namespacePaths[type] else { throw EngineError("joining the \(type) namespace of \(mode)", "it is not running") }
                list.append(Spec.Namespace(type: type, path: path))
                return
            }
            if mode.isEmpty && !defaultNew { return }
            list.append(Spec.Namespace(type: type))
        }
        try add("pid", mode: host.PidMode)
        try add("ipc", mode: host.IpcMode == "private" || host.IpcMode == "shareable" ? "" : host.IpcMode)
        try add("uts", mode: host.UTSMode)
        if let path = namespacePaths["network"], !host.NetworkMode.hasPrefix("container:") {
            list.append(Spec.Namespace(type: "network", path: path))   // made and set up by CNI before the container
        } else {
            try add("network", mode: host.NetworkMode == "none" || host.NetworkMode == "default" || host.NetworkMode == "bridge" ? "" : host.NetworkMode)
        }
        // docker: a private cgroup namespace by default on cgroup v2, the host's on v1.
        let cgroupDefault = CgroupDefaults.isUnifiedOnly ? "private" : "host"
        let cgroupMode = host.CgroupnsMode.isEmpty ? cgroupDefault : host.CgroupnsMode
        if cgroupMode == "private" { list.append(Spec.Namespace(type: "cgroup")) }
        return list
    }

    private func resources(_ host: HostConfig) throws(EngineError) -> Resources {
        var resources = Self.limits(host)
        if host.Privileged {
            resources.devices = [Resources.DeviceRule(allow: true, access: "rwm")]
        } else if !host.Devices.isEmpty {
            resources.devices = try host.Devices.map { (device) throws(EngineError) in
                let node = try Self.deviceNode(device.PathOnHost)
                return Resources.DeviceRule(allow: true, type: node.type, major: node.major, minor: node.minor,
                                            access: device.CgroupPermissions)
            }
        }
        return resources
    }

    /// docker's memory, CPU, pids and blkio flags as `linux.resources` (shared by create and `update`).
    static func limits(_ host: HostConfig) -> Resources {
        var resources = Resources()
        if host.Memory > 0 || host.MemoryReservation > 0 || host.MemorySwap != 0 || host.OomKillDisable {
            var memory = Resources.Memory(limit: host.Memory > 0 ? host.Memory : nil,
                                          reservation: host.MemoryReservation > 0 ? host.MemoryReservation : nil)
            if host.MemorySwap != 0 { memory.swap = host.MemorySwap }
            else if host.Memory > 0 { memory.swap = host.Memory * 2 }   // docker: swap as much as memory
            if host.OomKillDisable { memory.disableOOMKiller = true }
            resources.memory = memory
        }
        if host.NanoCpus > 0 || host.CpuShares > 0 || !host.CpusetCpus.isEmpty || !host.CpusetMems.isEmpty {
            let period: UInt64 = 100_000
            resources.cpu = Resources.CPU(shares: host.CpuShares > 0 ? UInt64(host.CpuShares) : nil,
                                          quota: host.NanoCpus > 0 ? host.NanoCpus * Int64(period) / 1_000_000_000 : nil,
                                          period: host.NanoCpus > 0 ? period : nil,
                                          cpus: host.CpusetCpus.isEmpty ? nil : host.CpusetCpus,
                                          mems: host.CpusetMems.isEmpty ? nil : host.CpusetMems)
        }
        if let pids = host.PidsLimit, pids != 0 { resources.pids = Resources.Pids(limit: pids) }
        if host.BlkioWeight > 0 {
            var io = Resources.BlockIO()
            io.weight = host.BlkioWeight
            resources.blockIO = io
        }
        return resources
    }

    private func devices(_ host: HostConfig) throws(EngineError) -> [Spec.Device]? {
        var devices = host.Privileged ? Self.hostDevices() : []
        for device in host.Devices where !(host.Privileged && device.PathOnHost == device.PathInContainer) {
            let node = try Self.deviceNode(device.PathOnHost)
            devices.append(Spec.Device(type: node.type, path: device.PathInContainer, major: node.major, minor: node.minor,
                                       fileMode: node.mode, uid: 0, gid: 0))
        }
        return devices.isEmpty ? nil : devices
    }

    /// A privileged container gets the host's device nodes, as docker does (containerd's HostDevices): every
    /// character and block device under /dev, not following symlinks, without the per-container trees
    /// (pts, shm, mqueue, fd) and without the host's console.
    static func hostDevices(under directory: String = "/dev") -> [Spec.Device] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var devices: [Spec.Device] = []
        for name in names.sorted() {
            let path = directory + "/" + name
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                if directory == "/dev" && ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"].contains(name) { continue }
                devices += hostDevices(under: path)
            case S_IFCHR, S_IFBLK:
                if path == "/dev/console" { continue }
                devices.append(Spec.Device(type: st.st_mode & S_IFMT == S_IFCHR ? "c" : "b", path: path,
                                           major: Int64(Devices.major(UInt64(st.st_rdev))), minor: Int64(Devices.minor(UInt64(st.st_rdev))),
                                           fileMode: UInt32(st.st_mode & 0o7777), uid: st.st_uid, gid: st.st_gid))
            default: continue
            }
        }
        return devices
    }

    /// The CPUs the kernel may ever bring up (/sys/devices/system/cpu/possible, e.g. "0-3,8").
    static func possibleCPUs() -> [Int] {
        guard let text = try? Files.read("/sys/devices/system/cpu/possible") else { return [] }
        var cpus: [Int] = []
        for range in text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
            let bounds = range.split(separator: "-").compactMap { Int($0) }
            if bounds.count == 2, bounds[0] <= bounds[1] { cpus += Array(bounds[0]...bounds[1]) } else if bounds.count == 1 { cpus.append(bounds[0]) }
        }
        return cpus
    }

    static func deviceNode(_ path: String) throws(EngineError) -> (type: String, major: Int64, minor: Int64, mode: UInt32) {
        var st = stat()
        guard stat(path, &st) == 0 else { throw EngineError("error gathering device information while adding custom device \"\(path)\"", SystemError.message(errno)) }
        let kind = st.st_mode & S_IFMT
        guard kind == S_IFCHR || kind == S_IFBLK else {
            throw EngineError("error gathering device information while adding custom device \"\(path)\"", "not a device node")
        }
        return (kind == S_IFCHR ? "c" : "b", Int64(Devices.major(UInt64(st.st_rdev))), Int64(Devices.minor(UInt64(st.st_rdev))), UInt32(st.st_mode & 0o7777))
    }

    static func groupID(named name: String, rootfs: String) -> UInt32? {
        guard let text = try? Files.read(rootfs + "/etc/group") else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count >= 3, fields[0] == name { return UInt32(fields[2]) }
        }
        return nil
    }

    static let rlimitNames: [String: String] = [
        "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
        "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE",
        "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
        "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK", "as": "RLIMIT_AS",
    ]
}

enum CgroupDefaults {
    /// A cgroup2-only host (no v1 controllers mounted).
    static var isUnifiedOnly: Bool {
        Cgroups.detectMode() == .unified
    }
}
