#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Linux

/// What the engine tells a monitor: written by the engine as `<state dir>/monitor.json`, read once
/// by `berth-monitor` at start. The monitor links no database: everything it needs is here.
public struct MonitorConfig: Codable, Sendable {
    public var id: String
    public var bundle: String
    /// berth-runtime's state root (`<runroot>/runtime`): the monitor creates the container there
    /// in-process, so `berth-runtime --root …` sees the same containers.
    public var runtimeRoot: String
    /// `<runroot>/monitor/<id>`: state.json, attach.sock, console.sock, stop-request.
    public var stateDirectory: String
    /// json-file log path, nil for `--log-driver none`.
    public var logPath: String?
    public var logMaxSize: Int64?
    public var logMaxFiles: Int
    public var terminal: Bool
    /// `-i`: keep the container's stdin open (fed by attach clients).
    public var openStdin: Bool
    /// `run` without -d: hold `start` until the first attach client is connected, so no output is lost.
    public var waitForAttach: Bool
    /// The engine is still setting the container's network up: after create, wait for its `g` on the report
    /// socket (fd 3) before starting; anything else (it closed the socket) abandons the start.
    public var startGate: Bool = false
    public var restart: RestartPolicy
    /// Run (exec'd in place of the monitor) once the container has exited for good.
    public var exitCommand: [String]?
    public var healthcheck: HealthcheckConfig?
    /// berth-runtime, for health-check commands (`exec` into the container).
    public var runtimeBinary: String?

    public init(id: String, bundle: String, runtimeRoot: String, stateDirectory: String) {
        self.id = id; self.bundle = bundle; self.runtimeRoot = runtimeRoot; self.stateDirectory = stateDirectory
        self.logPath = nil; self.logMaxSize = nil; self.logMaxFiles = 1; self.terminal = false; self.openStdin = false
        self.waitForAttach = false; self.restart = RestartPolicy(); self.exitCommand = nil; self.healthcheck = nil
        self.runtimeBinary = nil
    }
}

/// docker's `--restart`: no, always, unless-stopped, on-failure[:N].
public struct RestartPolicy: Codable, Sendable, Equatable {
    public enum Name: String, Codable, Sendable { case no, always, unlessStopped = "unless-stopped", onFailure = "on-failure" }
    public var name: Name
    public var maximumRetryCount: Int

    public init(name: Name = .no, maximumRetryCount: Int = 0) { self.name = name; self.maximumRetryCount = maximumRetryCount }

    /// Parses docker's spelling; nil when it is not one.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        switch parts.first ?? "" {
        case "", "no": self.init(name: .no)
        case "always": self.init(name: .always)
        case "unless-stopped": self.init(name: .unlessStopped)
        case "on-failure":
            var count = 0
            if parts.count == 2 {
                guard let n = Int(parts[1]), n >= 0 else { return nil }
                count = n
            }
            self.init(name: .onFailure, maximumRetryCount: count)
        default: return nil
        }
        if parts.count == 2 && name != .onFailure { return nil }
    }

    public var description: String {
        name == .onFailure && maximumRetryCount > 0 ? "on-failure:\(maximumRetryCount)" : name.rawValue
    }

    /// Whether a container that exited with `exitCode` is started again. A container stopped by the
    /// user is never restarted (docker restarts `always` ones only when the daemon starts again).
    public func shouldRestart(exitCode: Int32, restartCount: Int, stoppedByUser: Bool) -> Bool {
        if stoppedByUser { return false }
        switch name {
        case .no: return false
        case .always, .unlessStopped: return true
        case .onFailure: return exitCode != 0 && (maximumRetryCount == 0 || restartCount < maximumRetryCount)
        }
    }
}

/// `--health-cmd` and friends (durations in nanoseconds, as docker stores them).
public struct HealthcheckConfig: Codable, Sendable, Equatable {
    /// docker's form: ["CMD", args…], ["CMD-SHELL", "command"], or ["NONE"].
    public var test: [String]
    public var interval: Int64
    public var timeout: Int64
    public var startPeriod: Int64
    public var retries: Int

    public init(test: [String], interval: Int64 = 30_000_000_000, timeout: Int64 = 30_000_000_000,
                startPeriod: Int64 = 0, retries: Int = 3) {
        self.test = test; self.interval = interval; self.timeout = timeout; self.startPeriod = startPeriod
        self.retries = retries
    }

    /// The command to exec in the container, nil for NONE.
    public var command: [String]? {
        guard let kind = test.first else { return nil }
        switch kind {
        case "CMD": return Array(test.dropFirst())
        case "CMD-SHELL": return ["/bin/sh", "-c", test.dropFirst().joined(separator: " ")]
        case "NONE": return nil
        default: return test
        }
    }
}

/// docker's `State.Health`.
public struct HealthState: Codable, Sendable, Equatable {
    public var status: String
    public var failingStreak: Int
    public var log: [HealthResult]
    public init() { status = "starting"; failingStreak = 0; log = [] }
}

public struct HealthResult: Codable, Sendable, Equatable {
    public var start: String
    public var end: String
    public var exitCode: Int32
    public var output: String
}

/// What the monitor says about its container: `<state dir>/state.json`, replaced atomically on every
/// change. The engine reads it for `ps`/`inspect` and copies the final one into its database.
public struct MonitorState: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case starting, running, restarting, exited }
    public var monitorPid: Int32
    /// With the pid, tells the monitor apart from a later process that reuses its pid.
    public var monitorStartTime: UInt64?
    public var status: Status
    public var pid: Int32
    public var startedAt: String?
    public var finishedAt: String?
    public var exitCode: Int32?
    /// The signal that killed PID 1, if one did.
    public var signal: Int32?
    /// The kernel's OOM killer killed PID 1.
    public var oomKilled: Bool
    /// OOM kills of other processes of the container during this run.
    public var childOOMKills: UInt64
    /// The memory limit in force when an OOM kill happened, and the cgroup.
    public var oomLimit: Int64?
    public var cgroup: String?
    /// Why the container last stopped, in words (`ExitReason`).
    public var reason: String?
    /// A failure to create or start.
    public var error: String?
    public var restartCount: Int
    public var health: HealthState?

    public init(monitorPid: Int32) {
        self.monitorPid = monitorPid; status = .starting; pid = 0; oomKilled = false; childOOMKills = 0; restartCount = 0
    }
}

/// A request from `berth stop`/`kill`, left for the monitor so that it can tell a stop from a crash
/// and never restarts what the user stopped.
public struct StopRequest: Codable, Sendable {
    public var signal: Int32
    public var time: String
    /// The grace period ran out and SIGKILL followed.
    public var escalated: Bool
    /// Which command asked (`stop` or `kill`), for the reason text. Neither is followed by a restart.
    public var command: String
    public init(signal: Int32, time: String, escalated: Bool, command: String) {
        self.signal = signal; self.time = time; self.escalated = escalated; self.command = command
    }
}

/// The files of one monitor's state directory.
public struct MonitorPaths: Sendable {
    public let directory: String
    public init(_ directory: String) { self.directory = directory }
    public var config: String { directory + "/monitor.json" }
    public var state: String { directory + "/state.json" }
    public var attachSocket: String { directory + "/attach.sock" }
    public var consoleSocket: String { directory + "/console.sock" }
    public var stopRequest: String { directory + "/stop-request" }

    public func readState() -> MonitorState? {
        guard let bytes = try? Files.readBytes(state) else { return nil }
        return try? JSONDecoder().decode(MonitorState.self, from: Data(bytes))
    }

    public func readStopRequest() -> StopRequest? {
        guard let bytes = try? Files.readBytes(stopRequest) else { return nil }
        return try? JSONDecoder().decode(StopRequest.self, from: Data(bytes))
    }

    public func writeStopRequest(_ request: StopRequest) throws(SystemError) {
        let bytes = (try? JSONEncoder().encode(request)).map { Array($0) } ?? []
        try Files.replace(stopRequest, bytes, mode: 0o600)
    }
}

/// The attach socket's frames (SOCK_SEQPACKET: one message, one frame): a kind byte, then the payload.
public enum AttachFrame {
    /// monitor → client
    public static let stdout: UInt8 = 1
    public static let stderr: UInt8 = 2
    /// The container exited; payload: the exit code in decimal.
    public static let exit: UInt8 = 3
    /// client → monitor
    public static let stdin: UInt8 = 0
    public static let closeStdin: UInt8 = 4
    /// payload: "ROWS COLUMNS"
    public static let resize: UInt8 = 5
    /// client → monitor as its first frame: 1 if it sends stdin, "0" if not (`--no-stdin`)
    public static let hello: UInt8 = 6
}
