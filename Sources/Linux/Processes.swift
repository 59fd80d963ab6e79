import Glibc
import CBerth

/// Facts about processes from /proc, and waiting for them.
public enum Processes {
    /// Field 22 of /proc/PID/stat: the start time in clock ticks. Together with the pid it identifies a
    /// process across pid reuse.
    public static func startTime(of pid: Int32) -> UInt64? {
        guard let stat = try? Files.read("/proc/\(pid)/stat"),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3), so field 22 is index 19.
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    /// The one-letter state (R, S, D, Z, T, …).
    public static func state(of pid: Int32) -> Character? {
        guard let stat = try? Files.read("/proc/\(pid)/stat"),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ").first?.first
    }

    /// Alive means: exists, is the same process (start time), and is not a zombie.
    public static func isAlive(pid: Int32, startTime: UInt64?) -> Bool {
        guard pid > 0, let start = Processes.startTime(of: pid) else { return false }
        if let expected = startTime, expected != start { return false }
        return state(of: pid) != "Z"
    }

    /// waitpid with EINTR retried. Returns the exit code shell-style (128+signal for a signal death).
    public static func wait(_ pid: Int32) throws(SystemError) -> Int32 {
        var status: Int32 = 0
        try check("waitpid", "\(pid)") { waitpid(pid, &status, 0) }
        return exitCode(status)
    }

    public static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }

    public static func setChildSubreaper() {
        _ = berth_prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    }

    /// Makes the calling process undumpable: other processes (in a container) can then no longer open
    /// /proc/PID/exe, which would be the runtime binary (CVE-2019-5736).
    public static func setUndumpable() throws(SystemError) {
        try check("prctl(PR_SET_DUMPABLE, 0)") { berth_prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) }
    }

    public static func setParentDeathSignal(_ signal: Int32) {
        _ = berth_prctl(PR_SET_PDEATHSIG, UInt(signal), 0, 0, 0)
    }

    /// The pids of the children of `pid` (all threads), for `ps`-like walks.
    public static func allPids() -> [Int32] {
        ((try? Files.listDirectory("/proc")) ?? []).compactMap { Int32($0) }
    }
}
