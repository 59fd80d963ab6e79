import Glibc
import CBerth
import Linux
import Cgroups
import OCISpec

/// Builds the container's filesystem view in its new mount namespace: propagation, the rootfs bind,
/// every `mounts` entry in order, /dev, then pivot_root and the masked and read-only paths.
/// Every destination is resolved inside the rootfs (see ScopedPath) and mounted through an fd.
struct RootfsSetup {
    let spec: Spec
    let rootfs: String
    let bundle: String
    let inUserNamespace: Bool
    let newCgroupNamespace: Bool
    let cgroupMode: CgroupMode
    let cgroupPath: String
    /// Bind sources opened by the parent (see `InitContext.bindSources`).
    var bindSources: [Int: Int32] = [:]

    private static let openPath: Int32 = 0o10000000

    func mountAll() throws(RuntimeError) {
        // Our mount events must not reach the host: slave (or what the config says) recursively.
        let propagation = spec.linux?.rootfsPropagation.flatMap { $0.isEmpty ? nil : $0 }
        let rootFlags = propagation.map { ParsedMountOptions([$0]).propagation.first ?? [.slave, .recursive] } ?? [.slave, .recursive]
        try step("setting / propagation") { try Mounts.mount(source: nil, target: "/", type: nil, flags: rootFlags.union(.recursive)) }
        // With rootfsPropagation shared, the mount holding the rootfs is shared now: pivot_root refuses
        // a new root whose parent is shared (EINVAL), and the bind below would propagate to the host.
        try step("making the parent mount of \(rootfs) private") { try RootPropagation.makeParentPrivate(of: rootfs) }
        try step("bind-mounting rootfs \(rootfs)") {
            try Mounts.mount(source: rootfs, target: rootfs, type: nil, flags: [.bind, .recursive])
        }
        let rootFd = try step("opening rootfs") { try check("open", rootfs) { open(rootfs, O_DIRECTORY | Self.openPath | O_CLOEXEC) } }
        defer { close(rootFd) }
        var devIsBound = false
        for (index, mount) in (spec.mounts ?? []).enumerated() {
            let what = "mounts[\(index)] (\(mount.destination))"
            try step(what) { try self.mountOne(mount, index: index, rootFd: rootFd) }
            if ScopedPath.clean(mount.destination) == "/dev" && ParsedMountOptions(mount.options ?? []).isBind { devIsBound = true }
        }
        if !devIsBound {
            try step("creating devices") { try self.createDevices(rootFd: rootFd) }
            try step("creating /dev symlinks") { try self.createDevSymlinks() }
        }
    }

    func switchRoot(noPivot: Bool) throws(RuntimeError) {
        if noPivot {
            try step("moving rootfs to / (--no-pivot)") { try RootSwitch.moveAndChroot(to: rootfs) }
        } else {
            try step("pivot_root to \(rootfs)") { try RootSwitch.pivot(to: rootfs) }
        }
        if let propagation = spec.linux?.rootfsPropagation, !propagation.isEmpty,
           let flags = ParsedMountOptions([propagation]).propagation.first {
            // The new root carries the configured propagation (a shared root for nested mounts). Only
            // now: before pivot_root a shared new root is refused.
            try step("setting rootfs propagation") { try Mounts.mount(source: nil, target: "/", type: nil, flags: flags) }
        }
    }

    /// After pivot_root: masked and read-only paths, then a read-only root if asked.
    func finish() throws(RuntimeError) {
        // A read-only /dev tmpfs was mounted writable for its nodes, links and submounts (runc does the same).
        let devMount = (spec.mounts ?? []).last { ScopedPath.clean($0.destination) == "/dev" }
        if let devMount, devMount.type == "tmpfs", ParsedMountOptions(devMount.options ?? []).flags.contains(.readOnly) {
            try step("making /dev read-only") { try self.remount("/dev", flags: ParsedMountOptions(devMount.options ?? []).remountFlags) }
        }
        for path in spec.linux?.readonlyPaths ?? [] {
            try step("making \(path) read-only") { try self.makeReadOnly(path, recursive: true) }
        }
        for path in spec.linux?.maskedPaths ?? [] {
            try step("masking \(path)") { try self.mask(path) }
        }
        if spec.root?.readonly == true {
            try step("making the root filesystem read-only") {
                let locked = Mounts.currentFlags(of: "/").intersection([.noSuid, .noDev, .noExec])
                try Mounts.mount(source: nil, target: "/", type: nil, flags: MountFlags([.bind, .remount, .readOnly]).union(locked))
            }
        }
        umask(0o022)
    }

    // MARK: - one mount

    private func mountOne(_ mount: Spec.Mount, index: Int, rootFd: Int32) throws {
        var options = ParsedMountOptions(mount.options ?? [])
        let type = mount.type.flatMap { $0.isEmpty ? nil : $0 } ?? (options.isBind ? "bind" : "")
        if type == "bind" { options.flags.insert(.bind) }
        let destination = ScopedPath.clean(mount.destination)
        if options.isBind {
            try bindMount(mount, options: options, destination: destination, rootFd: rootFd, sourceFd: bindSources[index])
        } else if type == "cgroup" || type == "cgroup2" {
            try mountCgroups(options: options, destination: destination, rootFd: rootFd)
        } else {
            guard !type.isEmpty else { throw RuntimeError("mount", "no type given and not a bind mount") }
            if type == "proc" || type == "sysfs" { try refuseNonDirectory(destination, type: type, rootFd: rootFd) }
            let target = try ScopedPath.prepareMountTarget(rootFd: rootFd, rootPath: rootfs, destination, asFile: false)
            defer { close(target) }
            let targetPath = ScopedPath.procPath(of: target)
            var data = options.data
            if type == "devpts" && inUserNamespace { data.removeAll { $0.hasPrefix("gid=") } }
            let data_ = data.joined(separator: ",")
            // A read-only tmpfs is mounted writable and made read-only per mount afterwards, as runc does:
            // so that tmpcopyup can fill it, and /dev (made read-only in `finish`) can still get its nodes.
            let readOnlyTmpfs = type == "tmpfs" && options.flags.contains(.readOnly)
            var flags = options.flags.subtracting(.remount)
            if readOnlyTmpfs { flags.remove(.readOnly) }
            // A tmpfs without mode= takes the mode of the directory it covers (runc's rule), not tmpfs's 1777.
            var covered = stat()
            let keepMode = type == "tmpfs" && !data.contains { $0.hasPrefix("mode=") } && fstat(target, &covered) == 0
            let result = Result { () throws(SystemError) in
                try Mounts.mount(source: mount.source ?? type, target: targetPath, type: type, flags: flags, data: data_)
            }
            if case .failure(let error) = result {
                let refused = error.errno == EPERM || error.errno == EBUSY
                if type == "sysfs" && refused {
                    // sysfs cannot be mounted in a user namespace without its own network namespace: use
                    // the host's read-only, as runc does.
                    try Mounts.mount(source: "/sys", target: targetPath, type: nil, flags: [.bind, .recursive])
                    let mounted = try ScopedPath.open(rootFd: rootFd, rootPath: rootfs, destination, flags: Self.openPath)
                    defer { close(mounted) }
                    try remount(ScopedPath.procPath(of: mounted), flags: options.remountFlags.union(.readOnly))
                } else if type == "mqueue" && refused {
                    try Mounts.mount(source: "/dev/mqueue", target: targetPath, type: nil, flags: .bind)
                } else {
                    throw error
                }
            }
            if type == "tmpfs" && options.extensions.contains("tmpcopyup") {
                // What the image had at this path is copied into the new tmpfs (podman's --read-only
                // and --tmpfs ask for it): from the directory underneath, still reachable through `target`.
                let mounted = try ScopedPath.open(rootFd: rootFd, rootPath: rootfs, destination, flags: O_DIRECTORY | Self.openPath)
                defer { close(mounted) }
                try TreeCopy.copyContents(of: targetPath, into: ScopedPath.procPath(of: mounted))
                try TreeCopy.copyAttributes(of: targetPath, to: ScopedPath.procPath(of: mounted))
            }
            if keepMode || (readOnlyTmpfs && destination != "/dev") {
                let mounted = try ScopedPath.open(rootFd: rootFd, rootPath: rootfs, destination, flags: O_DIRECTORY | Self.openPath)
                defer { close(mounted) }
                if keepMode { _ = chmod(ScopedPath.procPath(of: mounted), covered.st_mode & 0o7777) }
                if readOnlyTmpfs && destination != "/dev" { try remount(ScopedPath.procPath(of: mounted), flags: options.remountFlags) }
            }
            if !options.propagation.isEmpty {
                // The old fd names the directory underneath; propagation applies to the new mount on top.
                let mounted = try ScopedPath.open(rootFd: rootFd, rootPath: rootfs, destination, flags: Self.openPath)
                defer { close(mounted) }
                for propagation in options.propagation {
                    try Mounts.mount(source: nil, target: ScopedPath.procPath(of: mounted), type: nil, flags: propagation)
                }
            }
            try applyRecursiveAttributes(options, destination: destination, rootFd: rootFd)
        }
    }

    /// proc and sysfs go exactly where the config says or not at all (runc's rule and words). A rootfs whose
    /// /proc is a symlink would otherwise get the real proc somewhere else, while /proc, where masked and
    /// read-only paths and LSM labels are applied by path, is a directory the image controls (CVE-2019-16884).
    private func refuseNonDirectory(_ destination: String, type: String, rootFd: Int32) throws {
        guard let existing = try? ScopedPath.open(rootFd: rootFd, rootPath: rootfs, destination,
                                                  flags: Self.openPath | O_NOFOLLOW | O_CLOEXEC) else { return }
        defer { close(existing) }
        var st = stat()
        if fstat(existing, &st) == 0 && (st.st_mode & S_IFMT) != S_IFDIR {
            throw RuntimeError("filesystem \"\(type)\" must be mounted on ordinary directory", "")
        }
    }

    /// `rro`, `rnosuid`, …: mount_setattr(AT_RECURSIVE) on the new mount and everything under it (a plain
    /// remount would change only the top mount of an rbind).
    private func applyRecursiveAttributes(_ options: ParsedMountOptions, destination: String, rootFd: Int32) throws {
        guard options.hasRecursiveAttributes else { return }
        let mounted = try ScopedPath.open(rootFd: rootFd, rootPath: rootfs, destination, flags: Self.openPath)
        defer { close(mounted) }
        try Mounts.setAttributesRecursively(fd: mounted, path: destination, set: options.recursiveSet, clear: options.recursiveClear)
    }

    private func bindMount(_ mount: Spec.Mount, options: ParsedMountOptions, destination: String, rootFd: Int32,
                           sourceFd: Int32?) throws {
        guard var source = mount.source, !source.isEmpty else { throw RuntimeError("bind mount", "no source given") }
        if !source.hasPrefix("/") { source = bundle + "/" + source }
        var st = stat()
        if let sourceFd {
            guard fstat(sourceFd, &st) == 0 else { throw SystemError("fstat", source) }
        } else {
            guard stat(source, &st) == 0 else { throw SystemError("stat", source) }
        }
        let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
        let target = try ScopedPath.prepareMountTarget(rootFd: rootFd, rootPath: rootfs, destination, asFile: !isDirectory)
        defer { close(target) }
        let targetPath = ScopedPath.procPath(of: target)
        if let sourceFd {
            // The parent's detached clone of the source, attached onto the target fd itself (both paths empty:
            // move_mount does not follow the /proc/self/fd magic link of a path).
            _ = try check("move_mount", source) {
                move_mount(sourceFd, "", target, "", UInt32(MOVE_MOUNT_F_EMPTY_PATH) | UInt32(MOVE_MOUNT_T_EMPTY_PATH))
            }
        } else {
            try Mounts.mount(source: source, target: targetPath, type: nil,
                             flags: options.flags.intersection([.bind, .recursive]))
        }
        if !options.remountFlags.isEmpty {
            // Re-open: the fd still points at the directory under the new mount.
            let mounted = try ScopedPath.open(rootFd: rootFd, rootPath: rootfs, destination, flags: Self.openPath)
            defer { close(mounted) }
            try remount(ScopedPath.procPath(of: mounted), flags: options.remountFlags)
        }
        for propagation in options.propagation {
            let mounted = try ScopedPath.open(rootFd: rootFd, rootPath: rootfs, destination, flags: Self.openPath)
            defer { close(mounted) }
            try Mounts.mount(source: nil, target: ScopedPath.procPath(of: mounted), type: nil, flags: propagation)
        }
        try applyRecursiveAttributes(options, destination: destination, rootFd: rootFd)
    }

    /// A bind remount keeps the flags the kernel locked on the source (in a user namespace nosuid,
    /// nodev, noexec, ro cannot be cleared), so they are carried over.
    private func remount(_ path: String, flags: MountFlags) throws(SystemError) {
        let locked = Mounts.currentFlags(of: path).intersection([.noSuid, .noDev, .noExec, .readOnly])
        try Mounts.mount(source: nil, target: path, type: nil, flags: MountFlags([.bind, .remount]).union(flags).union(inUserNamespace ? locked : MountFlags()))
    }

    /// `type: cgroup`: on cgroup v2 a cgroup2 mount; on v1 a tmpfs with one mount per hierarchy. Without a
    /// cgroup namespace the container's own cgroup directories are bound instead, so it sees only itself.
    private func mountCgroups(options: ParsedMountOptions, destination: String, rootFd: Int32) throws {
        let target = try ScopedPath.prepareMountTarget(rootFd: rootFd, rootPath: rootfs, destination, asFile: false)
        defer { close(target) }
        let targetPath = ScopedPath.procPath(of: target)
        let flags = options.flags.subtracting([.bind, .recursive, .remount, .readOnly])
        let hierarchies = MountInfoEntry.all().filter { $0.fsType == "cgroup" || $0.fsType == "cgroup2" }
        if cgroupMode == .unified {
            var mounted = false
            if newCgroupNamespace {
                let cgroupFlags = flags.union(options.flags.intersection(.readOnly))
                let result = Result { () throws(SystemError) in
                    try Mounts.mount(source: "cgroup", target: targetPath, type: "cgroup2", flags: cgroupFlags)
                }
                switch result {
                case .success: mounted = true
                case .failure(let error) where error.errno == EBUSY || error.errno == EPERM:
                    // Some kernels refuse a cgroup2 mount from a nested user namespace: bind our own
                    // cgroup instead, which shows the container the same subtree.
                    break
                case .failure(let error): throw error
                }
            }
            if !mounted, let root = hierarchies.first(where: { $0.fsType == "cgroup2" }) {
                try Mounts.mount(source: root.mountPoint + ownCgroup(in: root), target: targetPath, type: nil, flags: [.bind])
                if options.flags.contains(.readOnly) {
                    let mounted = try ScopedPath.open(rootFd: rootFd, rootPath: rootfs, destination, flags: Self.openPath)
                    defer { close(mounted) }
                    try remount(ScopedPath.procPath(of: mounted), flags: flags.union(.readOnly))
                }
            }
            return
        }
        try Mounts.mount(source: "tmpfs", target: targetPath, type: "tmpfs", flags: flags, data: "mode=755")
        // Re-resolved: the first fd still names the directory underneath the new tmpfs.
        let tmpfs = try ScopedPath.open(rootFd: rootFd, rootPath: rootfs, destination, flags: O_DIRECTORY | Self.openPath)
        defer { close(tmpfs) }
        for hierarchy in hierarchies {
            let name = String(hierarchy.mountPoint.split(separator: "/").last ?? "")
            guard !name.isEmpty, hierarchy.mountPoint.hasPrefix("/sys/fs/cgroup/") else { continue }
            try check("mkdirat", name) { mkdirat(tmpfs, name, 0o755) }
            let directory = try check("openat", name) { openat(tmpfs, name, O_DIRECTORY | Self.openPath | O_CLOEXEC) }
            defer { close(directory) }
            let directoryPath = ScopedPath.procPath(of: directory)
            if newCgroupNamespace {
                let subsystems = hierarchy.superOptions.split(separator: ",").filter { $0 != "rw" && $0 != "ro" }.joined(separator: ",")
                try Mounts.mount(source: "cgroup", target: directoryPath, type: hierarchy.fsType,
                                 flags: flags.union(options.flags.intersection(.readOnly)),
                                 data: hierarchy.fsType == "cgroup2" ? nil : subsystems)
            } else {
                let own = hierarchy.mountPoint + ownCgroup(in: hierarchy)
                try Mounts.mount(source: Files.isDirectory(own) ? own : hierarchy.mountPoint, target: directoryPath,
                                 type: nil, flags: [.bind])
                if options.flags.contains(.readOnly) {
                    let mounted = try check("openat", name) { openat(tmpfs, name, O_DIRECTORY | Self.openPath | O_CLOEXEC) }
                    defer { close(mounted) }
                    try remount(ScopedPath.procPath(of: mounted), flags: [.readOnly, .noSuid, .noDev, .noExec])
                }
            }
            if name.contains(",") {
                for part in name.split(separator: ",") where part != name[...] {
                    _ = symlinkat(name, tmpfs, String(part))
                }
            }
        }
        if options.flags.contains(.readOnly) {
            try Mounts.mount(source: nil, target: ScopedPath.procPath(of: tmpfs), type: nil,
                             flags: MountFlags([.remount, .readOnly]).union(flags))
        }
    }

    /// Our own cgroup in `hierarchy`, from /proc/self/cgroup: the init has joined its cgroup before
    /// mounting, and this is right for relative cgroupsPaths too (they live under the runtime's cgroup).
    private func ownCgroup(in hierarchy: MountInfoEntry) -> String {
        let lines = ((try? Files.read("/proc/self/cgroup")) ?? "").split(separator: "\n")
        let options = Set(hierarchy.superOptions.split(separator: ","))
        for line in lines {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let controllers = fields[1].split(separator: ",")
            let matches = hierarchy.fsType == "cgroup2"
                ? controllers.isEmpty && fields[0] == "0"
                : !controllers.isEmpty && controllers.allSatisfy { options.contains($0) }
            if matches { return String(fields[2]) == "/" ? "" : String(fields[2]) }
        }
        return cgroupPath
    }

    // MARK: - /dev

    private func createDevices(rootFd: Int32) throws {
        var devices = DeviceRules.defaultDevices
        for device in spec.linux?.devices ?? [] {
            devices.removeAll { $0.path == device.path }
            devices.append(device)
        }
        for device in devices {
            try createDevice(device, rootFd: rootFd)
        }
    }

    /// mknod where we may; in a user namespace (where mknod is refused) a bind mount of the host's node.
    private func createDevice(_ device: Spec.Device, rootFd: Int32) throws {
        let path = ScopedPath.clean(device.path)
        let parent = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        try ScopedPath.makeDirectories(rootFd: rootFd, rootPath: rootfs, parent.isEmpty ? "/" : parent)
        let parentFd = try ScopedPath.open(rootFd: rootFd, rootPath: rootfs, parent, flags: O_DIRECTORY | Self.openPath)
        defer { close(parentFd) }
        let name = String(path[path.index(after: path.lastIndex(of: "/") ?? path.startIndex)...])
        if inUserNamespace {
            let target = try ScopedPath.prepareMountTarget(rootFd: rootFd, rootPath: rootfs, path, asFile: true)
            defer { close(target) }
            try Mounts.mount(source: device.path, target: ScopedPath.procPath(of: target), type: nil, flags: .bind)
            return
        }
        let kind: mode_t
        switch device.type {
        case "b": kind = S_IFBLK
        case "p": kind = S_IFIFO
        default: kind = S_IFCHR
        }
        _ = unlinkat(parentFd, name, 0)
        let mode = kind | mode_t(device.fileMode ?? 0o666)
        let dev = makedev(UInt32(device.major ?? 0), UInt32(device.minor ?? 0))
        // mknodat through the O_PATH directory fd's /proc path: the node lands exactly in the checked dir.
        let at = ScopedPath.procPath(of: parentFd) + "/" + name
        try check("mknod", device.path) { mknod(at, mode, dev) }
        let saved = umask(0)
        _ = chmod(at, mode & 0o7777)
        umask(saved)
        try check("chown", device.path) { chown(at, device.uid ?? 0, device.gid ?? 0) }
    }

    private func createDevSymlinks() throws {
        let links = [("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
                     ("/proc/self/fd/2", "stderr"), ("/proc/kcore", "core")]
        let dev = rootfs + "/dev"
        guard Files.isDirectory(dev), Mounts.currentFlags(of: dev).isDisjoint(with: .readOnly) else { return }
        let devFd = try check("open", dev) { open(dev, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        defer { close(devFd) }
        for (target, name) in links {
            if symlinkat(target, devFd, name) != 0 && errno != EEXIST { throw SystemError("symlink", "/dev/\(name)") }
        }
        if Files.exists(dev + "/pts/ptmx") {
            _ = unlinkat(devFd, "ptmx", 0)
            if symlinkat("pts/ptmx", devFd, "ptmx") != 0 { throw SystemError("symlink", "/dev/ptmx") }
        }
    }

    // MARK: - after pivot_root

    private func mask(_ path: String) throws(SystemError) {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT { return }
            throw SystemError("stat", path)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            try Mounts.mount(source: "tmpfs", target: path, type: "tmpfs", flags: .readOnly)
        } else {
            try Mounts.mount(source: "/dev/null", target: path, type: nil, flags: .bind)
        }
    }

    private func makeReadOnly(_ path: String, recursive: Bool) throws(SystemError) {
        guard Files.exists(path) else { return }
        try Mounts.mount(source: path, target: path, type: nil, flags: recursive ? [.bind, .recursive] : .bind)
        let locked = Mounts.currentFlags(of: path).intersection([.noSuid, .noDev, .noExec])
        try Mounts.mount(source: nil, target: path, type: nil, flags: MountFlags([.bind, .remount, .readOnly]).union(locked))
    }
}

@inline(__always)
func makedev(_ major: UInt32, _ minor: UInt32) -> dev_t {
    dev_t((UInt64(major & 0xfffff000) << 32) | (UInt64(major & 0xfff) << 8) | (UInt64(minor & 0xffffff00) << 12) | UInt64(minor & 0xff))
}
