#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import CBerth
import Linux
import Cgroups
import OCISpec

/// What `create` made: the init's pid and, for a foreground terminal, the relay of its pty.
public struct Created {
    public let pid: Int32
    public let console: ConsoleRelay?
}

extension Runtime {
    /// `create`: sets up the container and leaves its init waiting on the exec fifo until `start`.
    /// Returns the init's pid (and, in the foreground with a terminal, the relay of its pty). Anything
    /// made before a failure is removed again.
    @discardableResult
    public func create(id: String, bundle bundleArgument: String, options: CreateOptions) throws(RuntimeError) -> Created {
        try ContainerStore.validate(id: id)
        let bundle = try absoluteBundle(bundleArgument)
        let (loaded, configBytes) = try loadSpec(bundle: bundle)
        var spec = loaded
        let rootfs = try SpecValidation(spec: spec, bundle: bundle).validate(requireProcess: true)
        if var process = spec.process {
            let unknown = SpecValidation.droppingUnknownCapabilities(&process)
            if !unknown.isEmpty { warn(SpecValidation.unknownCapabilitiesWarning(unknown)) }
            if options.listenFds > 0 {
                process.env = (process.env ?? []) + ["LISTEN_FDS=\(options.listenFds)", "LISTEN_PID=1"]
            }
            spec.process = process
        }
        let namespaces = try SpecValidation.namespaces(of: spec)
        let plan = NamespacePlan(namespaces)
        if store.exists(id) { throw RuntimeError(RuntimeError.exists, "") }
        var terminal = try TerminalSetup(terminal: spec.process?.terminal == true, foreground: options.foreground,
                                         consoleSocket: options.consoleSocket)
        defer { terminal.closeSockets() }
        if spec.process?.terminal == true {
            let size = terminal.initialSize(spec.process?.consoleSize)
            spec.process?.consoleSize = size
        }

        let cgroupPath = spec.linux?.cgroupsPath.flatMap { $0.isEmpty ? nil : $0 } ?? "/berth/\(id)"
        var record = ContainerRecord(id: id, bundle: bundle, rootfs: rootfs, created: Clock.rfc3339Now(),
                                     owner: "root", cgroupPath: cgroupPath, spec: spec)
        try store.makeDirectory(for: id)
        var cleanup = CreateCleanup(store: store, id: id)
        do throws(RuntimeError) {
            try store.save(record)
            try store.saveConfig(configBytes, of: id)
            let fifo = store.fifoPath(of: id)
            try step("creating exec fifo \(fifo)") {
                try check("mkfifo", fifo) { mkfifo(fifo, 0o622) }
                // Writable by any container user (the umask took the group/other bits away).
                try check("chmod", fifo) { chmod(fifo, 0o622) }
            }

            var manager = try step("cgroup \(cgroupPath)") { try Cgroups.manager(path: cgroupPath) }
            // A pre-existing frozen cgroup would freeze the init before it reports back (runc's check and
            // words); the cgroup is not ours to remove, so this comes before cleanup owns it.
            if (try? manager.isFrozen()) == true { throw RuntimeError("container's cgroup unexpectedly frozen", "") }
            // Sharing a cgroup is allowed but rarely meant (runc's warning, word for word).
            if let pids = try? manager.processes(), !pids.isEmpty {
                warn("container's cgroup is not empty: \(pids.count) process(es) found")
            }
            do throws(CgroupError) {
                try manager.create()
            } catch {
                // Root of a user namespace owns no host cgroup unless one was delegated to it. As runc's
                // rootless mode: without limits the container runs without a cgroup; with limits that is an error.
                guard !UserNamespaceFacts.isInitial else { throw RuntimeError("creating cgroup \(cgroupPath)", error.description) }
                try? manager.destroy()
                if DetachedCgroup.setsLimits(spec.linux?.resources) {
                    throw RuntimeError("cannot set resource limits in a user namespace without a delegated cgroup",
                                       "creating cgroup \(cgroupPath): \(error.description)")
                }
                manager = DetachedCgroup()
                record.cgroupPath = ""
                try store.save(record)
            }
            cleanup.cgroup = manager
            try step("applying linux.resources to cgroup \(cgroupPath)") {
                try manager.apply(DeviceRules.effectiveResources(spec))
            }

            let seccomp = try seccompProgram(spec.linux?.seccomp)
            let pid = try launchInit(record: record, spec: spec, plan: plan, manager: manager, options: options,
                                     consoleSocket: terminal.socket, seccomp: seccomp, cleanup: &cleanup)
            let console = try terminal.takeRelay()
            record.initPid = pid
            record.initStartTime = Processes.startTime(of: pid)
            record.createCompleted = true
            do throws(RuntimeError) {
                try store.save(record)
                if let pidFile = options.pidFile { try writePidFile(pidFile, pid: pid) }
            } catch {
                console?.finish()
                throw error
            }
            cleanup.disarm()
            return Created(pid: pid, console: console)
        } catch {
            cleanup.run()
            throw error
        }
    }

    func absoluteBundle(_ argument: String) throws(RuntimeError) -> String {
        let path = argument.isEmpty ? "." : argument
        guard let resolved = realpath(path, nil) else {
            throw RuntimeError("bundle \(path)", SystemError.message(errno))
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    func loadSpec(bundle: String) throws(RuntimeError) -> (Spec, [UInt8]) {
        let path = bundle + "/config.json"
        let bytes: [UInt8]
        do { bytes = try Files.readBytes(path) } catch {
            throw RuntimeError("reading \(path)", SystemError.message(error.errno))
        }
        do {
            return (try SpecJSON.decode(Spec.self, from: Data(bytes), file: "config.json"), bytes)
        } catch let error as SpecDecodingError {
            throw RuntimeError("config.json", error.fieldPath.isEmpty ? error.reason : "field \(error.fieldPath): \(error.reason)")
        } catch {
            throw RuntimeError("config.json", "\(error)")
        }
    }

    func writePidFile(_ path: String, pid: Int32) throws(RuntimeError) {
        let absolute = path.hasPrefix("/") ? path : currentDirectory() + "/" + path
        try step("writing pid file \(absolute)") { try Files.replace(absolute, Array("\(pid)".utf8), mode: 0o644) }
    }

    func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        guard getcwd(&buffer, buffer.count) != nil else { return "." }
        return String(cString: buffer)
    }

    /// Clones the init into its namespaces and walks it through set-up over the sync channel.
    /// The host's cgroup layout as the manager already found it (one read of the mount table less per create).
    static func cgroupMode(of manager: any CgroupManager) -> CgroupMode {
        if manager is CgroupV2Manager { return .unified }
        if let v1 = manager as? CgroupV1Manager { return v1.unifiedDirectory != nil ? .hybrid : .legacy }
        return Cgroups.detectMode()
    }

    private func launchInit(record: ContainerRecord, spec: Spec, plan: NamespacePlan, manager: any CgroupManager,
                            options: CreateOptions, consoleSocket: Int32, seccomp: SeccompProgram?,
                            cleanup: inout CreateCleanup) throws(RuntimeError) -> Int32 {
        let (parentEnd, childEnd) = try step("creating sync socket") { try FileDescriptors.socketPair() }
        defer { close(parentEnd) }
        let stateDirectory = store.directory(of: record.id)
        let stateDirectoryFd = try step("opening state directory") {
            try check("open", stateDirectory) { open(stateDirectory, 0o10000000 | O_DIRECTORY | O_CLOEXEC) }
        }
        defer { close(stateDirectoryFd) }

        // Parent-side namespace moves: a new time namespace (with its offsets) and joined pid/time
        // namespaces take effect for children only.
        var restore: [(kind: NamespaceKind, fd: Int32)] = []
        defer { for entry in restore { _ = berth_setns(entry.fd, entry.kind.cloneFlag); close(entry.fd) } }
        if plan.new.contains(.time) {
            let own = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC)
            if own >= 0 { restore.append((.time, own)) }
            try step("creating time namespace") { try Namespaces.unshare(NamespaceKind.time.cloneFlag) }
            try step("writing time offsets") { try TimeOffsets.write(spec.linux?.timeOffsets ?? [:]) }
        }
        for join in plan.parentJoins {
            let own = open("/proc/self/ns/\(join.kind == .pid ? "pid_for_children" : "time_for_children")", O_RDONLY | O_CLOEXEC)
            if own >= 0 { restore.append((join.kind, own)) }
            try step("joining \(join.kind.rawValue) namespace \(join.path)") { try Namespaces.join(path: join.path, kind: join.kind) }
        }
        if plan.isStaged { Processes.setChildSubreaper() }

        // Joining the cgroup without the global migration lock where we can (see FastCgroupJoin): the
        // child is cloned into the cgroup2 cgroup and writes "0" to the v1 `tasks` files itself. Not
        // in a new user namespace, whose root may not write the host's cgroup files.
        let fastJoin = plan.isStaged || plan.new.contains(.user) ? nil : manager as? any FastCgroupJoin
        var unifiedFd: Int32 = -1
        if let directory = fastJoin?.unifiedDirectory { unifiedFd = open(directory, 0o10000000 | O_DIRECTORY | O_CLOEXEC) }
        defer { if unifiedFd >= 0 { close(unifiedFd) } }
        var context = InitContext(record: record, spec: spec, plan: plan, syncFd: childEnd, stateDirectoryFd: stateDirectoryFd,
                                  consoleSocket: consoleSocket, options: options, cgroupMode: Self.cgroupMode(of: manager),
                                  selfJoinTaskFiles: fastJoin?.selfJoinTaskFiles ?? [], seccomp: seccomp)
        if plan.new.contains(.user) || plan.joins.contains(where: { $0.kind == .user }) {
            context.bindSources = Self.openBindSources(spec: spec, bundle: record.bundle)
        }
        defer { for fd in context.bindSources.values { close(fd) } }
        var child: pid_t = -1
        var bornInCgroup = false
        if unifiedFd >= 0 {
            child = berth_clone3(UInt64(UInt32(bitPattern: plan.cloneFlags)), unifiedFd)
            bornInCgroup = child >= 0
        }
        if !bornInCgroup {
            child = berth_clone(UInt(UInt32(bitPattern: plan.cloneFlags)))
        }
        if child < 0 {
            throw RuntimeError("clone", "\(SystemError.message(errno)) (namespaces: \(plan.new.map(\.rawValue).sorted().joined(separator: ",")))")
        }
        if child == 0 {
            close(parentEnd)
            InitProcess(context: context).run()
        }
        close(childEnd)
        for entry in restore { _ = berth_setns(entry.fd, entry.kind.cloneFlag); close(entry.fd) }
        restore = []
        cleanup.process = child
        // Written here, by host root: in a new user namespace the init may not write its own (the proc file
        // belongs to the host's root), as runc's nsexec also sets it before the user namespace.
        if let adjustment = spec.process?.oomScoreAdj {
            try step("setting oom_score_adj to \(adjustment)") { try Files.write("/proc/\(child)/oom_score_adj", "\(adjustment)") }
        }
        let sync = SyncChannel(fd: parentEnd)

        if plan.new.contains(.user) && !plan.isStaged {
            try writeIDMappings(pid: child, spec: spec)
        }
        if fastJoin == nil || (!bornInCgroup && fastJoin?.unifiedDirectory != nil) {
            try step("adding init to cgroup \(record.cgroupPath)") { try manager.addProcess(child) }
        }
        try step("starting init") { try sync.send(SyncMessage.go) }

        var initPid = child
        while true {
            let message: String?
            let passedFd: Int32
            do { (message, passedFd) = try sync.receiveWithFd() } catch { throw RuntimeError("waiting for container init", error.description) }
            if message == SyncMessage.seccompListener, passedFd >= 0 {
                defer { close(passedFd) }
                guard let profile = spec.linux?.seccomp, let path = profile.listenerPath, !path.isEmpty else {
                    throw RuntimeError("seccomp", "a notify fd came without a listenerPath")
                }
                // runc's fields: the state says "running" and carries the bundle and annotations.
                let state = ContainerState(id: record.id, pid: initPid, status: .running, bundle: record.bundle,
                                           annotations: spec.annotations)
                try SeccompAgent.hand(listener: passedFd, to: path, pid: initPid, metadata: profile.listenerMetadata, state: state)
                continue
            }
            if passedFd >= 0 { close(passedFd) }
            guard let message else {
                throw RuntimeError("container init", "exited during set-up (exit status \(reap(initPid)))")
            }
            if message == SyncMessage.ready { break }
            if message.hasPrefix(SyncMessage.errorPrefix) {
                throw RuntimeError(String(message.dropFirst(SyncMessage.errorPrefix.count)), "")
            }
            if message == SyncMessage.mapUsers {
                try writeIDMappings(pid: child, spec: spec)
                try step("sync") { try sync.send(SyncMessage.usersMapped) }
            } else if message.hasPrefix(SyncMessage.pidPrefix), let pid = Int32(message.dropFirst(SyncMessage.pidPrefix.count)) {
                _ = reap(child)
                initPid = pid
                cleanup.process = pid
            } else if message == SyncMessage.runHooks {
                var state = record.state(in: store).specState
                state.pid = initPid
                state.status = .creating
                try Hooks.run(spec.hooks?.prestart, kind: "prestart", state: state, directory: record.bundle)
                try Hooks.run(spec.hooks?.createRuntime, kind: "createRuntime", state: state, directory: record.bundle)
                try step("sync") { try sync.send(SyncMessage.hooksDone) }
            } else {
                throw RuntimeError("sync with container init", "unexpected message \(message)")
            }
        }
        return initPid
    }

    private func reap(_ pid: Int32) -> Int32 {
        var status: Int32 = 0
        return waitpid(pid, &status, 0) == pid ? Processes.exitCode(status) : -1
    }

    /// What the init of a user-namespaced container bind-mounts, cloned here as detached mount trees with the
    /// host's credentials (open_tree(OPEN_TREE_CLONE)): in its new user namespace the init may not reach a
    /// source by path (a 0700 directory of the host's root), and a detached tree, unlike an fd of a host
    /// mount, can be attached in its mount namespace. A source that cannot be cloned is left to the init,
    /// which reports it by path.
    static func openBindSources(spec: Spec, bundle: String) -> [Int: Int32] {
        var fds: [Int: Int32] = [:]
        for (index, mount) in (spec.mounts ?? []).enumerated() {
            let options = ParsedMountOptions(mount.options ?? [])
            guard options.isBind || mount.type == "bind", var source = mount.source, !source.isEmpty else { continue }
            if !source.hasPrefix("/") { source = bundle + "/" + source }
            let recursive: UInt32 = options.flags.contains(.recursive) ? 0x8000 : 0   // AT_RECURSIVE
            let fd = open_tree(AT_FDCWD, source, UInt32(OPEN_TREE_CLONE) | UInt32(OPEN_TREE_CLOEXEC) | recursive)
            if fd >= 0 { fds[index] = fd }
        }
        return fds
    }

    private func writeIDMappings(pid: Int32, spec: Spec) throws(RuntimeError) {
        func format(_ mappings: [IDMapping]?) -> String {
            (mappings ?? []).map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.joined()
        }
        try step("writing /proc/\(pid)/uid_map") { try Files.write("/proc/\(pid)/uid_map", format(spec.linux?.uidMappings)) }
        try step("writing /proc/\(pid)/gid_map") { try Files.write("/proc/\(pid)/gid_map", format(spec.linux?.gidMappings)) }
    }
}

/// Undoes a failed create: kills the init, removes the cgroup and the state directory.
struct CreateCleanup {
    let store: ContainerStore
    let id: String
    var cgroup: (any CgroupManager)?
    var process: Int32 = 0
    private var armed = true

    init(store: ContainerStore, id: String) { self.store = store; self.id = id }

    mutating func disarm() { armed = false }

    func run() {
        guard armed else { return }
        if let cgroup {
            try? cgroup.killAll(signal: SIGKILL)
        }
        if process > 0 {
            kill(process, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(process, &status, 0)
        }
        if let cgroup { try? cgroup.destroy() }
        try? store.remove(id)
    }
}

enum TimeOffsets {
    /// Writes /proc/self/timens_offsets before the first process enters the new time namespace.
    static func write(_ offsets: [String: Spec.TimeOffset]) throws(SystemError) {
        var text = ""
        for (clock, offset) in offsets.sorted(by: { $0.key < $1.key }) {
            let name = clock == "boottime" ? "boottime" : "monotonic"
            text += "\(name) \(offset.secs ?? 0) \(offset.nanosecs ?? 0)\n"
        }
        if !text.isEmpty { try Files.write("/proc/self/timens_offsets", text) }
    }
}
