import Foundation
import Glibc
@testable import Images
import OCISpec
import Testing

/// The repository root, found from this file's path (Tests/ImagesTests/Support.swift).
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// A temporary directory removed (after unmounting anything below it) when the test ends.
final class TemporaryDirectory {
    let path: String

    init(_ name: String = "berth-images-test") {
        let template = NSTemporaryDirectory() + "/\(name)-XXXXXX"
        var bytes = Array(template.utf8CString)
        let made = bytes.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = made.map { String(cString: $0) } ?? template
    }

    deinit {
        for mount in mountsBelow(path).reversed() { umount2(mount, Int32(MNT_DETACH)) }
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { path + "/" + name }
}

func mountsBelow(_ path: String) -> [String] {
    guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
    return text.split(separator: "\n").compactMap { line in
        let fields = line.split(separator: " ")
        guard fields.count > 4 else { return nil }
        let point = String(fields[4])
        return point.hasPrefix(path + "/") ? point : nil
    }
}

struct CommandResult {
    var status: Int32
    var output: String
}

/// Runs a program to completion, capturing stdout and stderr together (through a file, which nothing another
/// test starts meanwhile can hold open, as it could a pipe). posix_spawn and waitpid keep it independent of
/// Foundation's Process machinery.
@discardableResult
func run(_ program: String, _ arguments: [String], allowFailure: Bool = false) throws -> CommandResult {
    let output = TemporaryDirectory("berth-run")
    let log = output.file("output")
    let pid = try spawn(program, arguments, stdout: log)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        guard errno == EINTR else { throw TestFailure("waitpid \(program): \(errno)") }
    }
    let exited = (status & 0x7f) == 0
    let code: Int32 = exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    let result = CommandResult(status: code, output: text)
    if !allowFailure && result.status != 0 {
        throw TestFailure("\(program) \(arguments.joined(separator: " ")) exited \(result.status): \(result.output)")
    }
    return result
}

/// posix_spawnp with stdin from /dev/null, stdout and stderr to `stdout` (or /dev/null), signals unblocked.
func spawn(_ program: String, _ arguments: [String], stdout: String?) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attributes, &none)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    sigaddset(&defaults, SIGPIPE)
    sigaddset(&defaults, SIGTERM)
    sigaddset(&defaults, SIGINT)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let argv = ([program] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var child: pid_t = 0
    let status = posix_spawnp(&child, program, &actions, &attributes, argv, environ)
    guard status == 0 else { throw TestFailure("posix_spawn \(program): \(String(cString: strerror(status)))") }
    return child
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The busybox image in OCI layout, OCI archive and docker-archive form (scripts/make-busybox-image.sh).
struct BusyboxFixture {
    let directory: TemporaryDirectory
    var layout: String { directory.file("oci") }
    var ociArchive: String { directory.file("oci.tar") }
    var dockerArchive: String { directory.file("docker.tar") }

    init() throws {
        directory = TemporaryDirectory("berth-fixture")
        try run("/bin/sh", [repositoryRoot + "/scripts/make-busybox-image.sh", directory.path])
    }
}

/// An OCI archive with hand-made layers (scripts/make-crafted-image.py).
func craftedImage(_ kind: String, in directory: TemporaryDirectory, outside: String = "/nonexistent") throws -> String {
    let path = directory.file("\(kind).tar")
    try run("python3", [repositoryRoot + "/scripts/make-crafted-image.py", path, kind, outside])
    return path
}

/// A TCP port nobody listens on right now.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestFailure("bind: \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Waits until something accepts connections on the port.
func waitForPort(_ port: Int, timeout: Double = 10) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        close(fd)
        if connected == 0 { return }
        usleep(50_000)
    }
    throw TestFailure("nothing listens on 127.0.0.1:\(port) after \(timeout)s")
}

/// A background server process, killed when the object goes. Spawned with every fd above 2 closed: Foundation's
/// Process watches each child through a socket the child holds, so a long-lived server that inherited another
/// test's socket would keep that test waiting for its child's exit until the server dies.
final class ServerProcess {
    let pid: pid_t
    let port: Int

    init(_ program: String, _ arguments: [String], port: Int) throws {
        self.port = port
        // glibc's posix_spawn_file_actions_addclosefrom_np is not visible to Swift: a python shim closes the fds.
        let closer = "import os,sys; os.closerange(3, 65536); os.execv(sys.argv[1], sys.argv[1:])"
        pid = try spawn("/usr/bin/python3", ["-c", closer, program] + arguments, stdout: nil)
        do { try waitForPort(port) } catch { stop(); throw error }
    }

    func stop() {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    deinit { stop() }
}

/// The real distribution registry (Debian's docker-registry) on 127.0.0.1, storing in a temporary directory.
final class LocalRegistry {
    let directory = TemporaryDirectory("berth-registry")
    let server: ServerProcess
    var host: String { "127.0.0.1:\(server.port)" }

    init() throws {
        let port = try freePort()
        let config = """
        version: 0.1
        log:
          level: error
        storage:
          filesystem:
            rootdirectory: \(directory.path)/data
        http:
          addr: 127.0.0.1:\(port)
        """
        try config.write(toFile: directory.file("config.yml"), atomically: true, encoding: .utf8)
        server = try ServerProcess("/usr/bin/docker-registry", ["serve", directory.file("config.yml")], port: port)
    }

    /// Copies an image into the registry with skopeo.
    func push(_ source: String, as name: String, format: String? = nil) throws {
        try run("skopeo", ["--insecure-policy", "copy", "-q", "--dest-tls-verify=false"]
                + (format.map { ["--format", $0] } ?? []) + [source, "docker://\(host)/\(name)"])
    }
}

/// scripts/fake-registry.py in one of its modes, serving an OCI layout.
final class FakeRegistry {
    let server: ServerProcess
    var host: String { "127.0.0.1:\(server.port)" }

    init(mode: String, layout: String, credentials: String? = nil) throws {
        let port = try freePort()
        var arguments = [repositoryRoot + "/scripts/fake-registry.py", String(port), mode, layout]
        if let credentials { arguments.append(credentials) }
        let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
            ?? "/usr/bin/python3"
        server = try ServerProcess(python, arguments, port: port)
    }
}

/// What the store holds, to check that a failed operation changed nothing.
struct StoreSnapshot: Equatable {
    var index: [String]
    var blobs: [String]
    var snapshots: [String]
    var ingest: [String]

    init(_ store: ImageStore) {
        let fm = FileManager.default
        index = ((try? store.readIndex().manifests) ?? []).map { $0.digest + " " + ($0.annotations?[ImageAnnotation.imageName] ?? "") }.sorted()
        blobs = ((try? fm.contentsOfDirectory(atPath: store.directory + "/blobs/sha256")) ?? []).sorted()
        snapshots = ((try? fm.contentsOfDirectory(atPath: store.directory + "/snapshots")) ?? []).sorted()
        ingest = ((try? fm.contentsOfDirectory(atPath: store.directory + "/ingest")) ?? []).sorted()
    }
}

/// Expects `body` to throw an error whose text contains `fragment`.
func expectFailure(_ fragment: String, sourceLocation: SourceLocation = #_sourceLocation,
                   _ body: () async throws -> Void) async {
    do {
        try await body()
        Issue.record("expected a failure mentioning \"\(fragment)\"", sourceLocation: sourceLocation)
    } catch {
        #expect("\(error)".contains(fragment), "error was: \(error)", sourceLocation: sourceLocation)
    }
}
