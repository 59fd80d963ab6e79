import Foundation
import Testing

/// The package checkout, found from this file's path.
let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// The binaries built next to this test binary.
let buildDirectory: String = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
let berthBinary = buildDirectory + "/berth"

struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
    var succeeded: Bool { status == 0 }
}

/// Runs a program and collects its output through files (a detached container's monitor never holds
/// them: its stdio is /dev/null). posix_spawn and waitpid, no run loop.
@discardableResult
func runCommand(_ path: String, _ arguments: [String], input: String? = nil, environment: [String: String] = [:],
                timeout: TimeInterval = 120) throws -> CommandResult {
    let base = NSTemporaryDirectory() + "berth-engine-out-\(UUID().uuidString)"
    defer { unlink(base + ".out"); unlink(base + ".err"); unlink(base + ".in") }
    try Data((input ?? "").utf8).write(to: URL(fileURLWithPath: base + ".in"))
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, input == nil ? "/dev/null" : base + ".in", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, base + ".out", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, base + ".err", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for p in argv { free(p) }; for p in envp { free(p) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
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

/// One engine state for the whole test process: `--root` and `--runroot` in temporary directories, and a
/// busybox image (`busybox:latest`) imported from a rootfs made from Debian's busybox-static.
enum TestEngine {
    static let root = NSTemporaryDirectory() + "berth-engine-root-\(getpid())"
    static let runroot = NSTemporaryDirectory() + "berth-engine-run-\(getpid())"
    static let cniConfigDirectory = NSTemporaryDirectory() + "berth-engine-cni-\(getpid())"
    nonisolated(unsafe) static var removeDefaultBridge = false
    static let image: String = {
        // The test engine's networks are conflists of its own; the default network's bridge goes at the end
        // unless it was there before (a real berth on this host).
        setenv("BERTH_CNI_CONFIG_DIR", TestEngine.cniConfigDirectory, 1)
        let bridgeWasThere = FileManager.default.fileExists(atPath: "/sys/class/net/berth0")
        TestEngine.removeDefaultBridge = !bridgeWasThere
        // The engine's directories go when the test process ends (every test removes its own containers).
        atexit {
            for path in [TestEngine.root, TestEngine.runroot, TestEngine.cniConfigDirectory] { try? FileManager.default.removeItem(atPath: path) }
            if TestEngine.removeDefaultBridge {
                _ = try? runCommand("/bin/sh", ["-c", "ip link delete berth0 2>/dev/null; while iptables -w -t nat -D POSTROUTING -s 10.77.0.0/16 ! -o berth0 -m comment --comment 'berth network berth' -j MASQUERADE 2>/dev/null; do :; done; iptables-save -t filter | grep -- '-A CNI-ISOLATION' | grep ' berth0 ' | sed 's/^-A //' | while read -r rule; do sh -c \"iptables -t filter -D $rule\"; done; rm -rf /var/lib/cni/networks/berth"])
            }
        }
        let work = NSTemporaryDirectory() + "berth-engine-image-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: work) }
        let made = try? runCommand("/bin/sh", [packageRoot + "/scripts/make-busybox-rootfs.sh", work + "/rootfs"])
        precondition(made?.succeeded == true, "making the busybox rootfs failed: \(made?.stderr ?? "")")
        // The image has a user and a VOLUME-free config; tests add what they need with flags.
        try? "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n"
            .write(toFile: work + "/rootfs/etc/passwd", atomically: true, encoding: .utf8)
        try? "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nstaff:x:50:app\n".write(toFile: work + "/rootfs/etc/group", atomically: true, encoding: .utf8)
        try? FileManager.default.createDirectory(atPath: work + "/rootfs/data", withIntermediateDirectories: true)
        try? "from the image\n".write(toFile: work + "/rootfs/data/seed.txt", atomically: true, encoding: .utf8)
        let tar = try? runCommand("/bin/tar", ["-C", work + "/rootfs", "-cf", work + "/rootfs.tar", "."])
        precondition(tar?.succeeded == true, "tar failed")
        let imported = try? berth(["import", work + "/rootfs.tar", "busybox:latest"])
        precondition(imported?.succeeded == true, "berth import failed: \(imported?.stderr ?? "")")
        return "busybox:latest"
    }()

    /// `berth ARGS` against the test engine's root and runroot.
    @discardableResult
    static func berth(_ arguments: [String], input: String? = nil, timeout: TimeInterval = 120) throws -> CommandResult {
        try runCommand(berthBinary, ["--root", root, "--runroot", runroot] + arguments, input: input, timeout: timeout)
    }
}

@discardableResult
func berth(_ arguments: [String], input: String? = nil, timeout: TimeInterval = 120) throws -> CommandResult {
    _ = TestEngine.image
    return try TestEngine.berth(arguments, input: input, timeout: timeout)
}

/// A unique container name for a test.
func uniqueName(_ base: String = #function) -> String {
    let clean = base.filter { $0.isLetter || $0.isNumber }
    return "t-\(clean.prefix(30))-\(UInt32.random(in: 0...UInt32.max))"
}

/// What a removed container may have left: mounts under its directory, its cgroup, its state directories.
func leftovers(of id: String) -> [String] {
    var found: [String] = []
    if let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8), mounts.contains(id) {
        found.append("a mount of \(id)")
    }
    for base in ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
        if FileManager.default.fileExists(atPath: "\(base)/berth/\(id)") { found.append("cgroup \(base)/berth/\(id)") }
    }
    for path in ["\(TestEngine.root)/containers/\(id)", "\(TestEngine.runroot)/monitor/\(id)", "\(TestEngine.runroot)/runtime/\(id)"]
    where FileManager.default.fileExists(atPath: path) {
        found.append(path)
    }
    return found
}

/// `inspect -f TEMPLATE NAME`, trimmed.
func inspect(_ name: String, _ template: String) throws -> String {
    try berth(["inspect", "-f", template, name]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Polls until `condition` holds (or `timeout` passes); returns whether it held.
func eventually(timeout: TimeInterval = 20, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(50_000)
    }
    return try condition()
}

/// Every engine suite runs inside this one, one test at a time: they share one engine root, and some of
/// them (the name race, the reboot) look at all of it.
@Suite(.serialized) struct EngineSuite {}
