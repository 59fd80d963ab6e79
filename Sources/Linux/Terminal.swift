import Glibc
import CBerth

/// Pseudo-terminals for `process.terminal`, and handing the master to the caller's console socket.
public enum Terminal {
    /// Opens a new pty pair from /dev/ptmx (the devpts visible to the caller). Returns (master, slave).
    public static func openPair() throws(SystemError) -> (master: Int32, slave: Int32, name: String) {
        let master = try check("open", "/dev/ptmx") { open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC) }
        try check("ioctl(TIOCSPTLCK)", "/dev/ptmx") { berth_unlockpt(master) }
        var buffer = [CChar](repeating: 0, count: 128)
        try check("ptsname", "/dev/ptmx") { berth_ptsname(master, &buffer, buffer.count) == 0 ? 0 : -1 }
        let name = String(cString: buffer)
        let slave = try check("open", name) { open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) }
        return (master, slave, name)
    }

    public static func setSize(_ fd: Int32, rows: UInt16, columns: UInt16) throws(SystemError) {
        try check("ioctl(TIOCSWINSZ)") { berth_set_winsize(fd, rows, columns) }
    }

    /// The window size of the terminal on `fd`, or nil if it is not a terminal.
    public static func size(_ fd: Int32) -> (rows: UInt16, columns: UInt16)? {
        var rows: UInt16 = 0, columns: UInt16 = 0
        return berth_get_winsize(fd, &rows, &columns) == 0 ? (rows, columns) : nil
    }

    /// Turns off NL -> CR NL on the container's side of a pty we relay (termios calls on a Linux master
    /// act on its slave): the caller's own terminal adds the CR, and a file or pipe gets plain NL, as runc.
    public static func clearOutputCRLF(_ master: Int32) throws(SystemError) {
        var attributes = termios()
        try check("tcgetattr", "pty") { tcgetattr(master, &attributes) }
        attributes.c_oflag &= ~tcflag_t(ONLCR)
        try check("tcsetattr", "pty") { tcsetattr(master, TCSANOW, &attributes) }
    }

    /// Receives the pty master a container process sent over `socket` (SCM_RIGHTS).
    public static func receiveMaster(from socket: Int32) throws(SystemError) -> Int32 {
        try check("recvmsg(SCM_RIGHTS)", "console socket") { berth_recv_fd(socket) }
    }

    /// A connected pair of stream sockets, close-on-exec: an internal console socket.
    public static func socketPair() throws(SystemError) -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        try check("socketpair", "console") {
            socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
        }
        return (fds[0], fds[1])
    }

    /// Makes `slave` the controlling terminal of a new session and stdio 0-2.
    public static func becomeControllingTerminal(_ slave: Int32) throws(SystemError) {
        try check("setsid") { setsid() }
        try check("ioctl(TIOCSCTTY)") { berth_set_ctty(slave) }
        for target: Int32 in 0...2 { try check("dup2", "pty->\(target)") { dup2(slave, target) } }
    }

    /// Connects to the unix socket at `path` (the --console-socket) and returns the connected fd.
    public static func connect(socketPath path: String) throws(SystemError) -> Int32 {
        try UnixSocket.connect(path: path, kind: .stream)
    }

    public static func sendMaster(_ master: Int32, over socket: Int32, name: String) throws(SystemError) {
        try check("sendmsg(SCM_RIGHTS)", "console socket") { berth_send_fd(socket, master, name) }
    }
}

extension Terminal {
    /// Receives the pty master a container's init sent over a console socket.
    public static func receiveMaster(over socket: Int32) throws(SystemError) -> Int32 {
        try check("recvmsg(SCM_RIGHTS)", "console socket") { berth_recv_fd(socket) }
    }
}

extension Terminal {
    /// The size of the terminal on `fd`, nil when it is not one.
    public static func size(of fd: Int32) -> (rows: UInt16, columns: UInt16)? {
        var rows: UInt16 = 0, columns: UInt16 = 0
        return berth_tty_get_winsize(fd, &rows, &columns) == 0 ? (rows, columns) : nil
    }

    /// Puts the terminal on `fd` in raw mode; returns the settings to restore.
    public static func makeRaw(_ fd: Int32) -> termios? {
        var saved = termios()
        guard isatty(fd) == 1, tcgetattr(fd, &saved) == 0 else { return nil }
        var raw = saved
        cfmakeraw(&raw)
        return tcsetattr(fd, TCSANOW, &raw) == 0 ? saved : nil
    }

    public static func restore(_ fd: Int32, _ saved: termios) {
        var settings = saved
        _ = tcsetattr(fd, TCSANOW, &settings)
    }
}
