import Linux
import OCISpec

/// How the container's namespaces come to be. The fast path creates them all with one clone(); the
/// staged path (joining namespaces by path together with a new user namespace, or joining a user
/// namespace) follows the kernel's ownership rules: join, then unshare user, then the rest, then fork.
struct NamespacePlan {
    let new: Set<NamespaceKind>
    let joins: [(kind: NamespaceKind, path: String)]

    init(_ namespaces: [(kind: NamespaceKind, path: String?)]) {
        new = Set(namespaces.filter { $0.path == nil }.map(\.kind))
        joins = namespaces.compactMap { entry in entry.path.map { (entry.kind, $0) } }
    }

    /// Joined in the parent around clone(): they only affect the parent's future children.
    var parentJoins: [(kind: NamespaceKind, path: String)] { joins.filter { $0.kind == .pid || $0.kind == .time } }
    /// Joined by the child itself.
    var childJoins: [(kind: NamespaceKind, path: String)] {
        // A joined user namespace goes first: the other joins are checked against it.
        let rest = joins.filter { $0.kind != .pid && $0.kind != .time }
        return rest.filter { $0.kind == .user } + rest.filter { $0.kind != .user }
    }

    var isStaged: Bool {
        joins.contains { $0.kind == .user } || (new.contains(.user) && !childJoins.isEmpty)
    }

    /// What clone() creates on the fast path. The cgroup namespace is unshared by the child after it
    /// has been put in its cgroup; the time namespace is unshared by the parent (CLONE_NEWTIME collides
    /// with clone()'s exit-signal bits).
    var cloneFlags: Int32 {
        if isStaged { return 0 }
        return new.filter { $0 != .cgroup && $0 != .time }.reduce(0) { $0 | $1.cloneFlag }
    }

    /// What the staged child unshares after joining (the user namespace separately, first).
    var stagedUnshareFlags: Int32 {
        new.filter { $0 != .user && $0 != .time }.reduce(0) { $0 | $1.cloneFlag }
    }
}
