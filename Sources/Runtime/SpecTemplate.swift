import OCISpec
import Glibc

/// The config.json that `spec` writes: runc's defaults (a busybox `sh` on a terminal, the usual
/// mounts, masked and read-only paths), or its rootless variant.
public enum SpecTemplate {
    public static func make(rootless: Bool) -> Spec {
        let capabilities = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        var process = Spec.Process(args: ["sh"], env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                                        "TERM=xterm"])
        process.terminal = true
        process.capabilities = Spec.Capabilities(bounding: capabilities, effective: capabilities,
                                                 permitted: capabilities, ambient: capabilities)
        process.rlimits = [Spec.Rlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)]
        process.noNewPrivileges = true

        var mounts = [
            Spec.Mount(destination: "/proc", type: "proc", source: "proc"),
            Spec.Mount(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            Spec.Mount(destination: "/dev/pts", type: "devpts", source: "devpts",
                       options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
            Spec.Mount(destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
            Spec.Mount(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
            Spec.Mount(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
            Spec.Mount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"]),
        ]
        var linux = Spec.Linux()
        linux.maskedPaths = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                             "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"]
        linux.readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        var namespaces = ["pid", "network", "ipc", "uts", "mount", "cgroup"].map { Spec.Namespace(type: $0) }
        if rootless {
            namespaces.removeAll { $0.type == "network" }
            namespaces.append(Spec.Namespace(type: "user"))
            linux.uidMappings = [IDMapping(containerID: 0, hostID: getuid(), size: 1)]
            linux.gidMappings = [IDMapping(containerID: 0, hostID: getgid(), size: 1)]
            mounts[2].options = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
            mounts[5] = Spec.Mount(destination: "/sys", type: "none", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"])
            mounts.removeLast()
        } else {
            var resources = Resources()
            resources.devices = [Resources.DeviceRule(allow: false, access: "rwm")]
            linux.resources = resources
        }
        linux.namespaces = namespaces
        return Spec(process: process, root: Spec.Root(path: "rootfs", readonly: true), hostname: "runc", mounts: mounts, linux: linux)
    }
}
