import Glibc
import Linux
import OCISpec

/// The config.json `spec` writes: runc 1.1.5's `runc spec` (specconv.Example) and `--rootless`
/// (specconv.ToRootless) byte for byte, tabs and all, so a config made for runc and one made here are
/// the same file (ociVersion "1.0.2-dev", the spec version runc 1.1.5 writes; a cgroup namespace only
/// on a cgroup2-only host, as runc decides it).
enum SpecTemplate {
    static func text(rootless: Bool) -> String {
        document(rootless: rootless, uid: geteuid(), gid: getegid(), cgroup2: isCgroup2Unified).indented("\t")
    }

    /// runc's cgroups.IsCgroup2UnifiedMode (/sys/fs/cgroup is a cgroup2 filesystem): only the root of a
    /// cgroup2 mount has cgroup.controllers (statfs is not in Swift's Glibc module).
    static var isCgroup2Unified: Bool { Files.exists("/sys/fs/cgroup/cgroup.controllers") }

    static func document(rootless: Bool, uid: UInt32, gid: UInt32, cgroup2: Bool) -> JSONValue {
        func strings(_ values: [String]) -> JSONValue { .array(values.map { .string($0) }) }
        let caps = strings(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"])
        let process: JSONValue = .object([
            ("terminal", .bool(true)),
            ("user", .object([("uid", .int(0)), ("gid", .int(0))])),
            ("args", strings(["sh"])),
            ("env", strings(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"])),
            ("cwd", .string("/")),
            ("capabilities", .object([("bounding", caps), ("effective", caps), ("permitted", caps), ("ambient", caps)])),
            ("rlimits", .array([.object([("type", .string("RLIMIT_NOFILE")), ("hard", .int(1024)), ("soft", .int(1024))])])),
            ("noNewPrivileges", .bool(true)),
        ])
        func mount(_ destination: String, _ type: String, _ source: String, _ options: [String]? = nil) -> JSONValue {
            var members: [(String, JSONValue)] = [("destination", .string(destination)), ("type", .string(type)), ("source", .string(source))]
            if let options { members.append(("options", strings(options))) }
            return .object(members)
        }
        let mounts: [JSONValue] = [
            mount("/proc", "proc", "proc"),
            mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            // ToRootless drops uid=/gid= options: an unmapped tty group would fail the mount.
            mount("/dev/pts", "devpts", "devpts", ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] + (rootless ? [] : ["gid=5"])),
            mount("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
            mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
            // A new sysfs needs a network namespace of one's own; rootless keeps the host's, so it binds.
            rootless ? mount("/sys", "none", "/sys", ["rbind", "nosuid", "noexec", "nodev", "ro"])
                : mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
            mount("/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev", "relatime", "ro"]),
        ]
        func mapping(_ host: UInt32) -> JSONValue {
            .array([.object([("containerID", .int(0)), ("hostID", .int(host)), ("size", .int(1))])])
        }
        // Example() lists pid, network, ipc, uts, mount (+ cgroup on cgroup2); ToRootless drops network
        // and appends user.
        var names = ["pid", "network", "ipc", "uts", "mount"] + (cgroup2 ? ["cgroup"] : [])
        if rootless { names = names.filter { $0 != "network" } + ["user"] }
        let namespaces = names.map { JSONValue.object([("type", .string($0))]) }
        var linux: [(String, JSONValue)] = rootless
            ? [("uidMappings", mapping(uid)), ("gidMappings", mapping(gid))]
            : [("resources", .object([("devices", .array([.object([("allow", .bool(false)), ("access", .string("rwm"))])]))]))]
        linux += [
            ("namespaces", .array(namespaces)),
            ("maskedPaths", strings(["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                                     "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"])),
            ("readonlyPaths", strings(["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"])),
        ]
        return .object([
            ("ociVersion", .string("1.0.2-dev")),
            ("process", process),
            ("root", .object([("path", .string("rootfs")), ("readonly", .bool(true))])),
            ("hostname", .string("runc")),
            ("mounts", .array(mounts)),
            ("linux", .object(linux)),
        ])
    }
}
