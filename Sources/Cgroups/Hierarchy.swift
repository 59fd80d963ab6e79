import Glibc
import Linux

/// One mounted cgroup hierarchy, as seen in /proc/self/mountinfo.
///
/// On v1 a hierarchy has one or more subsystems (controllers) attached, or none and a name
/// (`name=systemd`); each is a separate tree. On v2 there is a single tree (the unified hierarchy).
public struct CgroupMount: Sendable, Equatable, Codable {
    /// 1 or 2.
    public var version: Int
    /// Where it is mounted (`/sys/fs/cgroup/memory`).
    public var mountPoint: String
    /// The cgroup at the mount point, relative to the hierarchy root (`/` unless a cgroup namespace or bind mount).
    public var root: String
    /// Attached subsystems (`cpu`, `cpuacct`), v1 only.
    public var subsystems: [String]
    /// The hierarchy's name (`systemd` for `name=systemd`), v1 only.
    public var name: String?

    /// Directory of `cgroup` (a path relative to the hierarchy root) under this mount, or nil if the
    /// mount does not reach it (the mount's root is below it).
    public func directory(for cgroup: String) -> String? {
        let cleanRoot = root == "/" ? "" : root
        if cleanRoot.isEmpty { return cgroup == "/" ? mountPoint : mountPoint + cgroup }
        if cgroup == cleanRoot { return mountPoint }
        guard cgroup.hasPrefix(cleanRoot + "/") else { return nil }
        return mountPoint + cgroup.dropFirst(cleanRoot.count)
    }

    /// A short label: the subsystems joined by commas, `name=X`, or `cgroup2`.
    public var label: String {
        if version == 2 { return "cgroup2" }
        var parts = subsystems
        if let name { parts.append("name=" + name) }
        return parts.joined(separator: ",")
    }
}

/// A line of /proc/cgroups: a v1 subsystem the kernel knows, and the hierarchy it is attached to (0: none or v2).
public struct SubsystemInfo: Sendable, Equatable, Codable {
    public var name: String
    public var hierarchy: Int
    public var cgroupCount: Int
    public var enabled: Bool
}

/// A line of /proc/PID/cgroup: `hierarchy-ID:controller-list:cgroup-path`.
public struct Membership: Sendable, Equatable, Codable {
    public var hierarchy: Int
    /// Controllers (and `name=X`) of that hierarchy; empty for the v2 line (`0::/path`).
    public var controllers: [String]
    public var path: String
}

extension Cgroups {
    /// The mount table's cgroup entries (v1 and v2), in mount order. Duplicate mounts of the same
    /// hierarchy are reduced to the first one.
    public static func mounts() -> [CgroupMount] {
        guard let bytes = try? Files.readBytes("/proc/self/mountinfo") else { return [] }
        var known: Set<String>?   // /proc/cgroups, read only once a v1 mount is seen
        var out: [CgroupMount] = []
        let space = UInt8(ascii: " ")
        // Split on bytes, not Characters: this runs several times per runtime command, and a host with many
        // containers has thousands of lines, nearly all of them not cgroup mounts.
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: space)
            guard let dash = fields.firstIndex(where: { $0.count == 1 && $0.first == UInt8(ascii: "-") }) else { continue }
            guard dash >= 5, fields.count >= dash + 4 else { continue }
            let fsType = fields[dash + 1]
            let isV2 = fsType.elementsEqual("cgroup2".utf8)
            guard isV2 || fsType.elementsEqual("cgroup".utf8) else { continue }
            let root = unescape(String(decoding: fields[3], as: UTF8.self))
            let mountPoint = unescape(String(decoding: fields[4], as: UTF8.self))
            var mount = CgroupMount(version: isV2 ? 2 : 1, mountPoint: mountPoint, root: root, subsystems: [], name: nil)
            if !isV2 {
                if known == nil { known = Set(subsystems().map(\.name)) }
                for option in fields[dash + 3].split(separator: UInt8(ascii: ",")) {
                    let text = String(decoding: option, as: UTF8.self)
                    if text.hasPrefix("name=") {
                        mount.name = String(text.dropFirst(5))
                    } else if known?.contains(text) == true {
                        mount.subsystems.append(text)
                    }
                }
            }
            if out.contains(where: { $0.version == mount.version && $0.subsystems == mount.subsystems
                && $0.name == mount.name && ($0.version == 1 || $0.mountPoint == mount.mountPoint) }) {
                continue
            }
            out.append(mount)
        }
        return out
    }

    /// /proc/cgroups: the v1 subsystems compiled into the kernel.
    public static func subsystems() -> [SubsystemInfo] {
        guard let text = try? Files.read("/proc/cgroups") else { return [] }
        var out: [SubsystemInfo] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard f.count >= 4 else { continue }
            out.append(SubsystemInfo(name: String(f[0]), hierarchy: Int(f[1]) ?? 0, cgroupCount: Int(f[2]) ?? 0,
                                     enabled: f[3] == "1"))
        }
        return out
    }

    /// /proc/PID/cgroup, parsed. Throws if the process does not exist.
    public static func memberships(pid: Int32) throws(CgroupError) -> [Membership] {
        let file = pid == 0 ? "/proc/self/cgroup" : "/proc/\(pid)/cgroup"
        let text: String
        do { text = try Files.read(file) } catch {
            if error.errno == ENOENT { throw CgroupError("read", path: file, reason: "no process with PID \(pid)") }
            throw CgroupError("read", path: file, reason: SystemError.message(error.errno))
        }
        return parseMemberships(text)
    }

    static func parseMemberships(_ text: String) -> [Membership] {
        var out: [Membership] = []
        for line in text.split(separator: "\n") {
            let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3 else { continue }
            out.append(Membership(hierarchy: Int(f[0]) ?? 0,
                                  controllers: f[1].split(separator: ",").map(String.init),
                                  path: String(f[2])))
        }
        return out
    }

    /// Detects the host layout from the mount table (falling back to /proc/cgroups when nothing is mounted).
    public static func detectMode() -> CgroupMode { mode(of: mounts()) }

    static func mode(of all: [CgroupMount]) -> CgroupMode {
        let hasV1 = all.contains { $0.version == 1 && !$0.subsystems.isEmpty }
        let hasV2 = all.contains { $0.version == 2 }
        if hasV1 { return hasV2 ? .hybrid : .legacy }
        if hasV2 { return .unified }
        // Nothing mounted: if every subsystem is unattached the kernel is v2-only in spirit.
        let subs = subsystems()
        return subs.isEmpty || subs.allSatisfy({ $0.hierarchy == 0 }) ? .unified : .legacy
    }

    /// Mount points escape spaces, tabs, newlines and backslashes as \ooo.
    static func unescape(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var bytes: [UInt8] = []
        let u = Array(s.utf8)
        var i = 0
        while i < u.count {
            if u[i] == UInt8(ascii: "\\"), i + 4 <= u.count,
               let v = UInt8(String(decoding: u[(i + 1)..<(i + 4)], as: UTF8.self), radix: 8) {
                bytes.append(v); i += 4
            } else {
                bytes.append(u[i]); i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Normalises a cgroup path: collapses slashes and `.`; rejects `..` so a path can never
    /// climb out of the hierarchy root (or the caller's cgroup).
    static func clean(_ path: String) throws(CgroupError) -> String {
        var parts: [Substring] = []
        for component in path.split(separator: "/") {
            if component == "." { continue }
            if component == ".." {
                throw CgroupError("resolve cgroup path", path: path, reason: "'..' is not allowed (it would escape the cgroup root)")
            }
            parts.append(component)
        }
        return "/" + parts.joined(separator: "/")
    }
}
