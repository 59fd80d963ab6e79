import CBerth
import Glibc

/// One range of a user-namespace mapping: ids `inside ..< inside+count` are `outside ..< outside+count` on the host.
public struct IDRange: Sendable, Equatable, Codable {
    public var inside: UInt32
    public var outside: UInt32
    public var count: UInt32
    public init(inside: UInt32, outside: UInt32, count: UInt32) {
        self.inside = inside; self.outside = outside; self.count = count
    }

    /// The text of /proc/PID/uid_map for `ranges`.
    public static func mapText(_ ranges: [IDRange]) -> String {
        ranges.map { "\($0.inside) \($0.outside) \($0.count)\n" }.joined()
    }
}

/// Idmapped mounts (Linux 5.12+; overlayfs accepts them as layers since 5.19): a clone of a directory's mount in
/// which files owned by host id X appear owned by X's mapping, so that a container whose root is host uid 100000
/// sees the image's root-owned files as its own, and what it writes is stored as uid 0. No file is chowned.
public enum IDMappedMount {
    /// An fd of a new user namespace with these mappings, for `MOUNT_ATTR_IDMAP`.
    public static func userNamespace(uids: [IDRange], gids: [IDRange]) throws(SystemError) -> Int32 {
        let subject = "uids " + uids.map { "\($0.inside):\($0.outside):\($0.count)" }.joined(separator: ",")
        return try check("creating a user namespace for an idmapped mount", subject) {
            berth_userns_fd(IDRange.mapText(uids), IDRange.mapText(gids))
        }
    }

    /// Mounts an idmapped clone of the mount tree at `source` (not recursive) on `target`, an existing directory.
    public static func bind(_ source: String, on target: String, userNamespace: Int32) throws(SystemError) {
        let tree = try check("open_tree", source) {
            open_tree(AT_FDCWD, source, UInt32(OPEN_TREE_CLONE) | UInt32(OPEN_TREE_CLOEXEC))
        }
        defer { close(tree) }
        var attributes = mount_attr()
        attributes.attr_set = UInt64(MOUNT_ATTR_IDMAP)
        attributes.userns_fd = UInt64(userNamespace)
        _ = try check("mount_setattr(MOUNT_ATTR_IDMAP)", source) {
            mount_setattr(tree, "", 0x1000 /* AT_EMPTY_PATH, hidden by _GNU_SOURCE in Swift's Glibc */, &attributes, MemoryLayout<mount_attr>.size)
        }
        _ = try check("move_mount", target) {
            move_mount(tree, "", AT_FDCWD, target, UInt32(MOVE_MOUNT_F_EMPTY_PATH))
        }
    }
}

/// A container's user-namespace mappings, uids and gids.
public struct IDMap: Sendable, Equatable, Codable {
    public var uids: [IDRange]
    public var gids: [IDRange]
    public init(uids: [IDRange], gids: [IDRange]) { self.uids = uids; self.gids = gids }

    /// The host id that container id `id` is, if mapped.
    public static func hostID(_ id: UInt32, in ranges: [IDRange]) -> UInt32? {
        for range in ranges where id >= range.inside && id - range.inside < range.count {
            return range.outside + (id - range.inside)
        }
        return nil
    }

    /// The container id that host id `id` is, if mapped.
    public static func containerID(_ id: UInt32, in ranges: [IDRange]) -> UInt32? {
        for range in ranges where id >= range.outside && id - range.outside < range.count {
            return range.inside + (id - range.outside)
        }
        return nil
    }
}
