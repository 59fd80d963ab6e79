import Glibc
import CBerth
import Linux
import Cgroups
import OCISpec

/// Everything the init needs, captured by the parent before clone().
struct InitContext {
    let record: ContainerRecord
    let spec: Spec
    let plan: NamespacePlan
    let syncFd: Int32
    /// O_PATH fd of the container's state directory, where the exec fifo is.
    let stateDirectoryFd: Int32
    let consoleSocket: Int32
    let options: CreateOptions
    let cgroupMode: CgroupMode
    /// v1 `tasks` files to join by writing "0" (empty when the parent moves us).
    let selfJoinTaskFiles: [String]
    /// linux.seccomp, compiled by the parent.
    let seccomp: SeccompProgram?
    /// Detached mount trees of bind-mount sources (by index in `mounts`), cloned by the parent before the clone
    /// (see `Create.openBindSources`).
    var bindSources: [Int: Int32] = [:]
}

/// The container's first process, from clone() to execve(). It runs in the clone child of a
/// single-threaded parent, so ordinary Swift is safe here; the uid/gid changes use raw syscalls.
struct InitProcess {
    let context: InitContext
    var spec: Spec { context.spec }
    var sync: SyncChannel { SyncChannel(fd: context.syncFd) }

    func run() -> Never {
        do {
            try setUp()
        } catch {
            sync.reportFailure(error)
        }
        // setUp ends in execve: reaching here is a failure.
        _exit(1)
    }

    private func setUp() throws(RuntimeError) {
        // Nothing in the container may open /proc/<init>/exe while it is still the runtime binary.
        try step("prctl") { try Processes.setUndumpable() }
        if !context.plan.isStaged { Processes.setParentDeathSignal(SIGKILL) }
        try sync.expect(SyncMessage.go)
        for file in context.selfJoinTaskFiles {
            try step("joining cgroup \(context.record.cgroupPath)") { try Files.write(file, "0") }
        }

        if context.plan.isStaged {
            try enterStaged()
        } else {
            if context.plan.new.contains(.user) { try Identity.becomeRootInUserNamespace() }
            for join in context.plan.childJoins {
                try step("joining \(join.kind.rawValue) namespace \(join.path)") { try Namespaces.join(path: join.path, kind: join.kind) }
            }
            if context.plan.new.contains(.cgroup) {
                try step("creating cgroup namespace") { try Namespaces.unshare(NamespaceKind.cgroup.cloneFlag) }
            }
        }
        if context.plan.new.contains(.network) {
            // A new network namespace has lo down; runc brings it up, and programs expect 127.0.0.1.
            try step("bringing up lo") { try check("ioctl(SIOCSIFFLAGS)", "lo") { berth_loopback_up() } }
        }
        if !context.options.noNewKeyring {
            // A private session keyring, so the container cannot read the host's keys.
            if berth_join_session_keyring("_ses.\(context.record.id)") < 0 && errno != ENOSYS && errno != EPERM {
                throw RuntimeError("joining a new session keyring", SystemError.message(errno))
            }
        }

        let rootfs = RootfsSetup(spec: spec, rootfs: context.record.rootfs, bundle: context.record.bundle,
                                 inUserNamespace: context.plan.new.contains(.user) || context.plan.joins.contains { $0.kind == .user }
                                     || !UserNamespaceFacts.isInitial,
                                 newCgroupNamespace: context.plan.new.contains(.cgroup), cgroupMode: context.cgroupMode,
                                 cgroupPath: context.record.cgroupPath, bindSources: context.bindSources)
        if hasMountNamespace { try rootfs.mountAll() }
        if hasRuntimeHooks {
            try step("sync") { try sync.send(SyncMessage.runHooks) }
            try sync.expect(SyncMessage.hooksDone)
        }
        var state = ContainerState(id: context.record.id, pid: getpid(), status: .creating, bundle: context.record.bundle,
                                   annotations: spec.annotations)
        state.pid = hostPid()
        try Hooks.run(spec.hooks?.createContainer, kind: "createContainer", state: state, directory: context.record.rootfs)
        if hasMountNamespace {
            try rootfs.switchRoot(noPivot: context.options.noPivot)
        } else {
            try step("chroot to \(context.record.rootfs)") { try RootSwitch.chrootOnly(to: context.record.rootfs) }
        }
        if let cwd = spec.process?.cwd, !cwd.isEmpty {
            // As runc: a cwd the image lacks is made (inside the new root, before a read-only root).
            try step("creating cwd \(cwd)") { try Files.makeDirectories(cwd, mode: 0o755) }
        }

        if let hostname = spec.hostname, !hostname.isEmpty {
            try step("setting hostname") { try check("sethostname", hostname) { sethostname(hostname, hostname.utf8.count) } }
        }
        if let domainname = spec.domainname, !domainname.isEmpty {
            try step("setting domainname") { try check("setdomainname", domainname) { setdomainname(domainname, domainname.utf8.count) } }
        }
        for (key, value) in (spec.linux?.sysctl ?? [:]).sorted(by: { $0.key < $1.key }) {
            let path = "/proc/sys/" + key.replacingDots()
            try step("setting sysctl \(key)=\(value)") { try Files.write(path, value) }
        }

        // After the sysctls, which live under /proc/sys that readonlyPaths usually covers (runc's order).
        if hasMountNamespace { try rootfs.finish() } else { umask(0o022) }

        guard let process = spec.process else { throw RuntimeError("config.json: field process", "required field is missing") }
        var launch = try ProcessLaunch(process: process, seccomp: context.seccomp)
        if process.terminal == true, context.consoleSocket >= 0 {
            try launch.attachTerminal(consoleSocket: context.consoleSocket, size: process.consoleSize, bindConsole: hasMountNamespace,
                                      relayed: context.options.foreground && context.options.consoleSocket == nil)
        }
        try launch.prepare(preserveFds: context.options.listenFds + context.options.preserveFds, keepFds: [context.syncFd, context.stateDirectoryFd])
        try launch.becomeProcessUser(sync: sync)

        // Cleared before saying ready: the parent exits as soon as it hears it.
        Processes.setParentDeathSignal(0)
        // Before ready, the exec fifo and the startContainer hooks, as runc: the hooks run under the
        // container's filter (seccomp.bats), and a filter that fails to load fails `create`. From here
        // to execve only a few syscalls are made (write, close, openat, signal resets), as in runc.
        try launch.loadNoNewPrivilegesSeccomp()
        // Reported to `create` before waiting: everything that can fail has been done.
        try step("sync") { try sync.sendLast(SyncMessage.ready) }
        close(context.syncFd)

        try waitForStart()
        // runc gives startContainer hooks "created": the user process has not been exec'd yet.
        state.status = .created
        try Hooks.run(spec.hooks?.startContainer, kind: "startContainer", state: state)
        try launch.exec()
    }

    /// Without one (validated to have no mounts), the rootfs is entered by chroot and nothing is mounted.
    private var hasMountNamespace: Bool {
        context.plan.new.contains(.mount) || context.plan.joins.contains { $0.kind == .mount }
    }

    private var hasRuntimeHooks: Bool {
        !(spec.hooks?.prestart ?? []).isEmpty || !(spec.hooks?.createRuntime ?? []).isEmpty
    }

    /// Our pid as the host sees it (for hook state): from the pid namespace's parent view.
    private func hostPid() -> Int32 {
        if let status = try? Files.read("/proc/self/status"),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("NSpid:") }),
           let first = line.split(separator: "\t").dropFirst().first.flatMap({ Int32($0.trimmingSpaces()) }) {
            return first
        }
        return getpid()
    }

    /// Blocks on the exec fifo until `start` opens it, then writes the go byte. The fifo is reached
    /// through the state directory's fd (opened before pivot_root, mode 0711, fifo 0622), which works
    /// for any uid, in any user namespace, while the process is undumpable.
    private func waitForStart() throws(RuntimeError) {
        let fd = try step("opening exec fifo") {
            try check("open", "exec.fifo") { openat(context.stateDirectoryFd, "exec.fifo", O_WRONLY | O_CLOEXEC) }
        }
        let byte: [UInt8] = [0x30]
        try step("writing exec fifo") { try Files.writeAll(fd: fd, byte, name: "exec.fifo") }
        close(fd)
        close(context.stateDirectoryFd)
    }


    /// The staged path: join by path, then unshare user (the parent maps it), then the rest, then fork
    /// so that a new or joined pid namespace applies. The grandchild carries on as init.
    private func enterStaged() throws(RuntimeError) {
        let joins = context.plan.childJoins
        for join in joins where join.kind == .user {
            try step("joining user namespace \(join.path)") { try Namespaces.join(path: join.path, kind: .user) }
            try Identity.becomeRootInUserNamespace()
        }
        for join in joins where join.kind != .user {
            try step("joining \(join.kind.rawValue) namespace \(join.path)") { try Namespaces.join(path: join.path, kind: join.kind) }
        }
        if context.plan.new.contains(.user) {
            try step("creating user namespace") { try Namespaces.unshare(NamespaceKind.user.cloneFlag) }
            try step("sync") { try sync.send(SyncMessage.mapUsers) }
            try sync.expect(SyncMessage.usersMapped)
            try Identity.becomeRootInUserNamespace()
        }
        let flags = context.plan.stagedUnshareFlags
        if flags != 0 {
            try step("creating namespaces") { try Namespaces.unshare(flags) }
        }
        let child = fork()
        if child < 0 { throw RuntimeError("fork", SystemError.message(errno)) }
        if child > 0 {
            _ = try? sync.send(SyncMessage.pidPrefix + "\(child)")
            _exit(0)
        }
        try step("prctl") { try Processes.setUndumpable() }
    }
}

extension String {
    func replacingDots() -> String { String(map { $0 == "." ? "/" : $0 }) }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
