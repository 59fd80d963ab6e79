import CBerth
import Glibc
import Linux

/// A network namespace kept alive by a bind mount on a file (as `ip netns add` and podman make them), so that it
/// exists before the container (CNI sets it up, the runtime joins it by path) and after it (CNI tears it down).
public enum NetworkNamespaceFile {
    public static func create(at path: String) throws(NetworkError) {
        let fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o444)
        guard fd >= 0 else { throw NetworkError("creating network namespace file \(path)", SystemError.message(errno)) }
        close(fd)
        let namespace = berth_netns_fd()
        guard namespace >= 0 else {
            let reason = SystemError.message(errno)
            unlink(path)
            throw NetworkError("creating a network namespace", reason)
        }
        defer { close(namespace) }
        do {
            try Mounts.mount(source: "/proc/self/fd/\(namespace)", target: path, type: nil, flags: .bind)
        } catch {
            unlink(path)
            throw NetworkError("keeping the network namespace at \(path)", error.description)
        }
    }

    /// Unmounts and deletes; a missing file is not an error (removal is repeated by every cleanup path).
    public static func remove(at path: String) {
        _ = umount2(path, Int32(MNT_DETACH))
        unlink(path)
    }
}
