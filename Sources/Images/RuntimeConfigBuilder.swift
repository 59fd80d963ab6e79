import Foundation
import Linux
import OCISpec

/// Turns an image config into an OCI runtime config (image-spec `conversion.md`): Entrypoint + Cmd become the
/// process args, Env and WorkingDir carry over, User is resolved against the rootfs' /etc/passwd and /etc/group,
/// Labels become annotations, ExposedPorts and StopSignal become the annotations the spec names, Volumes are
/// listed in an annotation for the engine to mount. The rest is runc's default `spec` (namespaces, mounts,
/// capabilities, masked paths).
public enum RuntimeConfigBuilder {
    public static let defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// `rootfs` is the bundle's rootfs as seen by the host, for user lookup; `rootPath` what config.json says.
    public static func spec(for image: ImageConfig, rootfs: String, rootPath: String = "rootfs",
                            args override: [String]? = nil, terminal: Bool = false) throws(ImageError) -> Spec {
        let execution = image.config ?? ImageConfig.Execution()
        var args = (execution.Entrypoint ?? []) + (execution.Cmd ?? [])
        if let override { args = (execution.Entrypoint ?? []) + override }
        if args.isEmpty { args = ["/bin/sh"] }
        var env = execution.Env ?? []
        if !env.contains(where: { $0.hasPrefix("PATH=") }) { env.insert(defaultPath, at: 0) }
        if terminal && !env.contains(where: { $0.hasPrefix("TERM=") }) { env.append("TERM=xterm") }
        var user = try resolveUser(execution.User ?? "", rootfs: rootfs)
        let account = passwdEntry(uid: user.uid, rootfs: rootfs)
        if let name = account?.name {
            let groups = supplementaryGroups(of: name, primary: user.gid, rootfs: rootfs)
            if !groups.isEmpty { user.additionalGids = groups }
        }
        if !env.contains(where: { $0.hasPrefix("HOME=") }) { env.append("HOME=" + (account?.home ?? "/")) }
        var process = Spec.Process(user: user, args: args, env: env,
                                   cwd: (execution.WorkingDir?.isEmpty ?? true) ? "/" : execution.WorkingDir ?? "/")
        process.terminal = terminal
        let capabilities = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        process.capabilities = Spec.Capabilities(bounding: capabilities, effective: capabilities,
                                                 permitted: capabilities)
        process.rlimits = [Spec.Rlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)]
        process.noNewPrivileges = true

        var annotations = execution.Labels ?? [:]
        if let ports = execution.ExposedPorts, !ports.isEmpty {
            annotations["org.opencontainers.image.exposedPorts"] = ports.keys.sorted().joined(separator: ",")
        }
        if let signal = execution.StopSignal { annotations["org.opencontainers.image.stopSignal"] = signal }
        if let volumes = execution.Volumes, !volumes.isEmpty {
            annotations["org.opencontainers.image.volumes"] = volumes.keys.sorted().joined(separator: ",")
        }
        if let author = image.author { annotations["org.opencontainers.image.author"] = author }
        if let created = image.created { annotations["org.opencontainers.image.created"] = created }
        annotations["org.opencontainers.image.os"] = image.os
        annotations["org.opencontainers.image.architecture"] = image.architecture

        var linux = Spec.Linux()
        linux.namespaces = ["pid", "network", "ipc", "uts", "mount", "cgroup"].map { Spec.Namespace(type: $0) }
        linux.maskedPaths = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                             "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                             "/proc/scsi"]
        linux.readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        return Spec(process: process, root: Spec.Root(path: rootPath, readonly: false), hostname: "berth",
                    mounts: defaultMounts, annotations: annotations.isEmpty ? nil : annotations, linux: linux)
    }

    static let defaultMounts: [Spec.Mount] = [
        Spec.Mount(destination: "/proc", type: "proc", source: "proc"),
        Spec.Mount(destination: "/dev", type: "tmpfs", source: "tmpfs",
                   options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        Spec.Mount(destination: "/dev/pts", type: "devpts", source: "devpts",
                   options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        Spec.Mount(destination: "/dev/shm", type: "tmpfs", source: "shm",
                   options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
        Spec.Mount(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
        Spec.Mount(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
        Spec.Mount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup",
                   options: ["nosuid", "noexec", "nodev", "relatime", "ro"]),
    ]

    /// `User` is `user`, `uid`, `user:group`, `uid:gid` …; names are looked up in the image's own files.
    static func resolveUser(_ text: String, rootfs: String) throws(ImageError) -> Spec.User {
        if text.isEmpty { return Spec.User(uid: 0, gid: 0) }
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        let passwd = (try? Files.read(rootfs + "/etc/passwd")) ?? ""
        let group = (try? Files.read(rootfs + "/etc/group")) ?? ""
        var uid: UInt32
        var gid: UInt32 = 0
        if let number = UInt32(parts[0]) {
            uid = number
            if let entry = lookup(passwd, field: 2, equals: parts[0]), let g = UInt32(entry[3]) { gid = g }
        } else if let entry = lookup(passwd, field: 0, equals: parts[0]), let u = UInt32(entry[2]), let g = UInt32(entry[3]) {
            uid = u; gid = g
        } else {
            throw ImageError("resolve user", text, "no such user in the image's /etc/passwd")
        }
        if parts.count == 2 {
            if let number = UInt32(parts[1]) {
                gid = number
            } else if let entry = lookup(group, field: 0, equals: parts[1]), let g = UInt32(entry[2]) {
                gid = g
            } else {
                throw ImageError("resolve user", text, "no such group in the image's /etc/group")
            }
        }
        return Spec.User(uid: uid, gid: gid)
    }

    /// The name and home directory of `uid` in the image's /etc/passwd.
    static func passwdEntry(uid: UInt32, rootfs: String) -> (name: String, home: String)? {
        let passwd = (try? Files.read(rootfs + "/etc/passwd")) ?? ""
        guard let entry = lookup(passwd, field: 2, equals: String(uid)), entry.count >= 6 else { return nil }
        return (entry[0], entry[5].isEmpty ? "/" : entry[5])
    }

    /// The groups of /etc/group that list `user` as a member, as docker adds them.
    static func supplementaryGroups(of user: String, primary: UInt32, rootfs: String) -> [UInt32] {
        let group = (try? Files.read(rootfs + "/etc/group")) ?? ""
        var out: [UInt32] = []
        for line in group.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 4, let gid = UInt32(fields[2]), gid != primary else { continue }
            if fields[3].split(separator: ",").contains(where: { $0 == user }) && !out.contains(gid) { out.append(gid) }
        }
        return out
    }

    private static func lookup(_ file: String, field: Int, equals value: String) -> [String]? {
        for line in file.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            if fields.count >= 4, fields[field] == value { return fields }
        }
        return nil
    }
}
