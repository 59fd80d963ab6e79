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

    /// --no-pivot: move the rootfs over / and chroot (for ramfs roots where pivot_root is impossible).
    public static func moveAndChroot(to newRoot: String) throws(SystemError) {
        try check("chdir", newRoot) { chdir(newRoot) }
        try Mounts.mount(source: newRoot, target: "/", type: nil, flags: .move)
        try check("chroot", ".") { chroot(".") }
        try check("chdir", "/") { chdir("/") }
    }
}
