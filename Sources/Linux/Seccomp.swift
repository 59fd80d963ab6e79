import Glibc
import CSeccomp
import OCISpec

/// Compiles an OCI seccomp profile with libseccomp and loads it into the calling process.
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

    public static func action(_ name: String, errno value: UInt32?) throws(ProfileError) -> UInt32 {
        switch name {
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return 0x0000_0000
        case "SCMP_ACT_KILL_PROCESS": return 0x8000_0000
        case "SCMP_ACT_TRAP": return 0x0003_0000
        case "SCMP_ACT_ERRNO": return 0x0005_0000 | ((value ?? UInt32(EPERM)) & 0xffff)
        case "SCMP_ACT_TRACE": return 0x7ff0_0000 | ((value ?? UInt32(EPERM)) & 0xffff)
        case "SCMP_ACT_LOG": return 0x7ffc_0000
        case "SCMP_ACT_ALLOW": return 0x7fff_0000
        case "SCMP_ACT_NOTIFY":
            throw ProfileError(reason: "SCMP_ACT_NOTIFY (seccomp user notification) is not supported by berth-runtime")
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

    static func architecture(_ name: String) -> UInt32? {
        let table: [String: String] = [
            "SCMP_ARCH_X86": "x86", "SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X32": "x32", "SCMP_ARCH_ARM": "arm",
            "SCMP_ARCH_AARCH64": "aarch64", "SCMP_ARCH_MIPS": "mips", "SCMP_ARCH_MIPS64": "mips64",
            "SCMP_ARCH_MIPS64N32": "mips64n32", "SCMP_ARCH_MIPSEL": "mipsel", "SCMP_ARCH_MIPSEL64": "mipsel64",
            "SCMP_ARCH_MIPSEL64N32": "mipsel64n32", "SCMP_ARCH_PPC": "ppc", "SCMP_ARCH_PPC64": "ppc64",
            "SCMP_ARCH_PPC64LE": "ppc64le", "SCMP_ARCH_S390": "s390", "SCMP_ARCH_S390X": "s390x",
            "SCMP_ARCH_RISCV64": "riscv64",
        ]
        guard let short = table[name] else { return nil }
        let token = seccomp_arch_resolve_name(short)
        return token == 0 ? nil : token
    }

    /// Checks a profile without loading it (used at `create` time so errors surface before the fork).
    public static func validate(_ profile: Spec.Seccomp) throws(ProfileError) {
        _ = try action(profile.defaultAction, errno: profile.defaultErrnoRet)
        for rule in profile.syscalls ?? [] {
            _ = try action(rule.action, errno: rule.errnoRet)
            for arg in rule.args ?? [] {
                _ = try compare(arg.op)
                if arg.index > 5 { throw ProfileError(reason: "syscall argument index \(arg.index) is out of range 0-5") }
            }
        }
        for arch in profile.architectures ?? [] where architecture(arch) == nil {
            throw ProfileError(reason: "unknown architecture \(arch)")
        }
        for flag in profile.flags ?? [] where !knownFlags.contains(flag) {
            throw ProfileError(reason: "unknown flag \(flag)")
        }
    }

    static let knownFlags: Set<String> = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                          "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]

    /// Builds and loads the filter. Syscall names unknown to libseccomp are skipped, as runc does.
    public static func load(_ profile: Spec.Seccomp) throws(ProfileError) {
        let defaultAction = try action(profile.defaultAction, errno: profile.defaultErrnoRet)
        guard let context = seccomp_init(defaultAction) else { throw ProfileError(reason: "seccomp_init failed") }
        defer { seccomp_release(context) }
        // Berth sets no_new_privs itself, exactly as process.noNewPrivileges says.
        _ = seccomp_attr_set(context, SCMP_FLTATR_CTL_NNP, 0)
        for flag in profile.flags ?? [] {
            switch flag {
            case "SECCOMP_FILTER_FLAG_TSYNC": _ = seccomp_attr_set(context, SCMP_FLTATR_CTL_TSYNC, 1)
            case "SECCOMP_FILTER_FLAG_LOG": _ = seccomp_attr_set(context, SCMP_FLTATR_CTL_LOG, 1)
            case "SECCOMP_FILTER_FLAG_SPEC_ALLOW": _ = seccomp_attr_set(context, SCMP_FLTATR_CTL_SSB, 1)
            case "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV":
                throw ProfileError(reason: "flag \(flag) needs libseccomp 2.6 or newer")
            default: throw ProfileError(reason: "unknown flag \(flag)")
            }
        }
        for arch in profile.architectures ?? [] {
            guard let token = architecture(arch) else { throw ProfileError(reason: "unknown architecture \(arch)") }
            let result = seccomp_arch_add(context, token)
            if result != 0 && result != -EEXIST { throw ProfileError(reason: "adding architecture \(arch): \(SystemError.message(-result))") }
        }
        for rule in profile.syscalls ?? [] {
            let ruleAction = try action(rule.action, errno: rule.errnoRet)
            if ruleAction == defaultAction { continue }
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
        let result = seccomp_load(context)
        if result != 0 { throw ProfileError(reason: "loading the filter: \(SystemError.message(-result))") }
        Trace.log("seccomp_load(\(profile.syscalls?.count ?? 0) rules, default \(profile.defaultAction)) = 0")
    }
}
