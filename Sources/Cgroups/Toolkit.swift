import Glibc
import Linux

/// One hierarchy as the toolkit shows it: `/proc/cgroups` joined with the mount table.
public struct HierarchyInfo: Codable, Sendable, Equatable {
    /// The hierarchy ID of /proc/cgroups and /proc/PID/cgroup (0: the unified v2 hierarchy).
    public var id: Int
    public var version: Int
    /// v1: attached subsystems; v2: controllers available at the root.
    public var subsystems: [String]
    /// v1 named hierarchy (`systemd` for name=systemd).
    public var name: String?
    public var mountPoint: String?
    /// Number of cgroups in the hierarchy (the root included).
    public var cgroups: Int
}

/// A line of /proc/PID/cgroup, with where that cgroup is on disk.
public struct MembershipInfo: Codable, Sendable, Equatable {
    public var hierarchy: Int
    public var controllers: [String]
    public var path: String
    public var directory: String?
    public var version: Int
}

/// A cgroup in `tree` output.
public struct TreeEntry: Codable, Sendable, Equatable {
    public var path: String
    public var depth: Int
    /// Processes directly in this cgroup.
    public var tasks: Int
    /// Key limits and usage, `controller.key` → value (`memory.max`, `pids.current`, …).
    public var values: [String: String]
}

/// A cgroup interface file resolved for a path: which hierarchy and which file.
public struct InterfaceFile: Sendable, Equatable {
    public var key: String
    public var file: String
    public var mount: CgroupMount
    /// Set when a v2 key was mapped onto its v1 file (`memory.max` → `memory.limit_in_bytes`).
    public var alias: V1Alias?
}

/// v2 interface names accepted on v1 hosts, so the same commands work on both.
public enum V1Alias: String, Sendable, Equatable, CaseIterable {
    case memoryMax = "memory.max"
    case memoryCurrent = "memory.current"
    case memoryPeak = "memory.peak"
    case memoryLow = "memory.low"
    case cpuWeight = "cpu.weight"
    case cgroupFreeze = "cgroup.freeze"
    /// `QUOTA PERIOD` ↔ cpu.cfs_quota_us and cpu.cfs_period_us (two files on v1).
    case cpuMax = "cpu.max"

    var subsystem: String {
        switch self {
        case .memoryMax, .memoryCurrent, .memoryPeak, .memoryLow: "memory"
        case .cpuWeight, .cpuMax: "cpu"
        case .cgroupFreeze: "freezer"
        }
    }

    var file: String {
        switch self {
        case .memoryMax: "memory.limit_in_bytes"
        case .memoryCurrent: "memory.usage_in_bytes"
        case .memoryPeak: "memory.max_usage_in_bytes"
        case .memoryLow: "memory.soft_limit_in_bytes"
        case .cpuWeight: "cpu.shares"
        case .cgroupFreeze: "freezer.state"
        case .cpuMax: "cpu.cfs_quota_us"
        }
    }

    /// v2 value → v1 value.
    func toV1(_ value: String) -> String {
        switch self {
        case .memoryMax, .memoryLow: return value == "max" ? "-1" : value
        case .cpuWeight: return UInt64(value).map { String(CgroupConversions.cpuShares(fromWeight: $0)) } ?? value
        case .cgroupFreeze: return value == "1" ? "FROZEN" : value == "0" ? "THAWED" : value
        case .memoryCurrent, .memoryPeak: return value
        case .cpuMax:
            let quota = value.split(separator: " ").first.map(String.init) ?? value
            return quota == "max" ? "-1" : quota
        }
    }

    /// For cpu.max, the period part of `value`, written to cpu.cfs_period_us first.
    func v1Period(_ value: String) -> String? {
        guard self == .cpuMax else { return nil }
        let parts = value.split(separator: " ")
        return parts.count == 2 ? String(parts[1]) : nil
    }

    /// v1 value → v2 value.
    func fromV1(_ value: String) -> String {
        switch self {
        case .memoryMax, .memoryLow: return (UInt64(value) ?? 0) >= 1 << 62 ? "max" : value
        case .cpuWeight: return UInt64(value).map { String(CgroupConversions.cpuWeight(fromShares: $0)) } ?? value
        case .cgroupFreeze: return value == "FROZEN" ? "1" : value == "THAWED" ? "0" : value
        case .memoryCurrent, .memoryPeak: return value
        case .cpuMax: return value
        }
    }
}

/// What `berth cgroup` does: inspect hierarchies and drive cgroups by path, on v1 and v2.
/// Paths are cgroup paths relative to each hierarchy's root (`/demo` or `demo`); `..` is refused.
public enum CgroupToolkit {
    /// The cleaned cgroup path (`/demo/a`).
    public static func cgroupPath(_ path: String) throws(CgroupError) -> String {
        try Cgroups.clean(path.isEmpty ? "/" : path)
    }

    /// Mounted hierarchies to act on: v1 hierarchies with subsystems or a name, then cgroup2.
    public static func mountedHierarchies() -> [CgroupMount] {
        let all = Cgroups.mounts()
        return all.filter { $0.version == 1 } + all.filter { $0.version == 2 }
    }

    // MARK: ls

    public static func hierarchies() -> [HierarchyInfo] {
        let subsystems = Cgroups.subsystems()
        let mounts = Cgroups.mounts()
        let own = (try? Cgroups.memberships(pid: 0)) ?? []
        var out: [HierarchyInfo] = []
        var ids = Set<Int>()
        for s in subsystems where s.hierarchy > 0 { ids.insert(s.hierarchy) }
        for id in ids.sorted() {
            let subs = subsystems.filter { $0.hierarchy == id }.map(\.name)
            let mount = mounts.first { $0.version == 1 && Set($0.subsystems) == Set(subs) }
            let count = subsystems.first { $0.hierarchy == id }?.cgroupCount ?? 0
            out.append(HierarchyInfo(id: id, version: 1, subsystems: subs, name: mount?.name,
                                     mountPoint: mount?.mountPoint, cgroups: count))
        }
        for mount in mounts where mount.version == 1 && mount.subsystems.isEmpty {
            let id = own.first { $0.controllers == ["name=" + (mount.name ?? "")] }?.hierarchy ?? -1
            out.append(HierarchyInfo(id: id, version: 1, subsystems: [], name: mount.name,
                                     mountPoint: mount.mountPoint, cgroups: countCgroups(mount.mountPoint)))
        }
        if let unified = mounts.first(where: { $0.version == 2 }) {
            let controllers = ((try? CgroupFile.read(unified.mountPoint, "cgroup.controllers")) ?? "")
                .split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
            out.append(HierarchyInfo(id: 0, version: 2, subsystems: controllers, name: nil,
                                     mountPoint: unified.mountPoint, cgroups: countCgroups(unified.mountPoint)))
        }
        return out
    }

    static func countCgroups(_ dir: String) -> Int {
        var count = 1
        for name in (try? Files.listDirectory(dir)) ?? [] where Files.fileType(dir + "/" + name) == S_IFDIR {
            count += countCgroups(dir + "/" + name)
        }
        return count
    }

    // MARK: which

    public static func which(pid: Int32) throws(CgroupError) -> [MembershipInfo] {
        let lines = try Cgroups.memberships(pid: pid)
        let mounts = Cgroups.mounts()
        return lines.map { line in
            let mount: CgroupMount?
            if line.hierarchy == 0 && line.controllers.isEmpty {
                mount = mounts.first { $0.version == 2 }
            } else {
                mount = mounts.first { m in
                    m.version == 1 && Set(m.subsystems + (m.name.map { ["name=" + $0] } ?? [])) == Set(line.controllers)
                }
            }
            return MembershipInfo(hierarchy: line.hierarchy, controllers: line.controllers, path: line.path,
                                  directory: mount.flatMap { $0.directory(for: line.path) },
                                  version: line.hierarchy == 0 && line.controllers.isEmpty ? 2 : 1)
        }
    }

    // MARK: create

    /// Known controller names: /proc/cgroups plus the unified root's cgroup.controllers.
    public static func knownControllers() -> Set<String> {
        var names = Set(Cgroups.subsystems().map(\.name))
        if let unified = Cgroups.mounts().first(where: { $0.version == 2 }) {
            let text = (try? CgroupFile.read(unified.mountPoint, "cgroup.controllers")) ?? ""
            names.formUnion(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        }
        return names
    }

    /// Creates the cgroup in the hierarchies of `controllers` (all when nil). On v2 the controllers
    /// are also enabled in each ancestor's cgroup.subtree_control. Returns the directories made.
    @discardableResult
    public static func create(path: String, controllers: [String]?) throws(CgroupError) -> [String] {
        let cgroup = try cgroupPath(path)
        guard cgroup != "/" else { throw CgroupError("create", path: cgroup, reason: "the root cgroup always exists") }
        let known = knownControllers()
        for c in controllers ?? [] where !known.contains(c) {
            throw CgroupError("create", path: cgroup,
                              reason: "no such controller \"\(c)\" (this kernel has: \(known.sorted().joined(separator: " ")))")
        }
        if Cgroups.detectMode() == .unified {
            let manager = try CgroupV2Manager(path: cgroup)
            if let controllers {
                let available = Set(((try? CgroupFile.read(manager.mount.mountPoint, "cgroup.controllers")) ?? "")
                    .split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
                for c in controllers where !available.contains(c) {
                    throw CgroupError("create", path: cgroup, reason: "controller \"\(c)\" is not available in cgroup v2 here (v1-only or bound to a v1 hierarchy)")
                }
            }
            try manager.create(enabling: controllers.map(Set.init))
            return [manager.directory]
        }
        let manager = try CgroupV1Manager(path: cgroup)
        var placements = manager.placements
        if let controllers {
            placements = []
            for c in controllers {
                guard let p = manager.placements.first(where: { $0.mount.version == 1 && $0.mount.subsystems.contains(c) }) else {
                    throw CgroupError("create", path: cgroup, reason: "controller \"\(c)\" is not mounted as a v1 hierarchy (see `berth cgroup ls`)")
                }
                if !placements.contains(p) { placements.append(p) }
            }
        }
        try CgroupV1Manager(path: cgroup, placements: placements).create()
        return placements.map(\.directory)
    }

    // MARK: get / set

    /// Finds the interface file for `key` (`memory.max`, or `SUBSYSTEM:key` to pick a v1 hierarchy).
    public static func resolve(_ key: String, path: String) throws(CgroupError) -> InterfaceFile {
        let cgroup = try cgroupPath(path)
        var name = key
        var hierarchyHint: String?
        if let colon = key.firstIndex(of: ":") {
            hierarchyHint = String(key[..<colon])
            name = String(key[key.index(after: colon)...])
        }
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw CgroupError("resolve", path: key, reason: "not a cgroup interface file name")
        }
        let prefix = hierarchyHint ?? String(name.split(separator: ".").first ?? "")
        let mounts = mountedHierarchies()
        var candidates = mounts.filter {
            $0.version == 1 && ($0.subsystems.contains(prefix) || $0.name.map { "name=" + $0 } == prefix || $0.name == prefix)
        }
        if hierarchyHint == nil || hierarchyHint == "unified" || hierarchyHint == "cgroup2" {
            candidates += mounts.filter { $0.version == 2 }
        }
        if hierarchyHint == nil, candidates.allSatisfy({ $0.version == 2 }) {
            // Files every hierarchy has (cgroup.procs, tasks, notify_on_release): the first v1 one.
            candidates = mounts.filter { $0.version == 1 && !$0.subsystems.isEmpty } + candidates
        }
        var tried: [String] = []
        for mount in candidates {
            guard let dir = mount.directory(for: cgroup) else { continue }
            let file = dir + "/" + name
            if Files.exists(file) { return InterfaceFile(key: key, file: file, mount: mount, alias: nil) }
            tried.append(file)
        }
        if hierarchyHint == nil, let alias = V1Alias(rawValue: name),
           let mount = mounts.first(where: { $0.version == 1 && $0.subsystems.contains(alias.subsystem) }),
           let dir = mount.directory(for: cgroup), Files.exists(dir + "/" + alias.file) {
            return InterfaceFile(key: key, file: dir + "/" + alias.file, mount: mount, alias: alias)
        }
        let exists = candidates.contains { $0.directory(for: cgroup).map(Files.isDirectory) ?? false }
        let why = !exists ? "no cgroup \(cgroup) here (create it first)"
            : "no interface file \"\(name)\" (is the \(prefix) controller enabled for this cgroup?)"
        throw CgroupError("resolve \(key) for", path: tried.first ?? cgroup, reason: why)
    }

    /// Writes every KEY=VALUE, or none: all keys are resolved first, and if the kernel refuses a
    /// value the ones already written are put back.
    public static func set(path: String, _ assignments: [(key: String, value: String)]) throws(CgroupError) {
        var files: [InterfaceFile] = []
        for a in assignments { files.append(try resolve(a.key, path: path)) }
        var previous: [String?] = []
        for f in files { previous.append(try? Files.read(f.file)) }
        for (index, a) in assignments.enumerated() {
            do {
                if let period = files[index].alias?.v1Period(a.value) {
                    let dir = String(files[index].file.dropLast("cpu.cfs_quota_us".count))
                    try Files.write(dir + "cpu.cfs_period_us", period)
                }
                try Files.write(files[index].file, files[index].alias?.toV1(a.value) ?? a.value)
            } catch {
                for undo in (0..<index).reversed() {
                    if let old = previous[undo].map(CgroupFile.trim), !old.isEmpty, !old.contains("\n") {
                        try? Files.write(files[undo].file, normalised(old, key: files[undo].key))
                    }
                }
                throw CgroupError("write \"\(a.value)\" to", path: files[index].file,
                                  reason: CgroupFile.explain(error.errno, file: a.key)
                                    + (index > 0 ? "; the \(index) earlier value(s) were restored" : ""))
            }
        }
    }

    /// Values read back in the form they are written (v2 `cpu.max` reads as "max 100000" and takes that too).
    static func normalised(_ value: String, key: String) -> String { value }

    /// Reads `keys`, or every readable interface file of the cgroup when `keys` is empty.
    public static func get(path: String, keys: [String]) throws(CgroupError) -> [(key: String, value: String)] {
        if !keys.isEmpty {
            var out: [(String, String)] = []
            for key in keys {
                let f = try resolve(key, path: path)
                do {
                    var value = CgroupFile.trim(try Files.read(f.file))
                    if f.alias == .cpuMax {
                        let dir = String(f.file.dropLast("cpu.cfs_quota_us".count))
                        let period = CgroupFile.trim((try? Files.read(dir + "cpu.cfs_period_us")) ?? "100000")
                        value = (value == "-1" ? "max" : value) + " " + period
                    }
                    out.append((key, f.alias?.fromV1(value) ?? value))
                } catch {
                    throw CgroupError("read", path: f.file, reason: CgroupFile.explain(error.errno, file: key))
                }
            }
            return out
        }
        let cgroup = try cgroupPath(path)
        var out: [(String, String)] = []
        var found = false
        let mounts = mountedHierarchies()
        for mount in mounts {
            guard let dir = mount.directory(for: cgroup), Files.isDirectory(dir) else { continue }
            found = true
            let label = mount.version == 2 ? "" : (mount.subsystems.first ?? mount.name.map { "name=" + $0 } ?? "") + ":"
            for name in ((try? Files.listDirectory(dir)) ?? []).sorted() where Files.fileType(dir + "/" + name) == S_IFREG {
                guard let text = try? Files.read(dir + "/" + name) else { continue } // write-only files
                let generic = !name.contains(".") || name.hasPrefix("cgroup.")
                out.append((mounts.count > 1 && generic ? label + name : name, CgroupFile.trim(text)))
            }
        }
        if !found { throw CgroupError("read", path: cgroup, reason: "no such cgroup") }
        return out
    }

    // MARK: move / rm

    /// Moves processes (or single threads) into the cgroup in every hierarchy where it exists.
    /// Every PID is checked first, so a bad one changes nothing.
    public static func move(pids: [Int32], path: String, thread: Bool) throws(CgroupError) {
        let cgroup = try cgroupPath(path)
        for pid in pids where !Cgroups.processExists(pid) && !Files.exists("/proc/\(pid)") {
            throw CgroupError("move \(pid) to", path: cgroup, reason: "no process with PID \(pid)")
        }
        let targets = mountedHierarchies().compactMap { m -> String? in
            guard let d = m.directory(for: cgroup), Files.isDirectory(d) else { return nil }
            return d
        }
        guard !targets.isEmpty else { throw CgroupError("move to", path: cgroup, reason: "no such cgroup (create it first)") }
        for pid in pids {
            for dir in targets {
                let file = thread ? (Files.exists(dir + "/tasks") ? "tasks" : "cgroup.threads") : "cgroup.procs"
                try CgroupFile.write(dir, file, String(pid))
            }
        }
    }

    /// Every PID in the cgroup (and below) across hierarchies.
    public static func processes(path: String) throws(CgroupError) -> [Int32] {
        let cgroup = try cgroupPath(path)
        var all = Set<Int32>()
        for m in mountedHierarchies() {
            if let d = m.directory(for: cgroup), Files.isDirectory(d) { all.formUnion(Cgroups.processesRecursive(d)) }
        }
        return all.sorted()
    }

    /// Removes the cgroup (and empty cgroups below it) from every hierarchy. A cgroup with tasks is
    /// refused unless `force`, which kills them first (without fork races).
    public static func remove(path: String, force: Bool) throws(CgroupError) {
        let cgroup = try cgroupPath(path)
        guard cgroup != "/" else { throw CgroupError("remove", path: cgroup, reason: "the root cgroup cannot be removed") }
        let dirs = mountedHierarchies().compactMap { m -> String? in
            guard let d = m.directory(for: cgroup), Files.isDirectory(d) else { return nil }
            return d
        }
        guard !dirs.isEmpty else { throw CgroupError("remove", path: cgroup, reason: "no such cgroup") }
        var tasks = try processes(path: cgroup)
        if !tasks.isEmpty {
            guard force else {
                throw CgroupError("remove", path: cgroup,
                                  reason: "busy: \(tasks.count) task(s) (\(tasks.prefix(10).map(String.init).joined(separator: " "))); --force kills them")
            }
            let manager = try Cgroups.manager(path: cgroup)
            try manager.killAll(signal: SIGKILL)
            for _ in 0..<300 where !tasks.isEmpty {
                usleep(10_000)
                tasks = try processes(path: cgroup)
            }
        }
        for dir in dirs.reversed() { try Cgroups.removeCgroupDirectory(dir) }
    }

    // MARK: tree

    /// The cgroups under `path` in one hierarchy (`controller` picks a v1 hierarchy; default: pids,
    /// else the first), with task counts and key values gathered from every hierarchy.
    public static func tree(path: String, controller: String?, maxDepth: Int = .max) throws(CgroupError) -> [TreeEntry] {
        let cgroup = try cgroupPath(path)
        let mounts = mountedHierarchies()
        let main: CgroupMount?
        if let controller {
            main = mounts.first { $0.subsystems.contains(controller) || $0.name == controller }
                ?? (Cgroups.detectMode() == .unified || controller == "unified" || controller == "cgroup2"
                    ? mounts.first { $0.version == 2 } : nil)
            if main == nil {
                throw CgroupError("tree", path: cgroup, reason: "no hierarchy with controller \"\(controller)\" is mounted")
            }
        } else if Cgroups.detectMode() == .unified {
            main = mounts.first { $0.version == 2 }
        } else {
            main = mounts.first { $0.subsystems.contains("pids") } ?? mounts.first { $0.version == 1 && !$0.subsystems.isEmpty }
        }
        guard let main, let top = main.directory(for: cgroup), Files.isDirectory(top) else {
            throw CgroupError("tree", path: cgroup, reason: "no such cgroup")
        }
        var out: [TreeEntry] = []
        func walk(_ cg: String, _ depth: Int) {
            guard let dir = main.directory(for: cg) else { return }
            let tasks = ((try? Files.read(dir + "/cgroup.procs")) ?? "").split(separator: "\n").count
            out.append(TreeEntry(path: cg, depth: depth, tasks: tasks, values: keyValues(cg, mounts)))
            guard depth < maxDepth else { return }
            for name in ((try? Files.listDirectory(dir)) ?? []).sorted() where Files.fileType(dir + "/" + name) == S_IFDIR {
                walk(cg == "/" ? "/" + name : cg + "/" + name, depth + 1)
            }
        }
        walk(cgroup, 0)
        return out
    }

    /// The limits and usage worth showing for a cgroup, from whichever hierarchy has them.
    static func keyValues(_ cgroup: String, _ mounts: [CgroupMount]) -> [String: String] {
        let wanted: [(String, String)] = [
            // (display key, file) — v2 names first, v1 equivalents shown under the v2 key.
            ("memory.current", "memory.current"), ("memory.max", "memory.max"),
            ("memory.current", "memory.usage_in_bytes"), ("memory.max", "memory.limit_in_bytes"),
            ("pids.current", "pids.current"), ("pids.max", "pids.max"),
            ("cpu.max", "cpu.max"), ("cpu.weight", "cpu.weight"),
            ("cpu.shares", "cpu.shares"), ("cpu.cfs_quota_us", "cpu.cfs_quota_us"),
            ("cpu.cfs_period_us", "cpu.cfs_period_us"),
            ("cpuset.cpus", "cpuset.cpus"), ("freezer.state", "freezer.state"), ("cgroup.freeze", "cgroup.freeze"),
        ]
        var out: [String: String] = [:]
        for mount in mounts {
            guard let dir = mount.directory(for: cgroup), Files.isDirectory(dir) else { continue }
            for (key, file) in wanted where out[key] == nil {
                if let text = try? Files.read(dir + "/" + file) {
                    let v = CgroupFile.trim(text)
                    // v1 reports "no limit" as a page-rounded LONG_MAX.
                    out[key] = (file == "memory.limit_in_bytes" && (UInt64(v) ?? 0) >= (1 << 62)) ? "max" : v
                }
            }
        }
        return out
    }

    // MARK: mount

    /// Mounts a named v1 hierarchy (no subsystems unless `subsystems` is given) at `directory`.
    /// On a v2-only host there is a single hierarchy, so this explains why not.
    public static func mountNamed(name: String, directory: String, subsystems: [String] = []) throws(CgroupError) {
        if Cgroups.detectMode() == .unified {
            throw CgroupError("mount named hierarchy \"\(name)\"", path: directory,
                              reason: "this host runs cgroup v2 only: v2 has exactly one hierarchy (the unified tree at /sys/fs/cgroup) and no named ones; a named hierarchy is a v1 tree without controllers, used only to group tasks (systemd's name=systemd). On v2, make a cgroup with `berth cgroup create` instead")
        }
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else {
            throw CgroupError("mount named hierarchy", path: directory, reason: "bad name \"\(name)\" (letters, digits, _ - . only)")
        }
        let known = Set(Cgroups.subsystems().map(\.name))
        for s in subsystems where !known.contains(s) {
            throw CgroupError("mount named hierarchy", path: directory, reason: "no such subsystem \"\(s)\"")
        }
        do { try Files.makeDirectories(directory) } catch {
            throw CgroupError("create mount point", path: directory, reason: SystemError.message(error.errno))
        }
        let options = (subsystems.isEmpty ? ["none"] : subsystems) + ["name=" + name]
        do {
            try Mounts.mount(source: "cgroup", target: directory, type: "cgroup", flags: [],
                             data: options.joined(separator: ","))
        } catch {
            throw CgroupError("mount -t cgroup -o \(options.joined(separator: ","))", path: directory,
                              reason: explainMountFailure(error.errno, name: name, subsystems: subsystems))
        }
    }

    static func explainMountFailure(_ code: Int32, name: String, subsystems: [String]) -> String {
        let base = SystemError.message(code)
        if code == EBUSY {
            let attached = Cgroups.subsystems().filter { subsystems.contains($0.name) && $0.hierarchy > 0 }
            let details = attached.map { s -> String in
                let peers = Cgroups.subsystems().filter { $0.hierarchy == s.hierarchy }.map(\.name)
                return "\(s.name) is already in hierarchy \(s.hierarchy) (with \(peers.joined(separator: ",")))"
            }
            return "\(base): a subsystem can be attached to one hierarchy only, and an existing hierarchy can be mounted again only with exactly its own subsystems"
                + (details.isEmpty ? "" : "; " + details.joined(separator: "; "))
        }
        if code == EINVAL && subsystems.isEmpty && Cgroups.detectMode() == .unified {
            return "\(base): this kernel runs cgroup v2 only (cgroup_no_v1 or no v1 support); v2 has a single hierarchy, so there are no named hierarchies — make a cgroup with `berth cgroup create` instead"
        }
        if code == EINVAL {
            return "\(base): a hierarchy named \"\(name)\" may already exist with other options, or the subsystems are unavailable"
        }
        return base
    }
}
