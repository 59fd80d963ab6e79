import Glibc
import CBerth

public enum RootSwitch {
    /// pivot_root(".", ".") in `newRoot`, then detaches the old root stacked underneath: no temporary
    /// directory in the rootfs, and the host tree becomes unreachable.
    public static func pivot(to newRoot: String) throws(SystemError) {
        let oldRoot = try check("open", "/") { open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC) }
        defer { close(oldRoot) }
        let newRootFd = try check("open", newRoot) { open(newRoot, O_DIRECTORY | O_RDONLY | O_CLOEXEC) }
        defer { close(newRootFd) }
        try check("fchdir", newRoot) { fchdir(newRootFd) }
        try check("pivot_root", newRoot) { berth_pivot_root(".", ".") }
        try check("fchdir", "old root") { fchdir(oldRoot) }
        // The old root may be shared with the host: make it slave so the detach does not propagate back.
        try Mounts.mount(source: nil, target: ".", type: nil, flags: [.slave, .recursive])
        try Mounts.unmount(".", detach: true)
        try check("chdir", "/") { chdir("/") }
    }

    /// A container without a mount namespace of its own (runc's third way): a plain chroot. Nothing is
    /// mounted or moved, since every mount would be the host's.
    public static func chrootOnly(to newRoot: String) throws(SystemError) {
        try check("chdir", newRoot) { chdir(newRoot) }
        try check("chroot", ".") { Glibc.chroot(".") }
        try check("chdir", "/") { chdir("/") }
    }

    /// --no-pivot: move the rootfs over / and chroot (for ramfs roots where pivot_root is impossible).
    public static func moveAndChroot(to newRoot: String) throws(SystemError) {
        try hideFullProcAndSysfs(outside: newRoot)
        try check("chdir", newRoot) { chdir(newRoot) }
        try Mounts.mount(source: newRoot, target: "/", type: nil, flags: .move)
        try check("chroot", ".") { chroot(".") }
        try check("chdir", "/") { chdir("/") }
    }

    /// Without pivot_root the host's mounts stay in the container's mount namespace, under the chroot. A full
    /// (root "/") proc or sysfs mount among them would let a process in the container mount a fresh, unmasked
    /// proc of its own (the kernel allows it when a full mount of that filesystem is visible in the namespace).
    /// So each is detached first, or covered with an empty tmpfs where it cannot be, as runc does.
    static func hideFullProcAndSysfs(outside root: String) throws(SystemError) {
        let exposed = MountInfoEntry.all().filter {
            $0.root == "/" && ($0.fsType == "proc" || $0.fsType == "sysfs") && !($0.mountPoint == root || $0.mountPoint.hasPrefix(root + "/"))
        }
        // Deepest first, so that a parent's unmount does not hide a child that was still to be handled.
        for entry in exposed.sorted(by: { $0.mountPoint.count > $1.mountPoint.count }) {
            let slave = Glibc.mount(nil, entry.mountPoint, nil, UInt(MS_SLAVE | MS_REC), nil)
            if slave != 0 && errno == ENOENT { continue }   // under something already gone
            if umount2(entry.mountPoint, Int32(MNT_DETACH)) != 0 {
                guard errno == EINVAL || errno == EPERM else { throw SystemError("umount2", entry.mountPoint) }
                try Mounts.mount(source: "tmpfs", target: entry.mountPoint, type: "tmpfs", flags: [])
            }
        }
    }
}
