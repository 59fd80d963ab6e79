import Glibc
import Linux
import Cgroups
import OCISpec
import Runtime

/// runc 1.1.5's output formats, field for field: `state`, `list`, `ps -f json`, `events` and
/// `features` (spec has SpecTemplate). Scripts and shims parse these, some with fixed expectations.
enum RuncOutput {
    /// runc's containerState (list.go): annotations only when there are some; `state` leaves owner empty.
    static func state(_ state: ContainerState, owner: String) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("ociVersion", .string(state.ociVersion)),
            ("id", .string(state.id)),
            ("pid", .int(state.pid)),
            ("status", .string(state.status.rawValue)),
            ("bundle", .string(state.bundle)),
            ("rootfs", .string(state.rootfs ?? "")),
            ("created", .string(goRFC3339Nano(state.created ?? ""))),
        ]
        if let annotations = state.annotations, !annotations.isEmpty { members.append(("annotations", .stringMap(annotations))) }
        members.append(("owner", .string(owner)))
        return .object(members)
    }

    /// `list -f json`: one line; `null` when there are no containers (a nil Go slice).
    static func list(_ states: [(ContainerState, owner: String)]) -> String {
        (states.isEmpty ? JSONValue.null : .array(states.map { state($0.0, owner: $0.owner) })).compact + "\n"
    }

    /// `list`'s table: text/tabwriter with minwidth 12, padding 3, created as RFC 3339 with nanoseconds.
    static func table(_ states: [(ContainerState, owner: String)]) -> [[String]] {
        [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]] + states.map { state, owner in
            [state.id, "\(state.pid)", state.status.rawValue, state.bundle, goRFC3339Nano(state.created ?? ""), owner]
        }
    }

    /// runc's list looks up the owner of the container's state directory (`#UID` when it has no name).
    static func owner(ofDirectory path: String) -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { return "" }
        let passwd = (try? Files.read("/etc/passwd")) ?? ""
        for line in passwd.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count > 2, UInt32(fields[2]) == st.st_uid { return String(fields[0]) }
        }
        return "#\(st.st_uid)"
    }

    /// `ps -f json`: the pids on one line, `null` for none.
    static func pids(_ pids: [Int32]) -> String {
        (pids.isEmpty ? JSONValue.null : .array(pids.map { .int($0) })).compact + "\n"
    }

    /// One `events` line (types.Event): data left out when there is none (an `oom` event).
    static func event(type: String, id: String, stats: CgroupStats?) -> String {
        var members: [(String, JSONValue)] = [("type", .string(type)), ("id", .string(id))]
        if let stats { members.append(("data", data(stats))) }
        return JSONValue.object(members).compact + "\n"
    }

    /// runc 1.1.5's types.Stats, with its omitempty rules (zero numbers and empty lists left out,
    /// structs always there). Pressure and memory.events counts are newer than 1.1.5: not printed.
    static func data(_ s: CgroupStats) -> JSONValue {
        func numbers<T: BinaryInteger>(_ values: [T]) -> JSONValue { .array(values.map { .int($0) }) }
        func omittingZero(_ members: [(String, UInt64)]) -> [(String, JSONValue)] {
            members.filter { $0.1 != 0 }.map { ($0.0, .int($0.1)) }
        }
        var usage = omittingZero([("total", s.cpu.usage.total)])
        if !s.cpu.usage.percpu.isEmpty { usage.append(("percpu", numbers(s.cpu.usage.percpu))) }
        if !s.cpu.usage.percpuKernel.isEmpty { usage.append(("percpu_kernel", numbers(s.cpu.usage.percpuKernel))) }
        if !s.cpu.usage.percpuUser.isEmpty { usage.append(("percpu_user", numbers(s.cpu.usage.percpuUser))) }
        usage += [("kernel", .int(s.cpu.usage.kernel)), ("user", .int(s.cpu.usage.user))]
        let throttling = omittingZero([("periods", s.cpu.throttling.periods), ("throttledPeriods", s.cpu.throttling.throttledPeriods),
                                       ("throttledTime", s.cpu.throttling.throttledTime)])

        let c = s.cpuset
        var cpuset: [(String, JSONValue)] = []
        if !c.cpus.isEmpty { cpuset.append(("cpus", numbers(c.cpus))) }
        cpuset.append(("cpu_exclusive", .int(c.cpuExclusive)))
        if !c.mems.isEmpty { cpuset.append(("mems", numbers(c.mems))) }
        cpuset += [("mem_hardwall", .int(c.memHardwall)), ("mem_exclusive", .int(c.memExclusive)),
                   ("memory_migrate", .int(c.memoryMigrate)), ("memory_spread_page", .int(c.memorySpreadPage)),
                   ("memory_spread_slab", .int(c.memorySpreadSlab)), ("memory_pressure", .int(c.memoryPressure)),
                   ("sched_load_balance", .int(c.schedLoadBalance)), ("sched_relax_domain_level", .int(c.schedRelaxDomainLevel))]

        func entry(_ e: CgroupStats.MemoryEntry) -> JSONValue {
            .object([("limit", .int(e.limit))] + omittingZero([("usage", e.usage), ("max", e.max)]) + [("failcnt", .int(e.failcnt))])
        }
        var memory = omittingZero([("cache", s.memory.cache)])
        memory += [("usage", entry(s.memory.usage)), ("swap", entry(s.memory.swap)), ("kernel", entry(s.memory.kernel)),
                   ("kernelTCP", entry(s.memory.kernelTCP))]
        if !s.memory.raw.isEmpty {
            memory.append(("raw", .object(s.memory.raw.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { ($0.key, .int($0.value)) })))
        }

        func blkio(_ entries: [CgroupStats.BlkioEntry]) -> JSONValue {
            .array(entries.map { e in
                var members = omittingZero([("major", e.major), ("minor", e.minor)])
                if !e.op.isEmpty { members.append(("op", .string(e.op))) }
                return .object(members + omittingZero([("value", e.value)]))
            })
        }
        var io: [(String, JSONValue)] = []
        if !s.blkio.ioServiceBytesRecursive.isEmpty { io.append(("ioServiceBytesRecursive", blkio(s.blkio.ioServiceBytesRecursive))) }
        if !s.blkio.ioServicedRecursive.isEmpty { io.append(("ioServicedRecursive", blkio(s.blkio.ioServicedRecursive))) }

        let hugetlb = s.hugetlb.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { size, h -> (String, JSONValue) in
            (size, .object(omittingZero([("usage", h.usage), ("max", h.max)]) + [("failcnt", .int(h.failcnt))]))
        }
        return .object([
            ("cpu", .object([("usage", .object(usage)), ("throttling", .object(throttling))])),
            ("cpuset", .object(cpuset)),
            ("memory", .object(memory)),
            ("pids", .object(omittingZero([("current", s.pids.current), ("limit", s.pids.limit)]))),
            ("blkio", .object(io)),
            ("hugetlb", .object(hugetlb)),
            ("intel_rdt", .object([])),
            ("network_interfaces", .null),
        ])
    }

    /// `features`: the runtime-spec features document in its Go struct order, indented with four
    /// spaces and ended by a newline, as runc's encoder writes it. The values are berth-runtime's own.
    static func features(_ f: RuntimeFeatures) -> String {
        func strings(_ values: [String]) -> JSONValue { .array(values.map { .string($0) }) }
        func enabled(_ value: Bool) -> JSONValue { .object([("enabled", .bool(value))]) }
        let l = f.linux
        let linux: JSONValue = .object([
            ("namespaces", strings(l.namespaces)),
            ("capabilities", strings(l.capabilities)),
            ("cgroup", .object([("v1", .bool(l.cgroup.v1)), ("v2", .bool(l.cgroup.v2)), ("systemd", .bool(l.cgroup.systemd)),
                                ("systemdUser", .bool(l.cgroup.systemdUser)), ("rdma", .bool(l.cgroup.rdma))])),
            ("seccomp", .object([("enabled", .bool(l.seccomp.enabled)), ("actions", strings(l.seccomp.actions)),
                                 ("operators", strings(l.seccomp.operators)), ("archs", strings(l.seccomp.archs)),
                                 ("knownFlags", strings(l.seccomp.knownFlags)), ("supportedFlags", strings(l.seccomp.supportedFlags))])),
            ("apparmor", enabled(l.apparmor.enabled)),
            ("selinux", enabled(l.selinux.enabled)),
            ("intelRdt", enabled(l.intelRdt.enabled)),
            ("mountExtensions", .object([("idmap", enabled(l.mountExtensions.idmap.enabled))])),
        ])
        return JSONValue.object([
            ("ociVersionMin", .string(f.ociVersionMin)),
            ("ociVersionMax", .string(f.ociVersionMax)),
            ("hooks", strings(f.hooks)),
            ("mountOptions", strings(f.mountOptions)),
            ("linux", linux),
            ("annotations", .stringMap(f.annotations)),
        ]).indented("    ") + "\n"
    }
}
