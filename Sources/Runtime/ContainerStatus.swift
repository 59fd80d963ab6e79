import Glibc
import Linux
import Cgroups
import OCISpec

extension ContainerRecord {
    /// The status as the spec defines it, derived from the kernel rather than stored: a dead or reused
    /// pid means stopped; an exec fifo still present means created; a frozen cgroup means paused.
    func status(in store: ContainerStore) -> ContainerState.Status {
        let alive = Processes.isAlive(pid: initPid, startTime: initStartTime)
        if !createCompleted { return alive ? .creating : .stopped }
        if !alive { return .stopped }
        if Files.exists(store.fifoPath(of: id)) { return .created }
        if let manager = try? Cgroups.manager(path: cgroupPath), (try? manager.isFrozen()) == true { return .paused }
        return .running
    }

    func state(in store: ContainerStore) -> ContainerState {
        let status = status(in: store)
        return ContainerState(id: id, pid: status == .stopped ? 0 : initPid, status: status, bundle: bundle,
                              rootfs: rootfs, created: created, owner: owner, annotations: annotations)
    }
}
