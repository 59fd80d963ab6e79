import Foundation
import Testing
import OCISpec

@Suite("Namespaces: new ones differ from the host's, joined ones are shared, and they behave")
struct NamespaceTests {
    /// Starts `sleep` in a created+started container and returns its init pid.
    func startSleeping(_ bundle: Bundle) throws -> Int32 {
        bundle.spec.process?.args = ["sleep", "100"]
        let created = try bundle.create()
        try #require(created.succeeded, "\(created.stderr)")
        try #require(try bundle.runtime(["start", bundle.id]).succeeded)
        return try #require(try bundle.state()).pid
    }

    @Test(arguments: ["pid", "net", "ipc", "uts", "mnt", "cgroup"])
    func classicNamespacesAreNew(_ kind: String) throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        // runc's default config (and so `spec`) has a cgroup namespace only on cgroup2-only hosts.
        if kind == "cgroup" { bundle.addCgroupNamespace() }
        let pid = try startSleeping(bundle)
        let host = try #require(namespaceInode(getpid(), kind))
        let container = try #require(namespaceInode(pid, kind))
        #expect(host != container, "\(kind) namespace should be the container's own")
    }

    @Test func loopbackIsUpInANewNetworkNamespace() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        let result = try bundle.run(["ip", "-o", "link", "show", "lo"])
        #expect(result.stdout.contains("<LOOPBACK,UP,LOWER_UP>"), "\(result.stdout) \(result.stderr)")
    }

    @Test func withoutANamespaceTheHostsIsShared() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.linux?.namespaces?.removeAll { $0.type == "ipc" || $0.type == "network" }
        let pid = try startSleeping(bundle)
        #expect(namespaceInode(pid, "ipc") == namespaceInode(getpid(), "ipc"))
        #expect(namespaceInode(pid, "net") == namespaceInode(getpid(), "net"))
    }

    /// runc runs a config without a mount namespace by a chroot into the rootfs (no pivot_root); so do
    /// we, in the host's mount namespace, without mounting anything there. Mounts that would outlive the
    /// container on the host are refused.
    @Test func withoutAMountNamespaceTheRootfsIsAChroot() throws {
        let bundle = try Bundle(privateRootfs: true)
        defer { bundle.destroy() }
        bundle.spec.linux?.namespaces?.removeAll { $0.type == "mount" }
        let refused = try bundle.create()
        #expect(refused.status == 1)
        #expect(errorLine(refused).contains("field mounts"), "\(refused.stderr)")
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")

        bundle.spec.mounts = []
        bundle.spec.linux?.maskedPaths = nil
        bundle.spec.linux?.readonlyPaths = nil
        bundle.spec.root?.readonly = false
        try "in the rootfs\n".write(toFile: bundle.rootfs + "/berth-marker", atomically: false, encoding: .utf8)
        let pid = try startSleeping(bundle)
        #expect(namespaceInode(pid, "mnt") == namespaceInode(getpid(), "mnt"))
        let root = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/root")
        #expect(URL(fileURLWithPath: root).standardizedFileURL.path == URL(fileURLWithPath: bundle.rootfs).standardizedFileURL.path)
        // exec has no mount namespace to join: it enters the init's root the same way
        let exec = try bundle.runtime(["exec", bundle.id, "cat", "/berth-marker"])
        #expect(exec.succeeded, "\(exec.stderr)")
        #expect(exec.stdout == "in the rootfs\n")
        // (others' containers may mount meanwhile: only ours is looked for)
        #expect(!(try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)).contains(bundle.directory), "nothing was mounted on the host")
        #expect(try bundle.runtime(["delete", "--force", bundle.id]).succeeded)
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    @Test func behaviourInsideTheNamespaces() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.hostname = "inside"
        bundle.spec.domainname = "example.test"
        bundle.addCgroupNamespace()
        let script = "hostname; cat /proc/sys/kernel/domainname; echo pid=$$; ps -o pid,comm | wc -l; ip -o link | wc -l; ipcs -q | grep -c 0x || true; cat /proc/self/cgroup | head -1"
        let result = try bundle.run(["sh", "-c", script])
        #expect(result.succeeded, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 7, "\(result.stdout)")
        #expect(lines[0] == "inside")
        #expect(lines[1] == "example.test")
        #expect(lines[2] == "pid=1", "the container's process is pid 1 of its own pid namespace")
        #expect(Int(lines[3].trimmingCharacters(in: .whitespaces)) ?? 99 <= 4, "ps sees only the container's processes: \(lines[3])")
        #expect(lines[4].trimmingCharacters(in: .whitespaces) == "1", "a new network namespace has only lo")
        #expect(lines[6].hasSuffix(":/"), "a new cgroup namespace shows / as the own cgroup: \(lines[6])")
    }

    @Test func userNamespaceMapsRootToAnUnprivilegedHostUser() throws {
        let bundle = try Bundle(privateRootfs: true, args: ["sh", "-c", "id -u; cat /proc/self/uid_map; touch /tmp/made-inside; sleep 100"])
        defer { bundle.destroy() }
        _ = try runCommand("/bin/chown", ["-R", "100000:100000", bundle.rootfs])
        bundle.spec.linux?.namespaces?.append(Spec.Namespace(type: "user"))
        bundle.spec.linux?.uidMappings = [IDMapping(containerID: 0, hostID: 100000, size: 65536)]
        bundle.spec.linux?.gidMappings = [IDMapping(containerID: 0, hostID: 100000, size: 65536)]
        // sysfs cannot be mounted without owning the network namespace's user namespace: it is there.
        let created = try bundle.create()
        try #require(created.succeeded, "\(created.stderr)")
        let pid = try #require(try bundle.state()).pid
        #expect(namespaceInode(pid, "user") != namespaceInode(getpid(), "user"))
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        usleep(300_000)
        var st = stat()
        #expect(stat(bundle.rootfs + "/tmp/made-inside", &st) == 0)
        #expect(st.st_uid == 100000, "root inside is uid 100000 outside")
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        #expect(status.contains("Uid:\t100000"), "the host sees the container's root as 100000")
    }

    @Test func joiningAnotherContainersNamespacesByPath() throws {
        let first = try Bundle()
        defer { first.destroy() }
        let firstPid = try startSleeping(first)
        let second = try Bundle()
        defer { second.destroy() }
        for kind in ["network", "ipc", "uts"] {
            let proc = kind == "network" ? "net" : kind
            second.spec.linux?.namespaces?.removeAll { $0.type == kind }
            second.spec.linux?.namespaces?.append(Spec.Namespace(type: kind, path: "/proc/\(firstPid)/ns/\(proc)"))
        }
        second.spec.linux?.namespaces?.removeAll { $0.type == "pid" }
        second.spec.linux?.namespaces?.append(Spec.Namespace(type: "pid", path: "/proc/\(firstPid)/ns/pid"))
        second.spec.hostname = nil
        let secondPid = try startSleeping(second)
        for kind in ["net", "ipc", "uts", "pid"] {
            #expect(namespaceInode(secondPid, kind) == namespaceInode(firstPid, kind), "\(kind) is shared")
        }
        #expect(namespaceInode(secondPid, "mnt") != namespaceInode(firstPid, "mnt"), "mount namespace is its own")
        let ps = try second.runtime(["exec", second.id, "ps", "-o", "comm"])
        #expect(ps.stdout.split(separator: "\n").filter { $0 == "sleep" }.count == 2, "both sleeps in one pid namespace: \(ps.stdout)")
    }

    @Test func joinedNetworkWithANewUserNamespaceTakesTheStagedPath() throws {
        let first = try Bundle()
        defer { first.destroy() }
        let firstPid = try startSleeping(first)
        let second = try Bundle(privateRootfs: true)
        defer { second.destroy() }
        _ = try runCommand("/bin/chown", ["-R", "200000:200000", second.rootfs])
        second.spec.linux?.namespaces?.removeAll { $0.type == "network" }
        second.spec.linux?.namespaces?.append(Spec.Namespace(type: "network", path: "/proc/\(firstPid)/ns/net"))
        second.spec.linux?.namespaces?.append(Spec.Namespace(type: "user"))
        second.spec.linux?.uidMappings = [IDMapping(containerID: 0, hostID: 200000, size: 65536)]
        second.spec.linux?.gidMappings = [IDMapping(containerID: 0, hostID: 200000, size: 65536)]
        // Without owning the network namespace, sysfs comes from the host (bind, read-only).
        let secondPid = try startSleeping(second)
        #expect(namespaceInode(secondPid, "net") == namespaceInode(firstPid, "net"))
        #expect(namespaceInode(secondPid, "user") != namespaceInode(getpid(), "user"))
        let inside = try second.runtime(["exec", second.id, "sh", "-c", "echo $$; id -u"])
        #expect(inside.stdout.split(separator: "\n").last == "0", "\(inside.stdout) \(inside.stderr)")
        #expect(try String(contentsOfFile: "/proc/\(secondPid)/status", encoding: .utf8).contains("Uid:\t200000"))
    }

    @Test func timeNamespaceOffsetsTheClocks() throws {
        guard FileManager.default.fileExists(atPath: "/proc/self/ns/time") else { return }
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.linux?.namespaces?.append(Spec.Namespace(type: "time"))
        bundle.spec.linux?.timeOffsets = ["boottime": Spec.TimeOffset(secs: 86400 * 365, nanosecs: 0)]
        let result = try bundle.run(["cat", "/proc/uptime"])
        #expect(result.succeeded, "\(result.stderr)")
        let inside = Double(result.stdout.split(separator: " ").first ?? "") ?? 0
        let host = Double((try String(contentsOfFile: "/proc/uptime", encoding: .utf8)).split(separator: " ").first ?? "") ?? 0
        #expect(inside - host > 86400 * 364, "boottime is a year ahead inside: \(inside) vs \(host)")
    }
}
