import Foundation
import Testing

/// `berth run` and the container lifecycle, with real containers on a busybox image.
extension EngineSuite {
    @Suite struct LifecycleTests {
        @Test func runPrintsOutputAndReturnsTheExitCode() throws {
            let name = uniqueName()
            let result = try berth(["run", "--name", name, TestEngine.image, "sh", "-c", "echo out; echo err >&2; exit 3"])
            #expect(result.status == 3)
            #expect(result.stdout == "out\n")
            #expect(result.stderr == "err\n")
            #expect(try inspect(name, "{{.State.Status}} {{.State.ExitCode}}") == "exited 3")
            let logs = try berth(["logs", name])
            #expect(logs.stdout == "out\n")
            #expect(logs.stderr == "err\n")
            let id = try inspect(name, "{{.Id}}")
            #expect(try berth(["rm", name]).succeeded)
            #expect(leftovers(of: id).isEmpty)
        }

        @Test func runRmLeavesNothing() throws {
            let name = uniqueName()
            let result = try berth(["run", "--rm", "--name", name, TestEngine.image, "echo", "hi"])
            #expect(result.succeeded, "\(result.stderr)")
            #expect(result.stdout == "hi\n")
            let ps = try berth(["ps", "-a", "--format", "{{.Names}}"])
            #expect(!ps.stdout.contains(name))
            #expect(try berth(["inspect", name]).status != 0)
        }

        @Test func detachedContainerStopsWithItsStopSignalAndSaysWhy() throws {
            let name = uniqueName()
            let started = try berth(["run", "-d", "--name", name, TestEngine.image, "sh", "-c",
                                     "trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 0.1; done"])
            #expect(started.succeeded, "\(started.stderr)")
            let id = started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(id.count == 64)
            #expect(try berth(["ps", "--format", "{{.Names}} {{.State}}"]).stdout.contains("\(name) running"))
            #expect(try eventually { try berth(["logs", name]).stdout.contains("ready") })
            #expect(try berth(["stop", name]).succeeded)
            #expect(try inspect(name, "{{.State.Status}} {{.State.ExitCode}}") == "exited 0")
            #expect(try inspect(name, "{{.State.Reason}}").contains("after `berth stop` sent SIGTERM"))
            #expect(try berth(["logs", name]).stdout.contains("got TERM"))
            // Not listed without -a, listed with it.
            #expect(!(try berth(["ps", "--format", "{{.Names}}"]).stdout.contains(name)))
            #expect(try berth(["ps", "-a", "--format", "{{.Names}}"]).stdout.contains(name))
            #expect(try berth(["rm", name]).succeeded)
            #expect(leftovers(of: id).isEmpty)
        }

        @Test func stopEscalatesToSIGKILLAfterTheTimeout() throws {
            let name = uniqueName()
            #expect(try berth(["run", "-d", "--name", name, TestEngine.image, "sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"]).succeeded)
            #expect(try berth(["stop", "-t", "1", name]).succeeded)
            #expect(try inspect(name, "{{.State.ExitCode}}") == "137")
            #expect(try inspect(name, "{{.State.Reason}}").contains("grace period ran out"))
            #expect(try berth(["rm", name]).succeeded)
        }

        @Test func rmRefusesARunningContainerAndForceRemovesIt() throws {
            let name = uniqueName()
            #expect(try berth(["run", "-d", "--name", name, TestEngine.image, "sleep", "1000"]).succeeded)
            let id = try inspect(name, "{{.Id}}")
            let refused = try berth(["rm", name])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("stop the container before removing or force remove"))
            #expect(try berth(["rm", "-f", name]).succeeded)
            #expect(leftovers(of: id).isEmpty, "\(leftovers(of: id))")
        }

        @Test func namesAreUniqueUnderRace() throws {
            let name = uniqueName()
            _ = TestEngine.image
            let collected = Collected()
            DispatchQueue.concurrentPerform(iterations: 10) { _ in
                if let result = try? berth(["create", "--name", name, TestEngine.image, "true"]) { collected.add(result) }
            }
            let results = collected.results
            #expect(results.count == 10)
            #expect(results.filter(\.succeeded).count == 1)
            for failure in results where !failure.succeeded {
                #expect(failure.status == 125)
                #expect(failure.stderr.contains("is already in use"))
            }
            let listed = try berth(["ps", "-a", "--no-trunc", "--filter", "name=^\(name)$", "-q"]).stdout.split(separator: "\n")
            #expect(listed.count == 1)
            // The losers left no directory behind.
            let directories = try FileManager.default.contentsOfDirectory(atPath: TestEngine.root + "/containers")
            #expect(directories.filter { !$0.hasPrefix(".") }.allSatisfy { dir in (try? berth(["inspect", dir]))?.succeeded == true })
            #expect(try berth(["rm", name]).succeeded)
        }

        @Test func twentyParallelRunsLeaveNothing() throws {
            _ = TestEngine.image
            let base = uniqueName()
            let collected = Collected()
            DispatchQueue.concurrentPerform(iterations: 20) { index in
                let name = "\(base)-\(index)"
                if let created = try? berth(["run", "-d", "--name", name, TestEngine.image, "sh", "-c", "echo \(index); sleep 1000"]) {
                    collected.add(created)
                }
                if let removed = try? berth(["rm", "-f", name]) { collected.add(removed) }
            }
            let results = collected.results
            #expect(results.count == 40)
            let failures = results.filter { !$0.succeeded }.map(\.stderr)
            #expect(failures.isEmpty, "\(failures)")
            let ids = results.map { $0.stdout.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { $0.count == 64 }
            #expect(ids.count == 20)
            for id in ids { #expect(leftovers(of: id).isEmpty, "\(leftovers(of: id))") }
            let listed = try berth(["ps", "-a", "--format", "{{.Names}}"]).stdout
            #expect(!listed.contains(base))
        }

        @Test func execRunsInTheContainerWithItsExitCode() throws {
            let name = uniqueName()
            #expect(try berth(["run", "-d", "--name", name, "-e", "FROM_RUN=1", TestEngine.image, "sleep", "1000"]).succeeded)
            let exec = try berth(["exec", "-e", "FROM_EXEC=2", name, "sh", "-c", "echo $FROM_RUN$FROM_EXEC $(hostname) $(id -u); exit 4"])
            #expect(exec.status == 4)
            let hostname = String(try inspect(name, "{{.Id}}").prefix(12))
            #expect(exec.stdout == "12 \(hostname) 0\n")
            let user = try berth(["exec", "-u", "app", "-w", "/tmp", name, "sh", "-c", "id -u; pwd"])
            #expect(user.stdout == "1000\n/tmp\n")
            let piped = try berth(["exec", "-i", name, "cat"], input: "through stdin\n")
            #expect(piped.stdout == "through stdin\n")
            #expect(try berth(["rm", "-f", name]).succeeded)
        }

        @Test func interactiveRunSeesEndOfInput() throws {
            let result = try berth(["run", "--rm", "-i", TestEngine.image, "sh", "-c", "cat; echo end"], input: "one\ntwo\n")
            #expect(result.succeeded, "\(result.stderr)")
            #expect(result.stdout == "one\ntwo\nend\n")
        }

        @Test func pauseUnpauseWaitRenameTop() throws {
            let name = uniqueName()
            #expect(try berth(["run", "-d", "--name", name, TestEngine.image, "sh", "-c", "sleep 1000"]).succeeded)
            #expect(try berth(["pause", name]).succeeded)
            #expect(try inspect(name, "{{.State.Status}} {{.State.Paused}}") == "paused true")
            let refused = try berth(["exec", name, "true"])
            #expect(refused.status != 0 && refused.stderr.contains("paused"))
            #expect(try berth(["unpause", name]).succeeded)
            #expect(try inspect(name, "{{.State.Status}}") == "running")
            let top = try berth(["top", name])
            #expect(top.stdout.contains("sleep 1000"))
            let renamed = name + "-new"
            #expect(try berth(["rename", name, renamed]).succeeded)
            #expect(try inspect(renamed, "{{.Name}}") == "/" + renamed)
            #expect(try berth(["kill", renamed]).succeeded)
            let wait = try berth(["wait", renamed])
            #expect(wait.stdout == "137\n")
            #expect(try berth(["rm", renamed]).succeeded)
        }

        @Test func restartPolicyOnFailureCountsRestarts() throws {
            let name = uniqueName()
            #expect(try berth(["run", "-d", "--name", name, "--restart", "on-failure:2", TestEngine.image, "sh", "-c", "echo run; exit 1"]).succeeded)
            #expect(try eventually { try inspect(name, "{{.State.Status}} {{.RestartCount}}") == "exited 2" })
            #expect(try berth(["logs", name]).stdout == "run\nrun\nrun\n")
            #expect(try berth(["rm", name]).succeeded)
        }

        @Test func restartAlwaysIsNotRestartedAfterStop() throws {
            let name = uniqueName()
            #expect(try berth(["run", "-d", "--name", name, "--restart", "always", TestEngine.image, "sh", "-c", "sleep 0.2; exit 2"]).succeeded)
            #expect(try eventually { (Int(try inspect(name, "{{.RestartCount}}")) ?? 0) >= 1 })
            #expect(try berth(["stop", "-t", "1", name]).succeeded)
            #expect(try eventually { try inspect(name, "{{.State.Status}}") == "exited" })
            let count = try inspect(name, "{{.RestartCount}}")
            usleep(700_000)
            #expect(try inspect(name, "{{.State.Status}} {{.RestartCount}}") == "exited \(count)")
            #expect(try berth(["rm", name]).succeeded)
        }

        @Test func healthCheckMarksTheContainerUnhealthy() throws {
            let name = uniqueName()
            #expect(try berth(["run", "-d", "--name", name, "--health-cmd", "test -e /tmp/ok", "--health-interval", "200ms",
                               "--health-retries", "2", TestEngine.image, "sh", "-c", "sleep 1000"]).succeeded)
            #expect(try eventually { try inspect(name, "{{.State.Health.Status}}") == "unhealthy" })
            #expect(try berth(["ps", "--filter", "health=unhealthy", "--format", "{{.Names}}"]).stdout.contains(name))
            #expect(try berth(["exec", name, "touch", "/tmp/ok"]).succeeded)
            #expect(try eventually { try inspect(name, "{{.State.Health.Status}}") == "healthy" })
            #expect(try berth(["ps", "--format", "{{.Names}} {{.Status}}"]).stdout.contains("(healthy)"))
            #expect(try berth(["rm", "-f", name]).succeeded)
        }
    }
}

final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [CommandResult] = []
    func add(_ result: CommandResult) { lock.lock(); items.append(result); lock.unlock() }
    var results: [CommandResult] { lock.lock(); defer { lock.unlock() }; return items }
}
