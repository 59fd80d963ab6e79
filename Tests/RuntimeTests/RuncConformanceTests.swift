import Foundation
import Testing
import OCISpec

/// Behaviours runc has and berth-runtime lacked, found by runc's own integration tests
/// (scripts/runc-bats.sh) and issue #7: each test fails without its fix.
@Suite("runc conformance: hook state and environment, cwd, socket activation, unknown capabilities, shared rootfs")
struct RuncConformanceTests {
    @Test func startContainerHookSeesCreated() throws {
        let bundle = try Bundle(privateRootfs: true)
        defer { bundle.destroy() }
        var hooks = Spec.Hooks()
        // Runs inside the container after pivot_root, so /tmp is the container's.
        hooks.startContainer = [Spec.Hook(path: "/bin/sh", args: ["sh", "-c", "cat > /tmp/start-state"])]
        bundle.spec.hooks = hooks
        let result = try bundle.run(["true"])
        #expect(result.succeeded, "\(result.stderr)")
        let state = try String(contentsOfFile: bundle.rootfs + "/tmp/start-state", encoding: .utf8)
        // runc's standard_init: the process is not exec'd yet, so the container is still "created".
        #expect(state.contains("\"status\":\"created\""), "\(state)")
    }

    @Test func hookWithoutEnvInheritsTheRuntimesEnvironmentAndOneWithEnvGetsOnlyThat() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        var hooks = Spec.Hooks()
        // Hook output goes to the runtime's stdout.
        hooks.createRuntime = [Spec.Hook(path: "/usr/bin/env", args: ["env"]),
                               Spec.Hook(path: "/bin/echo", args: ["echo", "--"]),
                               Spec.Hook(path: "/usr/bin/env", args: ["env"], env: ["ONLY=this"])]
        bundle.spec.hooks = hooks
        let result = try bundle.create()
        #expect(result.succeeded, "\(result.stderr)")
        let parts = result.stdout.components(separatedBy: "--\n")
        #expect(parts.count == 2, "\(result.stdout)")
        let inherited = parts.first ?? ""
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        #expect(inherited.split(separator: "\n").contains("PATH=\(path)"[...]), "\(inherited)")
        #expect(parts.last == "ONLY=this\n")
    }

    @Test func hooksRunInTheBundleAndCreateContainerInTheRootfs() throws {
        let bundle = try Bundle(privateRootfs: true)
        defer { bundle.destroy() }
        var hooks = Spec.Hooks()
        // Relative paths, as runc's hooks.bats uses them ("touch ./lib/…" in createContainer).
        hooks.prestart = [Spec.Hook(path: "/bin/sh", args: ["sh", "-c", "pwd > prestart-cwd"])]
        hooks.createRuntime = [Spec.Hook(path: "/bin/sh", args: ["sh", "-c", "pwd > create-runtime-cwd"])]
        hooks.createContainer = [Spec.Hook(path: "/bin/sh", args: ["sh", "-c", "touch ./tmp/made-by-create-container"])]
        bundle.spec.hooks = hooks
        let result = try bundle.run(["test", "-e", "/tmp/made-by-create-container"])
        #expect(result.succeeded, "\(result.stderr)")
        let real = URL(fileURLWithPath: bundle.directory).resolvingSymlinksInPath().path
        for name in ["prestart-cwd", "create-runtime-cwd"] {
            let cwd = try String(contentsOfFile: bundle.directory + "/" + name, encoding: .utf8)
            #expect(cwd == real + "\n", "\(name)")
        }
    }

    @Test func missingCwdIsCreated() throws {
        let bundle = try Bundle(privateRootfs: true)
        defer { bundle.destroy() }
        bundle.spec.process?.cwd = "/does/not/exist"
        let result = try bundle.run(["sh", "-c", "pwd; stat -c %a ."])
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stdout == "/does/not/exist\n755\n")
    }

    @Test func socketActivationFdsArePassedOnWithListenEnvironment() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        let file = bundle.directory + "/listen-fd"
        try Data("from fd 3\n".utf8).write(to: URL(fileURLWithPath: file))
        bundle.spec.process?.args = ["sh", "-c", "echo $LISTEN_FDS $LISTEN_PID; cat <&3; cat <&4"]
        let preserved = bundle.directory + "/preserved-fd"
        try Data("from fd 4\n".utf8).write(to: URL(fileURLWithPath: preserved))
        try bundle.writeConfig()
        // LISTEN_PID must name the runtime itself: the shell execs it, so its pid is the shell's.
        let script = "exec 3<\(file) 4<\(preserved); LISTEN_FDS=1 LISTEN_PID=$$ exec \(runtimeBinary) --root \(bundle.stateRoot) "
            + "run --preserve-fds 1 --bundle \(bundle.directory) \(bundle.id)"
        let result = try runCommand("/bin/sh", ["-c", script])
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stdout == "1 1\nfrom fd 3\nfrom fd 4\n")
    }

    @Test func listenFdsForAnotherProcessAreIgnored() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.process?.args = ["sh", "-c", "echo \"[$LISTEN_FDS]\"; ls /proc/self/fd/3 2>/dev/null || echo no fd 3"]
        try bundle.writeConfig()
        let script = "exec 3</dev/null; LISTEN_FDS=1 LISTEN_PID=1 exec \(runtimeBinary) --root \(bundle.stateRoot) "
            + "run --bundle \(bundle.directory) \(bundle.id)"
        let result = try runCommand("/bin/sh", ["-c", script])
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stdout == "[]\nno fd 3\n")
    }

    @Test func unknownCapabilitiesAreSkippedWithAWarning() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        let caps = ["CAP_NET_BIND_SERVICE", "CAP_BERTH_NO_SUCH_CAP"]
        bundle.spec.process?.capabilities = Spec.Capabilities(bounding: caps, effective: caps, inheritable: caps, permitted: caps)
        let result = try bundle.run(["sh", "-c", "grep CapEff /proc/self/status"])
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stdout == "CapEff:\t0000000000000400\n")
        #expect(result.stderr.contains("ignoring unknown or unavailable capabilities: [\"CAP_BERTH_NO_SUCH_CAP\"]"), "\(result.stderr)")
    }

    @Test func execWithAnUnknownCapabilityWarnsAndRuns() throws {
        let bundle = try Bundle(args: ["sleep", "30"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        let result = try bundle.runtime(["exec", "--cap", "CAP_BERTH_NO_SUCH_CAP", bundle.id, "true"])
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stderr.contains("ignoring unknown or unavailable capabilities"), "\(result.stderr)")
    }

    @Test func preExistingFrozenCgroupIsRefused() throws {
        let bundle = try Bundle(args: ["true"])
        defer { bundle.destroy() }
        let path = "/berth-test-frozen-\(bundle.id)"
        bundle.spec.linux?.cgroupsPath = path
        let v2 = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")
        let directory = v2 ? "/sys/fs/cgroup" + path : "/sys/fs/cgroup/freezer" + path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { rmdir(directory) }
        try Data((v2 ? "1" : "FROZEN").utf8).write(to: URL(fileURLWithPath: directory + (v2 ? "/cgroup.freeze" : "/freezer.state")))
        // Without the check the init freezes as it joins, and create never hears from it.
        let result = try bundle.create()
        #expect(result.status == 1)
        #expect(errorLine(result) == "berth: container's cgroup unexpectedly frozen", "\(result.stderr)")
        #expect(try bundle.runtime(["state", bundle.id]).status != 0)
        try Data((v2 ? "0" : "THAWED").utf8).write(to: URL(fileURLWithPath: directory + (v2 ? "/cgroup.freeze" : "/freezer.state")))
    }

    @Test func execCapAndNoNewPrivsFlagsSetWhatRuncSets() throws {
        let bundle = try Bundle(args: ["sleep", "30"])
        defer { bundle.destroy() }
        // runc's spec template: no inheritable set, no_new_privs on.
        #expect(bundle.spec.process?.capabilities?.inheritable == nil)
        #expect(bundle.spec.process?.noNewPrivileges == true)
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        let probe = ["sh", "-c", "grep -E '^(CapInh|CapPrm|CapAmb|NoNewPrivs)' /proc/self/status | tr '\\t\\n' '= '"]
        // --cap: bounding, effective, permitted and ambient, not inheritable (so not raised as ambient).
        let caps = try bundle.runtime(["exec", "--cap", "CAP_SYS_ADMIN", bundle.id] + probe)
        #expect(caps.succeeded, "\(caps.stderr)")
        #expect(caps.stdout == "CapInh:=0000000000000000 CapPrm:=0000000020200420 CapAmb:=0000000000000000 NoNewPrivs:=1 ")
        // Given with a value, the flag decides either way.
        for (flag, expected) in [("--no-new-privs=false", "0"), ("--no-new-privs", "1"), ("--no-new-privs=true", "1")] {
            let result = try bundle.runtime(["exec", flag, bundle.id] + probe)
            #expect(result.stdout.hasSuffix("NoNewPrivs:=\(expected) "), "\(flag): \(result.stdout) \(result.stderr)")
        }
    }

    @Test func execProcessFileWithoutUserRunsAsRoot() throws {
        let bundle = try Bundle(args: ["sleep", "30"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        // As runc's tty.bats writes it: no "user" (runc's Process.User is a plain struct: uid 0, gid 0).
        let file = bundle.directory + "/process.json"
        try Data(#"{"args": ["sh", "-c", "id -u; id -g"], "cwd": "/"}"#.utf8).write(to: URL(fileURLWithPath: file))
        let result = try bundle.runtime(["exec", "--process", file, bundle.id])
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stdout == "0\n0\n")
    }

    @Test func sharingACgroupWarns() throws {
        let first = try Bundle(args: ["sleep", "30"])
        defer { first.destroy() }
        let second = try Bundle(args: ["true"])
        defer { second.destroy() }
        let path = "/berth-test-shared-\(first.id)"
        first.spec.linux?.cgroupsPath = path
        second.spec.linux?.cgroupsPath = path
        #expect(try first.create().succeeded)
        let result = try second.create()
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stderr.contains("container's cgroup is not empty: 1 process(es) found"), "\(result.stderr)")
    }

    @Test func unifiedResourcesOnCgroupV1AreRefused() throws {
        guard !FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") else { return }
        let bundle = try Bundle(args: ["true"])
        defer { bundle.destroy() }
        var resources = bundle.spec.linux?.resources ?? Resources()
        resources.unified = ["memory.min": "131072"]
        bundle.spec.linux?.resources = resources
        let result = try bundle.create()
        #expect(result.status == 1)
        #expect(errorLine(result) == "berth: invalid configuration: cannot use unified on cgroup v1", "\(result.stderr)")
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    @Test(arguments: ["shared", "rshared"])
    func sharedRootfsPropagation(_ propagation: String) throws {
        let bundle = try Bundle(privateRootfs: true)
        defer { bundle.destroy() }
        bundle.spec.linux?.rootfsPropagation = propagation
        // Without the fix: "pivot_root …: Invalid argument" (the rootfs's parent mount was shared).
        let result = try bundle.run(["sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo"])
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stdout.contains(" shared:"), "\(result.stdout)")
        // Nothing of the container (its rootfs bind, /proc, /dev) propagated to the host.
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mounts.contains(bundle.directory))
    }
}
