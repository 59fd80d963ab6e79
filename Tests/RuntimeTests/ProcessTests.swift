import Foundation
import Testing
import OCISpec
import CBerth

@Suite("Process: user, env, cwd, capabilities, no_new_privs, rlimits, oom_score_adj, seccomp, terminal, fds")
struct ProcessTests {
    @Test func userGroupsUmaskEnvCwd() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.process?.user = Spec.User(uid: 1000, gid: 1001, umask: 0o077, additionalGids: [2000, 2001])
        bundle.spec.process?.env = ["PATH=/bin", "GREETING=hello"]
        bundle.spec.process?.cwd = "/tmp"
        let result = try bundle.run(["sh", "-c", "id -u; id -g; id -G; umask; echo $GREETING; pwd; echo $HOME"])
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").map(String.init) == ["1000", "1001", "1001 2000 2001", "0077", "hello", "/tmp", "/"])
    }

    @Test func capabilitySetsAreExactlyTheConfigs() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        let bind = ["CAP_NET_BIND_SERVICE"]
        bundle.spec.process?.capabilities = Spec.Capabilities(bounding: bind + ["CAP_CHOWN"], effective: bind, inheritable: bind, permitted: bind, ambient: bind)
        let result = try bundle.run(["sh", "-c", "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status"])
        let fields = Dictionary(uniqueKeysWithValues: result.stdout.split(separator: "\n").map { line -> (String, String) in
            let parts = line.split(separator: "\t"); return (String(parts[0]), String(parts[1]))
        })
        // CAP_NET_BIND_SERVICE = bit 10 (0x400); CAP_CHOWN = bit 0.
        #expect(fields["CapEff:"] == "0000000000000400", "\(fields)")
        #expect(fields["CapPrm:"] == "0000000000000400")
        #expect(fields["CapInh:"] == "0000000000000400")
        #expect(fields["CapAmb:"] == "0000000000000400")
        #expect(fields["CapBnd:"] == "0000000000000401")
    }

    @Test func noCapabilitiesMeansRootCannotChown() throws {
        let bundle = try Bundle(privateRootfs: true)
        defer { bundle.destroy() }
        bundle.spec.process?.capabilities = Spec.Capabilities(bounding: [], effective: [], permitted: [])
        let result = try bundle.run(["sh", "-c", "touch /tmp/f; chown 5 /tmp/f 2>&1; echo rc=$?"])
        #expect(result.stdout.contains("Operation not permitted"), "\(result.stdout)")
    }

    @Test func noNewPrivileges() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.process?.noNewPrivileges = true
        #expect(try bundle.run(["sh", "-c", "grep NoNewPrivs /proc/self/status"]).stdout == "NoNewPrivs:\t1\n")
        bundle.spec.process?.noNewPrivileges = false
        #expect(try bundle.run(["sh", "-c", "grep NoNewPrivs /proc/self/status"]).stdout == "NoNewPrivs:\t0\n")
    }

    @Test func rlimitsAndOOMScore() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.process?.rlimits = [Spec.Rlimit(type: "RLIMIT_NOFILE", hard: 1000, soft: 500),
                                        Spec.Rlimit(type: "RLIMIT_CORE", hard: 0, soft: 0)]
        bundle.spec.process?.oomScoreAdj = 345
        let result = try bundle.run(["sh", "-c", "ulimit -n; ulimit -Hn; ulimit -c; cat /proc/self/oom_score_adj"])
        #expect(result.stdout.split(separator: "\n").map(String.init) == ["500", "1000", "0", "345"], "\(result.stdout) \(result.stderr)")
    }

    @Test func rlimitAboveTheHostsHardLimitFailsClearly() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(7), &limit)
        guard limit.rlim_max < 1 << 30 else { return }  // only meaningful where CAP_SYS_RESOURCE is missing
        bundle.spec.process?.rlimits = [Spec.Rlimit(type: "RLIMIT_NOFILE", hard: 1 << 30, soft: 1 << 30)]
        let result = try bundle.create()
        if getuid() == 0 && result.succeeded { return }  // a host with CAP_SYS_RESOURCE accepts it
        #expect(result.status == 1)
        #expect(errorLine(result).contains("RLIMIT_NOFILE"))
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    @Test func seccompBlocksWhatTheProfileSays() throws {
        let bundle = try Bundle(privateRootfs: true)
        defer { bundle.destroy() }
        var profile = Spec.Seccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
            Spec.Syscall(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13),
            Spec.Syscall(names: ["personality"], action: "SCMP_ACT_ERRNO",
                         args: [Spec.SyscallArg(index: 0, value: 8, op: "SCMP_CMP_EQ")]),
        ])
        profile.architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]
        bundle.spec.linux?.seccomp = profile
        bundle.spec.process?.noNewPrivileges = true
        let result = try bundle.run(["sh", "-c", "mkdir /tmp/d 2>&1; touch /tmp/file && echo touch-ok; grep Seccomp: /proc/self/status"])
        #expect(result.stdout.contains("Permission denied"), "mkdir fails with the configured errno 13: \(result.stdout)")
        #expect(result.stdout.contains("touch-ok"))
        #expect(result.stdout.contains("Seccomp:\t2"))
        // The same profile without no_new_privs is loaded before the capabilities are dropped.
        bundle.spec.process?.noNewPrivileges = false
        let without = try bundle.run(["sh", "-c", "mkdir /tmp/e 2>&1; grep -E 'Seccomp:|NoNewPrivs' /proc/self/status"])
        #expect(without.stdout.contains("Permission denied"), "\(without.stdout) \(without.stderr)")
        #expect(without.stdout.contains("NoNewPrivs:\t0"))
    }

    @Test func seccompDefaultErrno() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        var profile = Spec.Seccomp(defaultAction: "SCMP_ACT_ERRNO")
        profile.defaultErrnoRet = 38
        // Enough for busybox to start and write; getpid is left out and so fails with ENOSYS (38).
        let allowed = ["execve", "brk", "arch_prctl", "set_tid_address", "exit_group", "write", "writev", "read",
                       "rt_sigaction", "rt_sigprocmask", "getuid", "geteuid", "getgid", "getegid", "getppid",
                       "ioctl", "fcntl", "openat", "close", "newfstatat", "fstat", "stat", "lstat", "mmap",
                       "munmap", "mprotect", "uname", "prlimit64", "futex", "set_robust_list", "rseq", "readlink",
                       "getcwd", "dup2", "sigaltstack", "wait4", "access", "getrandom", "statx", "readlinkat"]
        profile.syscalls = [Spec.Syscall(names: allowed, action: "SCMP_ACT_ALLOW")]
        bundle.spec.linux?.seccomp = profile
        bundle.spec.process?.noNewPrivileges = true
        let result = try bundle.run(["sh", "-c", "echo started; mkdir /x 2>&1"])
        #expect(result.stdout.hasPrefix("started"), "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("Function not implemented") || result.stdout.contains("not implemented"), "\(result.stdout)")
    }

    @Test func badSeccompProfileIsRefusedAtCreate() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.linux?.seccomp = Spec.Seccomp(defaultAction: "SCMP_ACT_MAYBE")
        let result = try bundle.create()
        #expect(result.status == 1)
        #expect(errorLine(result).contains("linux.seccomp"))
        #expect(errorLine(result).contains("SCMP_ACT_MAYBE"))
        #expect(bundle.leftovers().isEmpty)
    }

    @Test func onlyStdioReachesTheContainer() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        let result = try bundle.run(["ls", "/proc/self/fd"])
        // ls itself opens the directory as fd 3.
        #expect(result.stdout.split(separator: "\n").map(String.init) == ["0", "1", "2", "3"], "\(result.stdout)")
    }

    @Test func preservedFdsReachTheContainer() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        try bundle.writeConfig()
        // sh opens fd 3 and 4 for the runtime; --preserve-fds 2 passes both on.
        let script = "exec 3</etc/hostname 4</etc/hostname; exec \(runtimeBinary) --root \(bundle.stateRoot) run --preserve-fds 2 --bundle \(bundle.directory) \(bundle.id)"
        bundle.spec.process?.args = ["ls", "/proc/self/fd"]
        try bundle.writeConfig()
        let result = try runCommand("/bin/sh", ["-c", script])
        #expect(result.stdout.split(separator: "\n").map(String.init) == ["0", "1", "2", "3", "4", "5"], "\(result.stdout) \(result.stderr)")
    }

    @Test func terminalIsSentToTheConsoleSocket() throws {
        let bundle = try Bundle(args: ["sh", "-c", "tty; stty size; echo tty-ok"])
        defer { bundle.destroy() }
        bundle.spec.process?.terminal = true
        bundle.spec.process?.consoleSize = Spec.ConsoleSize(height: 33, width: 111)
        try bundle.writeConfig()
        let socketPath = NSTemporaryDirectory() + "berth-console-\(UInt32.random(in: 0...UInt32.max)).sock"
        let listener = try ConsoleListener(path: socketPath)
        defer { listener.close(); unlink(socketPath) }
        let created = try bundle.runtime(["create", "--console-socket", socketPath, "--bundle", bundle.directory, bundle.id])
        try #require(created.succeeded, "\(created.stderr)")
        let master = try #require(listener.acceptMaster())
        defer { Glibc.close(master) }
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        var output = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(10)
        while !output.contains("tty-ok") && Date() < deadline {
            let n = read(master, &buffer, buffer.count)
            if n <= 0 { break }
            output += String(decoding: buffer[0..<n], as: UTF8.self)
        }
        #expect(output.contains("/dev/pts/0"), "\(output)")
        #expect(output.contains("33 111"), "\(output)")
        #expect(output.contains("tty-ok"))
    }

    /// In a new user namespace the proc file is the host root's: the runtime sets the score before the
    /// namespace is entered, for the init and for exec, as runc does.
    @Test func oomScoreAdjInAUserNamespace() throws {
        let bundle = try Bundle(privateRootfs: true)
        defer { bundle.destroy() }
        _ = try runCommand("/bin/chown", ["-R", "100000:100000", bundle.rootfs])
        bundle.spec.linux?.namespaces?.append(Spec.Namespace(type: "user"))
        bundle.spec.linux?.uidMappings = [IDMapping(containerID: 0, hostID: 100000, size: 65536)]
        bundle.spec.linux?.gidMappings = [IDMapping(containerID: 0, hostID: 100000, size: 65536)]
        bundle.spec.process?.oomScoreAdj = 200
        let result = try bundle.run(["cat", "/proc/self/oom_score_adj"])
        #expect(result.stdout == "200\n", "\(result.stderr)")
        bundle.spec.process?.args = ["sleep", "30"]
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        let process = bundle.directory + "/exec.json"
        var exec = bundle.spec.process
        exec?.args = ["cat", "/proc/self/oom_score_adj"]
        exec?.oomScoreAdj = 300
        try JSONEncoder().encode(exec).write(to: URL(fileURLWithPath: process))
        let joined = try bundle.runtime(["exec", "--process", process, bundle.id])
        #expect(joined.stdout == "300\n", "\(joined.stderr)")
        _ = try bundle.runtime(["delete", "-f", bundle.id])
    }
}

/// A unix socket that receives the pty master the runtime sends, as podman's conmon does.
final class ConsoleListener {
    let fd: Int32
    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        precondition(bound == 0 && listen(fd, 1) == 0)
    }
    func acceptMaster() -> Int32? {
        let connection = accept(fd, nil, nil)
        guard connection >= 0 else { return nil }
        defer { Glibc.close(connection) }
        let master = berth_recv_fd(connection)
        return master >= 0 ? master : nil
    }
    func close() { Glibc.close(fd) }
}
