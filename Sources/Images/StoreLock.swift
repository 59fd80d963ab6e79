import Glibc

/// An advisory `flock(2)` on a file of the store. Operations that add content hold it shared; garbage collection
/// holds it exclusive, so it never deletes a blob another process is about to reference.
final class StoreLock: @unchecked Sendable {
    private var fd: Int32
    let path: String

    enum Mode { case shared, exclusive }

    /// Blocks until the lock is held.
    init(_ path: String, _ mode: Mode) throws(ImageError) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        self.path = path
        if fd < 0 { throw ImageError("open lock", path, SystemErrorText.current) }
        while flock(fd, mode == .shared ? LOCK_SH : LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let reason = SystemErrorText.current
            close(fd)
            throw ImageError("flock", path, reason)
        }
    }

    /// Returns nil when another holder prevents taking the lock now.
    static func tryExclusive(_ path: String) -> StoreLock? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 { return nil }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 { close(fd); return nil }
        return StoreLock(fd: fd, path: path)
    }

    private init(fd: Int32, path: String) { self.fd = fd; self.path = path }

    /// Releases the lock now rather than when the object goes.
    func unlock() {
        if fd >= 0 { close(fd); fd = -1 }
    }

    deinit { unlock() }
}

enum SystemErrorText {
    static var current: String { String(cString: strerror(errno)) }
}
