import Foundation
import Testing

/// OOM, limits, the kernel view, faults (a killed monitor, a SIGKILLed CLI, a reboot), bad input.
extension EngineSuite {
    @Suite struct KernelAndFaultTests {
        @Test func oomKillOfPID1IsReported() throws {
            let name = uniqueName()
            let result = try berth(["run", "--name", name, "-m", "16m", "--memory-swap", "16m", TestEngine.image,
                                    "sh", "-c", "x=a; while true; do x=$x$x; done"])
            #expect(result.status == 137)
            #expect(try inspect(name, "{{.State.OOMKilled}}") == "true")
            #expect(try inspect(name, "{{.State.Reason}}").contains("OOM-killed by the kernel (PID 1) at the memory limit of 16777216 bytes"))
            #expect(try berth(["inspect", "--kernel", name]).stdout.contains("OOM-killed by the kernel (PID 1)"))
            #expect(try berth(["rm", name]).succeeded)
        }

        @Test func oomKillOfAChildIsToldApartFromPID1() throws {
            let name = uniqueName()
            let result = try berth(["run", "--name", name, "-m", "16m", "--memory-swap", "16m", TestEngine.image,
                                    "sh", "-c", "sh -c 'x=a; while true; do x=$x$x; done'; echo survived"])
            #expect(result.status == 0)
            #expect(result.stdout == "survived\n")
            #expect(try inspect(name, "{{.State.OOMKilled}}") == "false")
            #expect(try inspect(name, "{{.State.Reason}}").contains("the kernel OOM-killed 1 other process of the container"))
            #expect(try berth(["rm", name]).succeeded)
        }

        /// The monitor's own -1000 must reach neither the container nor its health checks: with every process
        /// of a cgroup at -1000, an OOM finds nothing to kill and the container hangs (seen on cgroup v2).
        @Test func containerProcessesDoNotInheritTheMonitorsOOMScore() throws {
            #expect(try berth(["run", "--rm", TestEngine.image, "cat", "/proc/self/oom_score_adj"]).stdout == "0\n")
            #expect(try berth(["run", "--rm", "--oom-score-adj", "300", TestEngine.image, "cat", "/proc/self/oom_score_adj"]).stdout == "300\n")
            let name = uniqueName()
            #expect(try berth(["run", "-d", "--name", name, "--health-cmd", "cat /proc/self/oom_score_adj > /tmp/score",
                               "--health-interval", "200ms", TestEngine.image, "sleep", "60"]).succeeded)
            defer { _ = try? berth(["rm", "-f", name]) }
            #expect(eventually { (try? berth(["exec", name, "cat", "/tmp/score"]).stdout) == "0\n" })
        }

        @Test func limitsAndFlagsReachTheContainer() throws {
            let name = uniqueName()
            let envFile = NSTemporaryDirectory() + "berth-env-\(UUID().uuidString)"
            try "# comment\nFROM_FILE=yes\n".write(toFile: envFile, atomically: true, encoding: .utf8)
            defer { unlink(envFile) }
            let script = """
            cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max
            hostname; echo $FROM_FILE; pwd; id -u; id -G
            touch /x 2>/dev/null && echo writable || echo read-only
            touch /scratch/y && echo tmpfs-writable
            df -k /dev/shm | tail -1 | awk '{print $2}'
            grep CapEff /proc/self/status
            cat /etc/hostname
            """
            let result = try berth(["run", "--rm", "--name", name, "--pids-limit", "42", "-h", "box", "--env-file", envFile,
                                    "-w", "/tmp", "-u", "app", "--group-add", "staff", "--read-only", "--tmpfs", "/scratch",
                                    "--shm-size", "8m", "--cap-drop", "ALL", TestEngine.image, "sh", "-c", script])
            #expect(result.succeeded, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 11, "\(lines)")
            guard lines.count == 11 else { return }
            #expect(lines[0] == "42")
            #expect(lines[1] == "box")
            #expect(lines[2] == "yes")
            #expect(lines[3] == "/tmp")
            #expect(lines[4] == "1000")
            #expect(lines[5].split(separator: " ").contains("50"))
            #expect(lines[6] == "read-only")
            #expect(lines[7] == "tmpfs-writable")
            #expect(lines[8] == "8192")
            #expect(lines[9].hasSuffix("0000000000000000"))
            #expect(lines[10] == "box")
        }

        @Test func dockerDefaultCapabilitiesAndPrivileged() throws {
            let normal = try berth(["run", "--rm", TestEngine.image, "grep", "CapBnd", "/proc/self/status"])
            #expect(normal.stdout.contains("00000000a80425fb"), "\(normal.stdout)")
            let privileged = try berth(["run", "--rm", "--privileged", TestEngine.image, "grep", "CapBnd", "/proc/self/status"])
            let host = try String(contentsOfFile: "/proc/self/status", encoding: .utf8).split(separator: "\n").first { $0.hasPrefix("CapBnd") }
            #expect(privileged.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\t").last
                    == host?.split(separator: "\t").last)
        }

        @Test func seccompProfileInDockersFormat() throws {
            let profile = NSTemporaryDirectory() + "berth-seccomp-\(UUID().uuidString).json"
            try """
            {"defaultAction":"SCMP_ACT_ALLOW","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]}],
             "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
                         {"names":["chmod","fchmodat"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"includes":{"caps":["CAP_SYS_ADMIN"]}}]}
            """.write(toFile: profile, atomically: true, encoding: .utf8)
            defer { unlink(profile) }
            let script = "mkdir /x 2>/dev/null && echo made || echo blocked; chmod 600 /etc/hostname && echo chmod-allowed"
            // The rule conditioned on CAP_SYS_ADMIN does not apply to a container without it.
            let confined = try berth(["run", "--rm", "--security-opt", "seccomp=" + profile, TestEngine.image, "sh", "-c", script])
            #expect(confined.stdout == "blocked\nchmod-allowed\n", "\(confined.stderr)")
            let privileged = try berth(["run", "--rm", "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=" + profile, TestEngine.image, "sh", "-c", script])
            #expect(privileged.stdout == "blocked\n")
            let unconfined = try berth(["run", "--rm", "--security-opt", "seccomp=unconfined", TestEngine.image, "sh", "-c", script])
            #expect(unconfined.stdout == "made\nchmod-allowed\n")
            let missing = try berth(["run", "--rm", "--security-opt", "seccomp=/no/such/profile", TestEngine.image, "true"])
            #expect(missing.status == 125 && missing.stderr.contains("opening seccomp profile"))
            let apparmor = try berth(["run", "--rm", "--security-opt", "apparmor=docker-default", TestEngine.image, "true"])
            #expect(apparmor.status == 125 && apparmor.stderr.contains("AppArmor is not enabled"))
        }

        @Test func volumesNamedAnonymousAndBinds() throws {
            let volume = uniqueName()
            let hostDirectory = NSTemporaryDirectory() + "berth-bind-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: hostDirectory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: hostDirectory) }
            // A new named volume is seeded with what the image has at its destination (docker's copy-up).
            let first = try berth(["run", "--rm", "-v", "\(volume):/data", "-v", "\(hostDirectory):/host", TestEngine.image,
                                   "sh", "-c", "cat /data/seed.txt; echo kept > /data/new.txt; echo bound > /host/file"])
            #expect(first.stdout == "from the image\n", "\(first.stderr)")
            #expect(try String(contentsOfFile: hostDirectory + "/file", encoding: .utf8) == "bound\n")
            let second = try berth(["run", "--rm", "-v", "\(volume):/data:ro", TestEngine.image, "sh", "-c", "cat /data/new.txt; touch /data/z || echo ro"])
            #expect(second.stdout.contains("kept") && second.stdout.contains("ro"))
            #expect(try berth(["volume", "ls", "-q"]).stdout.contains(volume))
            // An anonymous volume lives as long as its container (with rm -v).
            let name = uniqueName()
            #expect(try berth(["create", "--name", name, "-v", "/anon", TestEngine.image, "true"]).succeeded)
            let anonymous = try inspect(name, "{{range .Mounts}}{{.Name}}{{end}}")
            #expect(anonymous.count == 64)
            let inUse = try berth(["volume", "rm", anonymous])
            #expect(inUse.status != 0 && inUse.stderr.contains("volume is in use"))
            #expect(try berth(["rm", "-v", name]).succeeded)
            #expect(!(try berth(["volume", "ls", "-q"]).stdout.contains(anonymous)))
            #expect(try berth(["volume", "rm", volume]).succeeded)
        }

        @Test func badInputFailsWith125AndLeavesNothing() throws {
            let name = uniqueName()
            let cases: [([String], String)] = [
                (["-m", "banana", TestEngine.image, "true"], "invalid size"),
                (["--cpus", "0", TestEngine.image, "true"], "--cpus"),
                (["--pull", "never", "no-such-image:1", "true"], "Unable to find image"),
                (["-v", "relative/path:/x", TestEngine.image, "true"], "invalid volume specification"),
                (["--env-file", "/no/such/file", TestEngine.image, "true"], "/no/such/file"),
                (["--restart", "sometimes", TestEngine.image, "true"], "invalid restart policy"),
                (["--network", "nosuchnet", TestEngine.image, "true"], "network nosuchnet not found"),
                (["--mount", "type=bind,source=/no/such/dir,target=/x", TestEngine.image, "true"], "bind source path does not exist"),
                (["-m", "1k", TestEngine.image, "true"], "Minimum memory limit"),
            ]
            for (arguments, message) in cases {
                let result = try berth(["run", "--name", name] + arguments)
                #expect(result.status == 125, "\(arguments): \(result.status) \(result.stderr)")
                #expect(result.stderr.hasPrefix("berth: ") && result.stderr.contains(message), "\(arguments): \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
                // Nothing was made: the name is free and no directory is left.
                #expect(try berth(["inspect", name]).status != 0, "\(arguments) left a container")
            }
            let badName = try berth(["run", "--name", "bad name", TestEngine.image, "true"])
            #expect(badName.status == 125 && badName.stderr.contains("Invalid container name"))
            for command in [["stop"], ["rm"], ["logs"], ["start"], ["kill"], ["exec"]] {
                let result = try berth(command + ["no-such-container"] + (command == ["exec"] ? ["true"] : []))
                #expect(result.status != 0)
                #expect(result.stderr.contains("No such container: no-such-container"), "\(command): \(result.stderr)")
            }
            let notFound = try berth(["run", "--rm", "--name", name, TestEngine.image, "no-such-command"])
            #expect(notFound.status == 127, "\(notFound.stderr)")
            #expect(notFound.stderr.contains("executable file not found"))
            #expect(try berth(["inspect", name]).status != 0, "run --rm of a command that cannot start left its container")
        }

        @Test func aKilledMonitorIsReportedAndRecovered() throws {
            let name = uniqueName()
            #expect(try berth(["run", "-d", "--name", name, TestEngine.image, "sleep", "1000"]).succeeded)
            let id = try inspect(name, "{{.Id}}")
            let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(TestEngine.runroot)/monitor/\(id)/state.json"))) as? [String: Any]
            let monitor = (state?["monitorPid"] as? Int).map(Int32.init) ?? 0
            #expect(monitor > 0)
            kill(monitor, SIGKILL)
            #expect(try eventually { try inspect(name, "{{.State.Reason}}").contains("its monitor was killed") })
            #expect(try inspect(name, "{{.State.Status}}") == "running")
            #expect(try berth(["rm", "-f", name]).succeeded)
            #expect(leftovers(of: id).isEmpty, "\(leftovers(of: id))")
        }

        @Test func aRebootIsSeenAndStartWorksAgain() throws {
            let name = uniqueName()
            #expect(try berth(["run", "-d", "--name", name, "--restart", "always", TestEngine.image, "sleep", "1000"]).succeeded)
            let id = try inspect(name, "{{.Id}}")
            // A reboot: every monitor and container killed, the runtime state (a tmpfs) gone, mounts gone.
            let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(TestEngine.runroot)/monitor/\(id)/state.json"))) as? [String: Any]
            if let monitor = state?["monitorPid"] as? Int { kill(Int32(monitor), SIGKILL) }
            if let pid = state?["pid"] as? Int { kill(Int32(pid), SIGKILL) }
            #expect(try eventually { kill(Int32(state?["pid"] as? Int ?? 0), 0) != 0 || (try? String(contentsOfFile: "/proc/\(state?["pid"] as? Int ?? 0)/stat", encoding: .utf8))?.contains(") Z ") == true })
            for directory in ["\(TestEngine.runroot)/monitor/\(id)", "\(TestEngine.runroot)/runtime/\(id)"] {
                try? FileManager.default.removeItem(atPath: directory)
            }
            for base in ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/freezer",
                         "/sys/fs/cgroup/devices", "/sys/fs/cgroup/blkio", "/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/net_cls,net_prio",
                         "/sys/fs/cgroup/perf_event", "/sys/fs/cgroup/hugetlb", "/sys/fs/cgroup/rdma", "/sys/fs/cgroup/misc", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup"] {
                rmdir("\(base)/berth/\(id)")
            }
            _ = try runCommand("/bin/umount", ["-l", "\(TestEngine.root)/containers/\(id)/bundle/rootfs"])
            // The network namespace goes with the reboot (its veth with it); leases, cached results and the
            // rules of the old instance are still on disk and must be released by the next start.
            _ = try runCommand("/bin/umount", ["-l", "\(TestEngine.runroot)/netns/\(id)"])
            try? FileManager.default.removeItem(atPath: "\(TestEngine.runroot)/netns/\(id)")
            #expect(try inspect(name, "{{.State.Status}}") == "exited")
            #expect(try inspect(name, "{{.State.Reason}}").contains("runtime state is gone"))
            let booted = try berth(["system", "boot"])
            #expect(booted.stdout.contains(name), "\(booted.stderr)")
            #expect(try inspect(name, "{{.State.Status}}") == "running")
            #expect(try berth(["exec", name, "true"]).succeeded)
            #expect(try berth(["exec", name, "ping", "-c1", "-W2", "10.77.0.1"]).succeeded)
            #expect(try berth(["rm", "-f", name]).succeeded)
            #expect(leftovers(of: id).isEmpty, "\(leftovers(of: id))")
            let network = try EngineSuite.NetworkTests.networkLeftovers(of: id)
            #expect(network.isEmpty, "\(network)")
        }

        @Test func aKilledCLILeavesAStateThatRmForceCleans() throws {
            let name = uniqueName()
            // SIGKILL the CLI while `run` is attached: the container goes on; ps stays consistent; rm -f cleans.
            let path = berthBinary
            var pid: pid_t = 0
            let words: [String] = [path, "--root", TestEngine.root, "--runroot", TestEngine.runroot, "run", "--name", name, TestEngine.image, "sleep", "1000"]
            let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
            defer { for p in argv { free(p) } }
            _ = TestEngine.image
            #expect(posix_spawn(&pid, path, nil, nil, argv, environ) == 0)
            #expect(try eventually { try inspect(name, "{{.State.Status}}") == "running" })
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            #expect(try berth(["ps", "--format", "{{.Names}}"]).stdout.contains(name))
            let id = try inspect(name, "{{.Id}}")
            #expect(try berth(["rm", "-f", name]).succeeded)
            #expect(leftovers(of: id).isEmpty, "\(leftovers(of: id))")
        }

        /// The state an `rm` killed after removing the container's directory but before deleting its row
        /// leaves (found by the sweep below under load): the next `rm` still takes the lock and finishes.
        @Test func rmFinishesWhatAKilledRmLeftWithoutTheContainersDirectory() throws {
            let name = uniqueName()
            #expect(try berth(["run", "--name", name, TestEngine.image, "true"]).succeeded)
            let id = try inspect(name, "{{.Id}}")
            // What rm had done by then: the root filesystem unmounted, then the directory removed.
            let directory = "\(TestEngine.root)/containers/\(id)"
            umount2(directory + "/bundle/rootfs", Int32(MNT_DETACH))
            #expect(!(try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)).contains(id))
            try FileManager.default.removeItem(atPath: directory)
            let removed = try berth(["rm", name])
            #expect(removed.succeeded, "\(removed.stderr)")
            #expect(!(try berth(["ps", "-aq", "--no-trunc"]).stdout.contains(id)))
            #expect(leftovers(of: id).isEmpty, "\(leftovers(of: id))")
        }

        /// SIGKILL of `run -d` and of `rm -f` at a sweep of moments (before the row, during the snapshot, while the
        /// monitor starts the container, after): every time `ps -a` still works, `rm -f` then removes what is
        /// there, and nothing is left that no container owns (mount, cgroup, state directory).
        @Test func theCLIKilledAtAnyMomentOfRunOrRmLeavesNothingBehind() throws {
            _ = TestEngine.image
            func spawnAndKill(_ arguments: [String], afterMicroseconds delay: UInt32) {
                let words = [berthBinary, "--root", TestEngine.root, "--runroot", TestEngine.runroot] + arguments
                let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
                defer { for p in argv { free(p) } }
                var pid: pid_t = 0
                var actions = posix_spawn_file_actions_t()
                posix_spawn_file_actions_init(&actions)
                defer { posix_spawn_file_actions_destroy(&actions) }
                posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
                posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
                guard posix_spawn(&pid, berthBinary, &actions, nil, argv, environ) == 0 else { return }
                usleep(delay)
                kill(pid, SIGKILL)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }
            let vethsBefore = try EngineSuite.NetworkTests.veths()
            func orphans() throws -> [String] {
                let ids = Set(try berth(["ps", "-aq", "--no-trunc"]).stdout.split(separator: "\n").map(String.init))
                var found: [String] = []
                let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
                for line in mounts.split(separator: "\n") {
                    guard let point = line.split(separator: " ").dropFirst(4).first, point.hasPrefix(TestEngine.root + "/containers/") else { continue }
                    let id = point.dropFirst(TestEngine.root.count + 12).prefix(64)
                    if !ids.contains(String(id)) { found.append("mount \(point)") }
                }
                for directory in [TestEngine.root + "/containers", TestEngine.runroot + "/monitor", TestEngine.runroot + "/netns",
                                  "/sys/fs/cgroup/memory/berth", "/sys/fs/cgroup/pids/berth", "/sys/fs/cgroup/berth"] {
                    for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
                    where entry.count == 64 && !ids.contains(entry) && FileManager.default.fileExists(atPath: directory + "/" + entry) {
                        found.append(directory + "/" + entry)
                    }
                }
                // The network: a cached CNI result (its name ends in -<id>-eth0) or a veth of a container no one knows.
                for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/var/lib/cni/results")) ?? [] where entry.hasPrefix("berth-") {
                    let id = entry.dropFirst(6).prefix(64)
                    if id.count == 64 && !ids.contains(String(id)) { found.append("CNI result \(entry)") }
                }
                let veths = try EngineSuite.NetworkTests.veths()
                if veths > vethsBefore + ids.count { found.append("\(veths - vethsBefore) veths for \(ids.count) containers") }
                return found
            }
            let before = try orphans()
            #expect(before.isEmpty, "before: \(before)")
            for delay: UInt32 in [0, 3_000, 8_000, 15_000, 25_000, 40_000, 60_000, 90_000, 140_000] {
                let name = uniqueName()
                spawnAndKill(["run", "-d", "--name", name, TestEngine.image, "sleep", "1000"], afterMicroseconds: delay)
                let listed = try berth(["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
                #expect(listed.succeeded, "after killing run at \(delay) µs: \(listed.stderr)")
                spawnAndKill(["rm", "-f", name], afterMicroseconds: delay / 2)
                let removed = try berth(["rm", "-f", name])
                #expect(removed.succeeded || removed.stderr.contains("No such container"), "at \(delay) µs: \(removed.stderr)")
                let left = try orphans()
                #expect(left.isEmpty, "after killing run at \(delay) µs: \(left)")
            }
        }

        /// The monitor SIGKILLed at a sweep of moments after it starts (creating the container, starting it,
        /// running it): `run -d` fails or succeeds, `ps -a` explains, `rm -f` cleans, nothing is left unowned.
        @Test func theMonitorKilledAtAnyMomentOfStartLeavesARepairableState() throws {
            _ = TestEngine.image
            func monitors() -> [pid_t] {
                ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> pid_t? in
                    guard let pid = pid_t(entry),
                          let cmdline = try? String(contentsOfFile: "/proc/\(entry)/cmdline", encoding: .utf8),
                          cmdline.contains("berth-monitor"), cmdline.contains(TestEngine.runroot) else { return nil }
                    return pid
                }
            }
            for delay: UInt32 in [0, 2_000, 5_000, 10_000, 20_000, 40_000, 80_000] {
                let name = uniqueName()
                let before = Set(monitors())
                let seconds = String(700_000 + delay)   // names this iteration's container process
                let words = [berthBinary, "--root", TestEngine.root, "--runroot", TestEngine.runroot, "run", "-d", "--name", name, TestEngine.image, "sleep", seconds]
                let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
                var actions = posix_spawn_file_actions_t()
                posix_spawn_file_actions_init(&actions)
                posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
                posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
                var cli: pid_t = 0
                #expect(posix_spawn(&cli, berthBinary, &actions, nil, argv, environ) == 0)
                posix_spawn_file_actions_destroy(&actions)
                for p in argv { free(p) }
                var monitor: pid_t?
                let deadline = Date().addingTimeInterval(10)
                while monitor == nil && Date() < deadline {
                    monitor = monitors().first { !before.contains($0) }
                    if monitor == nil { usleep(200) }
                }
                if let monitor {
                    usleep(delay)
                    kill(monitor, SIGKILL)
                }
                var status: Int32 = 0
                waitpid(cli, &status, 0)
                let listed = try berth(["ps", "-a", "--filter", "name=\(name)", "--format", "{{.Names}}|{{.Status}}"])
                #expect(listed.succeeded, "monitor killed at \(delay) µs: \(listed.stderr)")
                let id = try inspect(name, "{{.Id}}")
                let removed = try berth(["rm", "-f", name])
                #expect(removed.succeeded || removed.stderr.contains("No such container"), "at \(delay) µs: \(removed.stderr)")
                #expect(try berth(["ps", "-aq", "--filter", "name=\(name)"]).stdout.isEmpty)
                // An init cloned but never recorded (the monitor died first) must go with its cgroups.
                if !id.isEmpty {
                    let cgroups = ["memory", "pids", "unified"].filter { FileManager.default.fileExists(atPath: "/sys/fs/cgroup/\($0)/berth/\(id)") }
                    #expect(cgroups.isEmpty, "cgroups left at \(delay) µs: \(cgroups)")
                }
                let processes = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { entry in
                    (try? String(contentsOfFile: "/proc/\(entry)/cmdline", encoding: .utf8))?.contains("sleep\u{0}\(seconds)") == true
                }
                #expect(processes.isEmpty, "a container process survived at \(delay) µs: \(processes)")
            }
        }

        @Test func psFormatsAndFilters() throws {
            let name = uniqueName()
            #expect(try berth(["run", "-d", "--name", name, "-l", "tier=web", TestEngine.image, "sleep", "1000"]).succeeded)
            let table = try berth(["ps", "--filter", "label=tier=web"])
            #expect(table.stdout.hasPrefix("CONTAINER ID   IMAGE"), "\(table.stdout)")
            #expect(table.stdout.contains(name))
            let custom = try berth(["ps", "--filter", "name=\(name)", "--format", "table {{.Names}}\\t{{.Label \"tier\"}}"])
            #expect(custom.stdout.split(separator: "\n").first?.hasPrefix("NAMES") == true)
            #expect(custom.stdout.contains("\(name)   web"), "\(custom.stdout)")
            let json = try berth(["ps", "--filter", "name=\(name)", "--format", "json"])
            #expect(json.stdout.contains("\"Names\":\"\(name)\""))
            let inspected = try berth(["inspect", name])
            // docker's layout: a JSON array, four spaces a level, `"key": value`.
            #expect(inspected.stdout.hasPrefix("[\n    {\n        \""), "\(inspected.stdout.prefix(60))")
            #expect(inspected.stdout.contains("\n        \"Id\": \""))
            let parsed = try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [[String: Any]]
            #expect((parsed?.first?["State"] as? [String: Any])?["Running"] as? Bool == true)
            #expect(try inspect(name, "{{json .Config.Labels}}") == "{\"tier\":\"web\"}")
            let bad = try berth(["ps", "--format", "{{.Names"])
            #expect(bad.status != 0 && bad.stderr.contains("template"))
            let kernel = try berth(["inspect", "--kernel", name])
            #expect(kernel.stdout.contains("namespaces") && kernel.stdout.contains("pid") && kernel.stdout.contains("memory"))
            // No user namespace asked for: the container shares the host's, and says so.
            #expect(kernel.stdout.split(separator: "\n").contains { $0.contains("user") && $0.hasSuffix("the host") }, "\(kernel.stdout)")
            let stats = try berth(["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", name])
            #expect(stats.stdout == "\(name) 1\n", "\(stats.stdout) \(stats.stderr)")
            #expect(try berth(["rm", "-f", name]).succeeded)
        }

        /// stats and `inspect --kernel` read memory, pids and CPU from the container's cgroups (v1 files here,
        /// cgroup v2's in the v2 kernel runner).
        @Test func statsAndKernelViewShowUsageAgainstLimits() throws {
            let name = uniqueName()
            #expect(try berth(["run", "-d", "--name", name, "-m", "64m", "--pids-limit", "20", "--cpus", "0.5", TestEngine.image,
                               "sh", "-c", "sleep 300 & sleep 300"]).succeeded)
            defer { _ = try? berth(["rm", "-f", name]) }
            let stats = try berth(["stats", "--no-stream", "--format", "{{.MemUsage}}|{{.PIDs}}|{{.MemPerc}}", name])
            let fields = stats.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|").map(String.init)
            #expect(fields.count == 3, "\(stats.stdout) \(stats.stderr)")
            guard fields.count == 3 else { return }
            #expect(fields[0].hasSuffix(" / 64MiB") && !fields[0].hasPrefix("0B"), "\(fields[0])")
            #expect(fields[1] == "2")
            #expect(fields[2].hasSuffix("%") && fields[2] != "0.00%")
            let kernel = try berth(["inspect", "--kernel", name]).stdout
            #expect(kernel.contains(" of 64MiB"), "\(kernel)")
            #expect(kernel.contains("pids     2 of 20"), "\(kernel)")
            #expect(kernel.contains("throttled in"), "\(kernel)")
        }

        @Test func platformIsCheckedAgainstTheLocalImage() throws {
            #expect(try berth(["run", "--rm", "--platform", "linux/amd64", TestEngine.image, "echo", "ok"]).stdout == "ok\n")
            let before = try berth(["ps", "-aq"]).stdout
            let never = try berth(["run", "--rm", "--pull", "never", "--platform", "linux/arm64", TestEngine.image, "true"])
            #expect(never.status == 125)
            #expect(never.stderr.contains("does not match the specified platform: wanted linux/arm64, actual: linux/amd64"), "\(never.stderr)")
            let bad = try berth(["create", "--platform", "banana", TestEngine.image, "true"])
            #expect(bad.status == 125 && bad.stderr.contains("invalid platform \"banana\""))
            #expect(try berth(["ps", "-aq"]).stdout == before)
        }

        @Test func eventsRecordTheLifecycle() throws {
            let name = uniqueName()
            let since = String(Int(Date().timeIntervalSince1970) - 1)
            #expect(try berth(["run", "--rm", "--name", name, TestEngine.image, "true"]).succeeded)
            let until = String(Int(Date().timeIntervalSince1970) + 1)
            let events = try berth(["events", "--since", since, "--until", until, "--filter", "container=\(name)", "--format", "{{.Action}}"])
            #expect(events.stdout.split(separator: "\n") == ["create", "start", "die", "destroy"], "\(events.stdout)")
        }
    }
}
