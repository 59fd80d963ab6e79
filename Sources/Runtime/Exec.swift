import Glibc
import CBerth
import Linux
import Cgroups
import OCISpec

/// The flags of `exec`.
public struct ExecOptions: Sendable {
    public var process: Spec.Process
    public var detach = false
    public var pidFile: String?
    public var consoleSocket: String?
    public var preserveFds: Int32 = 0
    public var ignorePaused = false
    /// `--cgroup` arguments (runc's grammar: `PATH`, or `CONTROLLER[,CONTROLLER]:PATH` each).
    public var cgroups: [String] = []
    public init(process: Spec.Process) { self.process = process }
}

extension Runtime {
    /// `exec`: runs another process in a running container's namespaces and cgroup. Returns its exit
    /// code, or 0 at once with `detach`.
    public func exec(id: String, options: ExecOptions) throws(RuntimeError) -> Int32 {
        let record = try store.load(id)
        let status = record.status(in: store)
        switch status {
        case .running, .created: break
        case .paused:
            // With --ignore-paused the process joins the frozen cgroup and freezes before it says it is
            // ready: exec waits until the container is resumed, as runc's does (its cgroups.bats).
            if !options.ignorePaused {
                throw RuntimeError("cannot exec in a paused container (use --ignore-paused to override)", "")
            }
        default: throw RuntimeError("cannot exec in a \(status.rawValue) container", "")
        }
        if (options.process.args ?? []).isEmpty { throw RuntimeError("exec", "no command given") }
        var terminal = try TerminalSetup(terminal: options.process.terminal == true, foreground: !options.detach,
                                         consoleSocket: options.consoleSocket)
        defer { terminal.closeSockets() }
        var process = options.process
        let unknownCaps = SpecValidation.droppingUnknownCapabilities(&process)
        if !unknownCaps.isEmpty { warn(SpecValidation.unknownCapabilitiesWarning(unknownCaps)) }
        if process.terminal == true { process.consoleSize = terminal.initialSize(process.consoleSize) }
        let spec = try store.loadConfig(id)
        let kinds = try SpecValidation.namespaces(of: spec).map(\.kind)
        let initPid = record.initPid
        // Open every namespace first: if init dies half-way we fail before forking.
        var namespaceFds: [(kind: NamespaceKind, fd: Int32)] = []
        defer { for entry in namespaceFds { close(entry.fd) } }
        for kind in kinds {
            let path = "/proc/\(initPid)/ns/\(kind.procName)"
            if let own = try? NamespaceIdentity.of(pid: getpid(), kind), let theirs = try? NamespaceIdentity.of(pid: initPid, kind),
               own == theirs { continue }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw RuntimeError("opening \(path)", SystemError.message(errno)) }
            namespaceFds.append((kind, fd))
        }
        let manager = try step("cgroup \(record.cgroupPath)") { try Cgroups.manager(path: record.cgroupPath) }
        let cgroup = try ExecCgroup(manager: manager, sub: try ExecCgroup.parse(options.cgroups))
        let seccomp = try seccompProgram(spec.linux?.seccomp)
        // In the foreground, signals are ours from before the fork (passed on once it runs, as runc).
        let signals = options.detach ? nil : try ForegroundSignals()
        let (parentEnd, childEnd) = try step("creating sync socket") { try FileDescriptors.socketPair() }
        defer { close(parentEnd) }

        // pid and time namespaces apply to children: enter them for the fork, then come back.
        var restore: [(kind: NamespaceKind, fd: Int32)] = []
        for entry in namespaceFds where entry.kind == .pid || entry.kind == .time {
            let own = open("/proc/self/ns/\(entry.kind == .pid ? "pid_for_children" : "time_for_children")", O_RDONLY | O_CLOEXEC)
            if own >= 0 { restore.append((entry.kind, own)) }
            try step("joining \(entry.kind.rawValue) namespace of \(id)") {
                try Namespaces.join(fd: entry.fd, kind: entry.kind, name: "/proc/\(initPid)/ns/\(entry.kind.procName)")
            }
        }
        let child = fork()
        if child == 0 {
            close(parentEnd)
            let joiner = ExecJoiner(namespaces: namespaceFds.filter { $0.kind != .pid && $0.kind != .time },
                                    sync: SyncChannel(fd: childEnd), consoleSocket: terminal.socket,
                                    relayed: !options.detach && options.consoleSocket == nil, process: process,
                                    preserveFds: options.preserveFds, seccomp: seccomp, initPid: initPid,
                                    entersInitRoot: !kinds.contains(.mount))
            joiner.run()
        }
        for entry in restore { _ = berth_setns(entry.fd, entry.kind.cloneFlag); close(entry.fd) }
        close(childEnd)
        if child < 0 { throw RuntimeError("fork", SystemError.message(errno)) }
        let sync = SyncChannel(fd: parentEnd)
        do {
            try cgroup.join(child, initPid: initPid)
            try step("starting exec process") { try sync.send(SyncMessage.go) }
            var (message, passedFd) = try step("waiting for exec process") { try sync.receiveWithFd() }
            while message == SyncMessage.seccompListener, passedFd >= 0 {
                // Our copy must be gone once the agent has its own: with it open, an agent that dies would
                // leave the process's notified syscalls waiting for ever.
                let listener = passedFd
                defer { close(listener) }
                guard let profile = spec.linux?.seccomp, let path = profile.listenerPath, !path.isEmpty else {
                    throw RuntimeError("seccomp", "a notify fd came without a listenerPath")
                }
                let state = ContainerState(id: id, pid: initPid, status: .running, bundle: record.bundle,
                                           annotations: spec.annotations)
                try SeccompAgent.hand(listener: listener, to: path, pid: child, metadata: profile.listenerMetadata, state: state)
                (message, passedFd) = try step("waiting for exec process") { try sync.receiveWithFd() }
            }
            if passedFd >= 0 { close(passedFd) }
            guard let message else { throw RuntimeError("exec process", "exited during set-up") }
            if message.hasPrefix(SyncMessage.errorPrefix) {
                throw RuntimeError(String(message.dropFirst(SyncMessage.errorPrefix.count)), "")
            }
        } catch let error as RuntimeError {
            Glibc.kill(child, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(child, &status, 0)
            throw error
        } catch {
            throw RuntimeError("exec", error)
        }
        var relay: ConsoleRelay? = nil
        do throws(RuntimeError) {
            relay = try terminal.takeRelay()
            if let pidFile = options.pidFile { try writePidFile(pidFile, pid: child) }
            try relay?.begin()
        } catch {
            // The process runs already; like runc's terminate(), it does not outlive a failed exec.
            relay?.finish()
            Glibc.kill(child, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(child, &status, 0)
            throw error
        }
        defer { relay?.finish() }
        guard let signals else { return 0 }
        return Foreground.wait(for: child, signals: signals, relay: relay)
    }
}

/// The exec'd process between fork and execve: joins the container, then becomes `process`.
struct ExecJoiner {
    let namespaces: [(kind: NamespaceKind, fd: Int32)]
    let sync: SyncChannel
    let consoleSocket: Int32
    let relayed: Bool
    let process: Spec.Process
    let preserveFds: Int32
    let seccomp: SeccompProgram?
    let initPid: Int32
    /// The container has no mount namespace to join: its init lives in a chroot in the host's one.
    let entersInitRoot: Bool

    func run() -> Never {
        do {
            try setUp()
        } catch {
            sync.reportFailure(error)
        }
        _exit(1)
    }

    private func setUp() throws(RuntimeError) {
        try step("prctl") { try Processes.setUndumpable() }
        Processes.setParentDeathSignal(SIGKILL)
        try sync.expect(SyncMessage.go)
        // As host root we may enter any namespace, whichever user namespace owns it; inside the
        // container's user namespace we could not enter one it does not own (a joined host network).
        // So the user namespace comes last, the mount namespace just before it.
        let ordered = namespaces.filter { $0.kind != .user && $0.kind != .mount } + namespaces.filter { $0.kind == .mount }
            + namespaces.filter { $0.kind == .user }
        // Before the user namespace, for the same reason as the init's (see Create).
        if let adjustment = process.oomScoreAdj {
            try step("setting oom_score_adj to \(adjustment)") { try Files.write("/proc/self/oom_score_adj", "\(adjustment)") }
        }
        // Opened now, entered after the joins: a chrooted process may not join a user namespace.
        var initRoot: Int32 = -1
        if entersInitRoot {
            initRoot = try step("opening the container's root") {
                try check("open", "/proc/\(initPid)/root") { open("/proc/\(initPid)/root", O_DIRECTORY | O_RDONLY | O_CLOEXEC) }
            }
        }
        for entry in ordered {
            try step("joining \(entry.kind.rawValue) namespace of the container") {
                try Namespaces.join(fd: entry.fd, kind: entry.kind, name: "/proc/\(initPid)/ns/\(entry.kind.procName)")
            }
            if entry.kind == .user {
                try Identity.becomeRootInUserNamespace()
            }
        }
        if initRoot >= 0 {
            try step("chroot to the container's root") {
                try check("fchdir", "/proc/\(initPid)/root") { fchdir(initRoot) }
                try check("chroot", ".") { chroot(".") }
                try check("chdir", "/") { chdir("/") }
            }
            close(initRoot)
        }
        var launch = try ProcessLaunch(process: process, seccomp: seccomp)
        if process.terminal == true, consoleSocket >= 0 {
            try launch.attachTerminal(consoleSocket: consoleSocket, size: process.consoleSize, bindConsole: false, relayed: relayed)
        }
        try launch.prepare(preserveFds: preserveFds, keepFds: [sync.fd])
        try launch.becomeProcessUser(sync: sync)
        // Cleared before saying ready: the parent exits as soon as it hears it.
        Processes.setParentDeathSignal(0)
        try step("sync") { try sync.send(SyncMessage.ready) }
        close(sync.fd)
        try launch.loadNoNewPrivilegesSeccomp()
        try launch.exec()
    }
}
