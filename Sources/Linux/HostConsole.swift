import Glibc

/// The caller's terminal, for `run` and `exec -t` in the foreground without --console-socket: found,
/// put in raw mode while the container's pty is relayed, and restored afterwards (runc's tty.go).
public struct HostConsole: Sendable {
    public let fd: Int32
    private let ownsFd: Bool
    private let original: termios

    /// stderr, stdout or stdin, the first that is a terminal (all three usually are; any may be
    /// redirected); else the controlling terminal through /dev/tty. runc fails the same way without one.
    public static func find() throws(SystemError) -> HostConsole {
        var attributes = termios()
        for fd: Int32 in [2, 1, 0] where tcgetattr(fd, &attributes) == 0 {
            return HostConsole(fd: fd, ownsFd: false, original: attributes)
        }
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        if fd < 0 { throw SystemError("open", "/dev/tty") }
        guard tcgetattr(fd, &attributes) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw SystemError("tcgetattr", "/dev/tty", errno: code)
        }
        return HostConsole(fd: fd, ownsFd: true, original: attributes)
    }

    /// Raw input (every key, ^C included, goes to the container), output post-processing kept on so
    /// the container's plain NL still shows as CR NL: containerd/console's SetRaw, which runc uses.
    public func makeRaw() throws(SystemError) {
        var raw = original
        raw.c_iflag &= ~tcflag_t(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON)
        raw.c_lflag &= ~tcflag_t(ECHO | ECHONL | ICANON | ISIG | IEXTEN)
        raw.c_cflag &= ~tcflag_t(CSIZE | PARENB)
        raw.c_cflag |= tcflag_t(CS8)
        raw.c_oflag |= tcflag_t(OPOST)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        try check("tcsetattr", "host terminal") { tcsetattr(fd, TCSANOW, &raw) }
    }

    /// Puts the terminal back as it was found. Safe to call more than once and when never made raw.
    public func restore() {
        var attributes = original
        _ = tcsetattr(fd, TCSANOW, &attributes)
    }

    public func close() {
        if ownsFd { Glibc.close(fd) }
    }

    public var size: (rows: UInt16, columns: UInt16)? { Terminal.size(fd) }
}
