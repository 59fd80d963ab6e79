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

extension Processes {
    /// Drops this process's resident pages of its own executable that are still the file's own (never
    /// written): a long-lived supervisor touched much of a static binary while it set a container up, but
    /// needs little of it afterwards. /proc/self/pagemap tells page by page which are file pages (bit 61)
    /// rather than copies made by a write; only those are advised away (MADV_DONTNEED on a clean private
    /// file page just unmaps it, and the next touch maps it again from the page cache), so no relocated or
    /// written page is ever lost. Returns the kilobytes released.
    @discardableResult
    public static func releaseCleanExecutablePages() -> Int {
        guard let exe = try? Files.readLink("/proc/self/exe"), let maps = try? Files.read("/proc/self/maps") else { return 0 }
        var regions: [(start: UInt, end: UInt)] = []
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[5...].joined(separator: " ") == exe else { continue }
            let bounds = fields[0].split(separator: "-")
            if bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16) {
                regions.append((start, end))
            }
        }
        let pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
        guard pagemap >= 0 else { return 0 }
        defer { close(pagemap) }
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        // Collect first, advise last: the parsing above must not touch pages after they were dropped.
        var runs: [(start: UInt, length: UInt)] = []
        for region in regions {
            let count = Int((region.end - region.start) / page)
            var entries = [UInt64](repeating: 0, count: count)
            let offset = off_t((region.start / page) * 8)
            let bytes = entries.withUnsafeMutableBytes { pread(pagemap, $0.baseAddress, $0.count, offset) }
            guard bytes == count * 8 else { continue }
            var runStart: UInt? = nil
            for index in 0...count {
                let clean = index < count && entries[index] & (1 << 63) != 0 && entries[index] & (1 << 61) != 0
                let address = region.start + UInt(index) * page
                if clean, runStart == nil { runStart = address }
                if !clean, let begin = runStart { runs.append((begin, address - begin)); runStart = nil }
            }
        }
        var released: UInt = 0
        for run in runs {
            if let address = UnsafeMutableRawPointer(bitPattern: run.start), madvise(address, Int(run.length), MADV_DONTNEED) == 0 {
                released += run.length
            }
        }
        return Int(released / 1024)
    }
}
