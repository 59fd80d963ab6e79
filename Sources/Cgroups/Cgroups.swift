import Glibc
import Linux

/// Entry points of the cgroup layer.
public enum Cgroups {
    /// `cgroupsPath` from config.json: absolute = relative to each hierarchy root; relative = under the
    /// caller's own cgroup in each hierarchy (as runc does). `..` is refused.
    ///
    /// On a legacy or hybrid host this returns a `CgroupV1Manager` (v1 controllers, plus the unified tree
    /// on hybrid hosts), on a unified host a `CgroupV2Manager`. "" is a container without a cgroup
    /// (`DetachedCgroup`); the runtime only records "" when it runs rootless with nothing delegated.
    public static func manager(path: String) throws(CgroupError) -> any CgroupManager {
        if path.isEmpty { return DetachedCgroup() }
        let path = try isSystemdPath(path) ? systemdCgroupPath(path) : path
        // One read of the mount table and of /proc/self/cgroup serves detection and resolution.
        let all = mounts()
        let own = path.hasPrefix("/") ? [] : ((try? memberships(pid: 0)) ?? [])
        switch mode(of: all) {
        case .unified: return try CgroupV2Manager(path: path, mounts: all, own: own)
        case .legacy, .hybrid: return try CgroupV1Manager(path: path, mounts: all, own: own)
        }
    }

    /// runc's systemd-driver form `slice:prefix:name` (no slash, two colons).
    public static func isSystemdPath(_ path: String) -> Bool {
        !path.contains("/") && path.split(separator: ":", omittingEmptySubsequences: false).count == 3
    }

    /// Whether systemd runs as PID 1 (what sd_booted checks).
    public static var systemdIsInit: Bool { Files.isDirectory("/run/systemd/system") }

    /// Maps `slice:prefix:name` to the cgroup systemd would use: the slice expanded into its
    /// parents (`a-b.slice` → `/a.slice/a-b.slice`) and the unit `prefix-name.scope`.
    /// The systemd driver needs systemd as PID 1; anywhere else this is a clear error.
    public static func systemdCgroupPath(_ path: String) throws(CgroupError) -> String {
        let parts = path.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard systemdIsInit else {
            let initName = ((try? Files.read("/proc/1/comm")) ?? "?").split(separator: "\n").first.map(String.init) ?? "?"
            throw CgroupError("use the systemd cgroup driver for", path: path,
                              reason: "systemd is not PID 1 here (PID 1 is \(initName)); use a cgroupfs path such as /berth/ID")
        }
        var slice = parts[0].isEmpty ? "system.slice" : parts[0]
        guard slice.hasSuffix(".slice"), !parts[2].isEmpty else {
            throw CgroupError("parse systemd cgroup path", path: path, reason: "expected slice:prefix:name, e.g. system.slice:berth:ID")
        }
        var expanded = ""
        if slice != "-.slice" {
            slice.removeLast(6)
            var prefix = ""
            for component in slice.split(separator: "-") {
                prefix += prefix.isEmpty ? String(component) : "-" + component
                expanded += "/" + prefix + ".slice"
            }
        }
        let unit = parts[2].hasSuffix(".slice") ? parts[2] : (parts[1].isEmpty ? parts[2] : parts[1] + "-" + parts[2]) + ".scope"
        return expanded + "/" + unit
    }

    /// The directory of `path` in `mount`, resolving a relative path under the caller's own cgroup there.
    static func resolve(_ path: String, in mount: CgroupMount, own: [Membership]) throws(CgroupError) -> String {
        guard !path.isEmpty else { throw CgroupError("resolve cgroup path", path: path, reason: "the path is empty") }
        var cgroup = try clean(path)
        if !path.hasPrefix("/") {
            let mine: Membership?
            if mount.version == 2 {
                mine = own.first { $0.hierarchy == 0 && $0.controllers.isEmpty }
            } else {
                let wanted = Set(mount.subsystems + (mount.name.map { ["name=" + $0] } ?? []))
                mine = own.first { Set($0.controllers) == wanted }
            }
            let base = mine?.path ?? "/"
            cgroup = try clean(base + cgroup)
        }
        guard let dir = mount.directory(for: cgroup) else {
            throw CgroupError("resolve cgroup path", path: cgroup,
                              reason: "outside the part of the hierarchy mounted at \(mount.mountPoint)")
        }
        return dir
    }

    /// Whether a process exists (a PID that is gone gives a clear error instead of a write failure).
    static func processExists(_ pid: Int32) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }

    /// Every pid in `dir` and the cgroups below it.
    static func processesRecursive(_ dir: String) -> [Int32] {
        var out: [Int32] = []
        if let text = try? Files.read(dir + "/cgroup.procs") {
            out += text.split(separator: "\n").compactMap { Int32($0) }
        }
        if let names = try? Files.listDirectory(dir) {
            for name in names where Files.isDirectory(dir + "/" + name) {
                out += processesRecursive(dir + "/" + name)
            }
        }
        return out
    }

    /// rmdir of a cgroup and every (empty) cgroup below it, retrying briefly while tasks exit (EBUSY).
    static func removeCgroupDirectory(_ dir: String) throws(CgroupError) {
        // The common case, a leaf with no tasks left, is one rmdir: no walk over its control files.
        if rmdir(dir) == 0 || errno == ENOENT { return }
        guard Files.isDirectory(dir) else { return }
        if let names = try? Files.listDirectory(dir) {
            for name in names where Files.isDirectory(dir + "/" + name) {
                try removeCgroupDirectory(dir + "/" + name)
            }
        }
        var delay: UInt32 = 1000
        for attempt in 0..<12 {
            if rmdir(dir) == 0 || errno == ENOENT { return }
            let code = errno
            if code != EBUSY || attempt == 11 {
                let tasks = processesRecursive(dir)
                let why = code == EBUSY && !tasks.isEmpty
                    ? "still has tasks \(tasks.prefix(8).map(String.init).joined(separator: " "))"
                    : SystemError.message(code)
                throw CgroupError("remove cgroup", path: dir, reason: why)
            }
            usleep(delay)
            delay = min(delay * 2, 100_000)
        }
    }

    /// Sends `signal` to every pid, ignoring ones that have already gone.
    static func signalAll(_ pids: [Int32], _ signal: Int32) {
        for pid in pids where pid > 0 { _ = kill(pid, signal) }
    }

    /// `type major:minor access` for v1 devices.allow/deny.
    static func deviceRuleLine(_ rule: OCIDeviceRule) -> String {
        let major = rule.major.map { String($0) } ?? "*"
        let minor = rule.minor.map { String($0) } ?? "*"
        return "\(rule.type ?? "a") \(major):\(minor) \(rule.access ?? "rwm")"
    }
}

import OCISpec
typealias OCIDeviceRule = Resources.DeviceRule
