import Glibc
import Linux
import Network

/// `--network pasta`, the rootless default (podman's too): passt's `pasta` gives the container's network namespace
/// a tap interface with the host's addresses and routes, and carries its traffic through ordinary sockets of the
/// user, so no host root is needed. `-p HOST:CONTAINER` becomes pasta's `-t`/`-u` forwarding: pasta listens on
/// the host port and connects to the container's. It runs in the background from the container's start until
/// its network is torn down, its pid in `<netns file>.pasta.pid`.
enum PastaNetwork {
    static let mode = "pasta"

    static func pidFile(_ namespacePath: String) -> String { namespacePath + ".pasta.pid" }

    /// pasta's options for the published ports; nothing is forwarded either way unless published (pasta's
    /// defaults would also forward every port the host binds into the container, and let it reach the host's
    /// loopback through the gateway address).
    static func arguments(namespacePath: String, ports: [PortMapping]) -> [String] {
        var args = ["--config-net", "--quiet", "--no-map-gw", "--pid", pidFile(namespacePath), "-T", "none", "-U", "none"]
        for proto in ["tcp", "udp"] {
            let specs = ports.filter { $0.proto == proto }.map { port in
                (port.hostIP.isEmpty ? "" : port.hostIP + "/") + "\(port.hostPort):\(port.containerPort)"
            }
            args += [proto == "tcp" ? "-t" : "-u", specs.isEmpty ? "none" : specs.joined(separator: ",")]
        }
        return args + ["--netns", namespacePath]
    }

    /// Starts pasta on the namespace file; returns once it has configured the namespace and gone to the background.
    static func start(namespacePath: String, ports: [PortMapping]) throws(EngineError) {
        guard let pasta = Executables.find("pasta") else {
            throw EngineError("pasta not found in PATH", "install the passt package, or use --network none")
        }
        let log = namespacePath + ".pasta.log"
        defer { unlink(log) }
        let fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw EngineError("creating \(log)", SystemError.message(errno)) }
        let args = [pasta] + arguments(namespacePath: namespacePath, ports: ports)
        let pid: pid_t
        do { pid = try Spawn.spawn(path: pasta, args: args, env: ["PATH=/usr/bin:/bin"], files: [1: fd, 2: fd]) } catch {
            close(fd)
            throw EngineError("running pasta", error.description)
        }
        close(fd)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard Processes.exitCode(status) == 0 else {
            let output = ((try? Files.read(log)) ?? "").split(separator: "\n").last.map(String.init)
            stop(namespacePath: namespacePath)
            throw EngineError("pasta", output ?? "exit status \(Processes.exitCode(status))")
        }
    }

    /// Ends the container's pasta (repeatable: no pid file, nothing to do). The pid is checked first, since it may
    /// have been reused: its command line must name this pid file (pasta runs as passt.avx2 and the like, so the
    /// name alone would not tell).
    static func stop(namespacePath: String) {
        let file = pidFile(namespacePath)
        defer { unlink(file) }
        guard let text = try? Files.read(file), let pid = Int32(text.trimmingWhitespace()), pid > 0,
              let commandLine = try? Files.readBytes("/proc/\(pid)/cmdline"),
              commandLine.split(separator: 0).contains(where: { $0.elementsEqual(file.utf8) }) else { return }
        Glibc.kill(pid, SIGTERM)
        for _ in 0..<500 where Processes.isAlive(pid: pid, startTime: nil) {
            _ = waitpid(pid, nil, WNOHANG)
            usleep(2000)
        }
    }
}

private extension String {
    func trimmingWhitespace() -> String {
        String(self.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
