#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Linux
import Cgroups
import Runtime

/// The per-container supervisor (conmon's role). Single-threaded: it creates and starts the container
/// through `Runtime` in-process, so the init is its own child; then one poll loop holds the container's
/// stdio (pipes or the pty master), writes the log, serves attach clients, reaps the init, works out why
/// it stopped, applies the restart policy and finally execs the exit command in its own place.
public final class Supervisor {
    let config: MonitorConfig
    let paths: MonitorPaths
    let runtime: Runtime
    var state: MonitorState
    let log: LogWriter?
    var readyFd: Int32
    let signals: Int32
    let listener: Int32
    var clients: [AttachClient] = []
    let health: HealthChecker?
    /// `berth update --restart` changes it: the engine rewrites monitor.json and sends SIGHUP.
    var restartPolicy: RestartPolicy

    // The container's side of the current run.
    var stdinWrite: Int32 = -1
    var outputs: [(fd: Int32, stream: String)] = []
    var master: Int32 = -1
    var oomWatcher: OOMWatcher?
    var startedMonotonic: UInt64 = 0
    /// When the executable's clean pages are next released (see supervise), and how often they were.
    var nextTrim: UInt64 = 0
    /// An attached client that took the exit frame said it does the cleanup (saves starting the exit command).
    var cleanupClaimed = false
    var trims = 0

    /// `readyFd`: where the engine waits for `created`/`started <pid>` or `error <why>` (-1: nobody).
    public init(config: MonitorConfig, readyFd: Int32) throws(SystemError) {
        self.config = config
        paths = MonitorPaths(config.stateDirectory)
        runtime = Runtime(root: config.runtimeRoot)
        state = MonitorState(monitorPid: getpid())
        state.monitorStartTime = Processes.startTime(of: getpid())
        self.readyFd = readyFd
        restartPolicy = config.restart
        log = try config.logPath.map { (path) throws(SystemError) in
            try LogWriter(path: path, maxSize: config.logMaxSize, maxFiles: config.logMaxFiles)
        }
        signals = try Signals.blockIntoDescriptor([SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2])
        signal(SIGPIPE, SIG_IGN)
        listener = try UnixSocket.listen(path: paths.attachSocket, kind: .seqpacket)
        health = config.healthcheck.flatMap { HealthChecker(config: $0, id: config.id, runtimeRoot: config.runtimeRoot,
                                                           runtimeBinary: config.runtimeBinary) }
        if health != nil { state.health = HealthState() }
    }

    /// Runs the container until it has stopped for good, then execs the exit command. Never returns.
    public func run() -> Never {
        Processes.setChildSubreaper()
        _ = try? Files.write("/proc/self/oom_score_adj", "-1000")   // the OOM killer must never pick the monitor
        var delay: UInt64 = 100_000_000   // docker's back-off: 100 ms, doubled per restart, at most a minute
        var first = true
        while true {
            unlink(paths.stopRequest)
            do {
                try startContainer(first: first)
            } catch {
                state.status = .exited
                state.error = error.description
                state.finishedAt = Clock.rfc3339Now()
                state.exitCode = ExitReason.exitCode(forStartError: error.description)
                state.reason = "failed to start: \(error.description)"
                save()
                report("error \(error.description)")
                try? runtime.delete(id: config.id, force: true)
                // The engine that asked for this start reports the error itself; a restart nobody waits for
                // still needs the bookkeeping of the exit command.
                if first { _exit(1) }
                finish()
            }
            first = false
            let status = supervise()
            let stop = paths.readStopRequest()
            recordExit(status: status, stop: stop)
            try? runtime.delete(id: config.id, force: true)
            closeContainerIO()
            let ranLong = Clock.monotonicNanoseconds() - startedMonotonic >= 10_000_000_000
            if ranLong { delay = 100_000_000 }
            guard restartPolicy.shouldRestart(exitCode: state.exitCode ?? 0, restartCount: state.restartCount,
                                               stoppedByUser: stop != nil) else { break }
            state.status = .restarting
            state.reason = (state.reason ?? "") + "; restarting in \(delay / 1_000_000) ms (policy \(restartPolicy.description))"
            save()
            if waitOrStopRequested(nanoseconds: delay) { break }
            delay = min(delay * 2, 60_000_000_000)
            state.restartCount += 1
        }
        state.status = .exited
        save()
        if cleanupClaimed {
            close(listener)
            unlink(paths.attachSocket)
            _exit(0)
        }
        finish()
    }

    // MARK: start

    private func startContainer(first: Bool) throws(RuntimeError) {
        if runtime.store.exists(config.id) { try? runtime.delete(id: config.id, force: true) }
        var options = CreateOptions()
        var consoleListener: Int32 = -1
        defer { if consoleListener >= 0 { close(consoleListener); unlink(paths.consoleSocket) } }
        var containerEnds: [Int32] = []
        defer { for fd in containerEnds { close(fd) } }
        do throws(SystemError) {
            if config.terminal {
                consoleListener = try UnixSocket.listen(path: paths.consoleSocket, kind: .stream)
                options.consoleSocket = paths.consoleSocket
            } else {
                // The init inherits fds 0-2 from us at clone time: put the container's ends there for create.
                let input = config.openStdin ? try FileDescriptors.pipe() : (read: open("/dev/null", O_RDONLY | O_CLOEXEC), write: -1)
                let out = try FileDescriptors.pipe()
                let err = try FileDescriptors.pipe()
                containerEnds = [input.read, out.write, err.write]
                stdinWrite = input.write
                outputs = [(out.read, "stdout"), (err.read, "stderr")]
                for (fd, target) in zip(containerEnds, [Int32(0), 1, 2]) { try check("dup2") { dup2(fd, target) } }
            }
        } catch {
            throw RuntimeError("setting up the container's stdio", error.description)
        }
        defer { if !config.terminal { Self.nullStdio() } }
        let pid = try runtime.create(id: config.id, bundle: config.bundle, options: options).pid
        if !config.terminal { Self.nullStdio() }
        for fd in containerEnds { close(fd) }
        containerEnds = []
        if config.terminal {
            master = try receiveMaster(consoleListener)
            stdinWrite = master
            outputs = [(master, "stdout")]
        }
        for output in outputs { FileDescriptors.setNonBlocking(output.fd, true) }
        if let record = try? runtime.store.load(config.id) {
            state.cgroup = record.cgroupPath
            if let manager = try? Cgroups.manager(path: record.cgroupPath) { oomWatcher = try? OOMWatcher(manager) }
        }
        state.pid = pid
        if first && config.startGate { try awaitStartGate() }
        if first && config.waitForAttach {
            report("created \(pid)")
            waitForFirstClient(seconds: 30)
        }
        try runtime.start(id: config.id)
        startedMonotonic = Clock.monotonicNanoseconds()
        state.status = .running
        state.startedAt = Clock.rfc3339Now()
        state.finishedAt = nil
        state.exitCode = nil
        state.signal = nil
        state.oomKilled = false
        state.childOOMKills = 0
        state.error = nil
        state.reason = nil
        if health != nil { state.health = HealthState() }
        health?.reset(now: startedMonotonic)
        save()
        report("started \(pid)")
        if readyFd >= 0 { close(readyFd); readyFd = -1 }
        // Setting the container up touched much of this static binary; supervising needs little of it.
        Processes.releaseCleanExecutablePages()
        nextTrim = Clock.monotonicNanoseconds() + 1_000_000_000
        trims = 0
    }

    /// The engine's go-ahead once the container's network is ready (it was made while we created the container).
    private func awaitStartGate() throws(RuntimeError) {
        var byte: UInt8 = 0
        var got = -1
        while readyFd >= 0 {
            got = read(readyFd, &byte, 1)
            if got < 0 && errno == EINTR { continue }
            break
        }
        guard got == 1 && byte == UInt8(ascii: "g") else {
            throw RuntimeError("starting the container", "the engine abandoned the start (its network could not be set up)")
        }
    }

    private func receiveMaster(_ listener: Int32) throws(RuntimeError) -> Int32 {
        // The init connected and sent the master during create: it is queued on the listener already.
        var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        _ = poll(&descriptor, 1, 5000)
        guard let connection = UnixSocket.accept(listener) else {
            throw RuntimeError("receiving the container's terminal", "the init did not connect to the console socket")
        }
        defer { close(connection) }
        do { return try Terminal.receiveMaster(over: connection) } catch {
            throw RuntimeError("receiving the container's terminal", error.description)
        }
    }

    private static func nullStdio() {
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        if null >= 0 { for target: Int32 in 0...2 { dup2(null, target) }; close(null) }
    }

    private func waitForFirstClient(seconds: Int32) {
        var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        if poll(&descriptor, 1, seconds * 1000) > 0 { acceptClients() }
        // The client says hello (does it send stdin?) before anything else: take it now.
        for client in clients { client.readHello(timeoutMilliseconds: 2000) }
    }

    // MARK: the loop

    /// Serves the running container until its init exits; returns the wait status.
    private func supervise() -> Int32 {
        while true {
            if let status = reapInit() { drainOutput(); return status }
            var descriptors = [pollfd(fd: signals, events: Int16(POLLIN), revents: 0),
                               pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            for output in outputs { descriptors.append(pollfd(fd: output.fd, events: Int16(POLLIN), revents: 0)) }
            for client in clients { descriptors.append(pollfd(fd: client.fd, events: Int16(POLLIN), revents: 0)) }
            let now = Clock.monotonicNanoseconds()
            var timeout = health?.millisecondsUntilDue(now: now) ?? -1
            let untilTrim = Int32(nextTrim > now ? (nextTrim - now) / 1_000_000 + 1 : 0)
            timeout = timeout < 0 ? untilTrim : min(timeout, untilTrim)
            let ready = poll(&descriptors, nfds_t(descriptors.count), timeout)
            if Clock.monotonicNanoseconds() >= nextTrim {
                // Drop again what start-up and the output so far touched: 1 s and 10 s after the start, then
                // every minute (a re-touched page is a minor fault from the page cache).
                Processes.releaseCleanExecutablePages()
                trims += 1
                nextTrim = Clock.monotonicNanoseconds() + (trims == 1 ? 9_000_000_000 : 60_000_000_000)
            }
            if ready < 0 && errno != EINTR { usleep(10_000) }
            if descriptors[0].revents != 0 {
                while let signal = Signals.next(from: signals) { if signal == SIGHUP { reloadRestartPolicy() } }
            }
            if descriptors[1].revents != 0 { acceptClients() }
            var index = 2
            for output in outputs {
                if descriptors[index].revents != 0 { readOutput(output) }
                index += 1
            }
            let polledClients = clients
            for client in polledClients {
                if index < descriptors.count && descriptors[index].revents != 0 { serve(client) }
                index += 1
            }
            if let health, health.isDue(now: Clock.monotonicNanoseconds()) {
                state.health = health.runCheck(state: state.health ?? HealthState())
                save()
            }
        }
    }

    /// Reaps every exited child (we are a subreaper); the init's wait status once it is among them.
    private func reapInit() -> Int32? {
        var status: Int32 = 0
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return nil }
            if pid == state.pid { return status }
        }
    }

    private func readOutput(_ output: (fd: Int32, stream: String)) {
        var buffer = [UInt8](repeating: 0, count: 32 * 1024)
        let n = buffer.withUnsafeMutableBytes { read(output.fd, $0.baseAddress, $0.count) }
        if n > 0 {
            let bytes = buffer[0..<n]
            log?.write(bytes, stream: output.stream)
            broadcast(output.stream == "stderr" ? AttachFrame.stderr : AttachFrame.stdout, bytes)
        } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
            // EOF, or EIO from a pty master once the last slave is closed.
            outputs.removeAll { $0.fd == output.fd }
            if output.fd != master { close(output.fd) }
        }
    }

    /// After the init exited: what is still in the pipes (other processes may hold them a moment longer).
    private func drainOutput() {
        let deadline = Clock.monotonicNanoseconds() + 1_000_000_000
        while !outputs.isEmpty && Clock.monotonicNanoseconds() < deadline {
            var descriptors = outputs.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            if poll(&descriptors, nfds_t(descriptors.count), 100) <= 0 { break }
            for (output, descriptor) in zip(outputs, descriptors) where descriptor.revents != 0 { readOutput(output) }
        }
        log?.flush()
    }

    private func acceptClients() {
        while let fd = UnixSocket.accept(listener) {
            clients.append(AttachClient(fd: fd))
        }
    }

    private func serve(_ client: AttachClient) {
        guard let frame = client.receive() else { drop(client); return }
        guard let kind = frame.first else { return }
        let payload = frame.dropFirst()
        switch kind {
        case AttachFrame.hello:
            client.takeHello(payload)
        case AttachFrame.stdin:
            if stdinWrite >= 0 { _ = try? Files.writeAll(fd: stdinWrite, Array(payload)) }
        case AttachFrame.closeStdin:
            // docker closes a `-i` container's stdin when its attached stdin ends (StdinOnce).
            if stdinWrite >= 0 && stdinWrite != master { close(stdinWrite); stdinWrite = -1 }
        case AttachFrame.resize:
            let parts = String(decoding: payload, as: UTF8.self).split(separator: " ").compactMap { UInt16($0) }
            if parts.count == 2, master >= 0 { try? Terminal.setSize(master, rows: parts[0], columns: parts[1]) }
        default:
            break
        }
    }

    private func broadcast(_ kind: UInt8, _ bytes: ArraySlice<UInt8>) {
        for client in clients where !client.send(kind, bytes) { drop(client) }
    }

    private func drop(_ client: AttachClient) {
        clients.removeAll { $0 === client }
        close(client.fd)
    }

    private func closeContainerIO() {
        if stdinWrite >= 0 && stdinWrite != master { close(stdinWrite) }
        stdinWrite = -1
        for output in outputs where output.fd != master { close(output.fd) }
        outputs = []
        if master >= 0 { close(master); master = -1 }
        oomWatcher = nil
    }

    private func reloadRestartPolicy() {
        guard let bytes = try? Files.readBytes(paths.config),
              let fresh = try? JSONDecoder().decode(MonitorConfig.self, from: Data(bytes)) else { return }
        restartPolicy = fresh.restart
    }

    // MARK: exit

    private func recordExit(status: Int32, stop: StopRequest?) {
        let kills = oomWatcher?.check() ?? 0
        let signaled = (status & 0x7f) != 0
        state.signal = signaled ? status & 0x7f : nil
        state.exitCode = Processes.exitCode(status)
        // The kernel kills with SIGKILL; a stop's own SIGKILL is told apart by the stop request.
        state.oomKilled = kills > 0 && state.signal == SIGKILL && stop == nil
        state.childOOMKills = state.oomKilled ? kills - 1 : kills
        if kills > 0 { state.oomLimit = ExitReason.memoryLimit(runtime: runtime, id: config.id) }
        state.finishedAt = Clock.rfc3339Now()
        state.reason = ExitReason.describe(state: state, stop: stop)
        state.status = .exited
        save()
        cleanupClaimed = clients.contains { $0.claimsCleanup }
        broadcast(AttachFrame.exit, ArraySlice(Array(String(state.exitCode ?? 0).utf8)))
        for client in clients {
            // Read what the client sent and we never took (a late resize, stdin): closing a unix socket with
            // unread data resets the peer, which could then lose the exit frame still queued for it.
            while let frame = client.receive(), !frame.isEmpty {}
            shutdown(client.fd, Int32(SHUT_WR))
            close(client.fd)
        }
        clients = []
    }

    /// Sleeps for a restart back-off; true when a stop request came meanwhile (no restart then).
    private func waitOrStopRequested(nanoseconds: UInt64) -> Bool {
        let deadline = Clock.monotonicNanoseconds() + nanoseconds
        while Clock.monotonicNanoseconds() < deadline {
            if Files.exists(paths.stopRequest) { return true }
            var descriptor = pollfd(fd: signals, events: Int16(POLLIN), revents: 0)
            _ = poll(&descriptor, 1, 50)
            while Signals.next(from: signals) != nil {}
            _ = reapInit()
        }
        return Files.exists(paths.stopRequest)
    }

    private func finish() -> Never {
        close(listener)
        unlink(paths.attachSocket)
        if let command = config.exitCommand, let path = command.first {
            Signals.resetAll()
            Spawn.execWithStrings(path: path, args: command, env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
        }
        _exit(0)
    }

    func save() {
        guard let bytes = try? JSONEncoder().encode(state) else { return }
        try? Files.replace(paths.state, Array(bytes), mode: 0o644)
    }

    private func report(_ line: String) {
        guard readyFd >= 0 else { return }
        _ = try? Files.writeAll(fd: readyFd, Array((line + "\n").utf8))
    }
}

/// One attached client of the attach socket.
final class AttachClient {
    let fd: Int32
    var sendsStdin = false
    /// The client (a foreground `run`) does the exit command's work itself once it has the exit frame.
    var claimsCleanup = false

    func takeHello(_ payload: ArraySlice<UInt8>) {
        sendsStdin = payload.first == UInt8(ascii: "1")
        claimsCleanup = payload.dropFirst().first == UInt8(ascii: "c")
    }

    init(fd: Int32) {
        self.fd = fd
        // A client that stops reading must not stall the container: after a second it is dropped.
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var size: Int32 = 1 << 20
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    func receive() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        if n > 0 { return Array(buffer[0..<n]) }
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return [] }
        return nil
    }

    func readHello(timeoutMilliseconds: Int32) {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, timeoutMilliseconds) > 0, let frame = receive(), frame.first == AttachFrame.hello else { return }
        takeHello(frame.dropFirst())
    }

    func send(_ kind: UInt8, _ bytes: ArraySlice<UInt8>) -> Bool {
        var frame = [kind]
        frame.append(contentsOf: bytes)
        let n = frame.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        return n == frame.count
    }
}

