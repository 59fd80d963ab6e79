import OCISpec

/// A container without a cgroup: a rootless container on a host that delegates none to its user (cgroup v1,
/// or v2 without a delegated subtree). Its record's cgroup path is "" (`Cgroups.manager(path: "")`). There is
/// nothing to create, join or remove; what needs a cgroup (limits, pause, stats, the cgroup's process list)
/// fails with one line saying why, and kill/delete fall back to the init, whose pid namespace ends with it.
public struct DetachedCgroup: CgroupManager {
    public static let reason = "the container has no cgroup (rootless, and this host delegates none to the user)"

    public init() {}
    public var path: String { "" }
    public func create() throws(CgroupError) {}
    public func apply(_ resources: Resources) throws(CgroupError) {
        guard !DetachedCgroup.setsLimits(resources) else { throw CgroupError("cannot set resource limits", path: "", reason: Self.reason) }
    }
    public func addProcess(_ pid: Int32) throws(CgroupError) {}
    public func processes() throws(CgroupError) -> [Int32] { throw CgroupError("listing the cgroup's processes", path: "", reason: Self.reason) }
    public func freeze() throws(CgroupError) { throw CgroupError("cannot pause", path: "", reason: Self.reason) }
    public func thaw() throws(CgroupError) { throw CgroupError("cannot unpause", path: "", reason: Self.reason) }
    public func isFrozen() throws(CgroupError) -> Bool { false }
    public func stats() throws(CgroupError) -> CgroupStats { throw CgroupError("reading cgroup stats", path: "", reason: Self.reason) }
    public func killAll(signal: Int32) throws(CgroupError) { throw CgroupError("signalling every process", path: "", reason: Self.reason) }
    public func destroy() throws(CgroupError) {}
    public func exists() -> Bool { false }

    /// Whether `resources` asks for anything only a cgroup can give. Device rules are not counted: in a user
    /// namespace the kernel already refuses mknod, and the device nodes are bind mounts of the host's.
    public static func setsLimits(_ resources: Resources?) -> Bool {
        guard var resources else { return false }
        resources.devices = nil
        return resources != Resources()
    }
}
