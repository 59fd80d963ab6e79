import Foundation
import Testing

/// cp, diff, export, update, and terminals (run -t, attach with detach keys).
extension EngineSuite {
    @Suite struct FilesAndTerminalTests {
        @Test func diffCpExportUpdate() throws {
            let name = uniqueName()
            #expect(try berth(["run", "-d", "--name", name, TestEngine.image, "sh", "-c", "echo hi > /new.txt; rm /bin/vi; sleep 1000"]).succeeded)
            #expect(try eventually { try berth(["diff", name]).stdout.contains("A /new.txt") })
            let diff = try berth(["diff", name]).stdout.split(separator: "\n").map(String.init)
            #expect(diff.contains("D /bin/vi"))
            #expect(diff.contains("C /bin"))
            // Host to container and back, and as a tar stream.
            let work = NSTemporaryDirectory() + "berth-cp-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: work) }
            try "from the host\n".write(toFile: work + "/in.txt", atomically: true, encoding: .utf8)
            #expect(try berth(["cp", work + "/in.txt", "\(name):/tmp/"]).succeeded)
            #expect(try berth(["exec", name, "cat", "/tmp/in.txt"]).stdout == "from the host\n")
            #expect(try berth(["cp", "\(name):/new.txt", work + "/out.txt"]).succeeded)
            #expect(try String(contentsOfFile: work + "/out.txt", encoding: .utf8) == "hi\n")
            let stream = try runCommand("/bin/sh", ["-c", "'\(berthBinary)' --root '\(TestEngine.root)' --runroot '\(TestEngine.runroot)' cp \(name):/etc - | tar -tf -"])
            #expect(stream.stdout.contains("etc/group"))
            // A path that climbs out through a symlink stays inside the container.
            #expect(try berth(["exec", name, "ln", "-s", "/../../../../etc", "/escape"]).succeeded)
            #expect(try berth(["cp", "\(name):/escape/hostname", work + "/hostname"]).succeeded)
            #expect(try String(contentsOfFile: work + "/hostname", encoding: .utf8).hasPrefix(String(try inspect(name, "{{.Id}}").prefix(12))))
            let exported = try runCommand("/bin/sh", ["-c", "'\(berthBinary)' --root '\(TestEngine.root)' --runroot '\(TestEngine.runroot)' export \(name) | tar -tf -"])
            #expect(exported.stdout.contains("./new.txt"))
            #expect(!exported.stdout.contains("./bin/vi\n"))
            // update: new limits reach the running container's cgroup.
            #expect(try berth(["update", "--pids-limit", "7", "-m", "64m", name]).succeeded)
            let limits = try berth(["exec", name, "sh", "-c", "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"])
            #expect(limits.stdout == "7\n")
            #expect(try inspect(name, "{{.HostConfig.PidsLimit}} {{.HostConfig.Memory}}") == "7 67108864")
            #expect(try berth(["rm", "-f", name]).succeeded)
        }

        @Test func commitMakesAnImageOfTheChanges() throws {
            let name = uniqueName()
            let image = "committed-\(UInt32.random(in: 0...UInt32.max)):v1"
            #expect(try berth(["run", "--name", name, TestEngine.image, "sh", "-c", "echo kept > /hello.txt; rm /bin/vi"]).succeeded)
            let committed = try berth(["commit", "-c", "CMD [\"cat\", \"/hello.txt\"]", "-m", "a test", name, image])
            #expect(committed.succeeded, "\(committed.stderr)")
            #expect(committed.stdout.hasPrefix("sha256:"))
            #expect(try berth(["run", "--rm", image]).stdout == "kept\n")
            // The deletion travels as a whiteout.
            #expect(try berth(["run", "--rm", image, "sh", "-c", "test -e /bin/vi && echo present || echo gone"]).stdout == "gone\n")
            #expect(try berth(["history", image]).stdout.contains("a test"))
            #expect(try berth(["rm", name]).succeeded)
            #expect(try berth(["rmi", image]).succeeded)
        }

        @Test func runWithATerminal() throws {
            _ = TestEngine.image
            let command = "'\(berthBinary)' --root '\(TestEngine.root)' --runroot '\(TestEngine.runroot)' run --rm -t \(TestEngine.image) sh -c 'tty; exit 5'"
            let result = try runCommand("/usr/bin/script", ["-qec", command, "/dev/null"])
            #expect(result.status == 5, "\(result.stdout) \(result.stderr)")
            #expect(result.stdout.contains("/dev/pts/0"))
        }

        @Test func attachAndDetachWithTheDetachKeys() throws {
            let name = uniqueName()
            #expect(try berth(["run", "-d", "-i", "-t", "--name", name, TestEngine.image, "sh"]).succeeded)
            let attach = "(sleep 0.5; printf 'echo marker-$((6*7))\\n'; sleep 0.5; printf '\\020\\021') | "
                + "'\(berthBinary)' --root '\(TestEngine.root)' --runroot '\(TestEngine.runroot)' attach \(name)"
            let result = try runCommand("/usr/bin/script", ["-qec", attach, "/dev/null"])
            #expect(result.stdout.contains("marker-42"), "\(result.stdout)")
            #expect(try inspect(name, "{{.State.Status}}") == "running")
            #expect(try berth(["logs", name]).stdout.contains("marker-42"))
            #expect(try berth(["rm", "-f", name]).succeeded)
        }
    }
}
