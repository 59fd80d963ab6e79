import Glibc
import CBerth
import Linux

/// The signals a foreground `run` or `exec` takes over: blocked and read from a signalfd, so one
/// poll(2) waits for them and for the terminal (berth-runtime stays single-threaded). Blocked before
/// the container is created, as runc's handler is registered first: a signal that arrives meanwhile is
/// passed on once the process runs, not lost and not fatal to the runtime.
public final class ForegroundSignals {
    public let fd: Int32
    private var previous = sigset_t()

    /// Every signal runc's `signal.Notify(s)` catches: all but SIGKILL and SIGSTOP (glibc keeps 32/33).
    static var caught: [Int32] { Array(1...31).filter { $0 != SIGKILL && $0 != SIGSTOP } + Array(34...64) }

    public init() throws(RuntimeError) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in Self.caught { sigaddset(&set, signal) }
        sigprocmask(SIG_BLOCK, &set, &previous)
        let fd = withUnsafePointer(to: &set) { berth_signalfd($0) }
        if fd < 0 {
            let code = errno
            sigprocmask(SIG_SETMASK, &previous, nil)
            throw RuntimeError("signalfd", SystemError.message(code))
        }
        self.fd = fd
    }

    /// The signals received since the last call (the fd is non-blocking).
    func take() -> [Int32] {
        var signals: [Int32] = []
        // struct signalfd_siginfo is 128 bytes; ssi_signo is its first field.
        var buffer = [UInt8](repeating: 0, count: 128 * 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 128 { return signals }
            for offset in stride(from: 0, to: n - 127, by: 128) {
                signals.append(Int32(buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }))
            }
        }
    }

    deinit {
        close(fd)
        var mask = previous
        sigprocmask(SIG_SETMASK, &mask, nil)
    }
}

/// Waiting for a foreground process (`run`, `exec` without -d) as runc's signal handler does: every
/// signal but SIGCHLD and SIGWINCH is passed on to it; SIGWINCH resizes the container's terminal to
/// ours; the exit code is the process's (128+N for a signal). With a terminal, its output and our
/// input are copied meanwhile (`ConsoleRelay`).
public enum Foreground {
    public static func wait(for pid: Int32, signals: ForegroundSignals, relay: ConsoleRelay?) -> Int32 {
        while true {
            if let code = reap(pid) {
                relay?.drain()
                return code
            }
            var fds = [pollfd(fd: signals.fd, events: Int16(POLLIN), revents: 0)]
            relay?.addPollRequests(to: &fds)
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                // Nothing sensible is left to wait with; the process is still reaped above eventually.
                usleep(10_000)
                continue
            }
            // Signals first: a resize that came before some input is applied before that input is passed on.
            if fds[0].revents != 0 {
                for signal in signals.take() {
                    switch signal {
                    case SIGCHLD: break
                    case SIGWINCH: relay?.resize()
                    default: kill(pid, signal)
                    }
                }
            }
            relay?.handle(Array(fds.dropFirst()))
        }
    }

    /// Reaps every exited child (we may be a subreaper for the init); the exit code once `pid` is among them.
    private static func reap(_ pid: Int32) -> Int32? {
        var status: Int32 = 0
        while true {
            let reaped = waitpid(-1, &status, WNOHANG)
            if reaped == pid { return Processes.exitCode(status) }
            if reaped > 0 { continue }
            // ECHILD: it is not (or no longer) our child, so nothing will report its end; unknown status.
            if reaped < 0 && errno == ECHILD && !Processes.isAlive(pid: pid, startTime: nil) { return 0 }
            return nil
        }
    }
}
