import Foundation
import Glibc
import Images
import Linux
import Monitor
import Runtime

/// The Docker-style engine that both faces share (the `berth` CLI now, `berth serve` later): containers,
/// names, volumes, the monitors, logs. Daemonless: every call is a short-lived operation over the
/// metadata database (`--root`), the monitors' state files (`--runroot`) and the kernel.
public struct Engine: Sendable {
    public let root: String
    public let runroot: String
    public let metadata: MetadataStore
    public let images: ImageStore
    /// berth-runtime and berth-monitor, next to the running `berth` unless told otherwise.
    public let runtimeBinary: String
    public let monitorBinary: String
    /// The command the monitor execs when its container has stopped for good (`berth … container cleanup ID`).
    public let cleanupCommand: [String]
    /// Where the networks' conflists are (`--network-config-dir`, podman's option; /etc/cni/net.d).
    public let networkConfigDirectory: String

    public init(root: String = "/var/lib/berth", runroot: String = "/run/berth", binaryDirectory: String? = nil,
                cleanupCommand: [String]? = nil) throws(EngineError) {
        self.root = root
        self.runroot = runroot
        for directory in [root + "/engine", root + "/containers", root + "/volumes", runroot + "/monitor"] {
            do { try Files.makeDirectories(directory, mode: 0o711) } catch {
                throw EngineError("creating \(directory)", error.description)
            }
        }
        metadata = try MetadataStore(path: root + "/engine/berth.db")
        do { images = try ImageStore(root: root) } catch { throw EngineError("opening the image store", error.description) }
        let directory = binaryDirectory ?? Engine.ownDirectory()
        runtimeBinary = ProcessInfo.processInfo.environment["BERTH_RUNTIME"] ?? directory + "/berth-runtime"
        monitorBinary = ProcessInfo.processInfo.environment["BERTH_MONITOR"] ?? directory + "/berth-monitor"
        networkConfigDirectory = ProcessInfo.processInfo.environment["BERTH_CNI_CONFIG_DIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "/etc/cni/net.d"
        // The exit command sees the same networks as this process (the monitor passes on no environment).
        self.cleanupCommand = cleanupCommand ?? [directory + "/berth", "--root", root, "--runroot", runroot,
                                                 "--network-config-dir", networkConfigDirectory, "container", "cleanup"]
    }

    static func ownDirectory() -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "/usr/local/bin/berth"
        return (exe as NSString).deletingLastPathComponent
    }

    public var runtimeRoot: String { runroot + "/runtime" }
    var runtime: Runtime { Runtime(root: runtimeRoot) }

    func containerDirectory(_ id: String) -> String { root + "/containers/" + id }
    func bundlePath(_ id: String) -> String { containerDirectory(id) + "/bundle" }
    func monitorPaths(_ id: String) -> MonitorPaths { MonitorPaths(runroot + "/monitor/" + id) }
    /// The monitor's attach socket of a running container.
    public func attachSocket(_ id: String) -> String { monitorPaths(id).attachSocket }

    // MARK: finding containers

    /// A container by full ID, unique ID prefix or name, as docker resolves them.
    public func container(_ reference: String) throws(EngineError) -> ContainerInfo {
        let name = reference.hasPrefix("/") ? String(reference.dropFirst()) : reference
        if let exact = try metadata.container(id: reference) { return exact }
        if let named = try metadata.container(named: name) { return named }
        if !reference.isEmpty, reference.allSatisfy(\.isHexDigit) {
            let matches = try metadata.containers(idPrefix: reference)
            if matches.count == 1 { return matches[0] }
            if matches.count > 1 { throw EngineError("multiple containers match \(reference)", "give more of the ID") }
        }
        throw EngineError.noSuchContainer(reference)
    }

    /// Every container, newest first, with its state brought up to date.
    public func containers() throws(EngineError) -> [ContainerInfo] {
        try metadata.containers().map { withLiveState($0) }
    }

    // MARK: locking

    /// Runs `body` holding the container's lock (flock on `<root>/containers/<id>/lock`), so that parallel
    /// start/stop/rm of one container never interleave.
    func locked<T>(_ id: String, _ body: () throws(EngineError) -> T) throws(EngineError) -> T {
        let path = containerDirectory(id) + "/lock"
        var fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 && errno == ENOENT {
            // An `rm` killed between removing the directory and deleting the row leaves a row without one:
            // the next `rm` must still get the lock to finish the job.
            mkdir(containerDirectory(id), 0o700)
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        }
        guard fd >= 0 else { throw EngineError("locking container \(id)", SystemError.message(errno)) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw EngineError("locking container \(id)", SystemError.message(errno)) }
        }
        return try body()
    }
}
