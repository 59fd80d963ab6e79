import Foundation
import Testing

/// An ordinary user with subordinate ids, made for one test and removed after it with everything it left:
/// its processes (the pause process, monitors, containers), its runtime directory, its home.
final class RootlessUser {
    let name: String
    let uid: UInt32
    let gid: UInt32
    let home: String
    /// Where its subordinate ids start (65536 of them, uids and gids alike).
    let subStart: UInt32
    /// A cgroup v2 directory its commands start in (a delegated subtree's leaf), nil for the caller's cgroup.
    var cgroup: String?
    /// The image tar it imports, in a directory it can read.
    let fixtures: String

    init(subordinateIDs: Bool = true) throws {
        name = "berthrl\(UInt32.random(in: 0...999_999))"
        home = "/tmp/\(name)-home"
        subStart = 500_000_000 + UInt32(getpid() % 1000) * 65536 * 2 + UInt32.random(in: 0...1) * 65536
        // No range of useradd's own (SUB_UID_COUNT=0): the test says which ones the user has.
        let added = try runCommand("/usr/sbin/useradd", ["-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", "-U", "-m", "-d", home, "-s", "/bin/sh", name])
        guard added.succeeded else { throw RootlessTestError("useradd: \(added.stderr)") }
        guard let entry = getpwnam(name) else { throw RootlessTestError("no passwd entry for \(name)") }
        uid = entry.pointee.pw_uid
        gid = entry.pointee.pw_gid
        fixtures = NSTemporaryDirectory() + "berth-rootless-fixtures-\(name)"
        if subordinateIDs {
            let range = "\(subStart)-\(subStart + 65535)"
            let mod = try runCommand("/usr/sbin/usermod", ["--add-subuids", range, "--add-subgids", range, name])
            guard mod.succeeded else { cleanUp(); throw RootlessTestError("usermod: \(mod.stderr)") }
        }
    }

    /// `berth ARGS` as this user, with a login-like environment (no XDG_RUNTIME_DIR unless given).
    @discardableResult
    func berth(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 120) throws -> CommandResult {
        var env = ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "USER": name, "LOGNAME": name,
                   "BERTH_LOG_LEVEL": ""]
        for (key, value) in environment { env[key] = value }
        let assignments = env.sorted { $0.key < $1.key }.filter { !$0.value.isEmpty }.map { "\($0.key)=\($0.value)" }
        let command = ["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(gid)", "--init-groups", "--reset-env",
                       "/usr/bin/env", "-i"] + assignments + [berthBinary] + arguments
        guard let cgroup else { return try runCommand(command[0], Array(command.dropFirst()), timeout: timeout) }
        // As a login under systemd would be: the user's commands start inside the subtree delegated to it.
        return try runCommand("/bin/sh", ["-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$@\"", cgroup] + command, timeout: timeout)
    }

    /// The busybox image of the engine tests, imported into this user's store as busybox:latest; one file owned
    /// by uid/gid 1000 (the image's `app`), so the owner mapping of layers can be seen.
    func importBusybox() throws {
        try FileManager.default.createDirectory(atPath: fixtures, withIntermediateDirectories: true)
        chmod(fixtures, 0o755)
        let made = try runCommand("/bin/sh", ["-c", """
            set -e; cd '\(fixtures)'; '\(packageRoot)/scripts/make-busybox-rootfs.sh' rootfs >/dev/null
            echo 'app:x:1000:1000:app:/home/app:/bin/sh' >> rootfs/etc/passwd; echo 'app:x:1000:' >> rootfs/etc/group
            mkdir -p rootfs/home/app && echo mine > rootfs/home/app/file && chown -R 1000:1000 rootfs/home/app
            tar -C rootfs -cf rootfs.tar . && chmod 644 rootfs.tar && rm -rf rootfs
            """])
        guard made.succeeded else { throw RootlessTestError("making the image: \(made.stderr)") }
        let imported = try berth(["import", fixtures + "/rootfs.tar", "busybox:latest"])
        guard imported.succeeded else { throw RootlessTestError("berth import as \(name): \(imported.stderr)") }
    }

    var runtimeDirectory: String { "/tmp/berth-run-\(uid)" }
    var pidFile: String { runtimeDirectory + "/berth/pause.pid" }
    var pausePid: Int32? {
        (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.split(separator: " ").first ?? "") }
    }

    /// The user's live (not zombie) processes: this host's PID 1 does not reap, so the dead stay listed.
    func processes() -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
            let lines = status.split(separator: "\n")
            let uidField = lines.first { $0.hasPrefix("Uid:") }?.split(separator: "\t").dropFirst().first
            let state = lines.first { $0.hasPrefix("State:") }?.split(separator: "\t").dropFirst().first?.first
            return uidField == "\(uid)" && state != "Z"
        }
    }

    /// Mounts anywhere on the host (any mount namespace still alive) that name the user's directories.
    func mountsLeft() -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var found = Set<String>()
        for pid in entries.compactMap(Int32.init) {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/mountinfo", encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") where line.contains(home) || line.contains(runtimeDirectory) {
                found.insert(String(line))
            }
        }
        return found.sorted()
    }

    /// Kills everything of the user (by pid: only what this test made runs as it), then removes the user, its
    /// home, its runtime directory and its subordinate ranges.
    func cleanUp() {
        for _ in 0..<50 {
            let pids = processes()
            if pids.isEmpty { break }
            for pid in pids { kill(pid, SIGKILL) }
            usleep(20_000)
        }
        _ = try? runCommand("/usr/sbin/userdel", ["-f", "-r", name])
        for path in [home, runtimeDirectory, fixtures] { try? FileManager.default.removeItem(atPath: path) }
    }

    /// What cleanUp could not remove; empty when the host is as it was.
    func leftovers() -> [String] {
        var found: [String] = []
        if getpwnam(name) != nil { found.append("user \(name)") }
        for file in ["/etc/subuid", "/etc/subgid"] where ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").contains(name + ":") {
            found.append("\(file) entry")
        }
        for path in [home, runtimeDirectory] where FileManager.default.fileExists(atPath: path) { found.append(path) }
        if !processes().isEmpty { found.append("processes \(processes())") }
        found += mountsLeft()
        return found
    }
}

struct RootlessTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` with a new rootless user, then removes it and checks nothing of it is left.
func withRootlessUser(subordinateIDs: Bool = true, _ body: (RootlessUser) throws -> Void) throws {
    let user = try RootlessUser(subordinateIDs: subordinateIDs)
    defer {
        user.cleanUp()
        #expect(user.leftovers().isEmpty, "left behind: \(user.leftovers())")
    }
    try body(user)
}

/// `berth` run by an ordinary user (docs/rootless.md): its stores under its own directories, every command
/// inside the user namespace its pause process holds (newuidmap: 0 → the user, 1… → its /etc/subuid range).
extension EngineSuite {
    @Suite struct RootlessTests {
        @Test func runInTheUsersOwnNamespaceAndStores() throws {
            try withRootlessUser { user in
                try user.importBusybox()
                let run = try user.berth(["run", "--rm", "busybox", "sh", "-c",
                                          "echo hi; id -u; cat /proc/self/uid_map; stat -c %u:%g /bin/busybox /home/app/file"])
                #expect(run.succeeded, "\(run.stderr)")
                let lines = run.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
                // Root inside is the user; the image's uid 1000 is uid 1000 of the namespace.
                #expect(lines == ["hi", "0", "0 \(user.uid) 1", "1 \(user.subStart) 65536", "0:0", "1000:1000"], "\(run.stdout)")
                // The stores: ~/.local/share/berth and, without XDG_RUNTIME_DIR or /run/user/UID, /tmp/berth-run-UID.
                let root = user.home + "/.local/share/berth"
                #expect(FileManager.default.fileExists(atPath: root + "/engine/berth.db"))
                #expect(FileManager.default.fileExists(atPath: user.runtimeDirectory + "/berth/monitor"))
                var st = stat()
                #expect(lstat(user.runtimeDirectory, &st) == 0 && st.st_uid == user.uid && st.st_mode & 0o777 == 0o700)
                // Unpacked with the owners mapped: on the host, the image's root is the user and its uid 1000
                // is subordinate id 999 of the range.
                let owners = try runCommand("/bin/sh", ["-c", "stat -c %u:%g \(root)/image/snapshots/*/bin/busybox \(root)/image/snapshots/*/home/app/file"])
                #expect(owners.stdout == "\(user.uid):\(user.gid)\n\(user.subStart + 999):\(user.subStart + 999)\n", "\(owners.stdout) \(owners.stderr)")
                // The pause process holds the namespaces: the user's own process, mapped as above.
                let pause = try #require(user.pausePid)
                #expect(try String(contentsOfFile: "/proc/\(pause)/comm", encoding: .utf8) == "berth-pause\n")
                let map = try String(contentsOfFile: "/proc/\(pause)/uid_map", encoding: .utf8)
                #expect(map.split(whereSeparator: \.isWhitespace) == ["0", "\(user.uid)", "1", "1", "\(user.subStart)", "65536"])
                // Nothing of the container is left: no container directory, no mount in the pause's namespace.
                #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/containers").isEmpty)
                #expect(try FileManager.default.contentsOfDirectory(atPath: user.runtimeDirectory + "/berth/runtime").filter { !$0.hasPrefix("@") }.isEmpty)
                #expect(user.mountsLeft().isEmpty, "\(user.mountsLeft())")
                #expect(try user.berth(["ps", "-aq"]).stdout.isEmpty)
            }
        }

        @Test func xdgRuntimeDirIsUsedWhenSet() throws {
            try withRootlessUser { user in
                let runtime = user.home + "/xdg-run"
                let made = try runCommand("/usr/bin/install", ["-d", "-m", "0700", "-o", user.name, "-g", user.name, runtime])
                #expect(made.succeeded)
                let images = try user.berth(["images", "-q"], environment: ["XDG_RUNTIME_DIR": runtime, "XDG_DATA_HOME": user.home + "/data"])
                #expect(images.succeeded, "\(images.stderr)")
                #expect(FileManager.default.fileExists(atPath: runtime + "/berth/pause.pid"))
                #expect(FileManager.default.fileExists(atPath: user.home + "/data/berth/image"))
                #expect(!FileManager.default.fileExists(atPath: user.runtimeDirectory))
            }
        }

        @Test func noSubordinateIDsIsExplained() throws {
            try withRootlessUser(subordinateIDs: false) { user in
                let run = try user.berth(["images"])
                #expect(run.status == 125)
                #expect(run.stderr == "berth: rootless: no subordinate uids for user \(user.name) in /etc/subuid: add a range, e.g. usermod --add-subuids 100000-165535 \(user.name)\n")
                #expect(user.pausePid == nil)
                #expect(user.processes().isEmpty)
            }
        }

        @Test func missingNewuidmapIsExplained() throws {
            try withRootlessUser { user in
                // A PATH without /usr/bin: newuidmap cannot be found (berth itself is run by its full path).
                let run = try user.berth(["images"], environment: ["PATH": "/nonexistent"])
                #expect(run.status == 125)
                #expect(run.stderr == "berth: rootless: newuidmap not found in PATH: install the uidmap package (apt-get install uidmap)\n")
                #expect(user.pausePid == nil)
            }
        }

        @Test func detachedContainerAcrossCommands() throws {
            try withRootlessUser { user in
                try user.importBusybox()
                let run = try user.berth(["run", "-d", "--name", "web", "busybox", "sh", "-c", "echo started; exec sleep 300"])
                #expect(run.succeeded, "\(run.stderr)")
                let id = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(try user.berth(["ps", "--format", "{{.Names}} {{.Status}}"]).stdout.hasPrefix("web Up"))
                #expect(try eventually { try user.berth(["logs", "web"]).stdout == "started\n" })
                let exec = try user.berth(["exec", "web", "sh", "-c", "id -u; cat /proc/1/cmdline | tr '\\0' ' '"])
                #expect(exec.stdout == "0\nsleep 300 ", "\(exec.stderr)")
                // The container's processes are the user's on the host, and a later command sees the same ones.
                let pid = try #require(Int32(try user.berth(["inspect", "-f", "{{.State.Pid}}", "web"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
                #expect(user.processes().contains(pid))
                #expect(try user.berth(["inspect", "-f", "{{.State.Status}}", "web"]).stdout == "running\n")
                // No cgroup on this host: top lists the processes of the container's pid namespace, an exec'd one too.
                #expect(try user.berth(["exec", "-d", "web", "sleep", "301"]).succeeded)
                var top = ""
                #expect(try eventually(timeout: 10) {
                    top = try user.berth(["top", "web"]).stdout
                    return top.contains("sleep 300") && top.contains("sleep 301")
                }, "\(top)")
                #expect(top.split(separator: "\n").count == 3, "\(top)")   // the header and the two
                let stop = try user.berth(["stop", "-t", "1", "web"])
                #expect(stop.succeeded, "\(stop.stderr)")
                #expect(try user.berth(["inspect", "-f", "{{.State.Status}}", "web"]).stdout == "exited\n")
                #expect(try user.berth(["rm", "web"]).succeeded)
                #expect(try user.berth(["ps", "-aq"]).stdout.isEmpty)
                #expect(!FileManager.default.fileExists(atPath: user.home + "/.local/share/berth/containers/" + id))
                #expect(!FileManager.default.fileExists(atPath: user.runtimeDirectory + "/berth/monitor/" + id))
                #expect(user.mountsLeft().isEmpty, "\(user.mountsLeft())")
                // Only the pause process is left running.
                #expect(try eventually { user.processes() == [user.pausePid].compactMap { $0 } }, "\(user.processes())")
            }
        }

        @Test func pastaIsTheDefaultNetworkAndPublishesPorts() throws {
            try withRootlessUser { user in
                try user.importBusybox()
                // The container's own network namespace, with pasta's interface and a default route.
                let run = try user.berth(["run", "--rm", "busybox", "sh", "-c", "ip -o -4 addr show eth0 | wc -l; ip route | grep -c default"])
                #expect(run.stdout == "1\n1\n", "\(run.stdout) \(run.stderr)")
                let port = Int.random(in: 20000...40000)
                let web = try user.berth(["run", "-d", "--name", "web", "-p", "127.0.0.1:\(port):8080", "busybox", "sh", "-c",
                                          "mkdir /www && echo hello from rootless > /www/index.html && exec httpd -f -p 8080 -h /www"])
                #expect(web.succeeded, "\(web.stderr)")
                #expect(try user.berth(["ps", "--format", "{{.Ports}}"]).stdout == "127.0.0.1:\(port)->8080/tcp\n")
                // Reached from the host, by root (not the user): through pasta's listening socket.
                var fetched = ""
                #expect(try eventually(timeout: 10) {
                    fetched = try runCommand("/usr/bin/curl", ["-s", "--max-time", "2", "http://127.0.0.1:\(port)/"]).stdout
                    return fetched == "hello from rootless\n"
                }, "\(fetched)")
                let netns = user.runtimeDirectory + "/berth/netns"
                #expect(try FileManager.default.contentsOfDirectory(atPath: netns).count == 2)   // the namespace file, pasta's pid
                #expect(try user.berth(["rm", "-f", "web"]).succeeded)
                // Nothing left: no pasta, nothing listening on the port, no namespace file.
                #expect(try eventually { user.processes() == [user.pausePid].compactMap { $0 } }, "\(user.processes())")
                #expect(try FileManager.default.contentsOfDirectory(atPath: netns).isEmpty)
                let listening = try runCommand("/bin/sh", ["-c", "ss -Htln 'sport = :\(port)' | wc -l"])
                #expect(listening.stdout == "0\n")
                #expect(user.mountsLeft().isEmpty, "\(user.mountsLeft())")
            }
        }

        @Test func limitsNeedACgroupThisHostDoesNotDelegate() throws {
            try withRootlessUser { user in
                try user.importBusybox()
                let why = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")
                    ? "rootless containers get no cgroup: no cgroup v2 subtree is delegated to this user (systemd's user@UID.service, or a subtree chowned to the user)"
                    : "rootless containers get no cgroup on cgroup v1 (limits need cgroup v2 with a subtree delegated to the user)"
                for flags in [["-m", "64m"], ["--pids-limit", "10"], ["--cpus", "0.5"]] {
                    let run = try user.berth(["run", "--rm"] + flags + ["busybox", "true"])
                    #expect(run.status == 125)
                    #expect(run.stderr == "berth: cannot set resource limits: \(why)\n")
                }
                #expect(try user.berth(["ps", "-aq"]).stdout.isEmpty)
                // Without limits everything runs; what only a cgroup can do says why it cannot.
                let held = try user.berth(["run", "-d", "--name", "held", "--network", "none", "busybox", "sleep", "300"])
                #expect(held.succeeded, "\(held.stderr)")
                let pause = try user.berth(["pause", "held"])
                #expect(pause.status != 0)
                #expect(pause.stderr.contains("the container has no cgroup (rootless, and this host delegates none to the user)"), "\(pause.stderr)")
                #expect(try user.berth(["rm", "-f", "held"]).succeeded)
                // nomap is not done, and says so rather than running with another mapping.
                let noMap = try user.berth(["run", "--rm", "--userns", "nomap", "busybox", "true"])
                #expect(noMap.status == 125)
                #expect(noMap.stderr == "berth: invalid --userns nomap: nomap is not supported by rootless berth yet\n")
            }
        }

        /// On a cgroup v2 host that delegates a subtree to the user (made here as systemd makes user@UID.service:
        /// the directory and its cgroup.procs, cgroup.subtree_control and cgroup.threads chowned to the user, its
        /// commands started in a leaf below), rootless containers get cgroups there: limits apply, pause and
        /// stats work, and rm removes the cgroup. (`top` is left out: user-mode Linux gives ps no boot time.) (This host's cgroup v1 delegates nothing: the test runs in
        /// the cgroup v2 kernel, scripts/test.sh.)
        @Test(.enabled(if: FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")))
        func limitsApplyInADelegatedCgroupV2Subtree() throws {
            let top = "/sys/fs/cgroup/berth-delegated-\(getpid())-\(UInt32.random(in: 0...999_999))"
            defer {
                for directory in [top + "/berth", top + "/session", top] {
                    for _ in 0..<100 where rmdir(directory) != 0 && errno == EBUSY { usleep(20_000) }
                }
            }
            try withRootlessUser { user in
                for controller in ["memory", "pids", "cpu"] {
                    try? "+\(controller)".write(toFile: "/sys/fs/cgroup/cgroup.subtree_control", atomically: false, encoding: .utf8)
                }
                for directory in [top, top + "/session"] {
                    #expect(mkdir(directory, 0o755) == 0, "mkdir \(directory): \(errno)")
                    for file in ["", "/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads"] {
                        #expect(chown(directory + file, user.uid, user.gid) == 0, "chown \(directory + file)")
                    }
                }
                user.cgroup = top + "/session"
                defer { user.cleanUp() }   // before the cgroups go: the pause process lives in the leaf
                try user.importBusybox()
                let run = try user.berth(["run", "-d", "--name", "held", "--network", "none", "-m", "64m", "--pids-limit", "20",
                                          "--cpus", "0.5", "busybox", "sleep", "300"])
                #expect(run.succeeded, "\(run.stderr)")
                let id = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                let cgroup = top + "/berth/" + id
                func read(_ file: String) -> String {
                    ((try? String(contentsOfFile: cgroup + "/" + file, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                }
                #expect(read("memory.max") == "67108864")
                #expect(read("pids.max") == "20")
                #expect(read("cpu.max") == "50000 100000")
                let pid = try user.berth(["inspect", "-f", "{{.State.Pid}}", "held"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(read("cgroup.procs").split(separator: "\n").contains(Substring(pid)), "\(read("cgroup.procs")) \(pid)")
                #expect(try user.berth(["pause", "held"]).succeeded)
                #expect(read("cgroup.freeze") == "1")
                #expect(try user.berth(["inspect", "-f", "{{.State.Status}}", "held"]).stdout == "paused\n")
                #expect(try user.berth(["unpause", "held"]).succeeded)
                #expect(read("cgroup.freeze") == "0")
                let stats = try user.berth(["stats", "--no-stream", "--format", "{{.MemUsage}}", "held"])
                #expect(stats.stdout.contains("/ 64MiB"), "\(stats.stdout) \(stats.stderr)")
                #expect(try user.berth(["rm", "-f", "held"]).succeeded)
                #expect(!FileManager.default.fileExists(atPath: cgroup))
            }
        }

        /// `--userns keep-id`: the container runs as the user's own uid and gid, by name, in a user namespace of its
        /// own; the image's files keep the owners they have in the image (fuse-overlayfs shifts them), and what
        /// it writes to a volume belongs to the user on the host (to a subordinate id when written as its root).
        @Test func keepIDRunsAsTheUserAndVolumesStayTheUsers() throws {
            try withRootlessUser { user in
                try user.importBusybox()
                let data = user.home + "/data"
                #expect(try runCommand("/usr/bin/install", ["-d", "-m", "0755", "-o", user.name, "-g", user.name, data]).succeeded)
                let (u, g) = (user.uid, user.gid)
                let run = try user.berth(["run", "--rm", "--network", "none", "--userns", "keep-id", "-v", data + ":/data", "busybox", "sh", "-c",
                                          "id -u; id -g; id -un; echo $HOME; stat -c %u:%g /bin/busybox /home/app/file; echo hi > /data/mine; touch /tmp/t && echo wrote; cat /proc/self/uid_map"])
                #expect(run.succeeded, "\(run.stderr)")
                let lines = run.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
                #expect(lines == ["\(u)", "\(g)", user.name, user.home, "0:0", "1000:1000", "wrote",
                                  "0 1 \(u)", "\(u) 0 1", "\(u + 1) \(u + 1) \(65536 - u)"], "\(run.stdout)")
                var st = stat()
                #expect(lstat(data + "/mine", &st) == 0 && st.st_uid == u && st.st_gid == g, "owner \(st.st_uid):\(st.st_gid)")
                // Its root is the namespace's uid 1: the first subordinate id on the host.
                #expect(try user.berth(["run", "--rm", "--network", "none", "--userns", "keep-id", "--user", "0", "-v", data + ":/data",
                                        "busybox", "sh", "-c", "echo x > /data/root"]).succeeded)
                #expect(lstat(data + "/root", &st) == 0 && st.st_uid == user.subStart, "owner \(st.st_uid)")
                // No fuse-overlayfs, no mount left behind.
                #expect(try eventually { user.processes() == [user.pausePid].compactMap { $0 } }, "\(user.processes())")
                #expect(user.mountsLeft().isEmpty, "\(user.mountsLeft())")
                let bad = try user.berth(["run", "--rm", "--userns", "keep-id:uid=70000", "busybox", "true"])
                #expect(bad.status == 125 && bad.stderr == "berth: invalid --userns keep-id:uid=70000: uid 70000 is beyond the 65537 ids this user has (/etc/subuid)\n", "\(bad.stderr)")
            }
        }

        /// What a keep-id container changes is committed with the owners it saw (fuse-overlayfs's upper directory
        /// holds the container's ids and its own opaque and whiteout marks), and `diff` lists it.
        @Test func keepIDContainerDiffsAndCommits() throws {
            try withRootlessUser { user in
                try user.importBusybox()
                #expect(try user.berth(["run", "-d", "--name", "kept", "--network", "none", "--userns", "keep-id", "busybox", "sleep", "300"]).succeeded)
                #expect(try user.berth(["exec", "kept", "sh", "-c", "echo x > /tmp/mine"]).succeeded)
                let asRoot = try user.berth(["exec", "--user", "0", "kept", "sh", "-c",
                                             "rm /bin/ls && mkdir /srv && touch /srv/s && chown 5:5 /srv/s && rm -rf /home/app && mkdir /home/app"])
                #expect(asRoot.succeeded, "\(asRoot.stderr)")
                let diff = try user.berth(["diff", "kept"]).stdout.split(separator: "\n").map(String.init)
                for change in ["D /bin/ls", "A /srv", "A /srv/s", "A /tmp/mine", "C /home/app"] { #expect(diff.contains(change), "\(diff)") }
                #expect(!diff.contains { $0.contains(".wh.") }, "\(diff)")
                let commit = try user.berth(["commit", "kept", "kept:1"])
                #expect(commit.succeeded, "\(commit.stderr)")
                #expect(try user.berth(["rm", "-f", "kept"]).succeeded)
                let check = try user.berth(["run", "--rm", "--network", "none", "--user", "0", "kept:1", "sh", "-c",
                                            "stat -c %u:%g /srv/s /tmp/mine; test -e /bin/ls || echo no-ls; ls -A /home/app | wc -l"])
                #expect(check.stdout == "5:5\n\(user.uid):\(user.gid)\nno-ls\n0\n", "\(check.stdout) \(check.stderr)")
                #expect(try user.berth(["rmi", "kept:1"]).succeeded)
                #expect(user.mountsLeft().isEmpty, "\(user.mountsLeft())")
            }
        }
    }
}
