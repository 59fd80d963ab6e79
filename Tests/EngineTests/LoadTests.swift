import Foundation
import Testing

/// Many containers at once and many in a row (issue: faults and load): every run succeeds, and the host's
/// resources (mounts, cgroups, veths, netns files, CNI results, state directories, database rows) come back to
/// what they were. Timings are bench/load.sh's business, never a test's.
extension EngineSuite {
    @Suite struct LoadTests {
        /// What the engine holds on the host, counted.
        struct Footprint: Equatable, CustomStringConvertible {
            var mounts = 0, cgroups = 0, veths = 0, netnsFiles = 0, cniResults = 0, containerDirectories = 0, monitorDirectories = 0, rows = 0
            var description: String {
                "mounts \(mounts), cgroups \(cgroups), veths \(veths), netns \(netnsFiles), CNI results \(cniResults), "
                    + "container dirs \(containerDirectories), monitor dirs \(monitorDirectories), containers \(rows)"
            }

            static func now() throws -> Footprint {
                func count(_ directory: String) -> Int { ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).count }
                var footprint = Footprint()
                let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
                footprint.mounts = mounts.split(separator: "\n").filter { $0.contains(TestEngine.root) || $0.contains(TestEngine.runroot) }.count
                footprint.cgroups = ["/sys/fs/cgroup/memory/berth", "/sys/fs/cgroup/pids/berth", "/sys/fs/cgroup/berth", "/sys/fs/cgroup/unified/berth"]
                    .map { directory in ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.count == 64 }.count }.reduce(0, +)
                footprint.veths = try EngineSuite.NetworkTests.veths()
                footprint.netnsFiles = count(TestEngine.runroot + "/netns")
                footprint.cniResults = ((try? FileManager.default.contentsOfDirectory(atPath: "/var/lib/cni/results")) ?? []).filter { $0.hasPrefix("berth-") }.count
                footprint.containerDirectories = count(TestEngine.root + "/containers")
                footprint.monitorDirectories = count(TestEngine.runroot + "/monitor")
                footprint.rows = try berth(["ps", "-aq"]).stdout.split(separator: "\n").count
                return footprint
            }
        }

        /// 10 clients, 5 `run --rm` each, all at once, half of them on the default bridge: 50 successes with the
        /// right output, and nothing left.
        @Test func fiftyParallelRunsFromTenClientsAllSucceedAndLeaveNothing() throws {
            _ = TestEngine.image
            let before = try Footprint.now()
            let failures = FailureLog()
            DispatchQueue.concurrentPerform(iterations: 10) { client in
                for run in 0..<5 {
                    let network = (client + run) % 2 == 0 ? "bridge" : "none"
                    let word = "client\(client)-run\(run)"
                    do {
                        let result = try berth(["run", "--rm", "--network", network, TestEngine.image, "echo", word], timeout: 300)
                        if !result.succeeded || result.stdout != word + "\n" {
                            failures.add("\(word) on \(network): \(result.status) \(result.stdout) \(result.stderr)")
                        }
                    } catch {
                        failures.add("\(word): \(error)")
                    }
                }
            }
            #expect(failures.all.isEmpty, "\(failures.all.count) of 50 failed: \(failures.all.prefix(5))")
            let after = try Footprint.now()
            #expect(after == before, "before: \(before); after: \(after)")
        }

        /// Many containers in a row (1000 in CI; BERTH_LOAD_CONTAINERS changes it): the footprint after the last
        /// equals the one after the tenth, and the database does not grow with the number of removed rows.
        @Test func aThousandSequentialContainersLeaveTheFootprintOfNone() throws {
            _ = TestEngine.image
            let total = Int(ProcessInfo.processInfo.environment["BERTH_LOAD_CONTAINERS"] ?? "") ?? 1000
            let database = TestEngine.root + "/engine/berth.db"
            func size(_ path: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0 }
            func databaseBytes() -> Int { size(database) }
            var failures: [String] = []
            var early: Footprint?
            var earlyBytes = 0
            for index in 1...total {
                let result = try berth(["run", "--rm", "--network", index % 10 == 0 ? "bridge" : "none", TestEngine.image, "true"])
                if !result.succeeded { failures.append("run \(index): \(result.stderr)") }
                if index == 10 { early = try Footprint.now(); earlyBytes = databaseBytes() }
            }
            #expect(failures.isEmpty, "\(failures.count) failed: \(failures.prefix(3))")
            let late = try Footprint.now()
            #expect(late == early, "after 10: \(early.map(String.init(describing:)) ?? "-"); after \(total): \(late)")
            // SQLite reuses the pages of deleted rows: the file keeps its size, give or take a few pages; the
            // write-ahead log is bounded by SQLite's automatic checkpoint (1000 pages).
            #expect(databaseBytes() <= earlyBytes + 64 * 1024, "database: \(earlyBytes) bytes after 10, \(databaseBytes()) after \(total)")
            #expect(size(database + "-wal") <= 1001 * 4096 + 64 * 1024, "write-ahead log: \(size(database + "-wal")) bytes")
        }
    }
}

/// Failures collected from concurrent clients.
final class FailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String] = []
    func add(_ entry: String) { lock.lock(); entries.append(entry); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return entries }
}

extension EngineSuite.LoadTests {
    /// A full disk under `--root` (a small tmpfs): `run`, `import` and `load` fail with a clear line and leave no
    /// half-made container or image; once space is back, the same commands work and the image's content is whole
    /// (no half-written blob was kept under its digest).
    @Test func aFullDiskFailsClearlyAndCorruptsNothing() throws {
        _ = TestEngine.image
        let base = NSTemporaryDirectory() + "berth-full-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let root = base + "/root", runroot = base + "/run"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: runroot, withIntermediateDirectories: true)
        #expect(try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=48m", "tmpfs", root]).succeeded)
        func small(_ arguments: [String]) throws -> CommandResult {
            try runCommand(berthBinary, ["--root", root, "--runroot", runroot, "--network-config-dir", base + "/cni"] + arguments)
        }
        defer {
            if let ids = try? small(["ps", "-aq"]).stdout.split(separator: "\n").map(String.init), !ids.isEmpty { _ = try? small(["rm", "-f"] + ids) }
            _ = try? runCommand("/bin/sh", ["-c", "grep -o ' \(base)[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l; umount -l \(root) 2>/dev/null; rm -rf \(base)"])
        }
        #expect(try berth(["save", "-o", base + "/busybox.tar", TestEngine.image]).succeeded)
        #expect(try small(["load", "-i", base + "/busybox.tar"]).succeeded)
        // A second image whose one layer holds 8 MiB of random data and its digest.
        let layer = base + "/payload"
        #expect(try runCommand("/bin/sh", ["-c", "mkdir -p \(layer) && head -c 8388608 /dev/urandom > \(layer)/blob && sha256sum \(layer)/blob | cut -d' ' -f1 > \(layer)/blob.sha256 && tar -C \(layer) -cf \(base)/payload.tar ."]).succeeded)
        let expected = try String(contentsOfFile: layer + "/blob.sha256", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)

        // Fill the disk.
        _ = try runCommand("/bin/sh", ["-c", "dd if=/dev/zero of=\(root)/filler bs=1M 2>/dev/null; sync"])
        let imagesBefore = try small(["images", "--format", "{{.Repository}}:{{.Tag}}"]).stdout
        let run = try small(["run", "--rm", "--network", "none", TestEngine.image, "true"])
        #expect(run.status == 125 && (run.stderr.lowercased().contains("space") || run.stderr.lowercased().contains("disk is full")),
                "\(run.status): \(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1, "one line: \(run.stderr)")
        #expect(try small(["ps", "-aq"]).stdout.isEmpty)
        let imported = try small(["import", base + "/payload.tar", "payload:full"])
        #expect(!imported.succeeded && imported.stderr.lowercased().contains("space"), "\(imported.status): \(imported.stderr)")
        #expect(imported.stderr.split(separator: "\n").count == 1, "one line: \(imported.stderr)")
        #expect(try small(["images", "--format", "{{.Repository}}:{{.Tag}}"]).stdout == imagesBefore)
        #expect(!(try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)).contains(root + "/containers"))

        // Space again: everything works, and the payload arrives whole.
        unlink(root + "/filler")
        #expect(try small(["import", base + "/payload.tar", "payload:full"]).succeeded)
        // The payload image has no shell: its blob comes out with cp and is checked on the host.
        let copied = base + "/copied"
        let created = try small(["create", "--name", "payload-check", "payload:full", "/blob"])
        #expect(created.succeeded, "\(created.stderr)")
        #expect(try small(["cp", "payload-check:/blob", copied]).succeeded)
        let digest = try runCommand("/usr/bin/sha256sum", [copied]).stdout.split(separator: " ").first.map(String.init)
        #expect(digest == expected)
        #expect(try small(["run", "--rm", "--network", "none", TestEngine.image, "echo", "ok"]).stdout == "ok\n")
    }
}

extension EngineSuite.LoadTests {
    /// `load` SIGKILLed at a sweep of moments, into a store of its own: every time, the next `images` works, an
    /// image that is listed runs with its content whole, and the next `load` completes it (no half-written blob
    /// is served, no half-unpacked layer is used).
    @Test func theCLIKilledAtAnyMomentOfLoadLeavesAUsableStore() throws {
        _ = TestEngine.image
        let base = NSTemporaryDirectory() + "berth-killed-load-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer {
            _ = try? runCommand("/bin/sh", ["-c", "grep -o ' \(base)[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l; rm -rf \(base)"])
        }
        let archive = base + "/busybox.tar"
        #expect(try berth(["save", "-o", archive, TestEngine.image]).succeeded)
        for (round, delay) in ([0, 2_000, 6_000, 12_000, 20_000, 35_000, 60_000, 100_000, 160_000] as [UInt32]).enumerated() {
            let root = base + "/root\(round)", runroot = base + "/run\(round)"
            func store(_ arguments: [String]) throws -> CommandResult {
                try runCommand(berthBinary, ["--root", root, "--runroot", runroot] + arguments)
            }
            let words = [berthBinary, "--root", root, "--runroot", runroot, "load", "-q", "-i", archive]
            let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
            var pid: pid_t = 0
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
            let spawned = posix_spawn(&pid, berthBinary, &actions, nil, argv, environ)
            posix_spawn_file_actions_destroy(&actions)
            for pointer in argv { free(pointer) }
            #expect(spawned == 0)
            usleep(delay)
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)

            let listed = try store(["images", "--format", "{{.Repository}}:{{.Tag}}"])
            #expect(listed.succeeded, "after a kill at \(delay) µs: \(listed.stderr)")
            if listed.stdout.contains(TestEngine.image) {
                let seed = try store(["run", "--rm", "--network", "none", TestEngine.image, "cat", "/data/seed.txt"])
                #expect(seed.stdout == "from the image\n", "a listed image must be whole (kill at \(delay) µs): \(seed.stdout) \(seed.stderr)")
            }
            let again = try store(["load", "-q", "-i", archive])
            #expect(again.succeeded, "load after a kill at \(delay) µs: \(again.stderr)")
            let seed = try store(["run", "--rm", "--network", "none", TestEngine.image, "cat", "/data/seed.txt"])
            #expect(seed.stdout == "from the image\n", "after the second load (kill at \(delay) µs): \(seed.stdout) \(seed.stderr)")
        }
    }
}
