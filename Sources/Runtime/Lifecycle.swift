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
        let state = record.state(in: store).specState
        Hooks.runWarning(record.poststart, kind: "poststart", state: state, warn: warn)
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
        if all, let manager {
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
        let status = record.status(in: store)
        switch status {
        case .stopped:
            break
        case .created:
            try killAndWait(record)
        case .running, .paused, .creating:
            guard force else {
                throw RuntimeError("cannot delete container \(id) that is not stopped", status.rawValue)
            }
            try killAndWait(record)
        }
        if let manager = try? Cgroups.manager(path: record.cgroupPath), manager.exists() {
            try step("removing cgroup \(record.cgroupPath)") { try manager.destroy() }
        }
        var state = record.state(in: store).specState
        state.status = .stopped
        Hooks.runWarning(record.poststop, kind: "poststop", state: state, warn: warn)
        try store.remove(id)
    }

    /// SIGKILLs every process of the container and waits until the init is gone.
    func killAndWait(_ record: ContainerRecord) throws(RuntimeError) {
        if let manager = try? Cgroups.manager(path: record.cgroupPath), manager.exists() {
            try? manager.killAll(signal: SIGKILL)
            try? manager.thaw()
        }
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
        return try step("listing processes of \(id)") { try Cgroups.manager(path: record.cgroupPath).processes() }
    }

    /// `update`: applies new limits and remembers them for later `state`/`update` calls.
    public func update(id: String, resources: Resources) throws(RuntimeError) {
        let record = try store.load(id)
        let status = record.status(in: store)
        if status == .stopped { throw RuntimeError(RuntimeError.notRunning, "") }
        var spec = try store.loadConfig(id)
        try ResourceValidation.validate(resources, field: "resources")
        var merged = spec.linux?.resources ?? Resources()
        merged.merge(resources)
        try step("updating cgroup \(record.cgroupPath)") { try Cgroups.manager(path: record.cgroupPath).apply(resources) }
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
        if let value = other.blockIO { blockIO = value }
        if let value = other.hugepageLimits { hugepageLimits = value }
        if let value = other.unified { unified = (unified ?? [:]).merging(value) { $1 } }
    }
}
