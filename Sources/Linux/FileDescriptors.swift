import Glibc
import CBerth

public enum FileDescriptors {
    /// Marks every fd from `first` up close-on-exec, so nothing of the runtime leaks into the container.
    public static func closeOnExec(from first: Int32) throws(SystemError) {
        // CLOSE_RANGE_CLOEXEC = 4
        if berth_close_range(UInt32(first), UInt32.max, 4) == 0 { return }
        for name in try Files.listDirectory("/proc/self/fd") {
            if let fd = Int32(name), fd >= first { _ = berth_fcntl_setfd(fd, FD_CLOEXEC) }
        }
    }

    public static func setCloseOnExec(_ fd: Int32, _ on: Bool) {
        let flags = berth_fcntl_getfd(fd)
        _ = berth_fcntl_setfd(fd, on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC)
    }

    public static func setNonBlocking(_ fd: Int32, _ on: Bool) {
        let flags = berth_fcntl_getfl(fd)
        _ = berth_fcntl_setfl(fd, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK)
    }

    /// A pipe whose both ends are close-on-exec.
    public static func pipe() throws(SystemError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        try check("pipe2") { berth_pipe2(&fds, O_CLOEXEC) }
        return (fds[0], fds[1])
    }

    /// A connected pair of SOCK_SEQPACKET sockets, close-on-exec: message boundaries for the sync channel.
    public static func socketPair(stream: Bool = false) throws(SystemError) -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        let type = stream ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_SEQPACKET.rawValue)
        try check("socketpair") {
            socketpair(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
        }
        return (fds[0], fds[1])
    }

    /// Moves `fd` to `target` (dup2) unless it is already there.
    public static func move(_ fd: Int32, to target: Int32) throws(SystemError) {
        if fd == target { FileDescriptors.setCloseOnExec(fd, false); return }
        try check("dup2", "\(fd)->\(target)") { dup2(fd, target) }
    }
}
