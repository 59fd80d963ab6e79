import Foundation
import OCISpec

/// `--security-opt seccomp=FILE`: a profile in docker's format (its `archMap`, and entries that apply only
/// with or without some capabilities or on some architectures) or already in the OCI form, turned into the
/// runtime config's `linux.seccomp` for this host and this container's capabilities.
struct SeccompProfile: Decodable {
    struct ArchMap: Decodable {
        var architecture: String
        var subArchitectures: [String]?
    }
    struct Condition: Decodable {
        var caps: [String]?
        var arches: [String]?
        var minKernel: String?
    }
    struct Entry: Decodable {
        var name: String?
        var names: [String]?
        var action: String
        var errnoRet: UInt32?
        var args: [Spec.SyscallArg]?
        var includes: Condition?
        var excludes: Condition?
    }
    var defaultAction: String
    var defaultErrnoRet: UInt32?
    var architectures: [String]?
    var archMap: [ArchMap]?
    var flags: [String]?
    var syscalls: [Entry]?

    /// Reads and checks a profile file (at create, so a bad file fails before anything is made).
    static func load(_ path: String) throws(EngineError) -> SeccompProfile {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw EngineError("opening seccomp profile (\(path)) failed", "no such file or directory")
        }
        do { return try JSONDecoder().decode(SeccompProfile.self, from: data) } catch {
            throw EngineError("decoding seccomp profile (\(path)) failed", "\(error)")
        }
    }

    /// The OCI form for an x86-64 host and a container with `capabilities`.
    func oci(capabilities: [String]) -> Spec.Seccomp {
        let hostArches = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        func holds(_ condition: Condition?, include: Bool) -> Bool {
            guard let condition else { return true }
            let capsMatch = (condition.caps ?? []).allSatisfy { capabilities.contains($0) }
            let archMatch = condition.arches.map { $0.contains { hostArches.contains("SCMP_ARCH_" + $0.uppercased()) || $0 == "amd64" || $0 == "x86_64" || $0 == "x86" || $0 == "x32" } } ?? true
            if include { return capsMatch && archMatch }
            // An exclusion applies when its conditions all hold; a missing list does not hold.
            let excludedByCaps = condition.caps.map { !$0.isEmpty && $0.allSatisfy { capabilities.contains($0) } } ?? false
            let excludedByArch = condition.arches.map { $0.contains { $0 == "amd64" || $0 == "x86_64" } } ?? false
            return !(excludedByCaps || excludedByArch)
        }
        var architectures = architectures
        if architectures == nil, let archMap {
            let native = archMap.first { $0.architecture == "SCMP_ARCH_X86_64" }
            architectures = native.map { [$0.architecture] + ($0.subArchitectures ?? []) }
        }
        var profile = Spec.Seccomp(defaultAction: defaultAction, syscalls: nil)
        profile.defaultErrnoRet = defaultErrnoRet
        profile.architectures = architectures
        profile.flags = flags
        profile.syscalls = (syscalls ?? []).compactMap { entry in
            guard holds(entry.includes, include: true), holds(entry.excludes, include: false) else { return nil }
            let names = entry.names ?? entry.name.map { [$0] } ?? []
            guard !names.isEmpty else { return nil }
            return Spec.Syscall(names: names, action: entry.action, errnoRet: entry.errnoRet, args: entry.args)
        }
        return profile
    }
}
