import Linux
import Cgroups
import OCISpec

/// `features`: what this runtime implements, in the runtime-spec features.md format.
public struct RuntimeFeatures: Codable, Sendable {
    public var ociVersionMin = "1.0.0"
    public var ociVersionMax = Spec.version
    public var hooks = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
    public var mountOptions: [String]
    public var linux: LinuxFeatures
    public var annotations: [String: String]

    public struct LinuxFeatures: Codable, Sendable {
        public var namespaces: [String]
        public var capabilities: [String]
        public var cgroup: CgroupFeatures
        public var seccomp: SeccompFeatures
        public var apparmor = Enabled(enabled: false)
        public var selinux = Enabled(enabled: false)
        public var intelRdt = Enabled(enabled: false)
        public var mountExtensions = MountExtensions()
    }
    public struct CgroupFeatures: Codable, Sendable {
        public var v1 = true
        public var v2 = true
        public var systemd = false
        public var systemdUser = false
        public var rdma = false
    }
    public struct SeccompFeatures: Codable, Sendable {
        public var enabled = true
        public var actions = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                              "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"]
        public var operators = ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                                "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"]
        public var archs = ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"]
        public var knownFlags = SeccompFilter.knownFlags
        /// Probed from the kernel: berth-runtime loads its programs with seccomp(2) itself.
        public var supportedFlags = SeccompFilter.supportedFlags
    }
    public struct Enabled: Codable, Sendable { public var enabled: Bool }
    public struct MountExtensions: Codable, Sendable {
        public var idmap = Enabled(enabled: false)
    }

    public static func current() -> RuntimeFeatures {
        let options = ["async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "lazytime", "loud",
                       "mand", "noatime", "nodev", "nodiratime", "noexec", "nolazytime", "nomand", "norelatime",
                       "nostrictatime", "nosuid", "nosymfollow", "private", "rbind", "relatime", "remount", "ro",
                       "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "silent", "slave",
                       "strictatime", "suid", "symfollow", "sync", "tmpcopyup", "unbindable"]
        let last = Capabilities.lastCapability
        return RuntimeFeatures(
            mountOptions: options,
            linux: LinuxFeatures(namespaces: NamespaceKind.allCases.map(\.rawValue),
                                 capabilities: Array(Capabilities.names.prefix(last + 1)),
                                 cgroup: CgroupFeatures(), seccomp: SeccompFeatures()),
            annotations: ["org.opencontainers.runc.checkpoint.enabled": "false",
                          "io.github.berth.runtime.version": "0.1.0",
                          "io.github.seccomp.libseccomp.version": SeccompFilter.libraryVersion])
    }
}
