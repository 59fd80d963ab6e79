import Glibc
import Linux

/// Tells when the kernel's OOM killer acts inside a cgroup.
///
/// v1: an eventfd registered through cgroup.event_control against memory.oom_control (the kernel
/// signals it on every OOM in the group); v2: inotify on memory.events, whose `oom_kill` counter
/// rises. Either way `fd` is pollable, so a monitor can wait on it next to its other fds, and
/// `check()` reads the counter so only real kills are reported.
public final class OOMWatcher {
    /// Readable when something happened; pass to poll(2).
    public let fd: Int32
    private let memoryDirectory: String
    private let isV2: Bool
    private var seen: UInt64
    private var watchedFd: Int32 = -1

    public init(_ manager: any CgroupManager) throws(CgroupError) {
        if let v2 = manager as? CgroupV2Manager {
            memoryDirectory = v2.directory
            isV2 = true
        } else if let v1 = manager as? CgroupV1Manager, let dir = v1.directory(for: "memory") {
            memoryDirectory = dir
            isV2 = false
        } else {
            throw CgroupError("watch OOM", path: manager.path, reason: "no memory controller for this cgroup")
        }
        if isV2 {
            let file = CgroupFile.path(memoryDirectory, "memory.events")
            let ifd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
            guard ifd >= 0 else { throw CgroupError("inotify_init1 for", path: file, reason: SystemError.message(errno)) }
            if inotify_add_watch(ifd, file, UInt32(IN_MODIFY)) < 0 {
                let code = errno
                Glibc.close(ifd)
                throw CgroupError("inotify_add_watch", path: file, reason: SystemError.message(code))
            }
            fd = ifd
        } else {
            let control = CgroupFile.path(memoryDirectory, "memory.oom_control")
            let efd: Int32
            do { efd = try EventFD.make() } catch {
                throw CgroupError("eventfd for", path: control, reason: SystemError.message(error.errno))
            }
            let ofd = open(control, O_RDONLY | O_CLOEXEC)
            guard ofd >= 0 else {
                let code = errno
                Glibc.close(efd)
                throw CgroupError("open", path: control, reason: SystemError.message(code))
            }
            do {
                try CgroupFile.write(memoryDirectory, "cgroup.event_control", "\(efd) \(ofd)")
            } catch {
                Glibc.close(efd); Glibc.close(ofd)
                throw error
            }
            fd = efd
            watchedFd = ofd
        }
        seen = 0
        seen = killCount()
    }

    deinit {
        Glibc.close(fd)
        if watchedFd >= 0 { Glibc.close(watchedFd) }
    }

    /// The group's OOM-kill counter (memory.events `oom_kill`; v1 memory.oom_control `oom_kill`).
    public func killCount() -> UInt64 {
        let file = isV2 ? "memory.events" : "memory.oom_control"
        return CgroupFile.keyValues(memoryDirectory, file)["oom_kill"] ?? 0
    }

    /// How many tasks were OOM-killed since the last call (or since the watcher was made).
    /// Drains the notification fd; does not block.
    public func check() -> UInt64 {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while buffer.withUnsafeMutableBytes({ Glibc.read(fd, $0.baseAddress, $0.count) }) > 0 {}
        let now = killCount()
        defer { seen = max(seen, now) }
        return now > seen ? now - seen : 0
    }

    /// Waits up to `milliseconds` (-1: forever) for an OOM kill; returns the number of kills seen.
    public func wait(milliseconds: Int32) -> UInt64 {
        var remaining = milliseconds
        while true {
            let found = check()
            if found > 0 { return found }
            if remaining == 0 { return 0 }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let slice: Int32 = remaining < 0 ? 1000 : min(remaining, 1000)
            let start = Self.milliseconds()
            _ = poll(&pfd, 1, slice)
            if remaining > 0 { remaining = max(0, remaining - Int32(Self.milliseconds() - start)) }
        }
    }

    public static func milliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
