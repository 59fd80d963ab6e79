import Foundation
import Testing
import OCISpec

/// The package checkout, found from this file's path.
let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// The berth-runtime built next to this test binary (BERTH_RUNTIME overrides it).
let runtimeBinary: String = {
    if let explicit = ProcessInfo.processInfo.environment["BERTH_RUNTIME"] { return explicit }
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    return exe.deletingLastPathComponent().appendingPathComponent("berth-runtime").path
}()

struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
    var succeeded: Bool { status == 0 }
}

/// Runs a program and collects its output. Output goes through files, not pipes: a created
/// container's init inherits them and keeps them open long after the runtime has exited. Plain
/// posix_spawn and waitpid: nothing here depends on a run loop or a thread pool.
@discardableResult
func runCommand(_ path: String, _ arguments: [String], input: String? = nil, timeout: TimeInterval = 60) throws -> CommandResult {
    let base = NSTemporaryDirectory() + "berth-out-\(UUID().uuidString)"
    defer { unlink(base + ".out"); unlink(base + ".err"); unlink(base + ".in") }
    try Data((input ?? "").utf8).write(to: URL(fileURLWithPath: base + ".in"))
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, input == nil ? "/dev/null" : base + ".in", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, base + ".out", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, base + ".err", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
    guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL) }
    var status: Int32 = 0
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        let reaped = waitpid(pid, &status, WNOHANG)
        if reaped == pid { break }
        if Date() > deadline { kill(pid, SIGKILL) }
        usleep(1000)
    }
    let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return CommandResult(status: code,
                         stdout: (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? "",
                         stderr: (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? "")
}

/// A busybox rootfs made once per test process from Debian's busybox-static.
let sharedRootfs: String = {
    let dir = NSTemporaryDirectory() + "berth-rootfs-\(getpid())"
    // Generous: under qemu TCG (the cgroup v2 runner) the few hundred symlinks take minutes.
    let result = try? runCommand("/bin/sh", [packageRoot + "/scripts/make-busybox-rootfs.sh", dir], timeout: 900)
    precondition(result?.succeeded == true, "making the busybox rootfs failed (\(result.map { "status \($0.status)" } ?? "not run")): \(result?.stderr ?? "")")
    return dir
}()

/// A container bundle for one test: its own directory, config.json from `berth-runtime spec`
/// adjusted by the test, a rootfs (the shared one, or a private copy), and a private state root.
final class Bundle {
    let id: String
    let directory: String
    let stateRoot: String
    var spec: Spec

    init(_ name: String = #function, privateRootfs: Bool = false, args: [String] = ["true"]) throws {
        let clean = name.filter { $0.isLetter || $0.isNumber }
        id = "t-\(clean.prefix(40))-\(UInt32.random(in: 0...UInt32.max))"
        directory = NSTemporaryDirectory() + "berth-bundle-\(id)"
        stateRoot = NSTemporaryDirectory() + "berth-state-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let made = try runCommand(runtimeBinary, ["spec", "--bundle", directory])
        precondition(made.succeeded, made.stderr)
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/config.json"))
        spec = try JSONDecoder().decode(Spec.self, from: data)
        if privateRootfs {
            let copy = try runCommand("/bin/cp", ["-a", sharedRootfs, directory + "/rootfs"])
            precondition(copy.succeeded, copy.stderr)
            spec.root = Spec.Root(path: "rootfs", readonly: false)
        } else {
            spec.root = Spec.Root(path: sharedRootfs, readonly: true)
        }
        spec.process?.terminal = false
        spec.process?.args = args
        spec.hostname = "berth-test"
    }

    /// A cgroup namespace, unless the config has one (runc's template adds one on cgroup2-only hosts).
    func addCgroupNamespace() {
        if spec.linux?.namespaces?.contains(where: { $0.type == "cgroup" }) != true {
            spec.linux?.namespaces?.append(Spec.Namespace(type: "cgroup"))
        }
    }

    var rootfs: String { spec.root!.path.hasPrefix("/") ? spec.root!.path : directory + "/" + spec.root!.path }

    func writeConfig() throws {
        let encoder = JSONEncoder()
        try encoder.encode(spec).write(to: URL(fileURLWithPath: directory + "/config.json"))
    }

    /// berth-runtime with this bundle's state root.
    @discardableResult
    func runtime(_ arguments: [String], input: String? = nil, timeout: TimeInterval = 60) throws -> CommandResult {
        try runCommand(runtimeBinary, ["--root", stateRoot] + arguments, input: input, timeout: timeout)
    }

    /// `run` in the foreground: the container's output and exit status.
    func run(_ args: [String]? = nil) throws -> CommandResult {
        if let args { spec.process?.args = args }
        try writeConfig()
        return try runtime(["run", "--bundle", directory, id])
    }

    func create() throws -> CommandResult {
        try writeConfig()
        return try runtime(["create", "--bundle", directory, id])
    }

    func state() throws -> ContainerState? {
        let result = try runtime(["state", id])
        guard result.succeeded else { return nil }
        return try JSONDecoder().decode(ContainerState.self, from: Data(result.stdout.utf8))
    }

    func waitForStatus(_ status: ContainerState.Status, timeout: TimeInterval = 10) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try state()?.status == status { return true }
            usleep(20_000)
        }
        return false
    }

    /// Deletes the container (if any) and the bundle, and checks nothing of it is left.
    func destroy() {
        _ = try? runtime(["delete", "--force", id])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The host cgroup directories this container would use (hybrid v1 layout or v2).
    func cgroupDirectories() -> [String] {
        let path = spec.linux?.cgroupsPath ?? "/berth/\(id)"
        if FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") {
            return ["/sys/fs/cgroup" + path]
        }
        return ["memory", "pids", "cpu", "freezer", "devices", "cpuset", "blkio", "systemd", "unified"].map { "/sys/fs/cgroup/\($0)" + path }
    }

    func leftovers() -> [String] {
        var found: [String] = []
        if FileManager.default.fileExists(atPath: stateRoot + "/" + id) { found.append("state dir") }
        for dir in cgroupDirectories() where FileManager.default.fileExists(atPath: dir) { found.append(dir) }
        if let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8), mounts.contains(directory) {
            found.append("mount under \(directory)")
        }
        return found
    }
}

/// Inode of /proc/PID/ns/KIND.
func namespaceInode(_ pid: Int32, _ kind: String) -> UInt64? {
    var st = stat()
    guard stat("/proc/\(pid)/ns/\(kind)", &st) == 0 else { return nil }
    return UInt64(st.st_ino)
}

func errorLine(_ result: CommandResult) -> String {
    result.stderr.split(separator: "\n").last.map(String.init) ?? ""
}

/// Starts a program without waiting for it (stdout to a file, the rest on /dev/null); returns its pid.
func spawnInBackground(_ path: String, _ arguments: [String], stdout: String = "/dev/null") throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
    guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL) }
    return pid
}
