import Foundation
import Testing
import OCISpec
import Linux
import CBerth

/// Seccomp beyond what ProcessTests covers: the compiled-program cache, runc's -ENOSYS stub,
/// defaultErrnoRet, flags, and SCMP_ACT_NOTIFY with an agent (the test's own, below).
@Suite("Seccomp: program cache, -ENOSYS for newer syscalls, defaultErrnoRet, flags, notify agent")
struct SeccompTests {
    /// A profile that blocks mkdir with EACCES; `marker` (an errno on a syscall busybox never makes)
    /// makes its cache key this test's own, whatever other tests put in the shared state root.
    func blockingMkdir(marker: UInt32) -> Spec.Seccomp {
        var profile = Spec.Seccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
            Spec.Syscall(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13),
            Spec.Syscall(names: ["acct"], action: "SCMP_ACT_ERRNO", errnoRet: marker),
        ])
        profile.architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        return profile
    }

    func debugRun(_ bundle: Bundle, _ args: [String]) throws -> CommandResult {
        bundle.spec.process?.args = args
        try bundle.writeConfig()
        return try bundle.runtime(["--debug", "run", "--bundle", bundle.directory, bundle.id])
    }

    @Test func cachedProgramIsUsedValidatedAndBlocksTheSame() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        let profile = blockingMkdir(marker: UInt32.random(in: 1000...4000))
        bundle.spec.linux?.seccomp = profile
        let script = ["sh", "-c", "mkdir /tmp/d 2>&1; grep Seccomp: /proc/self/status"]
        let entry = bundle.stateRoot + "/@seccomp/" + SHA256Digest.hex(SeccompFilter.cacheKey(profile))

        let first = try debugRun(bundle, script)
        #expect(first.stdout.contains("Permission denied"), "\(first.stdout)")
        #expect(first.stdout.contains("Seccomp:\t2"))
        #expect(first.stderr.contains("seccomp cache: miss"), "\(first.stderr)")
        #expect(FileManager.default.fileExists(atPath: entry))
        let stored = try Data(contentsOf: URL(fileURLWithPath: entry))
        let attributes = try FileManager.default.attributesOfItem(atPath: bundle.stateRoot + "/@seccomp")
        #expect((attributes[.posixPermissions] as? Int) == 0o700)
        // The cache directory is no container.
        #expect(!(try bundle.runtime(["list", "-q"])).stdout.contains("@seccomp"))

        let second = try debugRun(bundle, script)
        #expect(second.stderr.contains("seccomp cache: hit"), "\(second.stderr)")
        #expect(!second.stderr.contains("seccomp: compiled"))
        #expect(second.stdout == first.stdout, "the cached program blocks the same: \(second.stdout)")

        // One flipped bit in the program: detected by the checksum, recompiled, stored again.
        var corrupt = [UInt8](stored)
        corrupt[corrupt.count / 2] ^= 0x10
        try Data(corrupt).write(to: URL(fileURLWithPath: entry))
        let third = try debugRun(bundle, script)
        #expect(third.stderr.contains("rejected (checksum mismatch)"), "\(third.stderr)")
        #expect(third.stderr.contains("seccomp: compiled"))
        #expect(third.stdout == first.stdout, "\(third.stdout)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: entry)) == stored)

        // An entry others could have written is never trusted.
        chmod(entry, 0o666)
        let fourth = try debugRun(bundle, script)
        #expect(fourth.stderr.contains("rejected (not a private regular file)"), "\(fourth.stderr)")
        #expect(fourth.stdout == first.stdout)
        let fifth = try debugRun(bundle, script)
        #expect(fifth.stderr.contains("seccomp cache: hit"), "rewritten privately: \(fifth.stderr)")
    }

    /// A profile that allows every x86_64 syscall numbered below `limit` by name, except `except`.
    func allowBelow(_ limit: Int32, except: Set<String>, defaultErrno: UInt32? = nil) -> Spec.Seccomp {
        let names = (0..<limit).compactMap { SeccompFilter.syscallName($0) }.filter { !except.contains($0) }
        var profile = Spec.Seccomp(defaultAction: "SCMP_ACT_ERRNO", syscalls: [Spec.Syscall(names: names, action: "SCMP_ACT_ALLOW")])
        profile.defaultErrnoRet = defaultErrno
        profile.architectures = ["SCMP_ARCH_X86_64"]
        return profile
    }

    @Test(.enabled(if: SeccompFilter.syscallName(272) == "unshare", "x86_64 numbers"))
    func syscallsNewerThanTheProfileGetENOSYS() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        // unshare is 272: above every number the profile names, so "newer" than the profile. mkdir (83)
        // is below and not allowed: it gets the default action (EPERM).
        bundle.spec.linux?.seccomp = allowBelow(272, except: ["mkdir", "mkdirat"])
        bundle.spec.process?.noNewPrivileges = true
        let result = try bundle.run(["sh", "-c", "unshare -m true 2>&1; mkdir /tmp/x 2>&1; echo done"])
        #expect(result.stdout.contains("unshare(0x20000): Function not implemented"), "unshare: \(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("Operation not permitted"), "mkdir: \(result.stdout)")
        #expect(result.stdout.contains("done"))
    }

    @Test(.enabled(if: SeccompFilter.syscallName(306) == "syncfs", "x86_64 numbers"))
    func defaultErrnoRetIsWhatRefusedSyscallsReturn() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.linux?.seccomp = allowBelow(320, except: ["mkdir", "mkdirat"], defaultErrno: UInt32(EXDEV))
        let result = try bundle.run(["sh", "-c", "mkdir /tmp/x 2>&1; echo done"])
        #expect(result.stdout.contains("Invalid cross-device link"), "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("done"))
    }

    @Test func flagsAreLoadedWithTheFilter() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        var profile = blockingMkdir(marker: 77)
        profile.flags = ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"]
        bundle.spec.linux?.seccomp = profile
        let result = try bundle.run(["sh", "-c", "mkdir /tmp/d 2>&1; grep Seccomp_filters: /proc/self/status"])
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stdout.contains("Permission denied"), "\(result.stdout)")
        #expect(result.stdout.contains("Seccomp_filters:\t1"))
        let features = try runCommand(runtimeBinary, ["features"]).stdout
        #expect(features.contains("\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\""))

        profile.flags = ["SECCOMP_FILTER_FLAG_SOMETHING"]
        bundle.spec.linux?.seccomp = profile
        let refused = try bundle.create()
        #expect(refused.status == 1)
        #expect(errorLine(refused).contains("unknown flag SECCOMP_FILTER_FLAG_SOMETHING"), "\(refused.stderr)")
        #expect(bundle.leftovers().isEmpty)
    }

    // MARK: SCMP_ACT_NOTIFY

    func notifyProfile(listener: String, flags: [String]? = nil) -> Spec.Seccomp {
        var profile = Spec.Seccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
            Spec.Syscall(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_NOTIFY"),
        ])
        profile.listenerPath = listener
        profile.listenerMetadata = "agent-meta"
        profile.flags = flags
        return profile
    }

    @Test(arguments: [false, true])
    func notifyFdAndStateReachTheAgent(waitKillable: Bool) throws {
        // Linux 5.19 and later; the kernels this project runs on have it, and features must say so.
        let kernel = uname_release()
        if waitKillable && kernel.major * 100 + kernel.minor >= 519 {
            #expect(SeccompFilter.supportedFlags.contains("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"))
        }
        if waitKillable && !SeccompFilter.supportedFlags.contains("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") { return }
        let bundle = try Bundle()
        defer { bundle.destroy() }
        let socketPath = bundle.directory + "/agent.sock"
        let agent = try TestAgent(path: socketPath, answers: 1, error: EXDEV)
        bundle.spec.linux?.seccomp = notifyProfile(listener: socketPath,
                                                   flags: waitKillable ? ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"] : nil)
        bundle.spec.annotations = ["org.example.key": "value"]
        // The first mkdir is answered by the agent (EXDEV); the agent then closes its fd, and the
        // second fails with ENOSYS instead of waiting for an agent that is gone.
        let result = try bundle.run(["sh", "-c", "mkdir /tmp/a 2>&1; mkdir /tmp/b 2>&1; echo done"])
        agent.finish()
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stdout.contains("Invalid cross-device link"), "\(result.stdout)")
        #expect(result.stdout.contains("Function not implemented"), "\(result.stdout)")
        #expect(result.stdout.contains("done"))
        #expect(agent.answered == 1)
        #expect(agent.fdKind == "anon_inode:seccomp notify", "\(agent.fdKind)")
        let state = try #require(agent.state, "no state JSON: \(agent.raw)")
        #expect((state["ociVersion"] as? String)?.isEmpty == false)
        #expect(state["fds"] as? [String] == ["seccompFd"])
        #expect(state["metadata"] as? String == "agent-meta")
        let pid = state["pid"] as? Int ?? 0
        #expect(pid > 0)
        let inner = try #require(state["state"] as? [String: Any])
        #expect(inner["id"] as? String == bundle.id)
        #expect(inner["pid"] as? Int == pid)
        #expect(inner["status"] as? String == "running")
        #expect(inner["bundle"] as? String == URL(fileURLWithPath: bundle.directory).resolvingSymlinksInPath().path
                || inner["bundle"] as? String == bundle.directory)
        #expect((inner["annotations"] as? [String: String])?["org.example.key"] == "value")
    }

    @Test func agentThatDiesAtOnceHangsNothing() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        let socketPath = bundle.directory + "/agent.sock"
        // Takes the fd and closes it without answering anything: no copy of the listener is left
        // (the init and the runtime close theirs), so the notified mkdir fails instead of waiting.
        let agent = try TestAgent(path: socketPath, answers: 0, error: 0)
        bundle.spec.linux?.seccomp = notifyProfile(listener: socketPath)
        bundle.spec.process?.noNewPrivileges = true
        bundle.spec.process?.args = ["sh", "-c", "mkdir /tmp/a 2>&1; echo done"]
        try bundle.writeConfig()
        let run = try bundle.runtime(["run", "--bundle", bundle.directory, bundle.id], timeout: 30)
        agent.finish()
        #expect(run.succeeded, "\(run.stderr)")
        #expect(run.stdout.contains("Function not implemented"), "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.contains("done"))
    }

    @Test func execLoadsTheSameFilterAndHandsItsOwnFdToTheAgent() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        let socketPath = bundle.directory + "/agent.sock"
        var profile = notifyProfile(listener: socketPath)
        profile.syscalls?.append(Spec.Syscall(names: ["acct"], action: "SCMP_ACT_ERRNO", errnoRet: UInt32.random(in: 1000...4000)))
        bundle.spec.linux?.seccomp = profile
        bundle.spec.process?.args = ["sleep", "100"]
        let initAgent = try TestAgent(path: socketPath, answers: 0, error: 0)
        let created = try bundle.create()
        initAgent.finish()
        try #require(created.succeeded, "\(created.stderr)")
        try #require(try bundle.runtime(["start", bundle.id]).succeeded)
        let initPid = try #require(try bundle.state()).pid

        let execAgent = try TestAgent(path: socketPath, answers: 1, error: EXDEV)
        let result = try bundle.runtime(["--debug", "exec", bundle.id, "sh", "-c", "mkdir /tmp/a 2>&1; mkdir /tmp/b 2>&1; echo done"])
        execAgent.finish()
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stderr.contains("seccomp cache: hit"), "exec reads the program create compiled")
        #expect(result.stdout.contains("Invalid cross-device link"), "\(result.stdout)")
        #expect(result.stdout.contains("Function not implemented"), "\(result.stdout)")
        let state = try #require(execAgent.state, "\(execAgent.raw)")
        let execPid = state["pid"] as? Int ?? 0
        #expect(execPid > 0 && execPid != Int(initPid), "pid is the exec'd process's, as runc's setns process sends")
        #expect((state["state"] as? [String: Any])?["pid"] as? Int == Int(initPid))
    }

    /// runc loads the filter before the startContainer hooks whether or not no_new_privs is set, so
    /// the hooks (run in the container) are held to it: a killed mkdir fails `run` in runc's words.
    @Test(arguments: [false, true])
    func startContainerHooksRunUnderTheFilter(noNewPrivileges: Bool) throws {
        let bundle = try Bundle(privateRootfs: true)
        defer { bundle.destroy() }
        var profile = Spec.Seccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
            Spec.Syscall(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_KILL"),
        ])
        profile.architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        bundle.spec.linux?.seccomp = profile
        bundle.spec.process?.noNewPrivileges = noNewPrivileges
        var hooks = Spec.Hooks()
        // A writable root, so that only the filter can stop the mkdir.
        bundle.spec.root?.readonly = false
        hooks.startContainer = [Spec.Hook(path: "/bin/sh", args: ["sh", "-c", "mkdir /hooked"])]
        bundle.spec.hooks = hooks
        let result = try bundle.run(["true"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("error running hook #0 (startContainer /bin/sh)"), "\(result.stderr)")
        #expect(result.stderr.contains("signal: bad system call"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: bundle.rootfs + "/hooked"))
    }

    @Test func missingAgentFailsCreateAndLeavesNothing() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.linux?.seccomp = notifyProfile(listener: bundle.directory + "/nobody.sock")
        let result = try bundle.create()
        #expect(result.status == 1)
        // runc's words (seccomp-notify.bats matches them)
        #expect(errorLine(result).contains("failed to connect with seccomp agent"), "\(result.stderr)")
        #expect(errorLine(result).contains("nobody.sock: connect: no such file or directory"), "\(result.stderr)")
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    @Test func notifyNeedsAListenerAndSparesTheInitsOwnSyscalls() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        var profile = notifyProfile(listener: "")
        profile.listenerPath = nil
        bundle.spec.linux?.seccomp = profile
        let noListener = try bundle.create()
        #expect(noListener.status == 1)
        #expect(errorLine(noListener).contains("listenerPath is not set"), "\(noListener.stderr)")
        profile = notifyProfile(listener: bundle.directory + "/agent.sock")
        profile.syscalls?.append(Spec.Syscall(names: ["close"], action: "SCMP_ACT_NOTIFY"))
        bundle.spec.linux?.seccomp = profile
        let closeNotified = try bundle.create()
        #expect(closeNotified.status == 1)
        #expect(errorLine(closeNotified).contains("cannot be used for close"), "\(closeNotified.stderr)")
        #expect(bundle.leftovers().isEmpty)
    }
}

func uname_release() -> (major: Int, minor: Int) {
    var info = utsname()
    uname(&info)
    let release = withUnsafeBytes(of: &info.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    let parts = release.split(separator: ".").prefix(2).map { Int($0.prefix { $0.isNumber }) ?? 0 }
    return (parts.first ?? 0, parts.count > 1 ? parts[1] : 0)
}

/// A seccomp agent in the test process, speaking runc's protocol: accepts one connection, takes the
/// state JSON and the notify fd (SCM_RIGHTS), answers `answers` notifications with -error, then
/// closes the fd. Runs on its own thread while the runtime runs.
final class TestAgent: @unchecked Sendable {
    private let listener: Int32
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)
    private(set) var raw = ""
    private(set) var state: [String: Any]?
    private(set) var fdKind = ""
    private(set) var answered = 0

    init(path: String, answers: Int, error: Int32) throws {
        listener = try UnixSocket.listen(path: path, kind: .stream)
        let box: TestAgent? = self
        let listener = self.listener
        let thread = Thread {
            defer { box?.done.signal() }
            let deadline = Date().addingTimeInterval(30)
            var connection: Int32 = -1
            while connection < 0 && Date() < deadline {
                if let fd = UnixSocket.accept(listener) { connection = fd } else { usleep(5_000) }
            }
            guard connection >= 0, let agent = box else { return }
            defer { close(connection) }
            var buffer = [UInt8](repeating: 0, count: 65536)
            var notifyFd: Int32 = -1
            let n = buffer.withUnsafeMutableBytes { berth_recv_with_fd(connection, $0.baseAddress, $0.count, &notifyFd) }
            guard n > 0 else { return }
            let data = Data(buffer[0..<n])
            agent.raw = String(decoding: data, as: UTF8.self)
            agent.state = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            guard notifyFd >= 0 else { return }
            defer { close(notifyFd) }
            agent.fdKind = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(notifyFd)")) ?? ""
            while agent.answered < answers && Date() < deadline {
                var pfd = pollfd(fd: notifyFd, events: Int16(POLLIN), revents: 0)
                guard poll(&pfd, 1, 100) >= 0 else { return }
                if pfd.revents & Int16(POLLHUP) != 0 { return }
                if pfd.revents & Int16(POLLIN) != 0, berth_seccomp_notify_answer(notifyFd, error) >= 0 {
                    agent.answered += 1
                }
            }
        }
        self.thread = thread
        thread.start()
    }

    /// Waits for the agent's thread (bounded: it gives up by itself after 30 s).
    func finish() {
        _ = done.wait(timeout: .now() + 35)
        close(listener)
    }
}
