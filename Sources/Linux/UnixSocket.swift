import Glibc

/// Unix-domain sockets by path: the monitor's attach socket and the console sockets the engine makes.
public enum UnixSocket {
    public enum Kind: Sendable {
        case stream
        /// Message boundaries kept (conmon's attach socket is one too): one read is one frame.
        case seqpacket

        var rawValue: Int32 { self == .stream ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_SEQPACKET.rawValue) }
    }

    /// Binds and listens on `path` (an old socket file there is replaced). Close-on-exec, non-blocking.
    public static func listen(path: String, kind: Kind, backlog: Int32 = 16) throws(SystemError) -> Int32 {
        let fd = try check("socket", path) { socket(AF_UNIX, kind.rawValue | Int32(SOCK_CLOEXEC.rawValue), 0) }
        unlink(path)
        do {
            try withAddress(path) { (address, length) throws(SystemError) in
                try check("bind", path) { bind(fd, address, length) }
            }
            try check("listen", path) { Glibc.listen(fd, backlog) }
        } catch {
            close(fd)
            throw error
        }
        FileDescriptors.setNonBlocking(fd, true)
        return fd
    }

    /// Connects to the socket at `path`; the fd is close-on-exec and blocking.
    /// `timeout` (seconds) bounds connect and every later send: a peer whose backlog or buffer is
    /// full makes them fail with EAGAIN rather than block for ever.
    public static func connect(path: String, kind: Kind, timeout: Int? = nil) throws(SystemError) -> Int32 {
        let fd = try check("socket", path) { socket(AF_UNIX, kind.rawValue | Int32(SOCK_CLOEXEC.rawValue), 0) }
        if let timeout {
            var limit = timeval(tv_sec: timeout, tv_usec: 0)
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        }
        do {
            try withAddress(path) { (address, length) throws(SystemError) in
                try check("connect", path) { Glibc.connect(fd, address, length) }
            }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// Accepts one connection (close-on-exec); nil when none is waiting.
    public static func accept(_ listener: Int32) -> Int32? {
        let fd = Glibc.accept(listener, nil, nil)
        guard fd >= 0 else { return nil }
        FileDescriptors.setCloseOnExec(fd, true)
        FileDescriptors.setNonBlocking(fd, false)
        return fd
    }

    private static func withAddress(_ path: String,
                                    _ body: (UnsafePointer<sockaddr>, socklen_t) throws(SystemError) -> Void) throws(SystemError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        // sun_path holds 107 bytes; a longer path is reached through an O_PATH fd of its directory.
        var directoryFd: Int32 = -1
        defer { if directoryFd >= 0 { close(directoryFd) } }
        if bytes.count >= MemoryLayout.size(ofValue: address.sun_path), let slash = path.lastIndex(of: "/") {
            let directory = String(path[..<slash])
            directoryFd = open(directory.isEmpty ? "/" : directory, 0o10000000 | O_DIRECTORY | O_CLOEXEC)
            if directoryFd >= 0 { bytes = Array("/proc/self/fd/\(directoryFd)/\(path[path.index(after: slash)...])".utf8) }
        }
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SystemError("socket address", path, errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.size)
        var failure: SystemError?
        withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                do throws(SystemError) { try body(address, length) } catch { failure = error }
            }
        }
        if let failure { throw failure }
    }
}
