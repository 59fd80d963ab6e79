import Foundation
import Testing
import OCISpec

/// runc's mount behaviours that scripts can see: recursive attributes, read-only tmpfs and /dev, the mode of a
/// tmpfs, --no-pivot without a reachable host proc, and bind sources a user namespace cannot reach.
@Suite("Rootfs: recursive mount attributes, read-only tmpfs and /dev, userns bind sources, --no-pivot")
struct MountAttributeTests {
    /// A source directory with a tmpfs mounted under it, removed again by `cleanup`.
    private func treeWithSubmount() throws -> (source: String, cleanup: () -> Void) {
        let source = NSTemporaryDirectory() + "berth-rtree-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: source + "/sub", withIntermediateDirectories: true)
        #expect(try runCommand("/bin/mount", ["-t", "tmpfs", "tmpfs", source + "/sub"]).succeeded)
        return (source, {
            _ = try? runCommand("/bin/umount", [source + "/sub"])
            try? FileManager.default.removeItem(atPath: source)
        })
    }

    @Test func rroMakesTheWholeRbindTreeReadOnly() throws {
        let (source, cleanup) = try treeWithSubmount()
        defer { cleanup() }
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.mounts?.append(Spec.Mount(destination: "/mnt", type: "bind", source: source, options: ["rbind", "rro", "rnosuid", "rnodev", "rnoexec"]))
        let result = try bundle.run(["sh", "-c", "touch /mnt/x 2>&1; touch /mnt/sub/y 2>&1; grep ' /mnt' /proc/self/mountinfo"])
        #expect(result.succeeded, "\(result.stderr)")
        // `ro` alone would leave /mnt/sub writable: the attributes reach the submount too.
        #expect(result.stdout.components(separatedBy: "Read-only file system").count == 3, "\(result.stdout)")
        let lines = result.stdout.split(separator: "\n").filter { $0.contains(" /mnt") && $0.contains(" - ") }
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.split(separator: " ")[5].hasPrefix("ro,nosuid,nodev,noexec") }, "\(lines)")
        #expect(!FileManager.default.fileExists(atPath: source + "/sub/y"))
    }

    @Test func rrwAndAtimeAttributesApplyToTheTree() throws {
        let (source, cleanup) = try treeWithSubmount()
        defer { cleanup() }
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.mounts?.append(Spec.Mount(destination: "/mnt", type: "bind", source: source, options: ["rbind", "ro", "rrw", "rnoatime"]))
        let result = try bundle.run(["sh", "-c", "touch /mnt/sub/y && grep ' /mnt' /proc/self/mountinfo"])
        #expect(result.succeeded, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").filter { $0.contains(" /mnt") && $0.contains(" - ") }
        #expect(lines.count == 2 && lines.allSatisfy { $0.split(separator: " ")[5].hasPrefix("rw,noatime") }, "\(result.stdout)")
    }

    @Test func readOnlyTmpfsIsReadOnlyPerMountAndKeepsTheCoveredMode() throws {
        let bundle = try Bundle(privateRootfs: true)
        defer { bundle.destroy() }
        try FileManager.default.createDirectory(atPath: bundle.rootfs + "/covered", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o750])
        bundle.spec.mounts?.append(Spec.Mount(destination: "/covered", type: "tmpfs", source: "tmpfs", options: ["ro", "nosuid"]))
        bundle.spec.mounts?.append(Spec.Mount(destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["mode=1777"]))
        let result = try bundle.run(["sh", "-c", "touch /covered/x 2>&1; stat -c %a /covered /scratch; grep ' /covered ' /proc/self/mountinfo"])
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stdout.contains("Read-only file system"))
        let lines = result.stdout.split(separator: "\n").map(String.init)
        // runc's way: the tmpfs takes the mode of what it covers unless mode= says otherwise, and it is made
        // read-only as a mount (the filesystem itself stays rw, so tmpcopyup could fill it first).
        #expect(lines.contains("750") && lines.contains("1777"), "\(lines)")
        let superOptions = lines.last?.components(separatedBy: " - ").last?.split(separator: " ").dropFirst(2).first ?? ""
        #expect(superOptions.hasPrefix("rw"), "\(lines)")
    }

    @Test func readOnlyDevStillGetsItsNodesAndSubmounts() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        if let index = bundle.spec.mounts?.firstIndex(where: { $0.destination == "/dev" }) {
            bundle.spec.mounts?[index].options?.append("ro")
        }
        let result = try bundle.run(["sh", "-c", "touch /dev/x 2>&1; echo hi > /dev/null && ls /dev/pts/ptmx /dev/shm /dev/fd >/dev/null && grep ' /dev ' /proc/self/mountinfo"])
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stdout.contains("Read-only file system"), "\(result.stdout)")
        #expect(result.stdout.split(separator: "\n").last?.split(separator: " ")[5].hasPrefix("ro") == true, "\(result.stdout)")
    }

    /// runc's no_pivot.bats: with --no-pivot the host's mounts stay under the chroot; a full host proc among
    /// them would let the container mount an unmasked proc of its own.
    @Test func noPivotDoesNotExposeABareProc() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.process?.capabilities?.bounding?.append("CAP_SETFCAP")
        bundle.spec.process?.capabilities?.permitted?.append("CAP_SETFCAP")
        bundle.spec.process?.args = ["unshare", "-mrpf", "sh", "-c", "mount -t proc none /proc && echo mounted"]
        try bundle.writeConfig()
        let result = try bundle.runtime(["run", "--no-pivot", "--bundle", bundle.directory, bundle.id])
        #expect(!result.stdout.contains("mounted"), "\(result.stdout)")
        #expect(result.stderr.contains("permission denied"), "\(result.stderr)")
        // The host's own /proc is untouched (the unmount happened in the container's mount namespace).
        #expect(FileManager.default.fileExists(atPath: "/proc/self/status"))
    }

    /// runc's userns.bats: the sources are in 0700 directories that uid 100000 cannot enter; the runtime opens
    /// them with the host's credentials, and exec into the container still sees them.
    @Test func userNamespaceBindsSourcesItCannotReach() throws {
        let bundle = try Bundle(privateRootfs: true)
        defer { bundle.destroy() }
        var mounts: [Spec.Mount] = []
        for index in 1...2 {
            let private_ = bundle.directory + "/inaccessible-\(index)"
            try FileManager.default.createDirectory(atPath: private_ + "/dir", withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: private_ + "/dir/foo.txt", contents: Data("\(index)\n".utf8))
            chmod(private_, 0o700)
            mounts.append(Spec.Mount(destination: "/tmp/mount-\(index)", type: nil, source: "inaccessible-\(index)/dir", options: ["bind"]))
        }
        chmod(bundle.directory, 0o755)
        _ = try runCommand("/bin/chown", ["-R", "100000:100000", bundle.rootfs])
        bundle.spec.mounts?.append(contentsOf: mounts)
        bundle.spec.linux?.namespaces?.append(Spec.Namespace(type: "user"))
        bundle.spec.linux?.uidMappings = [IDMapping(containerID: 0, hostID: 100000, size: 65534)]
        bundle.spec.linux?.gidMappings = [IDMapping(containerID: 0, hostID: 100000, size: 65534)]
        let result = try bundle.run(["cat", "/tmp/mount-1/foo.txt", "/tmp/mount-2/foo.txt"])
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stdout == "1\n2\n")
        bundle.spec.process?.args = ["sleep", "30"]
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        let exec = try bundle.runtime(["exec", bundle.id, "cat", "/tmp/mount-2/foo.txt"])
        #expect(exec.stdout == "2\n", "\(exec.stderr)")
        _ = try bundle.runtime(["delete", "-f", bundle.id])
    }
}
