import Foundation
import Testing
import OCISpec

@Suite("Lifecycle: create, start, state, kill, delete, run")
struct LifecycleTests {
    @Test func createStartKillDelete() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        let created = try bundle.create()
        #expect(created.succeeded, "\(created.stderr)")
        let state = try #require(try bundle.state())
        #expect(state.status == .created)
        #expect(state.pid > 0)
        #expect(state.bundle == bundle.directory)
        // The init waits on the exec fifo: it is still the runtime, not sleep.
        let comm = try String(contentsOfFile: "/proc/\(state.pid)/comm", encoding: .utf8)
        #expect(!comm.hasPrefix("sleep"))

        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        #expect(try bundle.state()?.status == .running)
        let running = try String(contentsOfFile: "/proc/\(state.pid)/comm", encoding: .utf8)
        #expect(running.hasPrefix("sleep"))
        #expect(!(try bundle.runtime(["start", bundle.id]).succeeded), "a running container cannot start again")

        #expect(try bundle.runtime(["kill", bundle.id, "KILL"]).succeeded)
        #expect(try bundle.waitForStatus(.stopped))
        #expect(try bundle.runtime(["delete", bundle.id]).succeeded)
        #expect(try bundle.state() == nil)
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    @Test func runReturnsTheExitCodeAndCleansUp() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        let result = try bundle.run(["sh", "-c", "echo out; echo err >&2; exit 7"])
        #expect(result.status == 7)
        #expect(result.stdout == "out\n")
        #expect(result.stderr == "err\n")
        #expect(try bundle.state() == nil, "run removes the container after it exits")
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    @Test func runDetachedWritesPidFile() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        try bundle.writeConfig()
        let pidFile = bundle.directory + "/init.pid"
        let result = try bundle.runtime(["run", "-d", "--pid-file", pidFile, "--bundle", bundle.directory, bundle.id])
        #expect(result.succeeded, "\(result.stderr)")
        let pid = try String(contentsOfFile: pidFile, encoding: .utf8)
        #expect(Int32(pid) == (try bundle.state())?.pid)
        #expect(try bundle.state()?.status == .running)
    }

    @Test func deleteRefusesARunningContainerWithoutForce() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        let refused = try bundle.runtime(["delete", bundle.id])
        #expect(refused.status == 1)
        #expect(errorLine(refused).contains("running"))
        #expect(try bundle.state()?.status == .running)
        #expect(try bundle.runtime(["delete", "--force", bundle.id]).succeeded)
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    @Test func deleteOfACreatedContainerKillsItsInit() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        let pid = try #require(try bundle.state()).pid
        #expect(try bundle.runtime(["delete", bundle.id]).succeeded)
        #expect(kill(pid, 0) != 0 || (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z") == true)
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    @Test func killAcceptsSignalNamesAndNumbers() throws {
        let privateBundle = try Bundle(privateRootfs: true, args: ["sh", "-c", "trap 'echo got-usr1 > /tmp/usr1; exit 0' USR1; while true; do sleep 0.05; done"])
        defer { privateBundle.destroy() }
        #expect(try privateBundle.create().succeeded)
        #expect(try privateBundle.runtime(["start", privateBundle.id]).succeeded)
        usleep(200_000)
        #expect(try privateBundle.runtime(["kill", privateBundle.id, "SIGUSR1"]).succeeded)
        #expect(try privateBundle.waitForStatus(.stopped))
        #expect(FileManager.default.fileExists(atPath: privateBundle.rootfs + "/tmp/usr1"))
        let bad = try privateBundle.runtime(["kill", privateBundle.id, "NOSUCHSIGNAL"])
        #expect(bad.status == 1)
        #expect(errorLine(bad).contains("unknown signal"))
        let stopped = try privateBundle.runtime(["kill", privateBundle.id, "9"])
        #expect(stopped.status == 1, "killing a stopped container is an error, as in runc")
    }

    @Test func killAllReachesEveryProcess() throws {
        let bundle = try Bundle(args: ["sh", "-c", "sleep 100 & sleep 100 & wait"])
        bundle.spec.linux?.namespaces?.removeAll { $0.type == "pid" }
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        usleep(200_000)
        let before = try bundle.runtime(["ps", "--format", "json", bundle.id])
        let pids = try JSONDecoder().decode([Int32].self, from: Data(before.stdout.utf8))
        #expect(pids.count == 3)
        #expect(try bundle.runtime(["kill", "--all", bundle.id, "KILL"]).succeeded)
        #expect(try bundle.waitForStatus(.stopped))
        usleep(100_000)
        for pid in pids { #expect(kill(pid, 0) != 0 || (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z") == true) }
    }

    @Test func listShowsContainersAsTableJSONAndIDs() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        let table = try bundle.runtime(["list"])
        #expect(table.stdout.hasPrefix("ID "))
        #expect(table.stdout.contains(bundle.id))
        #expect(table.stdout.contains("created"))
        let json = try bundle.runtime(["list", "-f", "json"])
        let states = try JSONDecoder().decode([ContainerState].self, from: Data(json.stdout.utf8))
        #expect(states.contains { $0.id == bundle.id && $0.status == .created })
        let quiet = try bundle.runtime(["list", "-q"])
        #expect(quiet.stdout.split(separator: "\n").contains(Substring(bundle.id)))
    }

    @Test func pauseAndResumeFreezeTheContainer() throws {
        let bundle = try Bundle(privateRootfs: true, args: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/counter; done"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        usleep(200_000)
        #expect(try bundle.runtime(["pause", bundle.id]).succeeded)
        #expect(try bundle.state()?.status == .paused)
        usleep(100_000)
        let frozen = try String(contentsOfFile: bundle.rootfs + "/tmp/counter", encoding: .utf8)
        usleep(300_000)
        #expect(try String(contentsOfFile: bundle.rootfs + "/tmp/counter", encoding: .utf8) == frozen, "a frozen loop makes no progress")
        #expect(try bundle.runtime(["resume", bundle.id]).succeeded)
        #expect(try bundle.state()?.status == .running)
        usleep(300_000)
        #expect(try String(contentsOfFile: bundle.rootfs + "/tmp/counter", encoding: .utf8) != frozen)
        #expect(!(try bundle.runtime(["resume", bundle.id]).succeeded), "resume of a running container fails")
    }

    @Test func stoppedAfterTheProcessExits() throws {
        let bundle = try Bundle(args: ["true"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        #expect(try bundle.waitForStatus(.stopped))
        #expect(try bundle.state()?.pid == 0)
        #expect(try bundle.runtime(["delete", bundle.id]).succeeded)
    }
}
