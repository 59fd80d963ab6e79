import Glibc
import Linux

/// docker's health checks, run by the monitor: the check command is exec'd in the container through
/// berth-runtime every `interval`; `retries` failures in a row make the container `unhealthy`, failures
/// during `startPeriod` do not count. The last five results are kept, as docker keeps them.
final class HealthChecker {
    let config: HealthcheckConfig
    let command: [String]
    let id: String
    let runtimeRoot: String
    let runtimeBinary: String
    private var startedAt: UInt64 = 0
    private var nextDue: UInt64 = 0

    init?(config: HealthcheckConfig, id: String, runtimeRoot: String, runtimeBinary: String?) {
        guard let command = config.command, !command.isEmpty, let runtimeBinary else { return nil }
        self.config = config; self.command = command; self.id = id; self.runtimeRoot = runtimeRoot
        self.runtimeBinary = runtimeBinary
    }

    func reset(now: UInt64) {
        startedAt = now
        nextDue = now + UInt64(max(config.interval, 1_000_000))
    }

    func isDue(now: UInt64) -> Bool { now >= nextDue }

    func millisecondsUntilDue(now: UInt64) -> Int32 {
        now >= nextDue ? 0 : Int32(min((nextDue - now) / 1_000_000 + 1, 60_000))
    }

    /// Runs one check (blocking, at most `timeout`) and folds its result into `state`.
    func runCheck(state: HealthState) -> HealthState {
        var state = state
        let start = Clock.rfc3339Now()
        let (code, output) = execute()
        let now = Clock.monotonicNanoseconds()
        nextDue = now + UInt64(max(config.interval, 1_000_000))
        state.log.append(HealthResult(start: start, end: Clock.rfc3339Now(), exitCode: code, output: output))
        if state.log.count > 5 { state.log.removeFirst(state.log.count - 5) }
        if code == 0 {
            state.failingStreak = 0
            state.status = "healthy"
        } else if now - startedAt >= UInt64(config.startPeriod) {
            state.failingStreak += 1
            if state.failingStreak >= max(config.retries, 1) { state.status = "unhealthy" }
        }
        return state
    }

    /// `berth-runtime exec ID CMD…` with output captured; killed after the timeout (exit code -1 then,
    /// as docker records a timed-out check).
    private func execute() -> (Int32, String) {
        guard let pipe = try? FileDescriptors.pipe() else { return (-1, "cannot create a pipe") }
        let args = [runtimeBinary, "--root", runtimeRoot, "exec", id] + command
        let pid = fork()
        if pid == 0 {
            Signals.resetAll()
            dup2(pipe.write, 1)
            dup2(pipe.write, 2)
            let null = open("/dev/null", O_RDONLY)
            if null >= 0 { dup2(null, 0) }
            // The monitor's -1000 must not pass to the check's process inside the container's memory limit.
            _ = try? Files.write("/proc/self/oom_score_adj", "0")
            Spawn.execWithStrings(path: runtimeBinary, args: args, env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
            _exit(127)
        }
        close(pipe.write)
        defer { close(pipe.read) }
        if pid < 0 { return (-1, "fork: \(SystemError.message(errno))") }
        FileDescriptors.setNonBlocking(pipe.read, true)
        let deadline = Clock.monotonicNanoseconds() + UInt64(max(config.timeout, 1_000_000))
        var output: [UInt8] = []
        var status: Int32 = 0
        var timedOut = false
        while true {
            var descriptor = pollfd(fd: pipe.read, events: Int16(POLLIN), revents: 0)
            _ = poll(&descriptor, 1, 50)
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { read(pipe.read, $0.baseAddress, $0.count) }
            if n > 0 && output.count < 4096 { output += buffer[0..<n] }
            if waitpid(pid, &status, WNOHANG) == pid { break }
            if Clock.monotonicNanoseconds() > deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                timedOut = true
                break
            }
        }
        if timedOut { return (-1, "Health check exceeded timeout (\(config.timeout / 1_000_000_000)s)") }
        return (Processes.exitCode(status), String(decoding: output, as: UTF8.self))
    }
}
