import Glibc
import Linux
import OCISpec

/// A cgroup on a legacy or hybrid host: one directory per v1 hierarchy (a hierarchy may carry several
/// subsystems, e.g. `cpu,cpuacct`), plus the directory in the unified tree on hybrid hosts.
public struct CgroupV1Manager: CgroupManager {
    public struct Placement: Sendable, Equatable {
        public var mount: CgroupMount
        public var directory: String
    }

    public let path: String
    /// v1 hierarchies with subsystems and name=systemd, then the unified tree (hybrid) if mounted.
    public let placements: [Placement]

    public init(path: String) throws(CgroupError) {
        try self.init(path: path, mounts: Cgroups.mounts(), own: (try? Cgroups.memberships(pid: 0)) ?? [])
    }

    init(path: String, mounts: [CgroupMount], own: [Membership]) throws(CgroupError) {
        self.path = path
        var out: [Placement] = []
        // name=systemd carries no controller, but runc puts every container (and exec) there too, and
        // systemd and tools read a process's unit from it.
        for mount in mounts where mount.version == 1 && (!mount.subsystems.isEmpty || mount.name == "systemd") {
            out.append(Placement(mount: mount, directory: try Cgroups.resolve(path, in: mount, own: own)))
        }
        if let unified = mounts.first(where: { $0.version == 2 }) {
            out.append(Placement(mount: unified, directory: try Cgroups.resolve(path, in: unified, own: own)))
        }
        guard out.contains(where: { $0.mount.version == 1 && !$0.mount.subsystems.isEmpty }) else {
            throw CgroupError("find cgroup v1 hierarchies", path: "/proc/self/mountinfo", reason: "none is mounted")
        }
        placements = out
    }

    /// A manager over a chosen subset of hierarchies (the toolkit's `create -c`).
    public init(path: String, placements: [Placement]) {
        self.path = path
        self.placements = placements
    }

    /// The directory for a subsystem (`memory`), or nil if that subsystem is not mounted.
    public func directory(for subsystem: String) -> String? {
        placements.first { $0.mount.version == 1 && $0.mount.subsystems.contains(subsystem) }?.directory
    }

    /// The unified-tree directory on a hybrid host.
    public var unifiedDirectory: String? { placements.first { $0.mount.version == 2 }?.directory }

    func require(_ subsystem: String, for what: String) throws(CgroupError) -> String {
        guard let dir = directory(for: subsystem) else {
            throw CgroupError("set \(what)", path: path, reason: "the \(subsystem) controller is not mounted (see /proc/cgroups)")
        }
        return dir
    }

    // MARK: lifecycle

    public func create() throws(CgroupError) {
        for placement in placements {
            if placement.mount.subsystems.contains("cpuset") {
                try createCpuset(placement)
            } else {
                do { try Files.makeDirectories(placement.directory) } catch {
                    throw CgroupError("create cgroup", path: error.subject, reason: SystemError.message(error.errno))
                }
            }
        }
    }

    /// A new v1 cpuset cgroup starts with empty cpus and mems, and no task can join it until both are
    /// set; fill every new level from its parent.
    func createCpuset(_ placement: Placement) throws(CgroupError) {
        let base = placement.mount.mountPoint
        let relative = placement.directory.dropFirst(base.count)
        var current = base
        for component in relative.split(separator: "/") {
            let parent = current
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw CgroupError("create cgroup", path: current, reason: SystemError.message(errno))
            }
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let mine = (try? CgroupFile.readTrimmed(current, file)) ?? ""
                if mine.isEmpty {
                    try CgroupFile.write(current, file, try CgroupFile.readTrimmed(parent, file))
                }
            }
        }
    }

    public func destroy() throws(CgroupError) {
        var firstError: CgroupError?
        for placement in placements.reversed() {
            do { try Cgroups.removeCgroupDirectory(placement.directory) } catch {
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
    }

    public func exists() -> Bool {
        placements.contains { $0.mount.version == 1 && Files.isDirectory($0.directory) }
    }

    public func addProcess(_ pid: Int32) throws(CgroupError) {
        guard Cgroups.processExists(pid) else {
            throw CgroupError("add process \(pid) to", path: path, reason: "no process with PID \(pid)")
        }
        for placement in placements {
            do {
                try CgroupFile.write(placement.directory, "cgroup.procs", String(pid))
            } catch {
                // The unified tree of a hybrid host is bookkeeping only; a refusal there is not fatal.
                if placement.mount.version == 2 { continue }
                throw error
            }
        }
    }

    /// Moves a single thread (v1 `tasks`).
    public func addThread(_ tid: Int32) throws(CgroupError) {
        for placement in placements where placement.mount.version == 1 {
            try CgroupFile.write(placement.directory, "tasks", String(tid))
        }
    }

    /// Every task in any of the container's hierarchies, the unified tree of a hybrid host included: an init
    /// is cloned straight into its unified cgroup and joins the v1 ones itself only after `go`, so a create
    /// that dies in between leaves a task that only the unified tree knows of (and that kill-all must reach).
    public func processes() throws(CgroupError) -> [Int32] {
        var all = Set<Int32>()
        for placement in placements {
            all.formUnion(Cgroups.processesRecursive(placement.directory))
        }
        return all.sorted()
    }

    // MARK: freezer

    public func freeze() throws(CgroupError) {
        let dir = try require("freezer", for: "freezer state")
        try CgroupFile.write(dir, "freezer.state", "FROZEN")
        var delay: UInt32 = 100
        for attempt in 1...400 {
            let state = try CgroupFile.readTrimmed(dir, "freezer.state")
            if state == "FROZEN" { return }
            // A task in an uninterruptible sleep can keep the group FREEZING; thaw and retry, as runc does.
            if attempt % 50 == 0 {
                try CgroupFile.write(dir, "freezer.state", "THAWED")
                usleep(1000)
                try CgroupFile.write(dir, "freezer.state", "FROZEN")
            }
            usleep(delay)
            delay = min(delay * 2, 10_000)
        }
        try? CgroupFile.write(dir, "freezer.state", "THAWED")
        throw CgroupError("freeze", path: dir, reason: "tasks did not freeze in time (rolled back to THAWED)")
    }

    public func thaw() throws(CgroupError) {
        let dir = try require("freezer", for: "freezer state")
        try CgroupFile.write(dir, "freezer.state", "THAWED")
        for _ in 0..<200 {
            if try CgroupFile.readTrimmed(dir, "freezer.state") == "THAWED" { return }
            usleep(1000)
        }
        throw CgroupError("thaw", path: dir, reason: "still not THAWED")
    }

    public func isFrozen() throws(CgroupError) -> Bool {
        let dir = try require("freezer", for: "freezer state")
        return try CgroupFile.readTrimmed(dir, "freezer.state") == "FROZEN"
    }

    public func killAll(signal: Int32) throws(CgroupError) {
        // Freeze first so nothing can fork between listing and signalling; SIGKILL is delivered on thaw.
        // A group that was already frozen (paused) stays frozen, except for SIGKILL: frozen tasks
        // only die once they run again.
        let paused = directory(for: "freezer") != nil && (try? isFrozen()) == true
        var frozen = paused
        if !paused && directory(for: "freezer") != nil { frozen = (try? freeze()) != nil }
        Cgroups.signalAll(try processes(), signal)
        if frozen && (!paused || signal == SIGKILL) { try thaw() }
    }

    // MARK: limits

    public func apply(_ r: Resources) throws(CgroupError) {
        try ResourceValidation.validate(r)
        // Worked out before any write: a rule v1 cannot express must leave the group as it was.
        let devices = try r.devices.flatMap { rules throws(CgroupError) in rules.isEmpty ? nil : try DeviceState.target(rules) }
        if let m = r.memory { try applyMemory(m) }
        if let c = r.cpu { try applyCPU(c) }
        if let p = r.pids {
            let dir = try require("pids", for: "pids limit")
            try CgroupFile.write(dir, "pids.max", p.limit > 0 ? String(p.limit) : "max")
        }
        if let b = r.blockIO { try applyBlockIO(b) }
        if let h = r.hugepageLimits, !h.isEmpty {
            let dir = try require("hugetlb", for: "hugepage limits")
            for limit in h { try CgroupFile.write(dir, "hugetlb.\(limit.pageSize).limit_in_bytes", String(limit.limit)) }
        }
        if let n = r.network {
            if let id = n.classID {
                try CgroupFile.write(try require("net_cls", for: "network classID"), "net_cls.classid", String(id))
            }
            for p in n.priorities ?? [] {
                try CgroupFile.write(try require("net_prio", for: "network priorities"), "net_prio.ifpriomap",
                                     "\(p.name) \(p.priority)")
            }
        }
        if let devices { try applyDevices(devices) }
        if let rdma = r.rdma, !rdma.isEmpty {
            let dir = try require("rdma", for: "rdma limits")
            for (device, limit) in rdma.sorted(by: { $0.key < $1.key }) {
                try CgroupFile.write(dir, "rdma.max", RDMALine.make(device: device, limit))
            }
        }
        if let unified = r.unified, !unified.isEmpty {
            guard let dir = unifiedDirectory else {
                throw CgroupError("set unified keys", path: path, reason: "cgroup v2 is not mounted on this host")
            }
            for (key, value) in unified.sorted(by: { $0.key < $1.key }) {
                try CgroupFile.write(dir, key, value)
            }
        }
    }

    func applyMemory(_ m: Resources.Memory) throws(CgroupError) {
        let dir = try require("memory", for: "memory limits")
        if m.checkBeforeUpdate == true, let limit = m.limit, limit > 0 {
            let usage = CgroupFile.number(dir, "memory.usage_in_bytes")
            if UInt64(limit) < usage {
                throw CgroupError("set memory limit", path: CgroupFile.path(dir, "memory.limit_in_bytes"),
                                  reason: "new limit \(limit) is below current usage \(usage) (checkBeforeUpdate)")
            }
        }
        let hasMemsw = CgroupFile.exists(dir, "memory.memsw.limit_in_bytes")
        if let swap = m.swap, swap != 0, !hasMemsw, swap != -1, swap != (m.limit ?? swap) {
            throw CgroupError("set memory+swap limit", path: CgroupFile.path(dir, "memory.memsw.limit_in_bytes"),
                              reason: "swap accounting is not enabled in this kernel")
        }
        // memory.limit_in_bytes must stay ≤ memory.memsw.limit_in_bytes at every step: raise memsw
        // first when growing, lower the limit first when shrinking.
        let limitValue = m.limit.map { $0 == -1 ? "-1" : String($0) }
        // An unlimited memory with swap left out means unlimited swap too (as runc): else memsw would
        // stay below the limit and the kernel refuses the write.
        let swap = m.limit == -1 && (m.swap ?? 0) == 0 ? -1 : m.swap
        let swapValue: String? = (hasMemsw ? swap : nil).flatMap { $0 == 0 ? nil : ($0 == -1 ? "-1" : String($0)) }
        if let swapValue {
            let current = (try? CgroupFile.readNumber(dir, "memory.memsw.limit_in_bytes")).flatMap { $0 } ?? UInt64.max
            let target = swapValue == "-1" ? UInt64.max : UInt64(swapValue) ?? 0
            if target >= current {
                try CgroupFile.write(dir, "memory.memsw.limit_in_bytes", swapValue)
                if let limitValue { try writeMemoryLimit(dir, limitValue) }
            } else {
                if let limitValue { try writeMemoryLimit(dir, limitValue) }
                try CgroupFile.write(dir, "memory.memsw.limit_in_bytes", swapValue)
            }
        } else if let limitValue {
            try writeMemoryLimit(dir, limitValue)
        }
        if let r = m.reservation { try CgroupFile.write(dir, "memory.soft_limit_in_bytes", String(r)) }
        // Hierarchical accounting is always on in kernels ≥ 5.x (the file only accepts 1); older ones take 0 too.
        if let h = m.useHierarchy { try? CgroupFile.write(dir, "memory.use_hierarchy", h ? "1" : "0") }
        if let s = m.swappiness { try CgroupFile.write(dir, "memory.swappiness", String(s)) }
        if m.disableOOMKiller == true { try CgroupFile.write(dir, "memory.oom_control", "1") }
        // Kernel memory limits are deprecated (and refused by kernels ≥ 6.x); set them only where accepted.
        if let k = m.kernel, k != 0 { try? CgroupFile.write(dir, "memory.kmem.limit_in_bytes", String(k)) }
        if let k = m.kernelTCP, k != 0 { try CgroupFile.write(dir, "memory.kmem.tcp.limit_in_bytes", String(k)) }
    }

    /// The kernel answers EBUSY when the group already uses more than the new limit and cannot reclaim
    /// it; said in runc's words, with the numbers.
    func writeMemoryLimit(_ dir: String, _ value: String) throws(CgroupError) {
        do { try Files.write(CgroupFile.path(dir, "memory.limit_in_bytes"), value) } catch {
            guard error.errno == EBUSY else {
                throw CgroupError("write \"\(value)\" to", path: CgroupFile.path(dir, "memory.limit_in_bytes"),
                                  reason: CgroupFile.explain(error.errno, file: "memory.limit_in_bytes"))
            }
            let usage = CgroupFile.number(dir, "memory.usage_in_bytes")
            let peak = CgroupFile.number(dir, "memory.max_usage_in_bytes")
            throw CgroupError("unable to set memory limit to \(value) (current usage: \(usage), peak usage: \(peak))",
                              path: "", reason: "")
        }
    }

    func applyCPU(_ c: Resources.CPU) throws(CgroupError) {
        if c.shares != nil || c.quota != nil || c.period != nil || c.burst != nil || c.idle != nil
            || c.realtimeRuntime != nil || c.realtimePeriod != nil {
            let dir = try require("cpu", for: "cpu limits")
            if let s = c.shares, s != 0 {
                try CgroupFile.write(dir, "cpu.shares", String(s))
                let got = CgroupFile.number(dir, "cpu.shares")
                // The kernel clamps instead of refusing; runc's words for it.
                if got != s {
                    throw CgroupError(got > s ? "the minimum allowed cpu-shares is \(got)" : "the maximum allowed cpu-shares is \(got)",
                                      path: "", reason: "")
                }
            }
            if let p = c.period, p != 0 {
                do { try CgroupFile.write(dir, "cpu.cfs_period_us", String(p)) } catch {
                    // A smaller period can make an existing quota invalid; set the quota first then.
                    if let q = c.quota {
                        try CgroupFile.write(dir, "cpu.cfs_quota_us", String(q))
                        try CgroupFile.write(dir, "cpu.cfs_period_us", String(p))
                    } else { throw error }
                }
            }
            if let q = c.quota, q != 0 { try CgroupFile.write(dir, "cpu.cfs_quota_us", String(q)) }
            if let b = c.burst { try CgroupFile.write(dir, "cpu.cfs_burst_us", String(b)) }
            if let p = c.realtimePeriod, p != 0 { try CgroupFile.write(dir, "cpu.rt_period_us", String(p)) }
            if let r = c.realtimeRuntime, r != 0 { try CgroupFile.write(dir, "cpu.rt_runtime_us", String(r)) }
            if let i = c.idle { try CgroupFile.write(dir, "cpu.idle", String(i)) }
        }
        if let cpus = c.cpus, !cpus.isEmpty {
            try CgroupFile.write(try require("cpuset", for: "cpuset.cpus"), "cpuset.cpus", cpus)
        }
        if let mems = c.mems, !mems.isEmpty {
            try CgroupFile.write(try require("cpuset", for: "cpuset.mems"), "cpuset.mems", mems)
        }
    }

    func applyBlockIO(_ b: Resources.BlockIO) throws(CgroupError) {
        let dir = try require("blkio", for: "block I/O limits")
        // CFQ had blkio.weight; BFQ (the only proportional scheduler left) has blkio.bfq.weight.
        let weightFile = CgroupFile.exists(dir, "blkio.weight") ? "blkio.weight" : "blkio.bfq.weight"
        if let w = b.weight, w != 0 { try CgroupFile.write(dir, weightFile, String(w)) }
        // Leaf weights went away with CFQ (Linux 5.0); where the file is gone there is nothing to set.
        if let w = b.leafWeight, w != 0, CgroupFile.exists(dir, "blkio.leaf_weight") {
            try CgroupFile.write(dir, "blkio.leaf_weight", String(w))
        }
        for d in b.weightDevice ?? [] {
            if let w = d.weight { try CgroupFile.write(dir, weightFile + "_device", "\(d.major):\(d.minor) \(w)") }
            if let w = d.leafWeight, CgroupFile.exists(dir, "blkio.leaf_weight_device") {
                try CgroupFile.write(dir, "blkio.leaf_weight_device", "\(d.major):\(d.minor) \(w)")
            }
        }
        let throttles: [(String, [Resources.ThrottleDevice]?)] = [
            ("blkio.throttle.read_bps_device", b.throttleReadBpsDevice),
            ("blkio.throttle.write_bps_device", b.throttleWriteBpsDevice),
            ("blkio.throttle.read_iops_device", b.throttleReadIOPSDevice),
            ("blkio.throttle.write_iops_device", b.throttleWriteIOPSDevice),
        ]
        for (file, devices) in throttles {
            for d in devices ?? [] { try CgroupFile.write(dir, file, "\(d.major):\(d.minor) \(d.rate)") }
        }
    }

    // MARK: accounting

    public func stats() throws(CgroupError) -> CgroupStats {
        guard exists() else { throw CgroupError("read stats", path: path, reason: "no such cgroup") }
        var s = CgroupStats()
        if let dir = directory(for: "cpuacct") {
            s.cpu.usage.total = CgroupFile.number(dir, "cpuacct.usage")
            s.cpu.usage.percpu = CgroupFile.numbers(dir, "cpuacct.usage_percpu")
            s.cpu.usage.percpuKernel = CgroupFile.numbers(dir, "cpuacct.usage_percpu_sys")
            s.cpu.usage.percpuUser = CgroupFile.numbers(dir, "cpuacct.usage_percpu_user")
            let sys = CgroupFile.number(dir, "cpuacct.usage_sys")
            let user = CgroupFile.number(dir, "cpuacct.usage_user")
            if sys != 0 || user != 0 {
                s.cpu.usage.kernel = sys; s.cpu.usage.user = user
            } else {
                // cpuacct.stat counts USER_HZ ticks.
                let ticks = CgroupFile.keyValues(dir, "cpuacct.stat")
                let hz = UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
                s.cpu.usage.kernel = (ticks["system"] ?? 0) * 1_000_000_000 / hz
                s.cpu.usage.user = (ticks["user"] ?? 0) * 1_000_000_000 / hz
            }
        }
        if let dir = directory(for: "cpu") {
            let st = CgroupFile.keyValues(dir, "cpu.stat")
            s.cpu.throttling.periods = st["nr_periods"] ?? 0
            s.cpu.throttling.throttledPeriods = st["nr_throttled"] ?? 0
            s.cpu.throttling.throttledTime = st["throttled_time"] ?? 0
        }
        if let dir = directory(for: "cpuset") {
            // runc reads the configured sets (cpuset.cpus), not the effective ones.
            s.cpuset.cpus = CPUList.parse((try? CgroupFile.read(dir, "cpuset.cpus")) ?? "") ?? []
            s.cpuset.mems = CPUList.parse((try? CgroupFile.read(dir, "cpuset.mems")) ?? "") ?? []
            s.cpuset.cpuExclusive = CgroupFile.number(dir, "cpuset.cpu_exclusive")
            s.cpuset.memHardwall = CgroupFile.number(dir, "cpuset.mem_hardwall")
            s.cpuset.memExclusive = CgroupFile.number(dir, "cpuset.mem_exclusive")
            s.cpuset.memoryMigrate = CgroupFile.number(dir, "cpuset.memory_migrate")
            s.cpuset.memorySpreadPage = CgroupFile.number(dir, "cpuset.memory_spread_page")
            s.cpuset.memorySpreadSlab = CgroupFile.number(dir, "cpuset.memory_spread_slab")
            s.cpuset.memoryPressure = CgroupFile.number(dir, "cpuset.memory_pressure")
            s.cpuset.schedLoadBalance = CgroupFile.number(dir, "cpuset.sched_load_balance")
            s.cpuset.schedRelaxDomainLevel = Int64(CgroupFile.trim((try? CgroupFile.read(dir, "cpuset.sched_relax_domain_level")) ?? "")) ?? 0
        }
        if let dir = directory(for: "memory") {
            let raw = CgroupFile.keyValues(dir, "memory.stat")
            s.memory.raw = raw
            s.memory.cache = raw["cache"] ?? raw["total_cache"] ?? 0
            s.memory.usage = entry(dir, "memory")
            s.memory.swap = entry(dir, "memory.memsw")
            s.memory.kernel = entry(dir, "memory.kmem")
            s.memory.kernelTCP = entry(dir, "memory.kmem.tcp")
            let oom = CgroupFile.keyValues(dir, "memory.oom_control")
            s.memory.eventCount.oomKill = oom["oom_kill"] ?? 0
            s.memory.eventCount.oom = max(oom["oom_kill"] ?? 0, oom["under_oom"] ?? 0)
            s.memory.eventCount.max = max(s.memory.usage.failcnt, s.memory.swap.failcnt)
        }
        if let dir = directory(for: "pids") {
            s.pids.current = CgroupFile.number(dir, "pids.current")
            s.pids.limit = (try? CgroupFile.readNumber(dir, "pids.max")).flatMap { $0 } ?? 0
        }
        if let dir = directory(for: "blkio") {
            s.blkio.ioServiceBytesRecursive = blkioEntries(dir, ["blkio.io_service_bytes_recursive",
                                                                 "blkio.throttle.io_service_bytes_recursive"])
            s.blkio.ioServicedRecursive = blkioEntries(dir, ["blkio.io_serviced_recursive",
                                                             "blkio.throttle.io_serviced_recursive"])
        }
        // Hybrid hosts: pressure stall information lives in the unified tree.
        if let dir = unifiedDirectory, Files.isDirectory(dir) {
            s.cpu.psi = (try? CgroupFile.read(dir, "cpu.pressure")).flatMap(CgroupStats.PSIStats.init(text:))
            s.memory.psi = (try? CgroupFile.read(dir, "memory.pressure")).flatMap(CgroupStats.PSIStats.init(text:))
            s.blkio.psi = (try? CgroupFile.read(dir, "io.pressure")).flatMap(CgroupStats.PSIStats.init(text:))
        }
        if let dir = directory(for: "hugetlb"), let names = try? Files.listDirectory(dir) {
            for name in names where name.hasPrefix("hugetlb.") && name.hasSuffix(".limit_in_bytes") {
                let size = String(name.dropFirst(8).dropLast(15))
                var h = CgroupStats.Hugetlb()
                h.usage = CgroupFile.number(dir, "hugetlb.\(size).usage_in_bytes")
                h.max = CgroupFile.number(dir, "hugetlb.\(size).max_usage_in_bytes")
                h.failcnt = CgroupFile.number(dir, "hugetlb.\(size).failcnt")
                s.hugetlb[size] = h
            }
        }
        return s
    }

    func entry(_ dir: String, _ prefix: String) -> CgroupStats.MemoryEntry {
        var e = CgroupStats.MemoryEntry()
        e.usage = CgroupFile.number(dir, prefix + ".usage_in_bytes")
        e.max = CgroupFile.number(dir, prefix + ".max_usage_in_bytes")
        e.failcnt = CgroupFile.number(dir, prefix + ".failcnt")
        e.limit = CgroupFile.number(dir, prefix + ".limit_in_bytes")
        return e
    }

    func blkioEntries(_ dir: String, _ candidates: [String]) -> [CgroupStats.BlkioEntry] {
        for file in candidates {
            guard let text = try? Files.read(CgroupFile.path(dir, file)) else { continue }
            var out: [CgroupStats.BlkioEntry] = []
            for line in text.split(separator: "\n") {
                let f = line.split(separator: " ")
                guard f.count == 3, let v = UInt64(f[2]) else { continue }
                let dev = f[0].split(separator: ":")
                guard dev.count == 2, let major = UInt64(dev[0]), let minor = UInt64(dev[1]) else { continue }
                out.append(CgroupStats.BlkioEntry(major: major, minor: minor, op: String(f[1]), value: v))
            }
            if !out.isEmpty { return out }
        }
        return []
    }
}

/// `mlx4_0 hca_handle=2 hca_object=2000` lines for rdma.max (same syntax on v1 and v2).
enum RDMALine {
    static func make(device: String, _ limit: Resources.RDMA) -> String {
        var line = device
        if let h = limit.hcaHandles { line += " hca_handle=\(h)" }
        if let o = limit.hcaObjects { line += " hca_object=\(o)" }
        return line
    }
}
