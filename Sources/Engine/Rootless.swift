import Cgroups
import Linux
import OCISpec

/// What changes when the engine runs rootless: as root of the user namespace an ordinary user's `berth`
/// enters (docs/rootless.md), which owns no host cgroup and no host network.
public enum Rootless {
    /// The engine runs rootless when its user namespace is not the host's.
    public static var isActive: Bool { !UserNamespaceFacts.isInitial }

    /// The cgroup v2 subtree the host delegates to this user (systemd's `user@UID.service`, or one an
    /// administrator chowned), under which rootless containers get their cgroups; nil on cgroup v1 and where
    /// nothing is delegated. Looked up once per command.
    static let delegated: DelegatedSubtree? = isActive ? DelegatedSubtree.ofThisProcess() : nil

    /// `linux.cgroupsPath` of a container: `/berth/ID` from the root of each hierarchy, or, rootless,
    /// `berth/ID` below the delegated subtree (the runtime then runs it without a cgroup where there is none).
    static func cgroupsPath(for id: String) -> String {
        guard isActive, let delegated else { return "/berth/" + id }
        return delegated.path + "/berth/" + id
    }

    /// Why a rootless container gets no cgroup here. On cgroup v1 the host's hierarchies belong to host root and
    /// are never delegated to a user; on cgroup v2 only a subtree the user owns can be used.
    static var noCgroupReason: String {
        Cgroups.detectMode() == .unified
            ? "rootless containers get no cgroup: no cgroup v2 subtree is delegated to this user (systemd's user@UID.service, or a subtree chowned to the user)"
            : "rootless containers get no cgroup on cgroup v1 (limits need cgroup v2 with a subtree delegated to the user)"
    }

    /// A limit flag (memory, CPU, pids, blkio) is refused up front where it could not be kept, as podman does:
    /// without a delegated subtree, or when the subtree does not hand over the controller the flag needs.
    static func checkLimits(_ host: HostConfig) throws(EngineError) {
        guard isActive else { return }
        let limits = SpecBuilder.limits(host)
        guard limits != Resources() else { return }
        guard let delegated else { throw EngineError("cannot set resource limits", noCgroupReason) }
        var needed: [(flag: String, controller: String)] = []
        if limits.memory != nil { needed.append(("memory", "memory")) }
        if limits.pids != nil { needed.append(("--pids-limit", "pids")) }
        if let cpu = limits.cpu {
            if cpu.shares != nil || cpu.quota != nil { needed.append(("CPU", "cpu")) }
            if cpu.cpus != nil || cpu.mems != nil { needed.append(("--cpuset", "cpuset")) }
        }
        if limits.blockIO != nil { needed.append(("--blkio-weight", "io")) }
        for (flag, controller) in needed where !delegated.controllers.contains(controller) {
            throw EngineError("cannot set the \(flag) limit",
                              "the cgroup v2 subtree delegated to this user (\(delegated.path)) does not hand over the \(controller) controller")
        }
    }

    /// The network a rootless container gets when none is asked for: the bridge needs host root; pasta does not.
    public static let defaultNetwork = PastaNetwork.mode
}
