import Glibc
import Linux

/// Waiting for a foreground process (`run`, `exec` without -d) while passing on the signals we get,
/// as runc does. Polls with sigtimedwait so a SIGCHLD that arrived before the mask is never missed.
public enum Foreground {
    static let forwarded: [Int32] = [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM,
                                     SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE]

    static func wait(for pid: Int32) -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in forwarded { sigaddset(&set, signal) }
        sigaddset(&set, SIGCHLD)
        var previous = sigset_t()
        sigprocmask(SIG_BLOCK, &set, &previous)
        defer { sigprocmask(SIG_SETMASK, &previous, nil) }
        var status: Int32 = 0
        while true {
            // Reap everything that exited (we may be a subreaper); return once it is our process.
            while true {
                let reaped = waitpid(-1, &status, WNOHANG)
                if reaped == pid { return Processes.exitCode(status) }
                if reaped <= 0 { break }
            }
            if !Processes.isAlive(pid: pid, startTime: nil) && waitpid(pid, &status, WNOHANG) <= 0 {
                // Not our child (or already reaped elsewhere): nothing to collect.
                if Processes.startTime(of: pid) == nil { return 0 }
            }
            var info = siginfo_t()
            var timeout = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            let signal = sigtimedwait(&set, &info, &timeout)
            if signal > 0 && signal != SIGCHLD {
                kill(pid, signal)
            }
        }
    }
}

extension Foreground {
    /// For `run`: waits for the container's init (our child or, as subreaper, grandchild).
    public static func waitForInit(_ pid: Int32) -> Int32 { wait(for: pid) }
}
