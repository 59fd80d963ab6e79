import Cgroups
import Linux
import OCISpec

/// What changes when the engine runs rootless: as root of the user namespace an ordinary user's `berth`
/// enters (docs/rootless.md), which owns no host cgroup and no host network.
public enum Rootless {
    /// The engine runs rootless when its user namespace is not the host's.
    public static var isActive: Bool { !UserNamespaceFacts.isInitial }

    /// Why a rootless container gets no cgroup here. On cgroup v1 the host's hierarchies belong to host root and
    /// are never delegated to a user; cgroup v2 delegation (a subtree the user owns) is not used yet.
    static var noCgroupReason: String {
        Cgroups.detectMode() == .unified
            ? "rootless containers get no cgroup (berth does not use a delegated cgroup v2 subtree yet)"
            : "rootless containers get no cgroup on cgroup v1 (limits need cgroup v2 with a subtree delegated to the user)"
    }

    /// A limit flag (memory, CPU, pids, blkio) is refused up front, as podman does on cgroup v1 rootless: without
    /// a cgroup it could not be kept.
    static func checkLimits(_ host: HostConfig) throws(EngineError) {
        guard isActive, SpecBuilder.limits(host) != Resources() else { return }
        throw EngineError("cannot set resource limits", noCgroupReason)
    }

    /// The network a rootless container gets when none is asked for: the bridge needs host root; pasta does not.
    public static let defaultNetwork = PastaNetwork.mode
}
