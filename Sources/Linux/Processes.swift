import Glibc
import CBerth

/// Facts about processes from /proc, and waiting for them.
public enum Processes {
    /// Field 22 of /proc/PID/stat: the start time in clock ticks. Together with the pid it identifies a
    /// process across pid reuse.
    public static func startTime(of pid: Int32) -> UInt64? { stat(of: pid)?.startTime }

    /// The one-letter state (R, S, D, Z, T, …).
    public static func state(of pid: Int32) -> Character? {
        stat(of: pid).map { Character(Unicode.Scalar($0.state)) }
    }

    /// A live process is one whose start time matches (when known) and that is not a zombie: one read of
    /// /proc/PID/stat, as start, state and delete ask it several times per call.
    public static func isAlive(pid: Int32, startTime: UInt64?) -> Bool {
        guard pid > 0, let stat = stat(of: pid) else { return false }
        if let expected = startTime, expected != stat.startTime { return false }
        return stat.state != UInt8(ascii: "Z")
    }

    /// Field 3 (state) and field 22 (start time) of /proc/PID/stat, parsed on bytes: the command name
    /// (field 2) may hold anything but ends at the last ')'.
    static func stat(of pid: Int32) -> (state: UInt8, startTime: UInt64)? {
        guard let bytes = try? Files.readBytes("/proc/\(pid)/stat"),
              let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        var field = 2          // the field the bytes after ')' belong to
        var state: UInt8 = 0
        var start: UInt64 = 0
        var index = close + 1
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: " ") {
                field += 1
                if field > 22 { break }
            } else if field == 3 {
                state = byte
            } else if field == 22 {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                start = start &* 10 &+ UInt64(byte - 0x30)
            }
            index += 1
        }
        guard field >= 22, state != 0 else { return nil }
        return (state, start)
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
