import Glibc
import Linux

/// A cgroup v2 subtree delegated to an unprivileged user (cgroup-v2.rst, "Delegation"): its directory and its
/// `cgroup.procs`, `cgroup.subtree_control` and `cgroup.threads` are the user's, so the user may create
/// cgroups below it, enable controllers there and move its own processes between them. systemd delegates
/// `user@UID.service` this way; an administrator can chown any subtree.
public struct DelegatedSubtree: Sendable, Equatable {
    /// Its path from the cgroup2 root (`/user.slice/user-1000.slice/user@1000.service`).
    public let path: String
    /// Its directory (`/sys/fs/cgroup/...`).
    public let directory: String
    /// The controllers its children can have: those enabled in its `cgroup.subtree_control`, plus, while it
    /// holds no process itself ("no internal processes"), those its `cgroup.controllers` offers.
    public let controllers: Set<String>

    /// The delegated subtree above the calling process: the highest ancestor of its own cgroup whose files it may
    /// write, on a cgroup2-only host. nil on cgroup v1 or hybrid hosts (their v1 hierarchies are never
    /// delegated, and the unified tree there has no controllers), and when nothing above the process is its own.
    public static func ofThisProcess() -> DelegatedSubtree? {
        let all = Cgroups.mounts()
        guard Cgroups.mode(of: all) == .unified, let unified = all.first(where: { $0.version == 2 }),
              let own = ((try? Cgroups.memberships(pid: 0)) ?? []).first(where: { $0.hierarchy == 0 })?.path,
              own.hasPrefix("/") else { return nil }
        var components = own.split(separator: "/").map(String.init)
        var found: String?
        while !components.isEmpty {
            let path = "/" + components.joined(separator: "/")
            guard isWritable(unified.mountPoint + path) else { break }
            found = path
            components.removeLast()
        }
        guard let path = found else { return nil }
        let directory = unified.mountPoint + path
        func list(_ file: String) -> Set<String> {
            Set(((try? Files.read(directory + "/" + file)) ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        }
        var controllers = list("cgroup.subtree_control")
        let holdsProcesses = !((try? Files.read(directory + "/cgroup.procs")) ?? "").isEmpty
        if !holdsProcesses { controllers.formUnion(list("cgroup.controllers")) }
        return DelegatedSubtree(path: path, directory: directory, controllers: controllers)
    }

    /// What delegation hands over: the directory and the three files that make a cgroup manageable.
    static func isWritable(_ directory: String) -> Bool {
        access(directory, W_OK) == 0
            && ["cgroup.procs", "cgroup.subtree_control", "cgroup.threads"].allSatisfy { access(directory + "/" + $0, W_OK) == 0 }
    }
}
