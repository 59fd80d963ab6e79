import Foundation
import Glibc
import Images
import Linux
import Monitor
import OCISpec
import Runtime

/// A start in progress: the monitor is running and reports on `readyFd`. With `waitForAttach`, the container
/// is created but held until the caller has attached; `waitStarted` lets it go on.
public final class StartedContainer: @unchecked Sendable {
    public let id: String
    public let monitorPid: pid_t
    let readyFd: Int32
    public private(set) var pid: Int32 = 0

    init(id: String, monitorPid: pid_t, readyFd: Int32) { self.id = id; self.monitorPid = monitorPid; self.readyFd = readyFd }
    deinit { close(readyFd) }

    /// Reads the monitor's next report: `created N` / `started N` / `error …`.
    func next() throws(EngineError) -> (String, Int32) {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        // The pipe alone cannot tell a dead monitor: the container's init, cloned from it and blocked before
        // its exec, still holds the write end. So the monitor itself is watched as well.
        var monitorGone = false
        while true {
            var poller = pollfd(fd: readyFd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 100)
            if ready == 0 {
                if monitorGone { break }
                var status: Int32 = 0
                let reaped = waitpid(monitorPid, &status, WNOHANG)
                // Reaped now, or not our child (gone already, or started by someone else) and no longer alive.
                if reaped == monitorPid || (reaped < 0 && Glibc.kill(monitorPid, 0) != 0) { monitorGone = true }
                continue
            }
            if ready < 0 { if errno == EINTR { continue }; break }
            let n = read(readyFd, &byte, 1)
            if n == 1 { if byte == 10 { break }; line.append(byte); continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        let text = String(decoding: line, as: UTF8.self)
        if text.isEmpty { throw EngineError("starting container \(id)", "its monitor exited before the container started") }
        if text.hasPrefix("error ") {
            let message = String(text.dropFirst(6))
            throw EngineError("starting container \(id)", message, exitCode: ExitReason.exitCode(forStartError: message))
        }
        let parts = text.split(separator: " ")
        return (String(parts.first ?? ""), parts.count > 1 ? Int32(parts[1]) ?? 0 : 0)
    }

    /// The start gate: the network is ready, the monitor may start the container.
    func release() {
        var go = UInt8(ascii: "g")
        _ = send(readyFd, &go, 1, Int32(MSG_NOSIGNAL))
    }

    /// The start gate closed without a word: the monitor deletes the container it made and exits; we reap it.
    func abandon() {
        shutdown(readyFd, Int32(SHUT_WR))
        var status: Int32 = 0
        while waitpid(monitorPid, &status, 0) < 0 && errno == EINTR {}
    }

    /// Waits until the container runs (after `created`, when the monitor held it for an attach).
    public func waitStarted() throws(EngineError) {
        while true {
            let (word, pid) = try next()
            self.pid = pid
            if word == "started" { return }
        }
    }
}

extension Engine {
    /// `start`: builds the runtime config and starts the monitor, which creates and starts the container.
    /// Returns once it runs (or, with `waitForAttach`, once it is created and waiting for the attach).
    @discardableResult
    public func start(_ reference: String, waitForAttach: Bool = false) throws(EngineError) -> StartedContainer? {
        let found = try container(reference)
        return try locked(found.Id) { () throws(EngineError) -> StartedContainer? in
            var record = withLiveState(try container(found.Id))
            if record.State.Running && monitorAlive(record.Id) { return nil }   // docker: starting a running container is a no-op
            if record.State.Running {
                // Its monitor was killed while it ran: take the container down first, then start it fresh.
                try? runtime.delete(id: record.Id, force: true)
            }
            let paths = monitorPaths(record.Id)
            try? Files.removeTree(paths.directory)
            if runtime.store.exists(record.Id) { try? runtime.delete(id: record.Id, force: true) }
            do throws(SystemError) { try Files.makeDirectories(paths.directory, mode: 0o700) } catch {
                throw EngineError("creating \(paths.directory)", error.description)
            }
            // The network's ADDs (mostly the plugins waiting on iptables) run on a thread of their own while the
            // config is written and the monitor creates the container; the monitor starts it only on our word.
            let plan = try prepareNetwork(&record)
            let attaching = plan.map { plan in
                BackgroundWork { [id = record.Id, name = record.Name] in Self.attach(plan, containerID: id, name: name) }
            }
            /// Waits for the ADDs; on a failure nothing of the network is left (attach undid it).
            func networkReady() throws(EngineError) {
                guard let plan, let attaching else { return }
                switch attaching.wait() {
                case .success(let attachments): try recordNetwork(&record, plan: plan, attachments: attachments)
                case .failure(let error):
                    record.Network = nil   // attach undid everything
                    try? metadata.update(record)
                    throw error
                }
            }
            do throws(EngineError) { try writeRuntimeConfig(record, networkNamespace: plan?.namespacePath) } catch {
                if (try? networkReady()) != nil { tearDownNetwork(&record) }
                throw error
            }
            var monitor = MonitorConfig(id: record.Id, bundle: bundlePath(record.Id), runtimeRoot: runtimeRoot,
                                        stateDirectory: paths.directory)
            let log = record.HostConfig.LogConfig
            if log.Type != "none" {
                monitor.logPath = record.LogPath
                monitor.logMaxSize = try log.Config["max-size"].map { (text) throws(EngineError) in try Sizes.parse(text, flag: "--log-opt max-size") }
                    ?? 20 * 1024 * 1024
                monitor.logMaxFiles = Int(log.Config["max-file"] ?? "5") ?? 5
            }
            monitor.terminal = record.Config.Tty
            monitor.openStdin = record.Config.OpenStdin
            monitor.waitForAttach = waitForAttach
            monitor.startGate = attaching != nil
            monitor.restart = RestartPolicy(parsing: record.HostConfig.RestartPolicy.Name == "on-failure" && record.HostConfig.RestartPolicy.MaximumRetryCount > 0
                ? "on-failure:\(record.HostConfig.RestartPolicy.MaximumRetryCount)" : record.HostConfig.RestartPolicy.Name) ?? RestartPolicy()
            monitor.exitCommand = cleanupCommand + [record.Id]
            monitor.runtimeBinary = runtimeBinary
            if let health = record.Config.Healthcheck, let test = health.Test, test.first != "NONE", !test.isEmpty {
                monitor.healthcheck = HealthcheckConfig(test: test, interval: health.Interval.flatMap { $0 > 0 ? $0 : nil } ?? 30_000_000_000,
                                                        timeout: health.Timeout.flatMap { $0 > 0 ? $0 : nil } ?? 30_000_000_000,
                                                        startPeriod: health.StartPeriod ?? 0, retries: health.Retries.flatMap { $0 > 0 ? $0 : nil } ?? 3)
            }
            let started: StartedContainer
            do throws(EngineError) {
                do {
                    try Files.replace(paths.config, Array(try JSONEncoder().encode(monitor)), mode: 0o600)
                } catch {
                    throw EngineError("writing \(paths.config)", "\(error)")
                }
                started = try launchMonitor(id: record.Id, config: paths.config)
            } catch {
                if (try? networkReady()) != nil { tearDownNetwork(&record) }
                throw error
            }
            if attaching != nil {
                do throws(EngineError) { try networkReady() } catch {
                    started.abandon()   // the monitor deletes the container it made and exits
                    throw error
                }
                started.release()
            }
            let (word, pid) = try started.next()
            if word == "started" { _ = pid }
            record.State = withLiveState(record).State
            record.State.Status = "running"
            record.State.Running = true
            record.State.StartedAt = paths.readState()?.startedAt ?? Self.now()
            try metadata.update(record)
            Events.record(self, type: "container", action: "start", record: record)
            return started
        }
    }

    /// The monitor, with a socket pair as its fd 3: it reports on it, and reads the start gate's word from it.
    private func launchMonitor(id: String, config: String) throws(EngineError) -> StartedContainer {
        let pair: (Int32, Int32)
        do { pair = try FileDescriptors.socketPair(stream: true) } catch { throw EngineError("starting the monitor", error.description) }
        defer { close(pair.1) }
        do {
            let pid = try Spawn.spawn(path: monitorBinary, args: [monitorBinary, config],
                                      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                                      files: [3: pair.1], newSession: true)
            return StartedContainer(id: id, monitorPid: pid, readyFd: pair.0)
        } catch {
            close(pair.0)
            throw EngineError("starting the monitor \(monitorBinary)", error.description)
        }
    }

    /// config.json of the bundle, made afresh at every start (namespaces of `container:NAME` name its current pid).
    func writeRuntimeConfig(_ record: ContainerInfo, networkNamespace: String? = nil) throws(EngineError) {
        let bundle = bundlePath(record.Id)
        do { try ImageBundle.ensureMounted(store: images, image: record.Image, bundle: bundle, idMap: UserNamespaces.map(of: record.HostConfig)) } catch {
            throw EngineError("mounting the container's root filesystem", error.description)
        }
        let image: ImageRecord
        do { image = try images.resolve(record.Image) } catch { throw EngineError("image \(record.ImageName)", error.description) }
        var paths: [String: String] = [:]
        let host = record.HostConfig
        for (type, mode) in [("network", host.NetworkMode), ("ipc", host.IpcMode), ("pid", host.PidMode), ("uts", host.UTSMode)]
        where mode.hasPrefix("container:") {
            let other = withLiveState(try container(String(mode.dropFirst(10))))
            guard other.State.Running, other.State.Pid > 0 else {
                throw EngineError("cannot join the \(type) namespace of container \(other.Name)", "it is not running")
            }
            paths[type] = "/proc/\(other.State.Pid)/ns/" + (type == "network" ? "net" : type)
        }
        if let networkNamespace { paths["network"] = networkNamespace }
        let initBinary = host.Init == true ? try Self.initBinary() : nil
        let builder = SpecBuilder(container: record, image: image.config, rootfs: bundle + "/rootfs",
                                  directory: containerDirectory(record.Id),
                                  volumeMounts: record.Mounts.map { ($0.Destination, $0.Source, !$0.RW) },
                                  initBinary: initBinary, namespacePaths: paths)
        let spec = try builder.build()
        do {
            try Files.replace(bundle + "/config.json", Array(try SpecJSON.encode(spec, pretty: true)), mode: 0o600)
        } catch {
            throw EngineError("writing \(bundle)/config.json", "\(error)")
        }
    }

    /// `--init`: a small init as PID 1 that forwards signals and reaps zombies (Debian's catatonit or tini).
    static func initBinary() throws(EngineError) -> String {
        for candidate in ["/usr/bin/tini-static", "/usr/libexec/podman/catatonit", "/usr/bin/catatonit"]
        where Files.exists(candidate) { return candidate }
        throw EngineError("--init", "no static init binary found: install Debian's tini (tini-static) or catatonit")
    }

    // MARK: stop, kill

    /// `stop`: the stop signal, then SIGKILL after `timeout` seconds; returns once the container has stopped.
    public func stop(_ reference: String, timeout: Int? = nil) throws(EngineError) {
        let record = withLiveState(try container(reference))
        guard record.State.Running || record.State.Restarting else { return }
        let signal = record.Config.StopSignal.flatMap(Signals.parse) ?? SIGTERM
        let grace = timeout ?? record.Config.StopTimeout ?? 10
        let paths = monitorPaths(record.Id)
        try? paths.writeStopRequest(StopRequest(signal: signal, time: Self.now(), escalated: false, command: "stop"))
        if record.State.Restarting { waitForMonitor(record.Id, seconds: 5); return }
        try? runtime.kill(id: record.Id, signal: signal, all: false)
        if record.State.Paused { try? runtime.resume(id: record.Id) }
        if !waitForExit(record.Id, seconds: Double(grace)) {
            try? paths.writeStopRequest(StopRequest(signal: signal, time: Self.now(), escalated: true, command: "stop"))
            try? runtime.kill(id: record.Id, signal: SIGKILL, all: true)
            _ = waitForExit(record.Id, seconds: 10)
        }
        waitForMonitor(record.Id, seconds: 10)
        Events.record(self, type: "container", action: "stop", record: record)
    }

    /// `kill`: one signal to PID 1 (docker's default SIGKILL).
    public func kill(_ reference: String, signal: Int32 = SIGKILL) throws(EngineError) {
        let record = withLiveState(try container(reference))
        guard record.State.Running else {
            throw EngineError("cannot kill container: \(reference)", "container \(record.Id) is not running")
        }
        if [SIGKILL, SIGTERM, SIGINT, SIGQUIT].contains(signal) {
            try? monitorPaths(record.Id).writeStopRequest(StopRequest(signal: signal, time: Self.now(), escalated: false, command: "kill"))
        }
        do { try runtime.kill(id: record.Id, signal: signal, all: false) } catch {
            throw EngineError("cannot kill container: \(reference)", error.description)
        }
        Events.record(self, type: "container", action: "kill", record: record, extra: ["signal": String(signal)])
    }

    /// Waits until the monitor says the container exited (or is gone); false on timeout.
    func waitForExit(_ id: String, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let state = monitorPaths(id).readState()
            if state == nil || state?.status == .exited || state?.status == .restarting || !monitorAlive(id) { return true }
            usleep(5_000)
        }
        return false
    }

    /// Waits for the monitor process (and so its exit command) to finish.
    func waitForMonitor(_ id: String, seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline && monitorAlive(id) { usleep(5_000) }
    }

    // MARK: rm, cleanup

    /// `rm`: removes a stopped container (with `force`, a running one too): processes, rootfs, files, row,
    /// and with `volumes` its anonymous volumes.
    public func remove(_ reference: String, force: Bool, volumes: Bool) throws(EngineError) {
        let found = try container(reference)
        try locked(found.Id) { () throws(EngineError) in try removeLocked(found.Id, force: force, volumes: volumes, fromCleanup: false) }
    }

    func removeLocked(_ id: String, force: Bool, volumes: Bool, fromCleanup: Bool) throws(EngineError) {
        guard let stored = try metadata.container(id: id) else { return }
        let record = withLiveState(stored)
        let paths = monitorPaths(id)
        if record.State.Running || record.State.Restarting {
            guard force else {
                throw EngineError("cannot remove container \"/\(record.Name)\"",
                                  "container is \(record.State.Status): stop the container before removing or force remove")
            }
        }
        if !fromCleanup, let monitor = paths.readState(), Processes.isAlive(pid: monitor.monitorPid, startTime: monitor.monitorStartTime) {
            // Its exit command must not run against a container that is going away.
            Glibc.kill(monitor.monitorPid, SIGKILL)
        }
        // The network's DELs (iptables, mostly) run beside the runtime's delete and the file removal.
        let detaching = record.Network.map { state in
            BackgroundWork { [store = networks] in Self.detach(state, containerID: id, store: store) }
        }
        do { try runtime.delete(id: id, force: true) } catch {
            detaching?.wait()
            throw EngineError("removing the runtime state of \(id)", error.description)
        }
        do throws(EngineError) { try removeFiles(record) } catch {
            detaching?.wait()
            throw error
        }
        detaching?.wait()
        try metadata.deleteContainer(id: id)
        for attachment in record.Network?.attachments ?? [] {
            if let network = try? networks.network(attachment.network) { try? refreshNames(network) }
        }
        if volumes || record.HostConfig.AutoRemove {
            for name in record.AnonymousVolumes { try? removeVolume(name) }
        }
        Events.record(self, type: "container", action: "destroy", record: record)
    }

    func removeFiles(_ record: ContainerInfo) throws(EngineError) {
        do { try ImageBundle.remove(store: images, bundle: bundlePath(record.Id)) } catch {
            throw EngineError("removing the root filesystem of \(record.Id)", error.description)
        }
        do {
            try Files.removeTree(containerDirectory(record.Id))
            try Files.removeTree(monitorPaths(record.Id).directory)
        } catch {
            throw EngineError("removing the files of \(record.Id)", error.description)
        }
    }

    /// `container cleanup ID`, the monitor's exit command: keeps the final state in the database and
    /// removes an `--rm` container.
    public func cleanup(_ id: String) throws(EngineError) {
        guard (try metadata.container(id: id)) != nil else { return }
        try locked(id) { () throws(EngineError) in
            guard let stored = try metadata.container(id: id) else { return }
            var record = withLiveState(stored)
            let paths = monitorPaths(id)
            guard let monitor = paths.readState(), monitor.status == .exited else { return }
            record.State.Running = false
            try? runtime.delete(id: id, force: true)
            Events.record(self, type: "container", action: "die", record: record,
                          extra: ["exitCode": String(record.State.ExitCode)])
            if record.HostConfig.AutoRemove {
                try removeLocked(id, force: true, volumes: true, fromCleanup: true)   // tears the network down too
                return
            }
            tearDownNetwork(&record)
            try metadata.update(record)
            try? Files.removeTree(paths.directory)
        }
    }
}

/// docker's sizes: `64m`, `1g`, `512k`, `100` (bytes), `1.5g`.
public enum Sizes {
    public static func parse(_ text: String, flag: String) throws(EngineError) -> Int64 {
        let lower = text.lowercased().trimmingCharacters(in: .whitespaces)
        var number = lower
        var multiplier: Double = 1
        let units: [(String, Double)] = [("kib", 1024), ("mib", 1_048_576), ("gib", 1_073_741_824), ("tib", 1_099_511_627_776), ("kb", 1024), ("mb", 1_048_576),
                                         ("gb", 1_073_741_824), ("tb", 1_099_511_627_776), ("k", 1024), ("m", 1_048_576), ("g", 1_073_741_824), ("t", 1_099_511_627_776), ("b", 1)]
        for (suffix, value) in units where lower.hasSuffix(suffix) {
            number = String(lower.dropLast(suffix.count))
            multiplier = value
            break
        }
        guard let value = Double(number), value >= 0, value * multiplier < 9.2e18 else {
            throw EngineError("invalid argument \"\(text)\" for \"\(flag)\" flag", "invalid size: '\(text)'")
        }
        return Int64(value * multiplier)
    }
}
