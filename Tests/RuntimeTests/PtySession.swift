import Foundation
import CBerth

/// A terminal the test plays: it holds the master of a new pty and starts a program in a new session
/// whose controlling terminal is the slave, as a terminal emulator starts a shell. The deadlines
/// below only keep a broken runtime from hanging the suite; no assertion depends on them.
final class PtySession {
    let master: Int32
    let slavePath: String
    private(set) var pid: pid_t = 0
    private(set) var output: [UInt8] = []
    private var exitStatus: Int32?

    var text: String { String(decoding: output, as: UTF8.self) }

    /// `stdin`: a file to read instead of the terminal (the "stdin is not a tty" case).
    init(rows: UInt16 = 0, columns: UInt16 = 0, _ argv: [String], stdin: String? = nil) throws {
        // Close-on-exec from the start: processes other tests spawn meanwhile must not hold it.
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0, berth_unlockpt(master) == 0 else { throw POSIXError(.ENXIO) }
        var name = [CChar](repeating: 0, count: 128)
        guard berth_ptsname(master, &name, name.count) == 0 else { throw POSIXError(.ENXIO) }
        slavePath = String(cString: name)
        if rows > 0 || columns > 0 { resize(rows: rows, columns: columns) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // POSIX_SPAWN_SETSID (glibc): setsid() runs before the file actions, so opening the slave
        // without O_NOCTTY makes it the new session's controlling terminal.
        posix_spawnattr_setflags(&attributes, 0x80)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin {
            posix_spawn_file_actions_addopen(&actions, 0, slavePath, O_RDWR, 0)
            posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, slavePath, O_RDWR, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, slavePath, O_RDWR, 0)
        posix_spawn_file_actions_addopen(&actions, 2, slavePath, O_RDWR, 0)
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        let spawned = posix_spawn(&pid, argv[0], &actions, &attributes, cArgs, environ)
        guard spawned == 0 else { close(master); throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL) }
    }

    deinit {
        if exitStatus == nil && pid > 0 {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        close(master)
    }

    func resize(rows: UInt16, columns: UInt16) {
        _ = berth_set_winsize(master, rows, columns)
    }

    func send(_ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
    }

    /// The terminal's current settings (termios calls on a master act on its slave).
    func attributes() -> termios {
        var attributes = termios()
        tcgetattr(master, &attributes)
        return attributes
    }

    /// Reads output until it contains `marker`; false if the program ended (or the guard ran out) first.
    @discardableResult
    func read(until marker: String, guardSeconds: TimeInterval = 30) -> Bool {
        let deadline = Date().addingTimeInterval(guardSeconds)
        while !text.contains(marker) && Date() < deadline {
            if !readSome(timeoutMilliseconds: 200) && exited() {
                while readSome(timeoutMilliseconds: 0) {}
                break
            }
        }
        return text.contains(marker)
    }

    /// Collects the rest of the output and the exit status (128+N for a signal), killing the program if
    /// it is still running when the guard runs out.
    func wait(guardSeconds: TimeInterval = 60) -> Int32 {
        let deadline = Date().addingTimeInterval(guardSeconds)
        while !exited() {
            if Date() > deadline { kill(pid, SIGKILL) }
            _ = readSome(timeoutMilliseconds: 200)
        }
        while readSome(timeoutMilliseconds: 0) {}
        return exitStatus ?? -1
    }

    private func exited() -> Bool {
        if exitStatus != nil { return true }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return false }
        exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return true
    }

    /// One read if output comes within the timeout; false if none did (or the slave side is closed).
    private func readSome(timeoutMilliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, timeoutMilliseconds) > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { Foundation.read(master, $0.baseAddress, $0.count) }
        guard n > 0 else {
            // EIO: nothing holds the slave any more; don't spin on it.
            if n < 0 { usleep(10_000) }
            return false
        }
        output.append(contentsOf: buffer[0..<n])
        return true
    }
}

extension termios {
    var isRaw: Bool {
        (c_lflag & tcflag_t(ICANON | ECHO | ISIG)) == 0 && (c_iflag & tcflag_t(ICRNL)) == 0
    }
}
