import Glibc
import CBerth

/// The eight Linux namespace kinds, with their OCI names, `/proc/PID/ns` names and clone flags.
public enum NamespaceKind: String, CaseIterable, Sendable {
    case pid, network, mount, ipc, uts, user, cgroup, time

    public init?(ociName: String) { self.init(rawValue: ociName) }

    /// The name of the entry under /proc/PID/ns.
    public var procName: String {
        switch self {
        case .pid: "pid"
        case .network: "net"
        case .mount: "mnt"
        case .ipc: "ipc"
        case .uts: "uts"
        case .user: "user"
        case .cgroup: "cgroup"
        case .time: "time"
        }
    }

    public var cloneFlag: Int32 {
        switch self {
        case .pid: 0x2000_0000
        case .network: 0x4000_0000
        case .mount: 0x0002_0000
        case .ipc: 0x0800_0000
        case .uts: 0x0400_0000
        case .user: 0x1000_0000
        case .cgroup: 0x0200_0000
        case .time: 0x0000_0080
        }
    }
}

/// A namespace's identity: the device and inode of its /proc/PID/ns entry.
public struct NamespaceIdentity: Hashable, Sendable, CustomStringConvertible {
    public let device: UInt64
    public let inode: UInt64
    public var description: String { "\(inode)" }

    public static func of(pid: Int32, _ kind: NamespaceKind) throws(SystemError) -> NamespaceIdentity {
        let path = "/proc/\(pid)/ns/\(kind.procName)"
        var st = stat()
        try check("stat", path) { stat(path, &st) }
        return NamespaceIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }
}

public enum Namespaces {
    public static func unshare(_ flags: Int32) throws(SystemError) {
        try check("unshare", "flags=0x\(String(flags, radix: 16))") { berth_unshare(flags) }
    }

    /// Joins the namespace behind `path` (a /proc/PID/ns file or a bind mount of one).
    public static func join(path: String, kind: NamespaceKind) throws(SystemError) {
        let fd = try check("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        try check("setns", "\(path) (\(kind.rawValue))") { berth_setns(fd, kind.cloneFlag) }
    }

    public static func join(fd: Int32, kind: NamespaceKind, name: String) throws(SystemError) {
        try check("setns", "\(name) (\(kind.rawValue))") { berth_setns(fd, kind.cloneFlag) }
    }
}
