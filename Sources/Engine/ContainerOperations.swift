import Foundation
import Glibc
import Cgroups
import Linux
import Monitor
import Runtime

extension Engine {
    public func monitorIsRunning(_ id: String) -> Bool { monitorAlive(id) }

    public func pause(_ reference: String) throws(EngineError) {
        let record = withLiveState(try container(reference))
        guard record.State.Running else { throw EngineError("container \(record.Id) is not running", "") }
        guard !record.State.Paused else { throw EngineError("container \(record.Id) is already paused", "") }
        do { try runtime.pause(id: record.Id) } catch { throw EngineError("pausing \(reference)", error.description) }
        Events.record(self, type: "container", action: "pause", record: record)
    }

    public func unpause(_ reference: String) throws(EngineError) {
        let record = withLiveState(try container(reference))
        guard record.State.Paused else { throw EngineError("container \(record.Id) is not paused", "") }
        do { try runtime.resume(id: record.Id) } catch { throw EngineError("unpausing \(reference)", error.description) }
        Events.record(self, type: "container", action: "unpause", record: record)
    }

    public func rename(_ reference: String, to name: String) throws(EngineError) {
        try Self.validate(name: name)
        var record = try container(reference)
        let old = record.Name
        if old == name { throw EngineError("Renaming a container with the same name as its current name", "") }
        try locked(record.Id) { () throws(EngineError) in
            record = try container(record.Id)
            record.Name = name
            try metadata.update(record)
        }
        // Its name on a user network follows.
        for attachment in record.Network?.attachments ?? [] {
            if let network = try? networks.network(attachment.network) { try refreshNames(network) }
        }
        Events.record(self, type: "container", action: "rename", record: record, extra: ["oldName": "/" + old])
    }

    /// The host pids of every process of a running container.
    public func processes(_ reference: String) throws(EngineError) -> [Int32] {
        let record = withLiveState(try container(reference))
        guard record.State.Running else { throw EngineError("container \(record.Id) is not running", "") }
        do { return try runtime.processes(id: record.Id) } catch { throw EngineError("listing processes of \(reference)", error.description) }
    }

    /// The cgroup statistics of a running container.
    public func cgroupStats(_ id: String) -> CgroupStats? {
        guard let record = try? runtime.store.load(id), let manager = try? Cgroups.manager(path: record.cgroupPath) else { return nil }
        return try? manager.stats()
    }

    public struct ExecRequest: Sendable {
        public var command: [String]
        public var interactive = false
        public var tty = false
        public var detach = false
        public var env: [String] = []
        public var user: String?
        public var workdir: String?
        public var privileged = false
        public init(command: [String]) { self.command = command }
    }

    /// `exec`: runs a process in a running container through berth-runtime (the engine never forks Swift);
    /// stdio is ours. Returns the process's exit code (0 at once with `detach`).
    public func exec(_ reference: String, _ request: ExecRequest) throws(EngineError) -> Int32 {
        let record = withLiveState(try container(reference))
        guard record.State.Running else { throw EngineError("container \(record.Id) is not running", "") }
        if record.State.Paused {
            throw EngineError("container \(record.Id) is paused", "unpause the container before exec")
        }
        // The runtime's own failures exit 255, as runc's; why is in its log, where docker's 126/127 come from.
        let log = monitorPaths(record.Id).directory + "/exec-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        defer { unlink(log) }
        var args = [runtimeBinary, "--root", runtimeRoot, "--log", log, "exec"]
        if request.tty { args.append("--tty") }
        if request.detach { args.append("--detach") }
        if let workdir = request.workdir ?? (record.Config.WorkingDir.isEmpty ? nil : record.Config.WorkingDir) {
            args += ["--cwd", workdir]
        }
        for entry in Self.mergeEnvironment(record.Config.Env, request.env) { args += ["--env", entry] }
        if let user = request.user ?? (record.Config.User.isEmpty ? nil : record.Config.User) {
            args += ["--user", try numericUser(user, rootfs: bundlePath(record.Id) + "/rootfs")]
        }
        if request.privileged {
            for cap in Capabilities.hostBoundingSet() { args += ["--cap", cap] }
        } else {
            // "ALL" is a word of docker's flag, not a capability: the config's set already has what it meant.
            for cap in record.HostConfig.CapAdd where cap.uppercased() != "ALL" {
                args += ["--cap", cap.uppercased().hasPrefix("CAP_") ? cap.uppercased() : "CAP_" + cap.uppercased()]
            }
        }
        args.append(record.Id)
        args += request.command
        var files: [Int32: Int32] = [1: 1, 2: 2]
        if request.interactive || request.tty { files[0] = 0 }
        let pid: pid_t
        do { pid = try Spawn.spawn(path: runtimeBinary, args: args, env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=" + (ProcessInfo.processInfo.environment["TERM"] ?? "xterm")], files: files) } catch {
            throw EngineError("exec in \(reference)", error.description)
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = Processes.exitCode(status)
        if code == 255, let text = try? Files.read(log), text.contains("level=error") {
            let startFailure = ExitReason.exitCode(forStartError: text)
            if startFailure != 125 { return startFailure }
        }
        return code
    }

    /// `-u name[:group]` as numbers, looked up in the container's own /etc/passwd and /etc/group.
    func numericUser(_ user: String, rootfs: String) throws(EngineError) -> String {
        let parts = user.split(separator: ":", maxSplits: 1).map(String.init)
        func lookup(_ file: String, _ name: String, field: Int) -> String? {
            guard let text = try? Files.read(rootfs + file) else { return nil }
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                if fields.count > field, fields[0] == name { return fields[field] }
            }
            return nil
        }
        var uid = parts[0]
        var gid: String? = nil
        if UInt32(uid) == nil {
            guard let found = lookup("/etc/passwd", uid, field: 2) else {
                throw EngineError("unable to find user \(uid)", "no matching entries in passwd file")
            }
            gid = lookup("/etc/passwd", uid, field: 3)
            uid = found
        } else if let text = try? Files.read(rootfs + "/etc/passwd") {
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                if fields.count > 3, fields[2] == uid { gid = fields[3] }
            }
        }
        if parts.count == 2 {
            if UInt32(parts[1]) != nil { gid = parts[1] } else {
                guard let found = lookup("/etc/group", parts[1], field: 2) else {
                    throw EngineError("unable to find group \(parts[1])", "no matching entries in group file")
                }
                gid = found
            }
        }
        return uid + ":" + (gid ?? "0")
    }
}

extension Engine {
    /// Bytes in the container's writable layer (the overlay upper directory).
    public func writableSize(_ id: String) -> Int64 {
        DirectorySize.of(bundlePath(id) + "/overlay/upper")
    }

    public func imageSize(_ record: ContainerInfo) -> Int64 {
        (try? images.resolve(record.Image))?.size ?? 0
    }
}

enum DirectorySize {
    static func of(_ path: String) -> Int64 {
        var total: Int64 = 0
        var st = stat()
        guard lstat(path, &st) == 0 else { return 0 }
        if (st.st_mode & S_IFMT) != S_IFDIR { return Int64(st.st_size) }
        for name in (try? Files.listDirectory(path)) ?? [] { total += of(path + "/" + name) }
        return total
    }
}

extension Engine {
    /// One sample for `stats`: memory without the page cache (docker's rule: usage - inactive_file).
    public struct Stats: Sendable {
        public var time: Double
        public var cpuTotal: UInt64
        public var memoryUsage: UInt64
        public var memoryLimit: UInt64
        public var pids: UInt64
        public var blockRead: UInt64
        public var blockWrite: UInt64
    }

    public func stats(_ id: String) -> Stats? {
        guard let stats = cgroupStats(id) else { return nil }
        let inactive = stats.memory.raw["total_inactive_file"] ?? stats.memory.raw["inactive_file"] ?? 0
        let usage = stats.memory.usage.usage > inactive ? stats.memory.usage.usage - inactive : stats.memory.usage.usage
        var limit = stats.memory.usage.limit
        if limit == 0 || limit >= 1 << 60 {
            limit = UInt64(sysconf(Int32(_SC_PHYS_PAGES))) * UInt64(sysconf(Int32(_SC_PAGESIZE)))
        }
        let read = stats.blkio.ioServiceBytesRecursive.filter { $0.op.lowercased() == "read" }.reduce(0) { $0 + $1.value }
        let write = stats.blkio.ioServiceBytesRecursive.filter { $0.op.lowercased() == "write" }.reduce(0) { $0 + $1.value }
        return Stats(time: Date().timeIntervalSince1970, cpuTotal: stats.cpu.usage.total, memoryUsage: usage, memoryLimit: limit,
                     pids: stats.pids.current, blockRead: read, blockWrite: write)
    }
}

extension Engine {
    /// `system boot`: after a reboot, starts every container whose restart policy is `always`, or
    /// `unless-stopped` and not stopped by the user (docker's daemon does this when it starts).
    public func bootStart() throws(EngineError) -> [String] {
        var started: [String] = []
        for record in try containers() where !record.State.Running {
            let policy = record.HostConfig.RestartPolicy.Name
            let stoppedByUser = record.State.Reason?.contains("`berth stop`") == true
            if policy == "always" || (policy == "unless-stopped" && !stoppedByUser) {
                try start(record.Id)
                started.append(record.Name)
            }
        }
        return started
    }
}
