import Foundation
import Testing

/// What a docker user meets in the first hour, where Berth differed from docker and podman: exit codes,
/// refusals and what `diff`, `commit` and `export` leave behind.
extension EngineSuite {
    @Suite struct FirstUseTests {
        @Test func runAndExecOfAMissingOrNonExecutablePathExit127And126() throws {
            let missing = try berth(["run", "--rm", TestEngine.image, "/nonexistent"])
            #expect(missing.status == 127, "\(missing.stderr)")
            let directory = try berth(["run", "--rm", TestEngine.image, "/etc"])
            #expect(directory.status == 126, "\(directory.stderr)")
            let name = uniqueName()
            #expect(try berth(["run", "-d", "--name", name, TestEngine.image, "sleep", "60"]).succeeded)
            defer { _ = try? berth(["rm", "-f", name]) }
            #expect(try berth(["exec", name, "/nonexistent"]).status == 127)
            #expect(try berth(["exec", name, "/etc"]).status == 126)
            // A process that exits 255 itself keeps its code.
            #expect(try berth(["exec", name, "sh", "-c", "exit 255"]).status == 255)
        }

        @Test func rmiRefusesTheLastNameOfAnImageAContainerUses() throws {
            let name2 = uniqueName() + "b"
            let private_ = "firstuse-only-\(getpid()):latest"
            // An image with a single name: commit a container to get one no other test uses.
            #expect(try berth(["create", "--name", name2, TestEngine.image, "true"]).succeeded)
            #expect(try berth(["commit", name2, private_]).succeeded)
            #expect(try berth(["rm", name2]).succeeded)
            let user = uniqueName() + "c"
            #expect(try berth(["create", "--name", user, private_, "true"]).succeeded)
            let refused = try berth(["rmi", private_])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("is using it"), "\(refused.stderr)")
            #expect(try berth(["start", "-a", user]).succeeded)
            #expect(try berth(["rm", user]).succeeded)
            #expect(try berth(["rmi", private_]).succeeded)
        }

        @Test func rmForceOfAMissingContainerSucceedsAndExportLeavesNoFileOnFailure() throws {
            let missing = try berth(["rm", "-f", "no-such-container-\(getpid())"])
            #expect(missing.status == 0, "\(missing.stderr)")
            let file = NSTemporaryDirectory() + "berth-export-\(getpid()).tar"
            let export = try berth(["export", "-o", file, "no-such-container-\(getpid())"])
            #expect(export.status != 0)
            #expect(!FileManager.default.fileExists(atPath: file))
        }

        @Test func diffAndCommitLeaveOutTheEnginesMountpointFiles() throws {
            let name = uniqueName()
            #expect(try berth(["run", "--name", name, TestEngine.image, "sh", "-c", "echo x > /made"]).succeeded)
            defer { _ = try? berth(["rm", "-f", name]) }
            let diff = try berth(["diff", name])
            #expect(diff.stdout.contains("A /made"), "\(diff.stdout)")
            #expect(!diff.stdout.contains("/etc/hosts"), "\(diff.stdout)")
            #expect(!diff.stdout.contains("/etc/resolv.conf"), "\(diff.stdout)")
        }
    }
}
