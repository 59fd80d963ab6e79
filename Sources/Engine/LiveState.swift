import Foundation
import Glibc
import Linux
import Monitor
import Runtime

/// A container's state is the monitor's while it has one (`<runroot>/monitor/<id>/state.json`) and the
/// database's otherwise; the kernel settles what neither can know (a paused cgroup, a monitor that was
/// killed, a host that rebooted).
extension Engine {
    public func withLiveState(_ record: ContainerInfo) -> ContainerInfo {
        var record = record
        let paths = monitorPaths(record.Id)
        guard let monitor = paths.readState() else {
            if record.State.Running || record.State.Restarting || record.State.Paused {
                // The database says it runs, but the runtime state is gone: the host restarted, or --runroot was wiped.
                record.State.Status = "exited"
                record.State.Running = false; record.State.Paused = false; record.State.Restarting = false
                record.State.Pid = 0
                record.State.ExitCode = 255
                record.State.Reason = "stopped with the host: its runtime state is gone (a reboot, or --runroot was emptied)"
            }
            return record
        }
        let monitorAlive = Processes.isAlive(pid: monitor.monitorPid, startTime: monitor.monitorStartTime)
        record.RestartCount = monitor.restartCount
        var state = record.State
        state.Pid = monitor.pid
        state.StartedAt = monitor.startedAt ?? state.StartedAt
        state.Health = monitor.health.map { health in
            ContainerStateInfo.Health(Status: health.status, FailingStreak: health.failingStreak,
                                  Log: health.log.map { ContainerStateInfo.HealthLog(Start: $0.start, End: $0.end,
                                                                                ExitCode: $0.exitCode, Output: $0.output) })
        }
        let initAlive = monitor.pid > 0 && Processes.isAlive(pid: monitor.pid, startTime: nil)
            && runtime.store.exists(record.Id)
        switch monitor.status {
        case .running, .starting:
            if initAlive {
                state.Status = "running"
                state.Running = true
                state.Restarting = false
                state.Paused = isPaused(record.Id)
                if state.Paused { state.Status = "paused" }
                state.Reason = monitorAlive ? nil : "its monitor was killed: output is no longer logged; `berth rm -f` or `berth restart` recovers it"
            } else if monitor.status == .starting && monitorAlive {
                state.Status = "created"
                state.Running = false
            } else {
                state.Status = "exited"
                state.Running = false; state.Paused = false; state.Restarting = false
                state.ExitCode = monitor.exitCode ?? 255
                state.Reason = monitor.reason ?? "its monitor was killed and the container is gone; the exit status is unknown"
                state.FinishedAt = monitor.finishedAt ?? state.FinishedAt
            }
        case .restarting:
            state.Status = monitorAlive ? "restarting" : "exited"
            state.Running = monitorAlive
            state.Restarting = monitorAlive
            state.Paused = false
            state.ExitCode = monitor.exitCode ?? 0
            state.OOMKilled = monitor.oomKilled
            state.FinishedAt = monitor.finishedAt ?? state.FinishedAt
            state.Reason = monitor.reason
        case .exited:
            state.Status = monitor.error != nil && monitor.startedAt == nil ? "created" : "exited"
            state.Running = false; state.Paused = false; state.Restarting = false
            state.Pid = 0
            state.ExitCode = monitor.exitCode ?? 0
            state.OOMKilled = monitor.oomKilled
            state.Error = monitor.error ?? ""
            state.FinishedAt = monitor.finishedAt ?? state.FinishedAt
            state.Reason = monitor.reason
        }
        if !state.Running { state.Pid = 0 }
        record.State = state
        return record
    }

    func isPaused(_ id: String) -> Bool {
        (try? runtime.state(id: id))?.status.rawValue == "paused"
    }

    /// Whether the container's monitor process is alive.
    func monitorAlive(_ id: String) -> Bool {
        guard let monitor = monitorPaths(id).readState() else { return false }
        return Processes.isAlive(pid: monitor.monitorPid, startTime: monitor.monitorStartTime)
    }
}
