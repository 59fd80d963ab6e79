import Foundation
import Testing
import OCISpec

@Suite("Rootfs: pivot_root, mounts, devices, masked and read-only paths, sysctl")
struct RootfsTests {
    @Test func readonlyRoot() throws {
        let bundle = try Bundle(privateRootfs: true)
        defer { bundle.destroy() }
        bundle.spec.root?.readonly = true
        let result = try bundle.run(["sh", "-c", "touch /newfile 2>&1; echo rc=$?"])
        #expect(result.stdout.contains("Read-only file system"), "\(result.stdout)")
        #expect(!FileManager.default.fileExists(atPath: bundle.rootfs + "/newfile"))
        bundle.spec.root?.readonly = false
        let writable = try bundle.run(["sh", "-c", "touch /newfile && echo ok"])
        #expect(writable.stdout == "ok\n")
    }

    @Test func hostRootIsUnreachableAfterPivot() throws {
        let marker = NSTemporaryDirectory() + "berth-host-marker-\(getpid())"
        FileManager.default.createFile(atPath: marker, contents: Data("host".utf8))
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let bundle = try Bundle()
        defer { bundle.destroy() }
        let result = try bundle.run(["sh", "-c", "cat \(marker) 2>&1; cat /proc/self/mountinfo | wc -l; ls /"])
        #expect(result.stdout.contains("No such file"), "\(result.stdout)")
        #expect(!result.stdout.contains("host\n"))
    }

    @Test func noPivotAlsoWorks() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        try bundle.writeConfig()
        let result = try bundle.runtime(["run", "--no-pivot", "--bundle", bundle.directory, bundle.id])
        #expect(result.succeeded, "\(result.stderr)")
    }

    @Test func bindMountsWithOptions() throws {
        let source = NSTemporaryDirectory() + "berth-bind-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try "from-host".write(toFile: source + "/file", atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: source) }
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.mounts?.append(Spec.Mount(destination: "/data/ro", type: "bind", source: source, options: ["rbind", "ro", "nosuid", "nodev"]))
        bundle.spec.mounts?.append(Spec.Mount(destination: "/data/rw", type: "none", source: source, options: ["bind", "rw"]))
        bundle.spec.mounts?.append(Spec.Mount(destination: "/data/file", type: "bind", source: source + "/file", options: ["bind", "ro"]))
        bundle.spec.mounts?.append(Spec.Mount(destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["size=1m", "mode=700", "noexec"]))
        let script = """
        cat /data/ro/file; echo; touch /data/ro/x 2>&1 | grep -c Read-only; touch /data/rw/written && echo rw-ok; cat /data/file; echo
        grep ' /scratch ' /proc/self/mountinfo | grep -o 'noexec'; grep ' /data/ro ' /proc/self/mountinfo | grep -o 'nosuid,nodev' | head -1
        stat -c %a /scratch
        """
        let result = try bundle.run(["sh", "-c", script])
        #expect(result.succeeded, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines == ["from-host", "1", "rw-ok", "from-host", "noexec", "nosuid,nodev", "700"], "\(lines)")
        #expect(FileManager.default.fileExists(atPath: source + "/written"))
    }

    /// A hostile rootfs: /etc/evil is a symlink pointing far outside. The mount must land inside the rootfs.
    @Test func symlinkInRootfsCannotRedirectAMountToTheHost() throws {
        let hostTarget = NSTemporaryDirectory() + "berth-escape-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: hostTarget, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: hostTarget) }
        let bundle = try Bundle(privateRootfs: true)
        defer { bundle.destroy() }
        try FileManager.default.createSymbolicLink(atPath: bundle.rootfs + "/etc/evil", withDestinationPath: "../../../../../../.." + hostTarget)
        try FileManager.default.createSymbolicLink(atPath: bundle.rootfs + "/etc/evil2", withDestinationPath: hostTarget)
        bundle.spec.mounts?.append(Spec.Mount(destination: "/etc/evil", type: "tmpfs", source: "tmpfs", options: ["size=1m"]))
        bundle.spec.mounts?.append(Spec.Mount(destination: "/etc/evil2/sub", type: "tmpfs", source: "tmpfs", options: ["size=1m"]))
        let result = try bundle.run(["sh", "-c", "touch /etc/evil/inside && echo made"])
        #expect(result.stdout == "made\n", "\(result.stderr)")
        let hostEntries = try FileManager.default.contentsOfDirectory(atPath: hostTarget)
        #expect(hostEntries.isEmpty, "nothing may appear on the host: \(hostEntries)")
        // The symlinks were resolved inside the rootfs instead.
        #expect(FileManager.default.fileExists(atPath: bundle.rootfs + hostTarget))
    }

    @Test func defaultAndConfiguredDevices() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.linux?.devices = [Spec.Device(type: "c", path: "/dev/berth-null", major: 1, minor: 3, fileMode: 0o640, uid: 0, gid: 0)]
        let script = "for d in null zero full random urandom tty berth-null; do stat -c '%n %t:%T %a' /dev/$d; done; echo x > /dev/berth-null && echo write-ok; ls -l /dev/fd /dev/ptmx | wc -l; head -c 4 /dev/zero | wc -c"
        let result = try bundle.run(["sh", "-c", script])
        #expect(result.succeeded, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("/dev/null 1:3 666"))
        #expect(lines.contains("/dev/urandom 1:9 666"))
        #expect(lines.contains("/dev/berth-null 1:3 640"))
        #expect(lines.contains("write-ok"), "the device cgroup allows a listed device")
        #expect(lines.last == "4")
    }

    @Test func deviceCgroupDeniesUnlistedDevices() throws {
        let bundle = try Bundle(privateRootfs: true)
        defer { bundle.destroy() }
        // With CAP_MKNOD the node for /dev/mem (1:1) can be made; the device cgroup still refuses to open it.
        let caps = ["CAP_MKNOD", "CAP_DAC_OVERRIDE"]
        bundle.spec.process?.capabilities = Spec.Capabilities(bounding: caps, effective: caps, permitted: caps)
        let result = try bundle.run(["sh", "-c", "mknod /tmp/mem c 1 1 && echo made; head -c 1 /tmp/mem 2>&1; echo rc=$?"])
        #expect(result.stdout.hasPrefix("made\n"), "\(result.stdout)")
        #expect(result.stdout.contains("Operation not permitted"), "\(result.stdout)")
    }

    @Test func maskedAndReadonlyPaths() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        // A masked file that this kernel has (not every kernel has /proc/kcore).
        // One byte is enough to tell: /proc/kcore is as large as the memory, read whole it can exhaust it.
        let maskedFile = try #require(["/proc/kcore", "/proc/timer_list", "/proc/keys", "/proc/sched_debug"]
            .first { FileHandle(forReadingAtPath: $0).map { $0.readData(ofLength: 1).count == 1 } ?? false })
        bundle.spec.linux?.maskedPaths = [maskedFile, "/sys/firmware"]
        let script = "wc -c < \(maskedFile); ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/ns_last_pid 2>&1; echo rc=$?"
        let result = try bundle.run(["sh", "-c", script])
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "0", "\(maskedFile) is masked by /dev/null: \(lines) \(result.stderr)")
        #expect(lines.dropFirst().first == "0", "/sys/firmware is an empty tmpfs")
        #expect(result.stderr.contains("Read-only file system"), "/proc/sys is read-only: \(result.stderr)")
        bundle.spec.linux?.maskedPaths = []
        let unmasked = try bundle.run(["sh", "-c", "wc -c < \(maskedFile)"])
        #expect(unmasked.stdout != "0\n", "without the mask the file has content")
    }

    @Test func namespacedSysctl() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        let hostValue = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_unprivileged_port_start", encoding: .utf8)
        bundle.spec.linux?.sysctl = ["net.ipv4.ip_unprivileged_port_start": "555", "kernel.shmmni": "1234"]
        let result = try bundle.run(["sh", "-c", "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmni"])
        #expect(result.stdout == "555\n1234\n", "\(result.stderr)")
        #expect(try String(contentsOfFile: "/proc/sys/net/ipv4/ip_unprivileged_port_start", encoding: .utf8) == hostValue)
    }

    @Test func hostSysctlIsRefused() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.linux?.sysctl = ["vm.swappiness": "1"]
        let result = try bundle.create()
        #expect(result.status == 1)
        #expect(errorLine(result).contains("not namespaced"))
        #expect(bundle.leftovers().isEmpty)
    }

    @Test func cgroupFilesystemShowsOnlyTheContainer() throws {
        let bundle = try Bundle(args: ["sh", "-c", "ls /sys/fs/cgroup; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"])
        defer { bundle.destroy() }
        bundle.spec.linux?.resources?.pids = Resources.Pids(limit: 42)
        let result = try bundle.run()
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stdout.hasSuffix("42\n"), "\(result.stdout)")
    }

    /// Without a cgroup namespace, a relative cgroupsPath (under the runtime's own cgroup, as docker's
    /// --cgroup-parent gives) still shows the container its own cgroup, not the host's root.
    @Test func relativeCgroupsPathWithoutCgroupNamespace() throws {
        let bundle = try Bundle(args: ["sh", "-c", "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"])
        defer { bundle.destroy() }
        bundle.spec.linux?.namespaces?.removeAll { $0.type == "cgroup" }
        bundle.spec.linux?.cgroupsPath = "berth-relative-\(bundle.id)"
        bundle.spec.linux?.resources?.pids = Resources.Pids(limit: 43)
        let result = try bundle.run()
        #expect(result.stdout == "43\n", "\(result.stdout) \(result.stderr)")
    }

    @Test func tmpcopyupCopiesWhatWasThere() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.mounts?.append(Spec.Mount(destination: "/etc", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup", "size=1m"]))
        let result = try bundle.run(["sh", "-c", "cat /etc/hostname; stat -c %a /etc; grep ' /etc ' /proc/self/mountinfo | cut -d' ' -f9; touch /etc/new && echo writable"])
        #expect(result.stdout == "berth\n755\ntmpfs\nwritable\n", "\(result.stdout) \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: sharedRootfs + "/etc/new"))
    }

    @Test func mountPropagationOption() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.mounts?.append(Spec.Mount(destination: "/shared", type: "tmpfs", source: "tmpfs", options: ["rshared"]))
        let result = try bundle.run(["sh", "-c", "grep ' /shared ' /proc/self/mountinfo"])
        #expect(result.stdout.contains("shared:"), "\(result.stdout)")
    }
}
