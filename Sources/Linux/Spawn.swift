import Glibc
import CBerth

/// fork + exec for hooks and helpers, from a single-threaded caller. The child resets signals and has
/// `stdin` fed from a pipe; stdout/stderr are inherited.
public enum Spawn {
    public struct Result: Sendable {
        public let exitCode: Int32
        public let timedOut: Bool
        /// The signal that killed it, 0 if it exited (`exitCode` is then 128 + the signal).
        public var signal: Int32 = 0
    }

    /// Runs `path` with `args` (argv[0] included) and `env`, writes `input` to its stdin, waits up to
    /// `timeout` seconds (killing it after), and returns its exit code.
    /// `directory`: the child's working directory (ignored if it cannot be entered).
    public static func run(path: String, args: [String], env: [String], input: [UInt8],
                           timeout: Int?, directory: String? = nil) throws(SystemError) -> Result {
        let stdinPipe = try FileDescriptors.pipe()
        let argv = args.isEmpty ? [path] : args
        let pid = fork()
        if pid < 0 { throw SystemError("fork", path) }
        if pid == 0 {
            _ = berth_reset_signal_dispositions()
            dup2(stdinPipe.read, 0)
            if let directory { _ = chdir(directory) }
            execWithStrings(path: path, args: argv, env: env)
            _exit(127)
        }
        close(stdinPipe.read)
        // A hook that does not read its stdin must not block us: ignore EPIPE by writing non-blocking.
        signal(SIGPIPE, SIG_IGN)
        _ = try? Files.writeAll(fd: stdinPipe.write, input)
        close(stdinPipe.write)
        var status: Int32 = 0
        guard let seconds = timeout, seconds > 0 else {
            try check("waitpid", "\(pid)") { waitpid(pid, &status, 0) }
            return Result(exitCode: Processes.exitCode(status), timedOut: false, signal: status & 0x7f)
        }
        let deadline = Clock.monotonicNanoseconds() + UInt64(seconds) * 1_000_000_000
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { return Result(exitCode: Processes.exitCode(status), timedOut: false, signal: status & 0x7f) }
            if result < 0 && errno != EINTR { throw SystemError("waitpid", path) }
            if Clock.monotonicNanoseconds() >= deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                return Result(exitCode: 137, timedOut: true)
            }
            usleep(2000)
        }
    }

    /// execve with Swift strings; returns only on failure.
    public static func execWithStrings(path: String, args: [String], env: [String]) {
        var cArgs = args.map { strdup($0) } + [nil]
        var cEnv = env.map { strdup($0) } + [nil]
        execve(path, &cArgs, &cEnv)
        let saved = errno
        for p in cArgs { free(p) }
        for p in cEnv { free(p) }
        errno = saved
    }
}

public enum Clock {
    public static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// RFC 3339 to the second in local time, as logrus stamps its lines (Go writes a zero offset as Z).
    public static func rfc3339Seconds() -> String {
        var t = time(nil)
        var parts = tm()
        localtime_r(&t, &parts)
        func pad(_ v: Int, _ width: Int = 2) -> String {
            let s = String(v); return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        let offset = parts.tm_gmtoff / 60
        let zone = offset == 0 ? "Z" : (offset < 0 ? "-" : "+") + pad(abs(offset) / 60) + ":" + pad(abs(offset) % 60)
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1))-\(pad(Int(parts.tm_mday)))T"
            + "\(pad(Int(parts.tm_hour))):\(pad(Int(parts.tm_min))):\(pad(Int(parts.tm_sec)))" + zone
    }

    /// RFC 3339 with nanoseconds in UTC, as runc writes `created`.
    public static func rfc3339Now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v); return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        let nanos = String(ts.tv_nsec)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + String(repeating: "0", count: 9 - nanos.count) + nanos + "Z"
    }
}

extension Spawn {
    /// posix_spawn for multi-threaded callers (the engine never forks Swift): default signal dispositions,
    /// an empty mask, optionally a new session, and `files` (child fd ← parent fd; every other fd of ours is
    /// close-on-exec or closed). Stdio not named in `files` is /dev/null. Returns the child's pid.
    public static func spawn(path: String, args: [String], env: [String], files: [Int32: Int32] = [:],
                             newSession: Bool = false) throws(SystemError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for target: Int32 in 0...2 where files[target] == nil {
            posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        for (target, source) in files.sorted(by: { $0.key < $1.key }) {
            posix_spawn_file_actions_adddup2(&actions, source, target)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newSession { flags |= 0x80 }   // POSIX_SPAWN_SETSID (glibc 2.26), not in Swift's Glibc module
        posix_spawnattr_setflags(&attributes, Int16(flags))
        let argv = args.map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) }; for p in envp { free(p) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        if result != 0 { throw SystemError("posix_spawn", path, errno: result) }
        Trace.log("posix_spawn(\(path)) = \(pid)")
        return pid
    }

    /// `spawn` as uid/gid 0 of a new user namespace with `map`: the program sees and makes files with the ids a
    /// container with that mapping has. Missing fds of 0-2 are /dev/null.
    public static func spawnInUserNamespace(path: String, args: [String], env: [String], files: [Int32: Int32] = [:],
                                            map: IDMap) throws(SystemError) -> pid_t {
        var opened: [Int32] = []
        defer { for fd in opened { close(fd) } }
        var fds: [Int32] = [0, 1, 2]
        for target in 0..<3 {
            if let source = files[Int32(target)] { fds[target] = source; continue }
            let null = open("/dev/null", target == 0 ? O_RDONLY | O_CLOEXEC : O_WRONLY | O_CLOEXEC)
            if null < 0 { throw SystemError("open", "/dev/null") }
            opened.append(null)
            fds[target] = null
        }
        let argv = args.map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) }; for p in envp { free(p) } }
        let pid = berth_spawn_in_userns(path, argv, envp, fds, IDRange.mapText(map.uids), IDRange.mapText(map.gids))
        if pid < 0 { throw SystemError("starting \(path) in a user namespace", IDRange.mapText(map.uids)) }
        Trace.log("spawn in user namespace(\(path)) = \(pid)")
        return pid
    }
}
