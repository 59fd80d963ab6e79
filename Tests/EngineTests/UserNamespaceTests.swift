import Foundation
import Testing

/// `--uidmap`/`--gidmap`/`--userns`: a container whose root is an unprivileged host uid, the image shown to it
/// through idmapped layers, and the engine's file commands keeping the ids the container sees.
extension EngineSuite {
    @Suite struct UserNamespaceTests {
        @Test func uidmapMakesRootAnUnprivilegedHostUser() throws {
            let name = uniqueName()
            let run = try berth(["run", "-d", "--name", name, "--uidmap", "0:200000:65536", "-v", "/vol", TestEngine.image, "sleep", "300"])
            #expect(run.succeeded, "\(run.stderr)")
            let id = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            defer { _ = try? berth(["rm", "-f", "-v", name]) }
            // Inside: uid 0 mapped to 200000, the image's files its own, the rootfs and a new volume writable.
            let inside = try berth(["exec", name, "sh", "-c",
                                    "id -u; cat /proc/self/uid_map; stat -c %u /bin/busybox; touch /made /vol/v && stat -c %u /made /vol/v"])
            #expect(inside.succeeded, "\(inside.stderr)")
            let lines = inside.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
            #expect(lines == ["0", "0 200000 65536", "0", "0", "0"])
            // On the host the container's process and what it wrote belong to uid 200000; the image is untouched.
            let pid = try inspect(name, "{{.State.Pid}}")
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            #expect(status.split(separator: "\n").first { $0.hasPrefix("Uid:") }?.split(separator: "\t").dropFirst().first == "200000")
            let upper = TestEngine.root + "/containers/\(id)/bundle/overlay/upper"
            #expect(try FileManager.default.attributesOfItem(atPath: upper + "/made")[.ownerAccountID] as? UInt == 200000)
            // The container's user namespace is its own, not the host's.
            #expect(try String(contentsOfFile: "/proc/\(pid)/uid_map", encoding: .utf8).contains("200000"))
            // cp in: root's copy belongs to the container's root; export and commit carry the container's ids.
            let file = NSTemporaryDirectory() + "berth-userns-\(UUID().uuidString)"
            try "copied\n".write(toFile: file, atomically: true, encoding: .utf8)
            defer { unlink(file) }
            #expect(try berth(["cp", file, "\(name):/copied"]).succeeded)
            #expect(try berth(["exec", name, "stat", "-c", "%u:%g", "/copied"]).stdout == "0:0\n")
            let listing = try runCommand("/bin/sh", ["-c", "'\(berthBinary)' --root '\(TestEngine.root)' --runroot '\(TestEngine.runroot)' export \(name) | tar -tvf - ./made ./copied"])
            #expect(listing.stdout.split(separator: "\n").allSatisfy { $0.contains(" 0/0 ") }, "\(listing.stdout)")
            let image = "userns-commit-\(UInt32.random(in: 0...UInt32.max)):1"
            #expect(try berth(["commit", name, image]).succeeded)
            defer { _ = try? berth(["rmi", image]) }
            #expect(try berth(["run", "--rm", image, "stat", "-c", "%u", "/made"]).stdout == "0\n")
            // The idmapped helper mounts were detached at once (overlayfs keeps its own clones of its layers);
            // after rm nothing of the container is left.
            let mountPoints = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
                .split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst(4).first }
            #expect(!mountPoints.contains { $0.contains("\(id)/bundle/idmapped") })
            #expect(try berth(["rm", "-f", "-v", name]).succeeded)
            #expect(leftovers(of: id).isEmpty, "\(leftovers(of: id))")
        }

        @Test func userNamespaceSurvivesARestart() throws {
            let name = uniqueName()
            #expect(try berth(["run", "--name", name, "--uidmap", "0:300000:65536", "--gidmap", "0:310000:65536", TestEngine.image,
                               "sh", "-c", "cat /kept 2>/dev/null; echo kept > /kept"]).succeeded)
            defer { _ = try? berth(["rm", "-f", name]) }
            // Unmounted as after a reboot, then started again: the rootfs is idmapped again, the change kept.
            let id = try inspect(name, "{{.Id}}")
            _ = try runCommand("/bin/umount", [TestEngine.root + "/containers/\(id)/bundle/rootfs"])
            let again = try berth(["start", "-a", name])
            #expect(again.succeeded, "\(again.stderr)")
            #expect(again.stdout == "kept\n")
            let result = try berth(["run", "--rm", "--uidmap", "0:300000:65536", "--gidmap", "0:310000:65536", TestEngine.image,
                                    "sh", "-c", "id -g; cat /proc/self/gid_map"])
            #expect(result.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") } == ["0", "0 310000 65536"])
            #expect(try inspect(name, "{{json .HostConfig.IDMappings}}") == #"{"GidMap":["0:310000:65536"],"UidMap":["0:300000:65536"]}"#)
        }

        @Test func userNamespaceAutoGivesEachContainerItsOwnRange() throws {
            // podman's convention: --userns=auto takes ids from the subordinate ranges of the user "containers".
            let files = ["/etc/subuid", "/etc/subgid"]
            let saved = files.map { try? String(contentsOfFile: $0, encoding: .utf8) }
            defer {
                for (file, text) in zip(files, saved) {
                    if let text { try? text.write(toFile: file, atomically: true, encoding: .utf8) } else { unlink(file) }
                }
            }
            let others = saved.map { ($0 ?? "").split(separator: "\n").filter { !$0.hasPrefix("containers:") }.map { $0 + "\n" }.joined() }
            for (file, text) in zip(files, others) { try text.write(toFile: file, atomically: true, encoding: .utf8) }
            let missing = try berth(["create", "--userns", "auto", TestEngine.image, "true"])
            #expect(missing.status == 125)
            #expect(missing.stderr.contains("cannot find mappings for user \"containers\" in /etc/subuid"))
            for (file, text) in zip(files, others) {
                try (text + "containers:400000:131072\n").write(toFile: file, atomically: true, encoding: .utf8)
            }
            let first = uniqueName(), second = uniqueName(), third = uniqueName()
            defer { _ = try? berth(["rm", "-f", first, second, third]) }
            #expect(try berth(["create", "--name", first, "--userns", "auto", TestEngine.image, "true"]).succeeded)
            #expect(try berth(["create", "--name", second, "--userns", "auto", TestEngine.image, "true"]).succeeded)
            #expect(try inspect(first, "{{index .HostConfig.IDMappings.UidMap 0}}") == "0:400000:65536")
            #expect(try inspect(second, "{{index .HostConfig.IDMappings.UidMap 0}}") == "0:465536:65536")
            let full = try berth(["create", "--name", third, "--userns", "auto", TestEngine.image, "true"])
            #expect(full.status == 125)
            #expect(full.stderr.contains("no free range of 65536 ids"))
        }

        @Test func badMappingsAreRefused() throws {
            for (arguments, message) in [
                (["--uidmap", "1:100000:10"], "container id 0 must be mapped"),
                (["--uidmap", "0:100000"], "use CONTAINER_ID:HOST_ID:SIZE"),
                (["--uidmap", "0:100000:10", "--uidmap", "5:200000:10"], "overlap"),
                (["--userns", "keep-id"], "keep-id is only supported in rootless mode"),
                (["--userns", "bogus"], "invalid --userns bogus"),
            ] {
                let before = try berth(["ps", "-aq"]).stdout
                let result = try berth(["create"] + arguments + [TestEngine.image, "true"])
                #expect(result.status == 125, "\(arguments)")
                #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
                #expect(try berth(["ps", "-aq"]).stdout == before)
            }
        }
    }
}
