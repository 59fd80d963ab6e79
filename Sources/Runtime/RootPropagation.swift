import Glibc
import Linux

/// The propagation of the mount a rootfs lives on, which pivot_root and the rootfs bind depend on.
enum RootPropagation {
    /// Makes the mount that holds `path` private if it is shared (runc's rootfsParentMountPrivate).
    static func makeParentPrivate(of path: String) throws(SystemError) {
        guard let resolved = realpath(path, nil) else { throw SystemError("realpath", path) }
        let target = String(cString: resolved)
        free(resolved)
        guard let parent = parentMount(of: target, in: try Files.read("/proc/self/mountinfo")), parent.shared else { return }
        try Mounts.mount(source: nil, target: parent.mountPoint, type: nil, flags: .private)
    }

    /// The mount point of the deepest mount containing `path` (the last one listed wins for stacked
    /// mounts: it is the visible one), and whether it is shared.
    static func parentMount(of path: String, in mountinfo: String) -> (mountPoint: String, shared: Bool)? {
        var best: (mountPoint: String, shared: Bool)?
        for line in mountinfo.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 6 else { continue }
            let mountPoint = Mounts.unescape(String(fields[4]))
            let inside = mountPoint == "/" || path == mountPoint || path.hasPrefix(mountPoint + "/")
            guard inside, mountPoint.count >= (best?.mountPoint.count ?? 0) else { continue }
            // Optional fields run from the seventh field to the "-" separator.
            let optional = fields[6...].prefix { $0 != "-" }
            best = (mountPoint, optional.contains { $0.hasPrefix("shared:") })
        }
        return best
    }
}
