import Glibc
import Linux
import OCISpec

/// A cgroup in the unified (v2) hierarchy: one directory, controllers enabled from the root down
/// through each ancestor's cgroup.subtree_control.
public struct CgroupV2Manager: CgroupManager {
    public let path: String
    public let mount: CgroupMount
    public let directory: String

    public init(path: String) throws(CgroupError) {
        try self.init(path: path, mounts: Cgroups.mounts(), own: (try? Cgroups.memberships(pid: 0)) ?? [])
    }

    init(path: String, mounts: [CgroupMount], own: [Membership]) throws(CgroupError) {
        guard let unified = mounts.first(where: { $0.version == 2 }) else {
            throw CgroupError("find cgroup2 mount", path: "/proc/self/mountinfo", reason: "cgroup2 is not mounted")
        }
        self.path = path
        self.mount = unified
        self.directory = try Cgroups.resolve(path, in: unified, own: own)
    }

    /// Controllers available to this cgroup (its parent's cgroup.controllers, or its own once created).
    public func availableControllers() -> Set<String> {
        let dir = Files.isDirectory(directory) ? directory : parent(of: directory)
        return Set(((try? CgroupFile.read(dir, "cgroup.controllers")) ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }

    func parent(of dir: String) -> String {
        guard let slash = dir.lastIndex(of: "/"), dir != mount.mountPoint else { return dir }
        return String(dir[..<slash])
    }

    // MARK: lifecycle

    public func create() throws(CgroupError) {
        try create(enabling: nil)
    }

    /// Creates the cgroup, enabling `controllers` (all available when nil) in each ancestor.
    public func create(enabling controllers: Set<String>?) throws(CgroupError) {
        // Walk from the mount point down, creating each level and delegating every available
        // controller to the next one. Enabling fails on a cgroup that itself holds processes
        // (the "no internal processes" rule), except at the root: those failures are left to the
        // writes that need the controller, which then name the file.
        let relative = directory.dropFirst(mount.mountPoint.count)
        var current = mount.mountPoint
        for component in relative.split(separator: "/") {
            enableControllers(in: current, only: controllers)
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw CgroupError("create cgroup", path: current, reason: SystemError.message(errno))
            }
        }
    }

    func enableControllers(in dir: String, only: Set<String>?) {
        let available = ((try? CgroupFile.read(dir, "cgroup.controllers")) ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" })
        let enabled = Set(((try? CgroupFile.read(dir, "cgroup.subtree_control")) ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" }))
        for controller in available where !enabled.contains(controller) && (only?.contains(String(controller)) ?? true) {
            try? CgroupFile.write(dir, "cgroup.subtree_control", "+" + controller)
        }
    }

    public func destroy() throws(CgroupError) {
        try Cgroups.removeCgroupDirectory(directory)
    }

    public func exists() -> Bool { Files.isDirectory(directory) }

    public func addProcess(_ pid: Int32) throws(CgroupError) {
        guard Cgroups.processExists(pid) else {
            throw CgroupError("add process \(pid) to", path: path, reason: "no process with PID \(pid)")
        }
        try CgroupFile.write(directory, "cgroup.procs", String(pid))
    }

    /// Moves a single thread (needs a threaded subtree: cgroup.type = threaded).
    public func addThread(_ tid: Int32) throws(CgroupError) {
        try CgroupFile.write(directory, "cgroup.threads", String(tid))
    }

    public func processes() throws(CgroupError) -> [Int32] {
        Array(Set(Cgroups.processesRecursive(directory))).sorted()
    }

    // MARK: freezer

    public func freeze() throws(CgroupError) {
        try setFrozen(true)
    }

    public func thaw() throws(CgroupError) {
        try setFrozen(false)
    }

    func setFrozen(_ frozen: Bool) throws(CgroupError) {
        guard CgroupFile.exists(directory, "cgroup.freeze") else {
            throw CgroupError(frozen ? "freeze" : "thaw", path: CgroupFile.path(directory, "cgroup.freeze"),
                              reason: "the cgroup freezer needs Linux 5.2 or later")
        }
        try CgroupFile.write(directory, "cgroup.freeze", frozen ? "1" : "0")
        var delay: UInt32 = 100
        for _ in 0..<300 {
            if try isFrozen() == frozen { return }
            usleep(delay)
            delay = min(delay * 2, 10_000)
        }
        if frozen { try? CgroupFile.write(directory, "cgroup.freeze", "0") }
        throw CgroupError(frozen ? "freeze" : "thaw", path: CgroupFile.path(directory, "cgroup.events"),
                          reason: frozen ? "tasks did not freeze in time (rolled back)" : "still frozen")
    }

    public func isFrozen() throws(CgroupError) -> Bool {
        let text = try CgroupFile.read(directory, "cgroup.events")
        return text.split(separator: "\n").contains("frozen 1")
    }

    public func killAll(signal: Int32) throws(CgroupError) {
        if signal == SIGKILL && CgroupFile.exists(directory, "cgroup.kill") {
            try CgroupFile.write(directory, "cgroup.kill", "1")
            return
        }
        var frozen = false
        if CgroupFile.exists(directory, "cgroup.freeze"), (try? isFrozen()) == false { frozen = (try? freeze()) != nil }
        Cgroups.signalAll(try processes(), signal)
        if frozen { try thaw() }
    }

    // MARK: limits

    public func apply(_ r: Resources) throws(CgroupError) {
        try ResourceValidation.validate(r)
        // Conversions that can fail are done before any write.
        let swapMax = try CgroupConversions.swapMax(limit: r.memory?.limit, swap: r.memory?.swap)
        if let c = r.cpu, (c.realtimeRuntime ?? 0) != 0 || (c.realtimePeriod ?? 0) != 0 {
            throw CgroupError("set cpu realtime", path: path, reason: "cgroup v2 has no realtime (cpu.rt_*) interface")
        }
        if let n = r.network, n.classID != nil || !(n.priorities ?? []).isEmpty {
            throw CgroupError("set network classID/priorities", path: path,
                              reason: "net_cls and net_prio are cgroup v1 only")
        }

        if let m = r.memory {
            if m.checkBeforeUpdate == true, let limit = m.limit, limit > 0 {
                let usage = CgroupFile.number(directory, "memory.current")
                if UInt64(limit) < usage {
                    throw CgroupError("set memory limit", path: CgroupFile.path(directory, "memory.max"),
                                      reason: "new limit \(limit) is below current usage \(usage) (checkBeforeUpdate)")
                }
            }
            // memory.swap.max first: a config that disables swap must not see the limit rise with swap on.
            if let swapMax {
                // Without swap accounting there is no memory.swap.max; "no swap" is then already true.
                if CgroupFile.exists(directory, "memory.swap.max") || swapMax != "0" {
                    try CgroupFile.write(directory, "memory.swap.max", swapMax)
                }
            }
            if let l = m.limit, l != 0 { try CgroupFile.write(directory, "memory.max", l == -1 ? "max" : String(l)) }
            if let rsv = m.reservation, rsv != 0 {
                try CgroupFile.write(directory, "memory.low", rsv == -1 ? "max" : String(rsv))
            }
            // swappiness, disableOOMKiller and kernel limits have no v2 interface: ignored, as runc and crun do.
        }
        if let c = r.cpu {
            if let s = c.shares, s != 0 {
                try CgroupFile.write(directory, "cpu.weight", String(CgroupConversions.cpuWeight(fromShares: s)))
            }
            if c.quota != nil || (c.period ?? 0) != 0 {
                var quota = "max"
                var period = "100000"
                if let current = try? CgroupFile.readTrimmed(directory, "cpu.max") {
                    let f = current.split(separator: " ")
                    if f.count == 2 { quota = String(f[0]); period = String(f[1]) }
                }
                if let q = c.quota, q != 0 { quota = q < 0 ? "max" : String(q) }
                if let p = c.period, p != 0 { period = String(p) }
                try CgroupFile.write(directory, "cpu.max", "\(quota) \(period)")
            }
            if let b = c.burst { try CgroupFile.write(directory, "cpu.max.burst", String(b)) }
            if let i = c.idle { try CgroupFile.write(directory, "cpu.idle", String(i)) }
            if let cpus = c.cpus, !cpus.isEmpty { try CgroupFile.write(directory, "cpuset.cpus", cpus) }
            if let mems = c.mems, !mems.isEmpty { try CgroupFile.write(directory, "cpuset.mems", mems) }
        }
        if let p = r.pids {
            try CgroupFile.write(directory, "pids.max", p.limit > 0 ? String(p.limit) : "max")
        }
        if let b = r.blockIO { try applyIO(b) }
        for h in r.hugepageLimits ?? [] {
            try CgroupFile.write(directory, "hugetlb.\(h.pageSize).max", String(h.limit))
        }
        for (device, limit) in (r.rdma ?? [:]).sorted(by: { $0.key < $1.key }) {
            try CgroupFile.write(directory, "rdma.max", RDMALine.make(device: device, limit))
        }
        // Loading a cgroup device program needs CAP_BPF or CAP_SYS_ADMIN over the host's user namespace, which root
        // of another one (rootless, in a delegated subtree) lacks. As runc's rootless mode, the rules are left out
        // there: such a root cannot mknod, and the container's device nodes are bind mounts of the host's.
        if let devices = r.devices, !devices.isEmpty, UserNamespaceFacts.isInitial {
            try DeviceFilter.attach(devices, to: directory)
        }
        for (key, value) in (r.unified ?? [:]).sorted(by: { $0.key < $1.key }) {
            try CgroupFile.write(directory, key, value)
        }
    }

    func applyIO(_ b: Resources.BlockIO) throws(CgroupError) {
        // With BFQ, io.bfq.weight takes v1's 1…1000 range unchanged; io.weight needs the conversion.
        let bfq = CgroupFile.exists(directory, "io.bfq.weight")
        if let w = b.weight, w != 0 {
            if bfq {
                try CgroupFile.write(directory, "io.bfq.weight", String(w))
            } else {
                try CgroupFile.write(directory, "io.weight",
                                     "default \(CgroupConversions.ioWeight(fromBlkioWeight: UInt64(w)))")
            }
        }
        for d in b.weightDevice ?? [] {
            guard let w = d.weight else { continue }
            if bfq {
                try CgroupFile.write(directory, "io.bfq.weight", "\(d.major):\(d.minor) \(w)")
            } else {
                try CgroupFile.write(directory, "io.weight",
                                     "\(d.major):\(d.minor) \(CgroupConversions.ioWeight(fromBlkioWeight: UInt64(w)))")
            }
        }
        let throttles: [(String, [Resources.ThrottleDevice]?)] = [
            ("rbps", b.throttleReadBpsDevice), ("wbps", b.throttleWriteBpsDevice),
            ("riops", b.throttleReadIOPSDevice), ("wiops", b.throttleWriteIOPSDevice),
        ]
        for (key, devices) in throttles {
            for d in devices ?? [] {
                try CgroupFile.write(directory, "io.max", "\(d.major):\(d.minor) \(key)=\(d.rate == 0 ? "max" : String(d.rate))")
            }
        }
    }

    // MARK: accounting

    public func stats() throws(CgroupError) -> CgroupStats {
        var s = CgroupStats()
        let dir = directory
        guard Files.isDirectory(dir) else {
            throw CgroupError("read stats", path: dir, reason: "no such cgroup")
        }
        let cpu = CgroupFile.keyValues(dir, "cpu.stat")
        s.cpu.usage.total = (cpu["usage_usec"] ?? 0) * 1000
        s.cpu.usage.user = (cpu["user_usec"] ?? 0) * 1000
        s.cpu.usage.kernel = (cpu["system_usec"] ?? 0) * 1000
        s.cpu.throttling.periods = cpu["nr_periods"] ?? 0
        s.cpu.throttling.throttledPeriods = cpu["nr_throttled"] ?? 0
        s.cpu.throttling.throttledTime = (cpu["throttled_usec"] ?? 0) * 1000
        s.cpuset.cpus = CPUList.parse((try? CgroupFile.read(dir, "cpuset.cpus.effective")) ?? "") ?? []
        s.cpuset.mems = CPUList.parse((try? CgroupFile.read(dir, "cpuset.mems.effective")) ?? "") ?? []

        let raw = CgroupFile.keyValues(dir, "memory.stat")
        s.memory.raw = raw
        s.memory.cache = raw["file"] ?? 0
        s.memory.usage.usage = CgroupFile.number(dir, "memory.current")
        s.memory.usage.max = CgroupFile.number(dir, "memory.peak")
        s.memory.usage.limit = (try? CgroupFile.readNumber(dir, "memory.max")).flatMap { $0 } ?? 0
        s.memory.swap.usage = CgroupFile.number(dir, "memory.swap.current")
        s.memory.swap.max = CgroupFile.number(dir, "memory.swap.peak")
        s.memory.swap.limit = (try? CgroupFile.readNumber(dir, "memory.swap.max")).flatMap { $0 } ?? 0
        let events = CgroupFile.keyValues(dir, "memory.events")
        s.memory.eventCount.low = events["low"] ?? 0
        s.memory.eventCount.high = events["high"] ?? 0
        s.memory.eventCount.max = events["max"] ?? 0
        s.memory.eventCount.oom = events["oom"] ?? 0
        s.memory.eventCount.oomKill = events["oom_kill"] ?? 0
        s.memory.usage.failcnt = events["max"] ?? 0

        s.cpu.psi = (try? CgroupFile.read(dir, "cpu.pressure")).flatMap(CgroupStats.PSIStats.init(text:))
        s.memory.psi = (try? CgroupFile.read(dir, "memory.pressure")).flatMap(CgroupStats.PSIStats.init(text:))
        s.blkio.psi = (try? CgroupFile.read(dir, "io.pressure")).flatMap(CgroupStats.PSIStats.init(text:))

        s.pids.current = CgroupFile.number(dir, "pids.current")
        s.pids.limit = (try? CgroupFile.readNumber(dir, "pids.max")).flatMap { $0 } ?? 0

        if let text = try? CgroupFile.read(dir, "io.stat") {
            for line in text.split(separator: "\n") {
                let f = line.split(separator: " ")
                guard let devField = f.first else { continue }
                let dev = devField.split(separator: ":")
                guard dev.count == 2, let major = UInt64(dev[0]), let minor = UInt64(dev[1]) else { continue }
                var kv: [String: UInt64] = [:]
                for pair in f.dropFirst() {
                    let p = pair.split(separator: "=")
                    if p.count == 2, let v = UInt64(p[1]) { kv[String(p[0])] = v }
                }
                s.blkio.ioServiceBytesRecursive += [
                    .init(major: major, minor: minor, op: "Read", value: kv["rbytes"] ?? 0),
                    .init(major: major, minor: minor, op: "Write", value: kv["wbytes"] ?? 0),
                ]
                s.blkio.ioServicedRecursive += [
                    .init(major: major, minor: minor, op: "Read", value: kv["rios"] ?? 0),
                    .init(major: major, minor: minor, op: "Write", value: kv["wios"] ?? 0),
                ]
            }
        }
        if let names = try? Files.listDirectory(dir) {
            for name in names where name.hasPrefix("hugetlb.") && name.hasSuffix(".current") {
                let size = String(name.dropFirst(8).dropLast(8))
                var h = CgroupStats.Hugetlb()
                h.usage = CgroupFile.number(dir, name)
                h.max = CgroupFile.number(dir, "hugetlb.\(size).max")
                h.failcnt = CgroupFile.keyValues(dir, "hugetlb.\(size).events")["max"] ?? 0
                s.hugetlb[size] = h
            }
        }
        return s
    }
}
