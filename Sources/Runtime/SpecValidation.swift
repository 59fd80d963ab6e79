import Glibc
import Linux
import Cgroups
import OCISpec
import Cgroups

/// Checks a config before anything is made, so that bad input fails with one clear line and leaves
/// nothing behind.
struct SpecValidation {
    let spec: Spec
    let bundle: String

    /// The namespaces the container asks for, checked for unknown kinds and duplicates.
    static func namespaces(of spec: Spec) throws(RuntimeError) -> [(kind: NamespaceKind, path: String?)] {
        var seen = Set<String>()
        var result: [(NamespaceKind, String?)] = []
        for (index, namespace) in (spec.linux?.namespaces ?? []).enumerated() {
            guard let kind = NamespaceKind(ociName: namespace.type) else {
                throw RuntimeError("config.json: field linux.namespaces[\(index)].type",
                                   "unsupported namespace type \"\(namespace.type)\" (known: \(NamespaceKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            if !seen.insert(namespace.type).inserted {
                throw RuntimeError("config.json: field linux.namespaces[\(index)]", "namespace \"\(namespace.type)\" is listed twice")
            }
            if kind == .time, !Files.exists("/proc/self/ns/time") {
                throw RuntimeError("config.json: field linux.namespaces[\(index)]", "this kernel has no time namespaces")
            }
            if let path = namespace.path, !path.isEmpty {
                guard Files.exists(path) else {
                    throw RuntimeError("config.json: field linux.namespaces[\(index)].path", "\(path) does not exist")
                }
                result.append((kind, path))
            } else {
                result.append((kind, nil))
            }
        }
        return result
    }

    func validate(requireProcess: Bool) throws(RuntimeError) -> String {
        guard let root = spec.root, !root.path.isEmpty else {
            throw RuntimeError("config.json: field root.path", "required field is missing")
        }
        let rootfs = root.path.hasPrefix("/") ? root.path : bundle + "/" + root.path
        guard Files.isDirectory(rootfs) else {
            throw RuntimeError("config.json: field root.path", "rootfs \(rootfs) does not exist or is not a directory")
        }
        if requireProcess && spec.process == nil {
            throw RuntimeError("config.json: field process", "required field is missing")
        }
        if let process = spec.process {
            if (process.args ?? []).isEmpty {
                throw RuntimeError("config.json: field process.args", "must name at least the program to run")
            }
            if !process.cwd.hasPrefix("/") {
                throw RuntimeError("config.json: field process.cwd", "\(process.cwd) is not an absolute path")
            }
            // Capabilities unknown to us or to this kernel are not an error: see droppingUnknownCapabilities.
            for (index, limit) in (process.rlimits ?? []).enumerated() {
                if ResourceLimits.byName[limit.type] == nil {
                    throw RuntimeError("config.json: field process.rlimits[\(index)].type", "unknown rlimit \(limit.type)")
                }
                if limit.soft > limit.hard {
                    throw RuntimeError("config.json: field process.rlimits[\(index)]", "soft limit \(limit.soft) is above hard limit \(limit.hard)")
                }
            }
            if let profile = process.apparmorProfile, !profile.isEmpty {
                throw RuntimeError("config.json: field process.apparmorProfile", "AppArmor is not enabled on this host; refusing to run without the profile \(profile)")
            }
            if let label = process.selinuxLabel, !label.isEmpty {
                throw RuntimeError("config.json: field process.selinuxLabel", "SELinux is not enabled on this host; refusing to run without the label \(label)")
            }
        }
        if let unified = spec.linux?.resources?.unified, !unified.isEmpty, Cgroups.detectMode() != .unified {
            // runc's ErrV1NoUnified: on a hybrid host the cgroup2 tree has no controllers to write to.
            throw RuntimeError("invalid configuration", "cannot use unified on cgroup v1")
        }
        let namespaces = try Self.namespaces(of: spec)
        let kinds = Set(namespaces.map(\.kind))
        let newKinds = Set(namespaces.filter { $0.path == nil }.map(\.kind))
        if !kinds.contains(.mount) { try Self.validateWithoutMountNamespace(spec) }
        if spec.hostname.map({ !$0.isEmpty }) == true && !newKinds.contains(.uts) && !kinds.contains(.uts) {
            throw RuntimeError("config.json: field hostname", "setting the hostname needs a private UTS namespace")
        }
        if spec.domainname.map({ !$0.isEmpty }) == true && !kinds.contains(.uts) {
            throw RuntimeError("config.json: field domainname", "setting the domainname needs a private UTS namespace")
        }
        if newKinds.contains(.user) {
            if (spec.linux?.uidMappings ?? []).isEmpty || (spec.linux?.gidMappings ?? []).isEmpty {
                throw RuntimeError("config.json: field linux.uidMappings", "a new user namespace needs uidMappings and gidMappings")
            }
        } else if !(spec.linux?.uidMappings ?? []).isEmpty && !kinds.contains(.user) {
            throw RuntimeError("config.json: field linux.uidMappings", "user mappings are given but there is no user namespace")
        }
        if spec.linux?.timeOffsets != nil && !newKinds.contains(.time) {
            throw RuntimeError("config.json: field linux.timeOffsets", "time offsets need a new time namespace")
        }
        for (key, _) in spec.linux?.sysctl ?? [:] {
            try validateSysctl(key, kinds: kinds)
        }
        if let seccomp = spec.linux?.seccomp {
            do { try SeccompFilter.validate(seccomp) } catch {
                throw RuntimeError("config.json: field linux.seccomp", error.reason)
            }
        }
        for (index, mount) in (spec.mounts ?? []).enumerated() {
            if mount.destination.isEmpty {
                throw RuntimeError("config.json: field mounts[\(index)].destination", "must not be empty")
            }
            // Refused rather than half-applied: a mount without its id mapping would expose host ids.
            let unsupported = (mount.options ?? []).filter { ["idmap", "ridmap"].contains($0) }
            if !unsupported.isEmpty || mount.uidMappings != nil || mount.gidMappings != nil {
                let what = unsupported.isEmpty ? "uidMappings/gidMappings" : unsupported.joined(separator: ", ")
                throw RuntimeError("config.json: field mounts[\(index)] (\(mount.destination))", "\(what) is not supported by berth-runtime yet")
            }
        }
        if let process = spec.process {
            for (field, present) in [("process.scheduler", process.scheduler != nil), ("process.ioPriority", process.ioPriority != nil),
                                     ("process.execCPUAffinity", process.execCPUAffinity != nil)] where present {
                throw RuntimeError("config.json: field \(field)", "not supported by berth-runtime yet")
            }
        }
        if spec.linux?.personality != nil {
            throw RuntimeError("config.json: field linux.personality", "not supported by berth-runtime yet")
        }
        if let rdt = spec.linux?.intelRdt, rdt.closID != nil || rdt.l3CacheSchema != nil || rdt.memBwSchema != nil {
            throw RuntimeError("config.json: field linux.intelRdt", "Intel RDT is not supported by berth-runtime")
        }
        for (index, device) in (spec.linux?.devices ?? []).enumerated() {
            if !["c", "b", "u", "p"].contains(device.type) {
                throw RuntimeError("config.json: field linux.devices[\(index)].type", "unknown device type \(device.type)")
            }
            if !device.path.hasPrefix("/dev/") {
                throw RuntimeError("config.json: field linux.devices[\(index)].path", "\(device.path) is not under /dev")
            }
        }
        if let propagation = spec.linux?.rootfsPropagation, !propagation.isEmpty,
           !["shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable"].contains(propagation) {
            throw RuntimeError("config.json: field linux.rootfsPropagation", "unknown propagation \(propagation)")
        }
        try ResourceValidation.validate(spec.linux?.resources, field: "linux.resources")
        // runc refuses the v2 key/value map wherever the controllers are v1 ones (hybrid hosts too, whose
        // unified tree has none), rather than writing only part of the config.
        if !(spec.linux?.resources?.unified ?? [:]).isEmpty, Cgroups.detectMode() != .unified {
            throw RuntimeError(RuntimeError.unifiedOnV1, "")
        }
        return rootfs
    }

    /// runc runs a container without a mount namespace by a chroot into the rootfs as it is. What it
    /// would mount there would be mounted in the host's namespace and outlive the container, and a
    /// propagation change would hit the host's own /: refused here instead. Masked and read-only paths
    /// get runc's own refusal.
    static func validateWithoutMountNamespace(_ spec: Spec) throws(RuntimeError) {
        let why = "without a mount namespace it would be made on the host and outlive the container"
        if let mounts = spec.mounts, !mounts.isEmpty {
            throw RuntimeError("config.json: field mounts", "\(mounts.count) mount(s) given: \(why)")
        }
        if let devices = spec.linux?.devices, !devices.isEmpty {
            throw RuntimeError("config.json: field linux.devices", "device nodes go on a /dev mount: \(why)")
        }
        if !(spec.linux?.maskedPaths ?? []).isEmpty || !(spec.linux?.readonlyPaths ?? []).isEmpty {
            throw RuntimeError("config.json: field linux.maskedPaths", "unable to restrict sys entries without a private MNT namespace")
        }
        if spec.root?.readonly == true {
            throw RuntimeError("config.json: field root.readonly", "a read-only remount of the rootfs: \(why)")
        }
        if let propagation = spec.linux?.rootfsPropagation, !propagation.isEmpty {
            throw RuntimeError("config.json: field linux.rootfsPropagation", "there is no mount namespace: it would change the host's mounts")
        }
    }

    /// Which sysctls can be set, and the namespace each needs (as runc).
    func validateSysctl(_ key: String, kinds: Set<NamespaceKind>) throws(RuntimeError) {
        let ipc: Set<String> = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                                "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"]
        let field = "config.json: field linux.sysctl.\(key)"
        if ipc.contains(key) || key.hasPrefix("fs.mqueue.") {
            if !kinds.contains(.ipc) { throw RuntimeError(field, "needs an IPC namespace") }
        } else if key.hasPrefix("net.") {
            if !kinds.contains(.network) { throw RuntimeError(field, "needs a network namespace") }
        } else if key == "kernel.hostname" || key == "kernel.domainname" {
            if !kinds.contains(.uts) { throw RuntimeError(field, "needs a UTS namespace") }
        } else {
            throw RuntimeError(field, "not namespaced: it would change the host")
        }
        if key.contains("..") || key.contains("/") { throw RuntimeError(field, "not a valid sysctl name") }
    }
}

/// Limits that no kernel accepts are refused before any cgroup is made.
enum ResourceValidation {
    static func validate(_ resources: Resources?, field: String) throws(RuntimeError) {
        guard let resources else { return }
        if let memory = resources.memory {
            if let limit = memory.limit, limit != -1, limit < 0 {
                throw RuntimeError("\(field).memory.limit", "\(limit) is not a valid limit (bytes, or -1 for none)")
            }
            if let limit = memory.limit, let swap = memory.swap, limit > 0, swap > 0, swap < limit {
                throw RuntimeError("\(field).memory.swap", "memory+swap limit \(swap) is below the memory limit \(limit)")
            }
            if let swappiness = memory.swappiness, swappiness > 100 {
                throw RuntimeError("\(field).memory.swappiness", "\(swappiness) is out of range 0-100")
            }
        }
        if let cpu = resources.cpu {
            if let quota = cpu.quota, quota != -1, quota < 1000 {
                throw RuntimeError("\(field).cpu.quota", "\(quota) is below the kernel's minimum of 1000 µs (or -1 for none)")
            }
            if let period = cpu.period, period != 0, period < 1000 || period > 1_000_000 {
                throw RuntimeError("\(field).cpu.period", "\(period) is out of range 1000-1000000 µs")
            }
        }
        if let pids = resources.pids, pids.limit < -1 {
            throw RuntimeError("\(field).pids.limit", "\(pids.limit) is not a valid limit (or 0/-1 for none)")
        }
    }
}

extension SpecValidation {
    /// Removes from every capability set the names this runtime or the running kernel does not know,
    /// and returns them sorted, for the caller's warning. runc ignores them with a warning too, so one
    /// config runs on kernels of different ages.
    static func droppingUnknownCapabilities(_ process: inout Spec.Process) -> [String] {
        guard var caps = process.capabilities else { return [] }
        let last = Capabilities.lastCapability
        var unknown = Set<String>()
        func known(_ names: [String]?) -> [String]? {
            names?.filter { name in
                if let bit = Capabilities.number(of: name), bit <= last { return true }
                unknown.insert(name)
                return false
            }
        }
        caps.bounding = known(caps.bounding)
        caps.effective = known(caps.effective)
        caps.inheritable = known(caps.inheritable)
        caps.permitted = known(caps.permitted)
        caps.ambient = known(caps.ambient)
        process.capabilities = caps
        return unknown.sorted()
    }

    /// runc's words (logrus.Warnf with %q of the names).
    static func unknownCapabilitiesWarning(_ names: [String]) -> String {
        "ignoring unknown or unavailable capabilities: [" + names.map { "\"\($0)\"" }.joined(separator: " ") + "]"
    }
}
