import Glibc
import Linux
import OCISpec
import Runtime

/// Why a container stopped, in words a person can act on: the project's answer to "why did it die?",
/// which docker and podman leave to guesswork (OOMKilled alone, and wrong for PID 1 on cgroup v1).
public enum ExitReason {
    static func describe(state: MonitorState, stop: StopRequest?) -> String {
        let code = state.exitCode ?? 0
        var text: String
        if let stop {
            let sent = Signals.name(of: stop.signal)
            if stop.escalated {
                text = "killed by SIGKILL: `berth \(stop.command)` sent \(sent) and the grace period ran out"
            } else if let signal = state.signal {
                text = "killed by \(Signals.name(of: signal)) sent by `berth \(stop.command)`"
            } else {
                text = "exited with code \(code) after `berth \(stop.command)` sent \(sent)"
            }
        } else if state.oomKilled {
            text = "OOM-killed by the kernel (PID 1)"
            if let limit = state.oomLimit { text += " at the memory limit of \(limit) bytes" }
            if let cgroup = state.cgroup { text += " in cgroup \(cgroup)" }
        } else if let signal = state.signal {
            text = "killed by \(Signals.name(of: signal))"
        } else {
            text = "exited with code \(code)"
        }
        if state.childOOMKills > 0 {
            text += "; the kernel OOM-killed \(state.childOOMKills) other process\(state.childOOMKills == 1 ? "" : "es") of the container"
            if !state.oomKilled, let limit = state.oomLimit { text += " at the memory limit of \(limit) bytes" }
        }
        return text
    }

    /// docker's exit codes for a process that could not start: 127 not found, 126 cannot execute.
    /// The runtime words errno the Go way (`exec: "/etc": permission denied`), so the exec step's own
    /// failures are matched in lower case; a mount or other setup step failing with ENOENT stays 125.
    public static func exitCode(forStartError message: String) -> Int32 {
        if message.contains("executable file not found") || message.contains("No such file or directory") { return 127 }
        if message.contains("Permission denied") || message.contains("Exec format error") { return 126 }
        let lowered = message.lowercased()
        guard lowered.contains("exec: ") else { return 125 }
        if lowered.contains("no such file or directory") { return 127 }
        if lowered.contains("permission denied") || lowered.contains("exec format error") { return 126 }
        return 125
    }

    static func memoryLimit(runtime: Runtime, id: String) -> Int64? {
        guard let spec = try? runtime.store.loadConfig(id) else { return nil }
        return spec.linux?.resources?.memory?.limit
    }
}
