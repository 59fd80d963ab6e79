import Glibc
import Linux
import Cgroups
import OCISpec

extension ContainerRecord {
    /// The status as the spec defines it, derived from the kernel rather than stored: a dead or reused
    /// pid means stopped; an exec fifo still present means created; a frozen cgroup means paused.
    /// `manager`: the container's cgroup when the caller has it already (each lookup reads the mount table).
    func status(in store: ContainerStore, manager: (any CgroupManager)?? = .none) -> ContainerState.Status {
        let alive = Processes.isAlive(pid: initPid, startTime: initStartTime)
        if !createCompleted { return alive ? .creating : .stopped }
        if !alive { return .stopped }
        if Files.exists(store.fifoPath(of: id)) { return .created }
        let cgroup = manager ?? (try? Cgroups.manager(path: cgroupPath))
        if let cgroup, (try? cgroup.isFrozen()) == true { return .paused }
        return .running
    }

    func state(in store: ContainerStore, manager: (any CgroupManager)?? = .none) -> ContainerState {
        let status = status(in: store, manager: manager)
        return ContainerState(id: id, pid: status == .stopped ? 0 : initPid, status: status, bundle: bundle,
                              rootfs: rootfs, created: created, owner: owner, annotations: annotations)
    }
}
