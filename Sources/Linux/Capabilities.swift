import Glibc
import CBerth

/// Linux capabilities by name, and applying the five OCI sets to the calling process.
public enum Capabilities {
    public static let names: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]

    /// The highest capability this kernel knows.
    public static var lastCapability: Int {
        if let text = try? Files.read("/proc/sys/kernel/cap_last_cap"),
           let value = Int(text.trimmingCharacters(in: " \n")) { return value }
        return names.count - 1
    }

    public static func number(of name: String) -> Int? {
        let upper = name.uppercased()
        let full = upper.hasPrefix("CAP_") ? upper : "CAP_" + upper
        return names.firstIndex(of: full)
    }

    public struct UnknownCapability: Error, CustomStringConvertible {
        public let name: String
        public var description: String { "unknown capability \(name)" }
    }

    /// A 64-bit mask from names; names the running kernel does not know are skipped (as runc does with a warning).
    public static func mask(_ names: [String]?, strict: Bool = false) throws(UnknownCapability) -> UInt64 {
        var mask: UInt64 = 0
        let last = lastCapability
        for name in names ?? [] {
            guard let bit = number(of: name) else { throw UnknownCapability(name: name) }
            if bit <= last { mask |= 1 << UInt64(bit) }
        }
        return mask
    }

    /// Drops from the bounding set every capability not in `bounding` (needs CAP_SETPCAP, so do it first).
    public static func limitBoundingSet(to bounding: UInt64) throws(SystemError) {
        for bit in 0...lastCapability where bounding & (1 << UInt64(bit)) == 0 {
            let result = berth_prctl(PR_CAPBSET_DROP, UInt(bit), 0, 0, 0)
            if result != 0 && errno != EINVAL { throw SystemError("prctl(PR_CAPBSET_DROP)", names[bit]) }
        }
    }

    public static func set(effective: UInt64, permitted: UInt64, inheritable: UInt64) throws(SystemError) {
        try check("capset", "eff=0x\(String(effective, radix: 16)) perm=0x\(String(permitted, radix: 16))") {
            berth_capset(effective, permitted, inheritable)
        }
    }

    public static func raiseAmbient(_ ambient: UInt64) throws(SystemError) {
        guard ambient != 0 else { return }
        for bit in 0...lastCapability where ambient & (1 << UInt64(bit)) != 0 {
            try check("prctl(PR_CAP_AMBIENT_RAISE)", names[bit]) {
                berth_prctl(PR_CAP_AMBIENT, UInt(PR_CAP_AMBIENT_RAISE), UInt(bit), 0, 0)
            }
        }
    }

    public static func current() throws(SystemError) -> (effective: UInt64, permitted: UInt64, inheritable: UInt64) {
        var e: UInt64 = 0, p: UInt64 = 0, i: UInt64 = 0
        try check("capget") { berth_capget(&e, &p, &i) }
        return (e, p, i)
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var slice = Substring(self)
        while let first = slice.first, chars.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, chars.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}

extension Capabilities {
    /// The names of the capabilities in this process's bounding set (`CapBnd` of /proc/self/status): what
    /// `--privileged` can grant on this host (it lacks CAP_SYS_RESOURCE here, so "all" would fail).
    public static func hostBoundingSet() -> [String] {
        guard let status = try? Files.read("/proc/self/status"),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapBnd:") }),
              let mask = UInt64(String(line.dropFirst(7)).trimmingCharacters(in: " \t"), radix: 16) else { return names }
        return names.enumerated().filter { mask & (1 << UInt64($0.offset)) != 0 }.map(\.element)
    }
}

/// Device numbers (makedev/major/minor are macros in C).
public enum Devices {
    public static func major(_ device: UInt64) -> UInt32 { berth_major(device) }
    public static func minor(_ device: UInt64) -> UInt32 { berth_minor(device) }
}
