import Foundation
import Testing
import OCISpec

@Suite("exec: a new process in a running container")
struct ExecTests {
    func started(_ bundle: Bundle) throws {
        bundle.spec.process?.args = ["sleep", "100"]
        let created = try bundle.create()
        try #require(created.succeeded, "\(created.stderr)")
        try #require(try bundle.runtime(["start", bundle.id]).succeeded)
    }

    @Test func execJoinsEveryNamespaceAndReturnsTheExitCode() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        try started(bundle)
        let pid = try #require(try bundle.state()).pid
        let result = try bundle.runtime(["exec", bundle.id, "sh", "-c", "hostname; ps -o pid,comm | grep -c sleep; readlink /proc/self/ns/net; readlink /proc/self/ns/mnt; exit 5"])
        #expect(result.status == 5)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 4, "\(result.stdout) \(result.stderr)")
        #expect(lines[0] == "berth-test")
        #expect(lines[1] == "1", "the exec'd shell sees the container's init")
        #expect(lines[2] == "net:[\(namespaceInode(pid, "net")!)]")
        #expect(lines[3] == "mnt:[\(namespaceInode(pid, "mnt")!)]")
    }

    @Test func execFlags() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        try started(bundle)
        let result = try bundle.runtime(["exec", "--user", "1234:5678", "--cwd", "/tmp", "-e", "FOO=bar", "--additional-gids", "42",
                                         bundle.id, "sh", "-c", "id -u; id -g; id -G; pwd; echo $FOO"])
        #expect(result.stdout.split(separator: "\n").map(String.init) == ["1234", "5678", "5678 42", "/tmp", "bar"], "\(result.stderr)")
    }

    @Test func execProcessJSONAndDetachWithPidFile() throws {
        let bundle = try Bundle(privateRootfs: true)
        defer { bundle.destroy() }
        try started(bundle)
        var process = Spec.Process(args: ["sh", "-c", "echo from-json > /tmp/exec-out; sleep 100"], env: ["PATH=/bin"])
        process.user = Spec.User(uid: 0, gid: 0)
        let processFile = bundle.directory + "/process.json"
        try JSONEncoder().encode(process).write(to: URL(fileURLWithPath: processFile))
        let pidFile = bundle.directory + "/exec.pid"
        let result = try bundle.runtime(["exec", "--process", processFile, "--detach", "--pid-file", pidFile, bundle.id])
        #expect(result.succeeded, "\(result.stderr)")
        let pid = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8)))
        usleep(300_000)
        #expect(try String(contentsOfFile: bundle.rootfs + "/tmp/exec-out", encoding: .utf8) == "from-json\n")
        let ps = try bundle.runtime(["ps", "-f", "json", bundle.id])
        #expect(try JSONDecoder().decode([Int32].self, from: Data(ps.stdout.utf8)).contains(pid), "the exec'd process is in the container's cgroup")
    }

    @Test func execAddsCapabilities() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        try started(bundle)
        let result = try bundle.runtime(["exec", "--cap", "CAP_CHOWN", bundle.id, "grep", "CapEff", "/proc/self/status"])
        // Template caps: AUDIT_WRITE(29) KILL(5) NET_BIND_SERVICE(10), plus CHOWN(0).
        #expect(result.stdout == "CapEff:\t0000000020000421\n", "\(result.stdout)")
    }

    @Test func execWithATerminal() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        try started(bundle)
        let socketPath = NSTemporaryDirectory() + "berth-exec-console-\(UInt32.random(in: 0...UInt32.max)).sock"
        let listener = try ConsoleListener(path: socketPath)
        defer { listener.close(); unlink(socketPath) }
        // A console socket goes with -d (runc refuses it in the foreground).
        let result = try bundle.runtime(["exec", "-t", "-d", "--console-socket", socketPath, bundle.id, "sh", "-c", "tty; echo exec-tty-ok"])
        #expect(result.succeeded, "\(result.stderr)")
        let master = try #require(listener.acceptMaster())
        defer { close(master) }
        var output = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !output.contains("exec-tty-ok") {
            let n = read(master, &buffer, buffer.count)
            if n <= 0 { break }
            output += String(decoding: buffer[0..<n], as: UTF8.self)
        }
        #expect(output.contains("/dev/pts/"), "\(output)")
        #expect(output.contains("exec-tty-ok"))
    }

    @Test func execInAStoppedContainerFails() throws {
        let bundle = try Bundle(args: ["true"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        #expect(try bundle.waitForStatus(.stopped))
        let result = try bundle.runtime(["exec", bundle.id, "true"])
        #expect(result.status == 255, "runc's exec failures exit 255")
        #expect(errorLine(result) == "berth: exec failed: cannot exec in a stopped container")
    }

    @Test func execOfAMissingProgramFailsClearly() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        try started(bundle)
        let result = try bundle.runtime(["exec", bundle.id, "no-such-program"])
        #expect(result.status == 255)
        #expect(errorLine(result).contains("executable file not found"), "\(result.stderr)")
    }
}
