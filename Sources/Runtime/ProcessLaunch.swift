import Glibc
import CBerth
import Linux
import OCISpec

/// Turns a set-up process into the container's `process`: terminal, rlimits, user and groups,
/// capabilities, no_new_privs, seccomp, environment, and finally execve. Shared by init and exec.
struct ProcessLaunch {
    let process: Spec.Process
    /// Compiled by the runtime before the fork: loading it is one syscall.
    let seccomp: SeccompProgram?
    private(set) var executable = ""
    private(set) var environment: [String] = []

    init(process: Spec.Process, seccomp: SeccompProgram?) throws(RuntimeError) {
        self.process = process
        self.seccomp = seccomp
    }

    /// Creates a pty in the container's devpts, sends the master to the console socket and makes the
    /// slave our controlling terminal and stdio. `relayed`: the runtime relays it to the caller's
    /// terminal (foreground, no --console-socket), which adds the CR itself.
    func attachTerminal(consoleSocket: Int32, size: Spec.ConsoleSize?, bindConsole: Bool, relayed: Bool) throws(RuntimeError) {
        let pty = try step("creating a pseudo-terminal") { try Terminal.openPair() }
        if let size {
            try step("setting the terminal size") { try Terminal.setSize(pty.master, rows: size.height, columns: size.width) }
        }
        if relayed {
            // Here, before the process can write anything, rather than by the runtime once it has the
            // master (runc's order), which races with the first output.
            try step("setting up the terminal") { try Terminal.clearOutputCRLF(pty.master) }
        }
        if bindConsole {
            // /dev/console in the container is the pty, as runc makes it.
            if !Files.exists("/dev/console") { _ = try? Files.create("/dev/console", [], mode: 0o600) }
            if Files.exists("/dev/console") {
                try step("mounting the terminal on /dev/console") {
                    try Mounts.mount(source: pty.name, target: "/dev/console", type: nil, flags: .bind)
                }
            }
        }
        try step("sending the terminal to the console socket") { try Terminal.sendMaster(pty.master, over: consoleSocket, name: pty.name) }
        close(pty.master)
        try step("making the terminal the controlling terminal") { try Terminal.becomeControllingTerminal(pty.slave) }
        // The process's own terminal belongs to its user (else a non-root process could not reopen it
        // as /dev/tty or /proc/self/fd/0); the group and mode stay as devpts' gid=/mode= made them. runc's
        // fixStdioPermissions: an unmapped owner (EINVAL) or a locked inode (EPERM) is left alone.
        var st = stat()
        if fstat(pty.slave, &st) == 0, st.st_uid != process.user.uid,
           fchown(pty.slave, process.user.uid, gid_t.max) != 0, errno != EINVAL, errno != EPERM {
            throw RuntimeError("giving the terminal to uid \(process.user.uid)", SystemError.message(errno))
        }
        if pty.slave > 2 { close(pty.slave) }
    }

    /// Everything up to the point of exec that can fail, so failures are reported by create/exec.
    mutating func prepare(preserveFds: Int32, keepFds: [Int32]) throws(RuntimeError) {
        environment = process.env ?? []
        if !environment.contains(where: { $0.hasPrefix("HOME=") }) {
            environment.append("HOME=" + homeDirectory(uid: process.user.uid))
        }
        executable = try resolveExecutable()
        try step("changing directory to \(process.cwd)") { try check("chdir", process.cwd) { chdir(process.cwd) } }
        // A cwd like /proc/self/fd/N names whatever fd N is at this moment: the state directory, a namespace
        // or cgroup fd, all of them host directories (CVE-2024-21626). The kernel knows a cwd outside our
        // root and getcwd(2) fails on it (ENOENT); runc checks the same way, and in the same words.
        var cwdBuffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        if getcwd(&cwdBuffer, cwdBuffer.count) == nil && errno == ENOENT {
            throw RuntimeError("changing directory to \(process.cwd)",
                               "current working directory is outside of container mount namespace root -- possible container breakout detected")
        }

        for limit in process.rlimits ?? [] {
            try step("setting \(limit.type)") { try ResourceLimits.set(limit.type, soft: limit.soft, hard: limit.hard) }
        }
        // Usually set already, before any user namespace (by the parent for an init, by the joiner for exec).
        if let adjustment = process.oomScoreAdj,
           (try? Files.read("/proc/self/oom_score_adj"))?.split(separator: "\n").first != Substring("\(adjustment)") {
            try step("setting oom_score_adj to \(adjustment)") { try Files.write("/proc/self/oom_score_adj", "\(adjustment)") }
        }
        // Only stdio and the fds the caller asked to preserve reach the container.
        try step("closing inherited file descriptors") { try FileDescriptors.closeOnExec(from: 3 + preserveFds) }
        for fd in keepFds { FileDescriptors.setCloseOnExec(fd, true) }
        for fd in 3..<(3 + preserveFds) { FileDescriptors.setCloseOnExec(fd, false) }

    }

    /// The last steps, in runc's order: a filter without no_new_privs needs CAP_SYS_ADMIN, so it is
    /// loaded before the capabilities go; one with no_new_privs as late as possible, just before execve.
    ///
    /// A filter with a listener (SCMP_ACT_NOTIFY) is always loaded here, before `ready`, as runc does:
    /// its fd must reach the runtime while `create` still runs. It goes over `sync` at once, and our own
    /// copy is closed at once, so from then on only the runtime (briefly) and the agent hold it: should
    /// the agent die, notified syscalls fail with ENOSYS rather than wait for ever, here or later.
    func becomeProcessUser(sync: SyncChannel) throws(RuntimeError) {
        if process.noNewPrivileges != true, let seccomp {
            try loadSeccomp(seccomp, sync: sync)
        }
        try dropPrivileges()
        if process.noNewPrivileges == true {
            try step("setting no_new_privs") { try Identity.setNoNewPrivileges() }
            if let seccomp, seccomp.listens { try loadSeccomp(seccomp, sync: sync) }
        }
    }

    private func loadSeccomp(_ program: SeccompProgram, sync: SyncChannel) throws(RuntimeError) {
        let listener = try step("loading seccomp filter") { try program.load() }
        guard listener >= 0 else { return }
        // sendmsg and close are the two syscalls between here and the hand-over (SeccompFilter.validate
        // refuses to notify them), so nothing here can wait for the agent.
        do { try sync.send(SyncMessage.seccompListener, fd: listener) } catch {
            close(listener)
            throw RuntimeError("sending the seccomp notify fd to the runtime", error.description)
        }
        close(listener)
    }

    private func dropPrivileges() throws(RuntimeError) {
        let caps = process.capabilities
        let masks: (UInt64, UInt64, UInt64, UInt64, UInt64)
        do {
            masks = (try Capabilities.mask(caps?.bounding), try Capabilities.mask(caps?.effective),
                     try Capabilities.mask(caps?.permitted), try Capabilities.mask(caps?.inheritable),
                     try Capabilities.mask(caps?.ambient))
        } catch {
            throw RuntimeError("process.capabilities", error.description)
        }
        let (bounding, effective, permitted, inheritable, ambient) = masks
        try step("limiting the capability bounding set") { try Capabilities.limitBoundingSet(to: bounding) }
        try step("keeping capabilities across setuid") { try Identity.keepCapabilities(true) }
        let user = process.user
        try step("setting groups") { try Identity.setGroups(user.additionalGids ?? []) }
        try step("setting gid \(user.gid)") { try Identity.setGID(user.gid) }
        try step("setting uid \(user.uid)") { try Identity.setUID(user.uid) }
        try step("prctl") { try Identity.keepCapabilities(false) }
        try step("setting capabilities") { try Capabilities.set(effective: effective, permitted: permitted, inheritable: inheritable) }
        // The kernel only lets a capability be ambient if it is also permitted and inheritable; like runc,
        // the others are skipped rather than failing the container.
        try step("raising ambient capabilities") { try Capabilities.raiseAmbient(ambient & permitted & inheritable) }
        umask(mode_t(user.umask ?? 0o022))
    }

    /// Loads a no_new_privs filter without a listener (one with a listener is loaded by
    /// `becomeProcessUser`). As late as the caller can: every syscall after it must pass the filter.
    func loadNoNewPrivilegesSeccomp() throws(RuntimeError) {
        if process.noNewPrivileges == true, let seccomp, !seccomp.listens {
            _ = try step("loading seccomp filter") { try seccomp.load() }
        }
    }

    /// execve. Returns only by throwing.
    func exec() throws(RuntimeError) {
        _ = berth_reset_signal_dispositions()
        Spawn.execWithStrings(path: executable, args: process.args ?? [], env: environment)
        throw RuntimeError("exec \(process.args?.first ?? "")", SystemError.message(errno))
    }

    /// The program to run: as given when it contains a slash, else searched in the process's PATH.
    /// Failures in runc's words (Go's exec.LookPath under "unable to start container process").
    private func resolveExecutable() throws(RuntimeError) -> String {
        guard let name = process.args?.first, !name.isEmpty else {
            throw RuntimeError("process.args", "no program to run")
        }
        let failure = "unable to start container process: exec: " + Self.goQuoted(name)
        if name.contains("/") {
            var st = stat()
            if stat(name, &st) != 0 { throw RuntimeError(failure, "stat \(name): " + RuntimeError.goMessage(errno)) }
            guard (st.st_mode & S_IFMT) != S_IFDIR, access(name, X_OK) == 0 else {
                throw RuntimeError(failure, RuntimeError.goMessage(EACCES))
            }
            return name
        }
        let path = environment.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) }
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            var st = stat()
            if stat(candidate, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw RuntimeError(failure, "executable file not found in $PATH")
    }

    /// Go's %q for the plain names programs have (quotes and backslashes escaped).
    static func goQuoted(_ text: String) -> String {
        var out = "\""
        for c in text { out += c == "\"" || c == "\\" ? "\\" + String(c) : String(c) }
        return out + "\""
    }

    private func homeDirectory(uid: UInt32) -> String {
        guard let passwd = try? Files.read("/etc/passwd") else { return "/" }
        for line in passwd.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count >= 6, UInt32(fields[2]) == uid { return String(fields[5]) }
        }
        return "/"
    }
}
