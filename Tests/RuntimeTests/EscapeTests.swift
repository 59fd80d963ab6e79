import Foundation
import Testing
import OCISpec

/// A copy of berth-runtime in a directory of its own: if an attack ever succeeds it overwrites this copy, not the
/// build's binary that every other test uses.
final class RuntimeCopy {
    let directory = NSTemporaryDirectory() + "berth-runtime-copy-\(UInt32.random(in: 0...UInt32.max))"
    var binary: String { directory + "/berth-runtime" }

    init() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let copied = try runCommand("/bin/cp", [runtimeBinary, binary])
        precondition(copied.succeeded, copied.stderr)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func sha256() throws -> String {
        String(try runCommand("/usr/bin/sha256sum", [binary]).stdout.prefix(64))
    }

    func run(_ bundle: Bundle, _ arguments: [String], timeout: TimeInterval = 60) throws -> CommandResult {
        try runCommand(binary, ["--root", bundle.stateRoot] + arguments, timeout: timeout)
    }
}

/// Known container escapes, each attempted from inside a real container; each test then checks on the host
/// that the attack got nowhere (the binary's hash, the file outside, the mount table).
@Suite("Escapes: attacks from inside a container leave the host untouched")
struct EscapeTests {
    // MARK: CVE-2019-5736: the runtime binary through /proc/self/exe

    /// The attacker, run as a container's init: waits for a process of the container that is not busybox (the runtime
    /// binary, re-executed through `/proc/self/exe`, held in its open of the fifo), opens its exe, lets it go on and
    /// exit, then tries again and again to write the binary through the fd, as the published exploit does.
    static let overwriteAttack = """
        mkfifo /tmp/hold
        while :; do
          for p in /proc/[0-9]*; do
            t=$(readlink $p/exe 2>/dev/null) || continue
            [ -n "$t" ] && [ "$t" != /bin/busybox ] && { pid=${p#/proc/}; break 2; }
          done
          sleep 0.02
        done
        echo "found $pid $t" > /tmp/status
        exec 3< /proc/$pid/exe && echo opened >> /tmp/status
        cat /tmp/hold > /dev/null &
        i=0
        while [ $i -lt 150 ]; do
          if echo PWNED 2>> /tmp/errors >> /proc/self/fd/3; then echo WRITTEN >> /tmp/status; break; fi
          i=$((i + 1)); sleep 0.02
        done
        tail -1 /tmp/errors >> /tmp/status; echo finished >> /tmp/status
        sleep 1000
        """

    func waitForFile(_ path: String, containing text: String, timeout: TimeInterval = 20) -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var content = ""
        while Date() < deadline {
            content = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            if content.contains(text) { break }
            usleep(20_000)
        }
        return content
    }

    /// The exploit's own shape: an `exec` whose program is `#!/proc/self/exe`, so the exec'ing runtime runs itself
    /// again inside the container, where the container's root can open it.
    @Test func execThroughProcSelfExeCannotOverwriteTheRuntime() throws {
        let copy = try RuntimeCopy()
        let hashBefore = try copy.sha256()
        let bundle = try Bundle(privateRootfs: true, args: ["sh", "-c", Self.overwriteAttack])
        defer { _ = try? copy.run(bundle, ["delete", "--force", bundle.id]); bundle.destroy() }
        // The global flag makes the hijacked runtime block in the fifo's open until the attacker has its exe.
        try "#!/proc/self/exe --log=/tmp/hold\n".write(toFile: bundle.rootfs + "/evil", atomically: true, encoding: .utf8)
        chmod(bundle.rootfs + "/evil", 0o755)
        try bundle.writeConfig()
        #expect(try copy.run(bundle, ["create", "--bundle", bundle.directory, bundle.id]).succeeded)
        #expect(try copy.run(bundle, ["start", bundle.id]).succeeded)
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: bundle.rootfs + "/tmp/hold") && Date() < deadline { usleep(20_000) }
        _ = try copy.run(bundle, ["exec", bundle.id, "/evil"], timeout: 30)
        let status = waitForFile(bundle.rootfs + "/tmp/status", containing: "finished")
        #expect(status.contains("opened"), "the attack must get as far as holding the binary: \(status)")
        #expect(!status.contains("WRITTEN"), "\(status)")
        #expect(status.contains("Read-only file system"), "\(status)")
        #expect(try copy.sha256() == hashBefore)
    }

    /// `process.args` naming `/proc/self/exe` directly: the init itself becomes the runtime binary; the attacker
    /// is a second container in the same pid namespace and on the same rootfs.
    @Test func initThroughProcSelfExeCannotOverwriteTheRuntime() throws {
        let copy = try RuntimeCopy()
        let hashBefore = try copy.sha256()
        let attacker = try Bundle(privateRootfs: true, args: ["sh", "-c", Self.overwriteAttack])
        defer { _ = try? copy.run(attacker, ["delete", "--force", attacker.id]); attacker.destroy() }
        try attacker.writeConfig()
        #expect(try copy.run(attacker, ["create", "--bundle", attacker.directory, attacker.id]).succeeded)
        #expect(try copy.run(attacker, ["start", attacker.id]).succeeded)
        let attackerPid = try #require(try attacker.state()).pid
        let victim = try Bundle(args: ["/proc/self/exe", "--log=/tmp/hold", "x"])
        defer { _ = try? copy.run(victim, ["delete", "--force", victim.id]); victim.destroy() }
        victim.spec.root = Spec.Root(path: attacker.rootfs, readonly: false)
        let namespaces = victim.spec.linux?.namespaces?.map {
            $0.type == "pid" ? Spec.Namespace(type: "pid", path: "/proc/\(attackerPid)/ns/pid") : $0
        }
        victim.spec.linux?.namespaces = namespaces
        try victim.writeConfig()
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: attacker.rootfs + "/tmp/hold") && Date() < deadline { usleep(20_000) }
        _ = try copy.run(victim, ["run", "--bundle", victim.directory, victim.id], timeout: 30)
        let status = waitForFile(attacker.rootfs + "/tmp/status", containing: "finished")
        #expect(status.contains("opened"), "the attack must get as far as holding the binary: \(status)")
        #expect(!status.contains("WRITTEN"), "\(status)")
        #expect(try copy.sha256() == hashBefore)
    }

    /// Before its execve the init is the runtime binary too; undumpable, it cannot be opened at all.
    @Test func initBeforeExecCannotBeOpened() throws {
        let copy = try RuntimeCopy()
        let hashBefore = try copy.sha256()
        let bundle = try Bundle(privateRootfs: true, args: ["sleep", "100"])
        defer { _ = try? copy.run(bundle, ["delete", "--force", bundle.id]); bundle.destroy() }
        try bundle.writeConfig()
        #expect(try copy.run(bundle, ["create", "--bundle", bundle.directory, bundle.id]).succeeded)
        let attack = "cat /proc/1/exe > /dev/null 2>&1 && echo OPENED; (echo x >> /proc/1/exe) 2>/dev/null && echo WRITTEN; echo done"
        let result = try copy.run(bundle, ["exec", bundle.id, "sh", "-c", attack])
        #expect(result.stdout == "done\n", "status \(result.status): \(result.stdout) \(result.stderr)")
        #expect(try copy.sha256() == hashBefore)
    }

    // MARK: CVE-2024-21626: a host directory through a leaked fd as the cwd

    /// runc leaked an fd of a host cgroup directory into the init, and `process.cwd: /proc/self/fd/7` put the
    /// container's process into the host's filesystem. Whatever fds the runtime holds while it sets up, a cwd
    /// outside the container's root is refused.
    @Test func cwdThroughAnInheritedFdIsRefused() throws {
        let marker = "escape-\(UInt32.random(in: 0...UInt32.max))"
        let bundle = try Bundle(args: ["true"])
        defer { bundle.destroy() }
        for fd in 3...12 {
            bundle.spec.process?.cwd = "/proc/self/fd/\(fd)"
            let result = try bundle.run(["sh", "-c", "echo cwd=$(pwd); touch \(marker) 2>/dev/null; ls -a ../../../.. | head -3"])
            #expect(!result.stdout.contains("unreachable"), "fd \(fd): \(result.stdout)")
            if !result.succeeded { #expect(errorLine(result).hasPrefix("berth: "), "fd \(fd): \(result.stderr)") }
            _ = try? bundle.runtime(["delete", "--force", bundle.id])
        }
        let found = try runCommand("/usr/bin/find", [bundle.stateRoot, bundle.directory, "/sys/fs/cgroup", "-maxdepth", "6", "-name", marker])
        #expect(found.stdout.isEmpty, "nothing may be made on the host: \(found.stdout)")
    }

    /// The state directory's fd is held through the whole setup (it reopens the exec fifo): as a cwd it names a
    /// host directory, so this is the one that would really escape. Found by its number, not guessed.
    @Test func cwdThroughTheStateDirectoryFdIsRefused() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        let pid = try #require(try bundle.state()).pid
        let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")
        let stateFd = try #require(fds.first { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) == bundle.stateRoot + "/" + bundle.id },
                                   "the created init holds its state directory: \(fds)")
        _ = try bundle.runtime(["delete", "--force", bundle.id])
        bundle.spec.process?.cwd = "/proc/self/fd/\(stateFd)"
        bundle.spec.process?.args = ["sh", "-c", "pwd; ls"]
        let result = try bundle.create()
        #expect(result.status != 0, "\(result.stdout)")
        #expect(result.stderr.contains("current working directory is outside of container mount namespace root"), "\(result.stderr)")
        #expect(!result.stdout.contains("state.json"))
        #expect(bundle.leftovers().isEmpty)
    }

    @Test func execCwdThroughAnInheritedFdIsRefused() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        for fd in 3...12 {
            let result = try bundle.runtime(["exec", "--cwd", "/proc/self/fd/\(fd)", bundle.id, "sh", "-c", "pwd; ls -a"])
            #expect(!result.stdout.contains("unreachable"), "fd \(fd): \(result.stdout)")
            #expect(!result.stdout.contains("state.json") && !result.stdout.contains("cgroup.procs"), "fd \(fd): \(result.stdout)")
        }
    }

    /// Only stdio reaches the container's init (looked at from the host: a lister inside would open a directory fd of its own).
    @Test func onlyStdioReachesTheContainer() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        let pid = try #require(try bundle.state()).pid
        #expect(try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").sorted() == ["0", "1", "2"])
    }

    // MARK: CVE-2019-16884: /proc or /sys a symlink in the rootfs

    @Test(arguments: [("proc", "/proc"), ("sysfs", "/sys")])
    func procOrSysThatIsASymlinkIsRefused(type: String, destination: String) throws {
        let bundle = try Bundle(privateRootfs: true)
        defer { bundle.destroy() }
        let real = bundle.rootfs + destination
        _ = try runCommand("/bin/rm", ["-rf", real])
        try FileManager.default.createDirectory(atPath: bundle.rootfs + "/fake", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: real, withDestinationPath: "fake")
        let result = try bundle.run(["true"])
        #expect(result.status == 1)
        #expect(errorLine(result).hasPrefix("berth: "), "\(result.stderr)")
        #expect(errorLine(result).contains("filesystem \"\(type)\" must be mounted on ordinary directory"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: bundle.rootfs + "/fake").isEmpty)
        #expect(bundle.leftovers().isEmpty)
    }

    // MARK: CVE-2021-30465: a mount destination swapped for a symlink during setup

    /// Another container sharing a volume renames a symlink to the host's / in and out over the directory this
    /// container mounts a tmpfs on, with renameat2(RENAME_EXCHANGE) as the exploit does (from the host here: busybox
    /// has no renameat2; the directory the swaps happen in is the same). However the race falls, the tmpfs lands
    /// inside the rootfs: the host directory the symlink names stays empty and unmounted.
    @Test func mountDestinationSwappedForASymlinkStaysInside() throws {
        let work = NSTemporaryDirectory() + "berth-swap-\(UInt32.random(in: 0...UInt32.max))"
        let volume = work + "/volume", hostTarget = work + "/host-target"
        try FileManager.default.createDirectory(atPath: volume + "/mnt", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: hostTarget, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: volume + "/link", withDestinationPath: hostTarget)
        defer { _ = try? runCommand("/bin/rm", ["-rf", work]) }
        let swapper = """
            import ctypes, os, sys, time
            libc = ctypes.CDLL(None, use_errno=True)
            a, b, until = sys.argv[1].encode(), sys.argv[2].encode(), time.time() + float(sys.argv[3])
            while time.time() < until:
                libc.renameat2(-100, a, -100, b, 2)
            """
        let swapperPid = try spawnInBackground("/usr/bin/python3", ["-c", swapper, volume + "/mnt", volume + "/link", "120"])
        defer { kill(swapperPid, SIGKILL); var status: Int32 = 0; waitpid(swapperPid, &status, 0) }
        let hostMountsBefore = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8).split(separator: "\n").filter { $0.contains(work) }
        let bundle = try Bundle(privateRootfs: true)
        defer { bundle.destroy() }
        bundle.spec.mounts?.append(Spec.Mount(destination: "/v", type: "bind", source: volume, options: ["rbind"]))
        bundle.spec.mounts?.append(Spec.Mount(destination: "/v/mnt", type: "tmpfs", source: "tmpfs", options: ["size=1m"]))
        let started = Date()
        var runs = 0, mountedInside = 0
        // At least 8 s and at least 5 runs, however slow the machine (a cgroup-v2 kernel under qemu is slow).
        while runs < 5 || Date().timeIntervalSince(started) < 8 {
            let result = try bundle.run(["sh", "-c", "touch /v/mnt/written-by-container 2>/dev/null; grep -c ' tmpfs tmpfs ' /proc/self/mountinfo"])
            runs += 1
            if result.succeeded { mountedInside += 1 }
            _ = try? bundle.runtime(["delete", "--force", bundle.id])
            #expect(try FileManager.default.contentsOfDirectory(atPath: hostTarget).isEmpty, "run \(runs): \(result.stdout)")
        }
        kill(swapperPid, SIGKILL)
        let hostMountsAfter = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8).split(separator: "\n").filter { $0.contains(work) }
        #expect(mountedInside > 0)
        #expect(hostMountsAfter == hostMountsBefore, "no mount may appear on the host: \(hostMountsAfter)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: hostTarget).isEmpty)
        #expect(bundle.leftovers().isEmpty)
    }

    // MARK: /proc/sys, /sys and the other host knobs

    /// The classic breakouts through host knobs: core_pattern and uevent_helper name programs the host kernel runs
    /// as root. With runc's default config (berth-runtime spec) every write is refused and the host keeps its values.
    @Test func hostKernelKnobsAreReadOnly() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        let knobs = ["/proc/sys/kernel/core_pattern", "/sys/kernel/uevent_helper", "/proc/sys/vm/overcommit_ratio"]
        let before = knobs.map { try? String(contentsOfFile: $0, encoding: .utf8) }
        defer {
            // Put back anything the attack did manage to change, so a failure does not leave the host damaged.
            for (knob, value) in zip(knobs, before) where (try? String(contentsOfFile: knob, encoding: .utf8)) != value {
                if let value { try? value.write(toFile: knob, atomically: false, encoding: .utf8) }
            }
        }
        let script = """
            echo '|/tmp/evil' > /proc/sys/kernel/core_pattern && echo core_pattern-WRITTEN
            echo /tmp/evil > /sys/kernel/uevent_helper && echo uevent_helper-WRITTEN
            echo 77 > /proc/sys/vm/overcommit_ratio && echo overcommit-WRITTEN
            echo h > /proc/sysrq-trigger && echo sysrq-WRITTEN
            mount -o remount,rw /sys 2>/dev/null && echo sys-REMOUNTED
            mount -o remount,rw /proc/sys 2>/dev/null && echo procsys-REMOUNTED
            echo done
            """
        let result = try bundle.run(["sh", "-c", script])
        #expect(result.stdout == "done\n", "\(result.stdout)")
        #expect(result.stderr.contains("Read-only file system"), "\(result.stderr)")
        #expect(knobs.map { try? String(contentsOfFile: $0, encoding: .utf8) } == before)
    }
}
