import Glibc
import Linux
import Cgroups
import OCISpec

extension Runtime {
    /// `start`: lets a created container's init exec the user process.
    public func start(id: String) throws(RuntimeError) {
        let record = try store.load(id)
        let status = record.status(in: store)
        // runc's messages, word for word.
        switch status {
        case .created: break
        case .stopped: throw RuntimeError("cannot start a container that has stopped", "")
        case .running: throw RuntimeError("cannot start an already running container", "")
        default: throw RuntimeError("cannot start a container in the \(status.rawValue) state", "")
        }
        let fifo = store.fifoPath(of: id)
        // O_NONBLOCK: the open must not hang if init died; the read below waits for its byte instead.
        let fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw RuntimeError("starting container \(id)", "opening exec fifo: \(SystemError.message(errno))") }
        defer { close(fd) }
        var byte: UInt8 = 0
        while true {
            let n = read(fd, &byte, 1)
            if n == 1 { break }
            if n < 0 && errno != EAGAIN && errno != EINTR {
                throw RuntimeError("starting container \(id)", "reading exec fifo: \(SystemError.message(errno))")
            }
            if !Processes.isAlive(pid: record.initPid, startTime: record.initStartTime) {
                // A short process may have written its byte, run and exited since the read above: the
                // byte is still in the fifo, and the start did happen.
                if read(fd, &byte, 1) == 1 { break }
                unlink(fifo)
                throw RuntimeError("starting container \(id)", "its init process has exited")
            }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&descriptor, 1, 10)
        }
        unlink(fifo)
        // The state costs a look at the cgroup (paused?): worth it only for hooks that receive it.
        guard let poststart = record.poststart, !poststart.isEmpty else { return }
        Hooks.runWarning(poststart, kind: "poststart", state: record.state(in: store).specState, warn: warn)
    }

    /// The state as `state` and `list` print it: ociVersion is the config's, as runc reports it.
    public func state(id: String) throws(RuntimeError) -> ContainerState {
        let record = try store.load(id)
        var state = record.state(in: store)
        state.ociVersion = record.ociVersion ?? Spec.version
        return state
    }

    public func list() -> [ContainerState] {
        store.ids().compactMap { try? state(id: $0) }
    }

    /// `kill`: one signal to init, or with `all` to every process in the container's cgroup.
    public func kill(id: String, signal: Int32, all: Bool) throws(RuntimeError) {
        let record = try store.load(id)
        let status = record.status(in: store)
        if status == .stopped && !all {
            throw RuntimeError(RuntimeError.notRunning, "")
        }
        let manager = try? Cgroups.manager(path: record.cgroupPath)
        if all, let manager, manager.exists() {
            try step("signalling every process of \(id)") { try manager.killAll(signal: signal) }
        } else {
            if Glibc.kill(record.initPid, signal) != 0 && errno != ESRCH {
                throw RuntimeError("unable to signal init", RuntimeError.goMessage(errno))
            }
        }
        // A frozen task does not act on SIGKILL until thawed.
        if status == .paused && signal == SIGKILL { try? manager?.thaw() }
    }

    /// `delete`: removes a stopped (or, with `force`, any) container: processes, cgroup, state.
    public func delete(id: String, force: Bool) throws(RuntimeError) {
        try ContainerStore.validate(id: id)
        let record: ContainerRecord
        do {
            record = try store.load(id)
        } catch {
            guard store.exists(id) else {
                if force { return }
                throw RuntimeError(RuntimeError.notExist, "")
            }
            // An interrupted create: the directory exists without a complete state.
            guard force else { throw error }
            try store.remove(id)
            return
        }
        // One reading of the mount table serves the status, the kill and the removal.
        let manager = try? Cgroups.manager(path: record.cgroupPath)
        let status = record.status(in: store, manager: manager)
        switch status {
        case .stopped:
            // A create that died before it recorded the init's pid leaves an init in the cgroup that nothing else
            // knows of: the cgroup's tasks are killed all the same.
            if !record.createCompleted { try killAndWait(record, manager: manager) }
        case .created:
            try killAndWait(record, manager: manager)
        case .running, .paused, .creating:
            guard force else {
                throw RuntimeError("cannot delete container \(id) that is not stopped", status.rawValue)
            }
            try killAndWait(record, manager: manager)
        }
        if let manager, manager.exists() {
            try step("removing cgroup \(record.cgroupPath)") { try manager.destroy() }
        }
        if let poststop = record.poststop, !poststop.isEmpty {
            var state = record.state(in: store, manager: manager).specState
            state.status = .stopped
            Hooks.runWarning(poststop, kind: "poststop", state: state, warn: warn)
        }
        try store.remove(id)
    }

    /// SIGKILLs every process of the container and waits until the init is gone.
    func killAndWait(_ record: ContainerRecord) throws(RuntimeError) {
        try killAndWait(record, manager: try? Cgroups.manager(path: record.cgroupPath))
    }

    func killAndWait(_ record: ContainerRecord, manager: (any CgroupManager)?) throws(RuntimeError) {
        if let manager, manager.exists() {
            try? manager.killAll(signal: SIGKILL)
            try? manager.thaw()
        }
        guard record.initPid > 0 else { return }   // never recorded (and waitpid(0) would reap any child of ours)
        if Processes.isAlive(pid: record.initPid, startTime: record.initStartTime) {
            Glibc.kill(record.initPid, SIGKILL)
        }
        // Init may be our child (run) or someone else's; either way wait for it to be gone.
        var status: Int32 = 0
        for _ in 0..<2000 {
            _ = waitpid(record.initPid, &status, WNOHANG)
            if !Processes.isAlive(pid: record.initPid, startTime: record.initStartTime) { return }
            usleep(1000)
        }
        throw RuntimeError("killing container \(record.id)", "its init \(record.initPid) did not exit")
    }

    public func pause(id: String) throws(RuntimeError) {
        let record = try store.load(id)
        let status = record.status(in: store)
        guard status == .running || status == .created else {
            throw RuntimeError(RuntimeError.notRunning, "")
        }
        try step("freezing cgroup \(record.cgroupPath)") { try Cgroups.manager(path: record.cgroupPath).freeze() }
    }

    public func resume(id: String) throws(RuntimeError) {
        let record = try store.load(id)
        let status = record.status(in: store)
        guard status == .paused else { throw RuntimeError("container not paused", "") }
        try step("thawing cgroup \(record.cgroupPath)") { try Cgroups.manager(path: record.cgroupPath).thaw() }
    }

    /// The pids in the container's cgroup.
    public func processes(id: String) throws(RuntimeError) -> [Int32] {
        let record = try store.load(id)
        let manager = try step("cgroup \(record.cgroupPath)") { try Cgroups.manager(path: record.cgroupPath) }
        if manager is DetachedCgroup { return try pidNamespaceMembers(of: record) }
        return try step("listing processes of \(id)") { try manager.processes() }
    }

    /// The processes of a container without a cgroup (rootless, nothing delegated): those in its init's pid
    /// namespace, found by the namespace's inode in /proc/PID/ns/pid. Every process of the container is there
    /// (exec joins it) and nothing else is, unless the container shares the caller's pid namespace.
    func pidNamespaceMembers(of record: ContainerRecord) throws(RuntimeError) -> [Int32] {
        guard record.initPid > 0, Processes.isAlive(pid: record.initPid, startTime: record.initStartTime),
              let namespace = try? Files.readLink("/proc/\(record.initPid)/ns/pid") else {
            throw RuntimeError(RuntimeError.notRunning, "")
        }
        guard namespace != (try? Files.readLink("/proc/self/ns/pid")) else {
            throw RuntimeError("listing processes of \(record.id)", DetachedCgroup.reason + ", and it shares this pid namespace")
        }
        let entries = (try? Files.listDirectory("/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { (try? Files.readLink("/proc/\($0)/ns/pid")) == namespace }.sorted()
    }

    /// `update`: applies new limits and remembers them for later `state`/`update` calls. As runc, a zero
    /// (or empty) value leaves the setting as it is, and a failed update puts the old values back.
    /// Device rules, which runc 1.1.5 ignores here, are applied too: the config's rules are replaced
    /// (linux.devices and the always-allowed ones stay), with the minimal transition on v1.
    public func update(id: String, resources: Resources) throws(RuntimeError) {
        let record = try store.load(id)
        let status = record.status(in: store)
        if status == .stopped { throw RuntimeError(RuntimeError.notRunning, "") }
        var spec = try store.loadConfig(id)
        let update = resources.droppingUnchanged()
        try ResourceValidation.validate(update, field: "resources")
        let manager = try step("cgroup \(record.cgroupPath)") { try Cgroups.manager(path: record.cgroupPath) }
        if !(manager is CgroupV2Manager), !(update.unified ?? [:]).isEmpty {
            throw RuntimeError(RuntimeError.unifiedOnV1, "")
        }
        let old = spec.linux?.resources ?? Resources()
        var merged = old
        merged.merge(update)
        var applied = update
        if update.devices != nil {
            var next = spec
            next.linux?.resources = merged
            applied.devices = DeviceRules.effectiveResources(next).devices
        }
        do {
            try step("updating cgroup \(record.cgroupPath)") { try manager.apply(applied) }
        } catch {
            var back = old
            back.devices = update.devices == nil ? nil : DeviceRules.effectiveResources(spec).devices
            do { try manager.apply(back) } catch let rollback {
                warn("Setting back cgroup configs failed due to error: \(rollback), your state.json and actual configs might be inconsistent.")
            }
            throw error
        }
        if spec.linux == nil { spec.linux = Spec.Linux() }
        spec.linux?.resources = merged
        try store.saveConfig(spec, of: id)
    }

    public func stats(id: String) throws(RuntimeError) -> CgroupStats {
        let record = try store.load(id)
        return try step("reading stats of \(id)") { try Cgroups.manager(path: record.cgroupPath).stats() }
    }

    public func record(id: String) throws(RuntimeError) -> ContainerRecord { try store.load(id) }

    /// The config the container was created with (with later `update`s applied).
    public func config(id: String) throws(RuntimeError) -> Spec { try store.loadConfig(id) }
}

extension Resources {
    /// Overlays the fields set in `update` onto these.
    mutating func merge(_ other: Resources) {
        if let value = other.memory {
            var memory = self.memory ?? Memory()
            memory.limit = value.limit ?? memory.limit
            memory.reservation = value.reservation ?? memory.reservation
            memory.swap = value.swap ?? memory.swap
            memory.swappiness = value.swappiness ?? memory.swappiness
            memory.disableOOMKiller = value.disableOOMKiller ?? memory.disableOOMKiller
            self.memory = memory
        }
        if let value = other.cpu {
            var cpu = self.cpu ?? CPU()
            cpu.shares = value.shares ?? cpu.shares
            cpu.quota = value.quota ?? cpu.quota
            cpu.period = value.period ?? cpu.period
            cpu.burst = value.burst ?? cpu.burst
            cpu.realtimeRuntime = value.realtimeRuntime ?? cpu.realtimeRuntime
            cpu.realtimePeriod = value.realtimePeriod ?? cpu.realtimePeriod
            cpu.cpus = value.cpus ?? cpu.cpus
            cpu.mems = value.mems ?? cpu.mems
            self.cpu = cpu
        }
        if let value = other.pids { pids = value }
        if let value = other.blockIO {
            var blockIO = self.blockIO ?? BlockIO()
            blockIO.weight = value.weight ?? blockIO.weight
            blockIO.leafWeight = value.leafWeight ?? blockIO.leafWeight
            blockIO.weightDevice = value.weightDevice ?? blockIO.weightDevice
            blockIO.throttleReadBpsDevice = value.throttleReadBpsDevice ?? blockIO.throttleReadBpsDevice
            blockIO.throttleWriteBpsDevice = value.throttleWriteBpsDevice ?? blockIO.throttleWriteBpsDevice
            blockIO.throttleReadIOPSDevice = value.throttleReadIOPSDevice ?? blockIO.throttleReadIOPSDevice
            blockIO.throttleWriteIOPSDevice = value.throttleWriteIOPSDevice ?? blockIO.throttleWriteIOPSDevice
            self.blockIO = blockIO
        }
        if let value = other.devices { devices = value }
        if let value = other.hugepageLimits { hugepageLimits = value }
        if let value = other.unified { unified = (unified ?? [:]).merging(value) { $1 } }
    }
}

extension Resources {
    /// runc's `update` reads a zero or an empty string as "leave it as it is".
    func droppingUnchanged() -> Resources {
        var r = self
        if var m = r.memory {
            if m.limit == 0 { m.limit = nil }
            if m.reservation == 0 { m.reservation = nil }
            if m.swap == 0 { m.swap = nil }
            if m.kernel == 0 { m.kernel = nil }
            if m.kernelTCP == 0 { m.kernelTCP = nil }
            r.memory = m == Memory() ? nil : m
        }
        if var c = r.cpu {
            if c.shares == 0 { c.shares = nil }
            if c.quota == 0 { c.quota = nil }
            if c.period == 0 { c.period = nil }
            if c.realtimeRuntime == 0 { c.realtimeRuntime = nil }
            if c.realtimePeriod == 0 { c.realtimePeriod = nil }
            if c.cpus == "" { c.cpus = nil }
            if c.mems == "" { c.mems = nil }
            r.cpu = c == CPU() ? nil : c
        }
        if r.pids?.limit == 0 { r.pids = nil }
        if r.blockIO?.weight == 0 { r.blockIO?.weight = nil }
        if r.blockIO == BlockIO() { r.blockIO = nil }
        return r
    }
}
