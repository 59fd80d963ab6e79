import OCISpec

/// How cgroups are mounted on this host.
public enum CgroupMode: String, Sendable, Codable {
    /// Only v1 hierarchies (no cgroup2 mount).
    case legacy
    /// v1 controllers plus a cgroup2 tree without controllers (systemd's "hybrid" layout).
    case hybrid
    /// cgroup2 only.
    case unified
}

/// A failed cgroup operation: what was done, on which file, and why.
public struct CgroupError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let path: String
    public let reason: String
    public init(_ operation: String, path: String, reason: String) {
        self.operation = operation; self.path = path; self.reason = reason
    }
    public var description: String {
        reason.isEmpty ? operation : path.isEmpty ? "\(operation): \(reason)" : "\(operation) \(path): \(reason)"
    }
}

/// One container's (or any group of tasks') cgroup, across every hierarchy it lives in.
/// Implementations: `CgroupV1Manager` (legacy and hybrid hosts) and `CgroupV2Manager` (unified).
public protocol CgroupManager: Sendable {
    /// The cgroup path as given (`/berth/ID`, relative to each hierarchy's root).
    var path: String { get }
    /// Creates the cgroup in every hierarchy; existing ones are fine.
    func create() throws(CgroupError)
    /// Writes every limit in `resources` (used by create and by `update`).
    func apply(_ resources: Resources) throws(CgroupError)
    /// Moves a task (all its threads) into the cgroup in every hierarchy.
    func addProcess(_ pid: Int32) throws(CgroupError)
    /// Every pid in the cgroup (the tree under it included).
    func processes() throws(CgroupError) -> [Int32]
    func freeze() throws(CgroupError)
    func thaw() throws(CgroupError)
    func isFrozen() throws(CgroupError) -> Bool
    func stats() throws(CgroupError) -> CgroupStats
    /// Signals every task, without racing forks (v2: cgroup.kill for SIGKILL; v1: freeze, signal, thaw).
    func killAll(signal: Int32) throws(CgroupError)
    /// Removes the cgroup from every hierarchy; it must be empty (retries briefly while tasks exit).
    func destroy() throws(CgroupError)
    /// Whether the cgroup exists in any hierarchy.
    func exists() -> Bool
}

/// Joining a cgroup without the kernel's global migration lock. Moving a task by pid (cgroup.procs,
/// or another task's id in `tasks`) takes cgroup_threadgroup_rwsem for writing, which waits for an
/// RCU grace period (5-15 ms). Two ways avoid it: a single-threaded task writing "0" (itself) to a v1
/// `tasks` file, and clone3(CLONE_INTO_CGROUP) for the cgroup2 tree.
public protocol FastCgroupJoin {
    /// The cgroup2 directory a new child can be cloned into, if there is one.
    var unifiedDirectory: String? { get }
    /// The v1 `tasks` files a single-threaded process writes "0" to, to join by itself.
    var selfJoinTaskFiles: [String] { get }
}

extension CgroupV1Manager: FastCgroupJoin {
    public var selfJoinTaskFiles: [String] {
        placements.filter { $0.mount.version == 1 }.map { $0.directory + "/tasks" }
    }
}

extension CgroupV2Manager: FastCgroupJoin {
    public var unifiedDirectory: String? { directory }
    public var selfJoinTaskFiles: [String] { [] }
}
