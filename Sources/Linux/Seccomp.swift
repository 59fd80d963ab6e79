import Glibc
import CBerth
import CSeccomp
import OCISpec

/// A compiled seccomp filter: the raw cBPF program (struct sock_filter, native endian) and the
/// seccomp(2) flags to load it with. Compiled by the runtime before it forks (or read from the
/// cache), so the container's process only makes one syscall and never runs libseccomp.
public struct SeccompProgram: Sendable, Equatable {
    public var instructions: [UInt8]
    public var flags: UInt32
    /// SECCOMP_FILTER_FLAG_NEW_LISTENER is set: loading returns a notify fd for the agent.
    public var listens: Bool { flags & SeccompFilter.Flag.newListener != 0 }
    public var count: Int { instructions.count / 8 }

    public init(instructions: [UInt8], flags: UInt32) {
        self.instructions = instructions; self.flags = flags
    }

    /// Loads the program into the calling thread. Returns the listener fd, or -1 without one.
    public func load() throws(SystemError) -> Int32 {
        // Logged before, not after: the --debug line is a write(2), which the new filter may notify,
        // and with a listener nobody could answer it before the fd is handed over.
        Trace.log("seccomp(SECCOMP_SET_MODE_FILTER, flags \(flags), \(count) instructions)")
        let result = instructions.withUnsafeBytes { berth_seccomp_set_filter(flags, UInt16(count), $0.baseAddress) }
        if result < 0 { throw SystemError("seccomp(SECCOMP_SET_MODE_FILTER)", "\(count) instructions, flags \(flags)") }
        return listens ? result : -1
    }
}

/// Compiles an OCI seccomp profile with libseccomp into a `SeccompProgram`.
public enum SeccompFilter {
    /// The linked libseccomp's version (`features` reports it, as runc does).
    public static var libraryVersion: String {
        guard let v = seccomp_version() else { return "" }
        return "\(v.pointee.major).\(v.pointee.minor).\(v.pointee.micro)"
    }

    public struct ProfileError: Error, CustomStringConvertible {
        public let reason: String
        public var description: String { "seccomp: \(reason)" }
    }

    /// The kernel's SECCOMP_FILTER_FLAG_* values (linux/seccomp.h).
    public enum Flag {
        public static let tsync: UInt32 = 1
        public static let log: UInt32 = 2
        public static let specAllow: UInt32 = 4
        public static let newListener: UInt32 = 8
        public static let waitKillableRecv: UInt32 = 32
        static let byName: [String: UInt32] = [
            "SECCOMP_FILTER_FLAG_TSYNC": tsync, "SECCOMP_FILTER_FLAG_LOG": log,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW": specAllow, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": waitKillableRecv,
        ]
    }

    /// The profile flags this kernel accepts (`features`).
    public static var supportedFlags: [String] {
        Flag.byName.filter { kernelSupports($0.value) }.map(\.key).sorted()
    }

    /// WAIT_KILLABLE_RECV is refused (EINVAL) without NEW_LISTENER, so it is probed with it.
    static func kernelSupports(_ flag: UInt32) -> Bool {
        berth_seccomp_flag_supported(flag == Flag.waitKillableRecv ? flag | Flag.newListener : flag) != 0
    }
    public static var knownFlags: [String] { Flag.byName.keys.sorted() }

    static let notifyAction: UInt32 = 0x7fc0_0000

    public static func action(_ name: String, errno value: UInt32?) throws(ProfileError) -> UInt32 {
        switch name {
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return 0x0000_0000
        case "SCMP_ACT_KILL_PROCESS": return 0x8000_0000
        case "SCMP_ACT_TRAP": return 0x0003_0000
        case "SCMP_ACT_ERRNO": return 0x0005_0000 | ((value ?? UInt32(EPERM)) & 0xffff)
        case "SCMP_ACT_TRACE": return 0x7ff0_0000 | ((value ?? UInt32(EPERM)) & 0xffff)
        case "SCMP_ACT_LOG": return 0x7ffc_0000
        case "SCMP_ACT_ALLOW": return 0x7fff_0000
        case "SCMP_ACT_NOTIFY": return notifyAction
        default: throw ProfileError(reason: "unknown action \(name)")
        }
    }

    static func compare(_ op: String) throws(ProfileError) -> scmp_compare {
        switch op {
        case "SCMP_CMP_NE": return SCMP_CMP_NE
        case "SCMP_CMP_LT": return SCMP_CMP_LT
        case "SCMP_CMP_LE": return SCMP_CMP_LE
        case "SCMP_CMP_EQ": return SCMP_CMP_EQ
        case "SCMP_CMP_GE": return SCMP_CMP_GE
        case "SCMP_CMP_GT": return SCMP_CMP_GT
        case "SCMP_CMP_MASKED_EQ": return SCMP_CMP_MASKED_EQ
        default: throw ProfileError(reason: "unknown operator \(op)")
        }
    }

    private static let architectureNames: [String: String] = [
        "SCMP_ARCH_X86": "x86", "SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X32": "x32", "SCMP_ARCH_ARM": "arm",
        "SCMP_ARCH_AARCH64": "aarch64", "SCMP_ARCH_MIPS": "mips", "SCMP_ARCH_MIPS64": "mips64",
        "SCMP_ARCH_MIPS64N32": "mips64n32", "SCMP_ARCH_MIPSEL": "mipsel", "SCMP_ARCH_MIPSEL64": "mipsel64",
        "SCMP_ARCH_MIPSEL64N32": "mipsel64n32", "SCMP_ARCH_PPC": "ppc", "SCMP_ARCH_PPC64": "ppc64",
        "SCMP_ARCH_PPC64LE": "ppc64le", "SCMP_ARCH_S390": "s390", "SCMP_ARCH_S390X": "s390x",
        "SCMP_ARCH_RISCV64": "riscv64",
    ]

    static func architecture(_ name: String) -> UInt32? {
        guard let short = architectureNames[name] else { return nil }
        let token = seccomp_arch_resolve_name(short)
        return token == 0 ? nil : token
    }

    public static var nativeArchitecture: UInt32 { seccomp_arch_native() }

    /// The name of a syscall number on the native architecture (tests build profiles from numbers).
    public static func syscallName(_ number: Int32) -> String? {
        guard let name = seccomp_syscall_resolve_num_arch(seccomp_arch_native(), number) else { return nil }
        defer { free(name) }
        return String(cString: name)
    }

    /// Syscalls the container's init itself makes after a notify filter is loaded and before the agent
    /// can have its fd (sending the fd, closing its own copy). A notification there would wait for an
    /// agent that cannot answer yet, and `create` with it; runc refuses `write` for the same reason.
    static let syscallsTheRuntimeNeedsUnnotified: Set<String> = ["sendmsg", "close"]

    /// Checks a profile without compiling it (used at `create` time so errors surface before the fork).
    public static func validate(_ profile: Spec.Seccomp) throws(ProfileError) {
        let defaultAction = try action(profile.defaultAction, errno: profile.defaultErrnoRet)
        if defaultAction == notifyAction { throw ProfileError(reason: "SCMP_ACT_NOTIFY cannot be the default action") }
        var notifies = false
        for rule in profile.syscalls ?? [] {
            if try action(rule.action, errno: rule.errnoRet) == notifyAction {
                notifies = true
                for name in rule.names where syscallsTheRuntimeNeedsUnnotified.contains(name) {
                    throw ProfileError(reason: "SCMP_ACT_NOTIFY cannot be used for \(name): berth-runtime's init needs it to hand the notify fd over")
                }
            }
            for arg in rule.args ?? [] {
                _ = try compare(arg.op)
                if arg.index > 5 { throw ProfileError(reason: "syscall argument index \(arg.index) is out of range 0-5") }
            }
        }
        if notifies && (profile.listenerPath ?? "").isEmpty {
            // runc finds this only once the filter is loaded ("listenerPath is not set"); its words, sooner.
            throw ProfileError(reason: "listenerPath is not set: SCMP_ACT_NOTIFY needs the seccomp agent's socket")
        }
        for arch in profile.architectures ?? [] where architecture(arch) == nil {
            throw ProfileError(reason: "unknown architecture \(arch)")
        }
        for flag in profile.flags ?? [] where Flag.byName[flag] == nil {
            throw ProfileError(reason: "unknown flag \(flag)")
        }
    }

    /// The seccomp(2) flags for a profile. TSYNC is dropped: the init is single-threaded, and the
    /// kernel refuses TSYNC together with NEW_LISTENER. WAIT_KILLABLE_RECV means something only with a
    /// listener (the kernel refuses it without one).
    static func flags(of profile: Spec.Seccomp, notifies: Bool) throws(ProfileError) -> UInt32 {
        var flags: UInt32 = notifies ? Flag.newListener : 0
        for name in profile.flags ?? [] {
            guard let flag = Flag.byName[name] else { throw ProfileError(reason: "unknown flag \(name)") }
            if flag == Flag.tsync || (flag == Flag.waitKillableRecv && !notifies) { continue }
            if !kernelSupports(flag) {
                throw ProfileError(reason: "flag \(name) is not supported by this kernel")
            }
            flags |= flag
        }
        return flags
    }

    /// Builds the filter with libseccomp and exports it as cBPF, behind runc's -ENOSYS stub.
    /// Syscall names unknown to libseccomp are skipped, as runc does.
    public static func compile(_ profile: Spec.Seccomp) throws(ProfileError) -> SeccompProgram {
        let defaultAction = try action(profile.defaultAction, errno: profile.defaultErrnoRet)
        guard let context = seccomp_init(defaultAction) else { throw ProfileError(reason: "seccomp_init failed") }
        defer { seccomp_release(context) }
        // Berth sets no_new_privs itself, exactly as process.noNewPrivileges says.
        _ = seccomp_attr_set(context, SCMP_FLTATR_CTL_NNP, 0)
        var architectures: [UInt32] = [seccomp_arch_native()]
        for arch in profile.architectures ?? [] {
            guard let token = architecture(arch) else { throw ProfileError(reason: "unknown architecture \(arch)") }
            let result = seccomp_arch_add(context, token)
            if result != 0 && result != -EEXIST { throw ProfileError(reason: "adding architecture \(arch): \(SystemError.message(-result))") }
            if !architectures.contains(token) { architectures.append(token) }
        }
        var notifies = false
        for rule in profile.syscalls ?? [] {
            let ruleAction = try action(rule.action, errno: rule.errnoRet)
            if ruleAction == defaultAction { continue }
            if ruleAction == notifyAction { notifies = true }
            let comparisons = try (rule.args ?? []).map { (arg) throws(ProfileError) in
                scmp_arg_cmp(arg: arg.index, op: try compare(arg.op), datum_a: arg.value, datum_b: arg.valueTwo ?? 0)
            }
            // libseccomp refuses two comparisons on one argument in a rule: those become one rule each (OR).
            let indices = comparisons.map(\.arg)
            let groups: [[scmp_arg_cmp]] = Set(indices).count == indices.count ? [comparisons] : comparisons.map { [$0] }
            for name in rule.names {
                let number = seccomp_syscall_resolve_name(name)
                if number == __NR_SCMP_ERROR { continue }
                for group in groups {
                    let result = group.withUnsafeBufferPointer {
                        seccomp_rule_add_array(context, ruleAction, number, UInt32($0.count), $0.baseAddress)
                    }
                    if result != 0 {
                        throw ProfileError(reason: "adding rule for \(name): \(SystemError.message(-result))")
                    }
                }
            }
        }
        let flags = try flags(of: profile, notifies: notifies)
        let program = try export(context)
        let stub = enosysStub(profile, architectures: architectures)
        let instructions = stub + program
        if instructions.count / 8 > 4096 {
            throw ProfileError(reason: "the filter has \(instructions.count / 8) instructions, more than the kernel's 4096")
        }
        Trace.log("seccomp: compiled \(profile.syscalls?.count ?? 0) rules, default \(profile.defaultAction): \(instructions.count / 8) instructions")
        return SeccompProgram(instructions: instructions, flags: flags)
    }

    /// libseccomp 2.5 exports only to an fd: a non-blocking pipe, which holds any program the kernel
    /// would take (4096 instructions are 32 KiB, a pipe 64 KiB), and fails rather than blocks on more.
    private static func export(_ context: scmp_filter_ctx) throws(ProfileError) -> [UInt8] {
        var fds: [Int32] = [-1, -1]
        if berth_pipe2(&fds, O_CLOEXEC | O_NONBLOCK) != 0 { throw ProfileError(reason: "pipe: \(SystemError.message(errno))") }
        defer { close(fds[0]); close(fds[1]) }
        let result = seccomp_export_bpf(context, fds[1])
        if result != 0 { throw ProfileError(reason: "exporting the filter: \(SystemError.message(-result))") }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        if out.isEmpty || out.count % 8 != 0 { throw ProfileError(reason: "exporting the filter: \(out.count) bytes is no program") }
        return out
    }

    // MARK: the -ENOSYS stub

    /// runc's answer to syscalls newer than the profile (libcontainer/seccomp/patchbpf): a syscall
    /// whose number is above every number the profile names, on that architecture, gets -ENOSYS
    /// rather than the default action, so a program falls back (as for an old kernel) instead of
    /// taking EPERM for a refusal. Not for permissive defaults (allow, log, trace), nor when the
    /// default errno already is ENOSYS. Prepended to libseccomp's program; jumps are relative.
    static func enosysStub(_ profile: Spec.Seccomp, architectures: [UInt32]) -> [UInt8] {
        switch profile.defaultAction {
        case "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE": return []
        default: break
        }
        if profile.defaultErrnoRet == UInt32(ENOSYS) { return [] }
        let x32Bit: UInt32 = 0x4000_0000
        // AUDIT_ARCH_X86_64, and libseccomp's token for x32 (EM_X86_64 | __AUDIT_ARCH_LE; x32 calls carry
        // AUDIT_ARCH_X86_64 with bit 30 set in the number).
        let x86_64: UInt32 = 0xc000_003e, x32: UInt32 = 0x4000_003e
        func largest(on arch: UInt32) -> UInt32? {
            var best: Int32 = -1
            for rule in profile.syscalls ?? [] {
                for name in rule.names {
                    let number = seccomp_syscall_resolve_name_arch(arch, name)
                    if number >= 0 && number > best { best = number }
                }
            }
            return best >= 0 ? UInt32(best) : nil
        }
        // One block per audit architecture: [ld arch; jeq arch ? body : next] + body; the body ends in a
        // jump to either the ENOSYS return or the main program, both after the last block.
        var blocks: [[Insn]] = []
        for arch in architectures where arch != x32 {
            guard let last = largest(on: arch) else { continue }
            var body: [Insn] = [.load(offset: 0)]
            if arch == x86_64 {
                if architectures.contains(x32), let lastX32 = largest(on: x32) {
                    body += [.jset(x32Bit, .skip(1), .skip(0)), .jgt(last, .enosys, .main), .jgt(lastX32, .enosys, .main)]
                } else {
                    // x32 calls go to libseccomp's program (its bad-architecture action).
                    body += [.jset(x32Bit, .main, .skip(0)), .jgt(last, .enosys, .main)]
                }
            } else {
                body += [.jgt(last, .enosys, .main)]
            }
            blocks.append([.load(offset: 4), .jeq(arch, .skip(0), .skip(UInt8(body.count)))] + body)
        }
        if blocks.isEmpty { return [] }
        var flat = blocks.flatMap { $0 }
        flat += [.jumpToMain, .returnENOSYS]
        // Resolve the symbolic targets: ENOSYS is the last stub instruction, the main program follows.
        let enosysIndex = flat.count - 1, mainIndex = flat.count
        var out: [UInt8] = []
        out.reserveCapacity(flat.count * 8)
        for (pc, insn) in flat.enumerated() {
            func offset(_ target: Target) -> UInt8 {
                switch target {
                case .skip(let n): return n
                case .enosys: return UInt8(enosysIndex - pc - 1)
                case .main: return UInt8(mainIndex - pc - 1)
                }
            }
            let (code, jt, jf, k): (UInt16, UInt8, UInt8, UInt32)
            switch insn {
            case .load(let offsetInData): (code, jt, jf, k) = (0x20, 0, 0, offsetInData)  // BPF_LD|BPF_W|BPF_ABS
            case .jeq(let value, let t, let f): (code, jt, jf, k) = (0x15, offset(t), offset(f), value)
            case .jgt(let value, let t, let f): (code, jt, jf, k) = (0x25, offset(t), offset(f), value)
            case .jset(let value, let t, let f): (code, jt, jf, k) = (0x45, offset(t), offset(f), value)
            case .jumpToMain: (code, jt, jf, k) = (0x05, 0, 0, 1)  // BPF_JMP|BPF_JA over the return
            case .returnENOSYS: (code, jt, jf, k) = (0x06, 0, 0, 0x0005_0000 | UInt32(ENOSYS))  // SECCOMP_RET_ERRNO
            }
            withUnsafeBytes(of: code) { out += $0 }
            out += [jt, jf]
            withUnsafeBytes(of: k) { out += $0 }
        }
        return out
    }

    enum Target { case skip(UInt8), enosys, main }
    enum Insn {
        case load(offset: UInt32)
        case jeq(UInt32, Target, Target), jgt(UInt32, Target, Target), jset(UInt32, Target, Target)
        case jumpToMain, returnENOSYS
    }

    // MARK: the cache key

    /// Every field of the profile that changes the program, in a fixed order with lengths, plus what
    /// else decides the output (the format, the native architecture, libseccomp's version, the
    /// kernel's flag support through `flags`): two profiles share a key only if they compile alike.
    public static func cacheKey(_ profile: Spec.Seccomp) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32768)
        func string(_ s: String?) {
            guard let s else { bytes.append(0); return }
            bytes.append(1)
            let utf8 = Array(s.utf8)
            number(UInt64(utf8.count)); bytes += utf8
        }
        func number(_ n: UInt64?) {
            guard let n else { bytes.append(0); return }
            bytes.append(1)
            withUnsafeBytes(of: n.littleEndian) { bytes += $0 }
        }
        string("berth-seccomp-v1"); number(UInt64(seccomp_arch_native())); string(libraryVersion)
        string(profile.defaultAction); number(profile.defaultErrnoRet.map(UInt64.init))
        number(UInt64(profile.architectures?.count ?? 0)); for a in profile.architectures ?? [] { string(a) }
        number(UInt64(profile.flags?.count ?? 0)); for f in profile.flags ?? [] { string(f) }
        number(UInt64(profile.syscalls?.count ?? 0))
        for rule in profile.syscalls ?? [] {
            number(UInt64(rule.names.count)); for n in rule.names { string(n) }
            string(rule.action); number(rule.errnoRet.map(UInt64.init))
            number(UInt64(rule.args?.count ?? 0))
            for arg in rule.args ?? [] {
                number(UInt64(arg.index)); number(arg.value); number(arg.valueTwo); string(arg.op)
            }
        }
        return SHA256Digest.sha256(bytes)
    }
}
