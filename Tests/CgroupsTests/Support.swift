import Testing
import CBerth
import Cgroups
import Glibc
import Linux
import OCISpec

/// A real child process (/bin/sh -c SCRIPT) that waits on its stdin until `release()`, so it can be
/// put into a cgroup before it starts its work.
final class Child {
    let pid: pid_t
    private var gate: Int32
    private(set) var status: Int32?

    init(_ script: String) throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw SystemError("pipe") }
        _ = berth_fcntl_setfd(fds[0], FD_CLOEXEC)
        _ = berth_fcntl_setfd(fds[1], FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
        let args = ["/bin/sh", "-c", "read _ignored; " + script]
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        // The test runner's threads may block or ignore signals; the child starts with defaults.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let rc = posix_spawn(&child, "/bin/sh", &actions, &attributes, &argv, environ)
        close(fds[0])
        guard rc == 0 else { close(fds[1]); throw SystemError("posix_spawn", "/bin/sh", errno: rc) }
        pid = child
        gate = fds[1]
    }

    /// Lets the script run.
    func release() {
        guard gate >= 0 else { return }
        _ = write(gate, "go\n", 3)
        close(gate)
        gate = -1
    }

    /// Waits up to `seconds`; returns the raw wait status, or nil on timeout.
    @discardableResult
    func wait(seconds: Double = 10) -> Int32? {
        if let status { return status }
        let deadline = now() + seconds
        while now() < deadline {
            var st: Int32 = 0
            let r = waitpid(pid, &st, WNOHANG)
            if r == pid { status = st; return st }
            if r < 0 { return nil }
            usleep(5000)
        }
        return nil
    }

    func kill() {
        _ = Glibc.kill(pid, SIGKILL)
        wait(seconds: 5)
    }

    deinit {
        if gate >= 0 { close(gate) }
        if status == nil { _ = Glibc.kill(pid, SIGKILL); var st: Int32 = 0; _ = waitpid(pid, &st, 0) }
    }
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func sleepSeconds(_ s: Double) { usleep(UInt32(s * 1_000_000)) }

/// exit status helpers (the macros are not imported)
func exitCode(_ status: Int32) -> Int32? { (status & 0x7f) == 0 ? (status >> 8) & 0xff : nil }
func termSignal(_ status: Int32) -> Int32? { (status & 0x7f) != 0 && (status & 0x7f) != 0x7f ? status & 0x7f : nil }

/// A fresh cgroup, /berth-test-<random>, removed (with anything left in it) when the closure ends.
func withTestCgroup<T>(_ name: String = #function, _ body: (any CgroupManager) throws -> T) throws -> T {
    let path = "/berth-test-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
    let manager = try Cgroups.manager(path: path)
    try manager.create()
    defer {
        try? manager.killAll(signal: SIGKILL)
        for _ in 0..<100 where !((try? manager.processes()) ?? []).isEmpty { usleep(10_000) }
        try? manager.destroy()
    }
    return try body(manager)
}

var isUnified: Bool { Cgroups.detectMode() == .unified }

/// Controllers usable by a fresh cgroup on this host.
func hasController(_ name: String) -> Bool {
    if isUnified {
        let root = Cgroups.mounts().first { $0.version == 2 }?.mountPoint ?? "/sys/fs/cgroup"
        return ((try? Files.read(root + "/cgroup.controllers")) ?? "").split(separator: " ").contains { $0.hasPrefix(name) }
    }
    return Cgroups.mounts().contains { $0.subsystems.contains(name) }
}

/// Every suite of this module runs inside this one, one test at a time: they load the CPU, fork,
/// freeze and OOM-kill for real, and timing-based checks must not compete with each other.
@Suite(.serialized) struct RealCgroups {}
