import Foundation
import Glibc
import OCISpec

/// A seccomp profile in docker's format (its `archMap`, and entries that apply only with or without some
/// capabilities, on some architectures or from some kernel on), or already in the OCI form, turned into the
/// runtime config's `linux.seccomp` for this host and this container's capabilities — docker's rules.
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
    var listenerPath: String?
    var listenerMetadata: String?
    var syscalls: [Entry]?

    /// The profile every container gets unless it asks otherwise: `Profiles/seccomp-default.json`, compiled
    /// into the binary (see ARCHITECTURE.md, *Security profile*). Decoded once per process, on first use.
    static let builtin: SeccompProfile = {
        do { return try decode(Data(PackageResources.seccomp_default_json), origin: "the built-in profile") } catch {
            fatalError("the built-in seccomp profile does not decode: \(error)")   // a build defect, caught by the tests
        }
    }()

    /// Decodes and checks a profile (at create, so a bad one fails before anything is made).
    static func decode(_ data: Data, origin: String) throws(EngineError) -> SeccompProfile {
        let profile: SeccompProfile
        do { profile = try JSONDecoder().decode(SeccompProfile.self, from: data) } catch {
            throw EngineError("decoding seccomp profile (\(origin)) failed", Self.reason(error))
        }
        if profile.architectures?.isEmpty == false && profile.archMap?.isEmpty == false {
            throw EngineError("decoding seccomp profile (\(origin)) failed", "both 'architectures' and 'archMap' are given; use one")
        }
        for entry in profile.syscalls ?? [] where entry.name != nil && entry.names?.isEmpty == false {
            throw EngineError("decoding seccomp profile (\(origin)) failed", "an entry has both 'name' and 'names'; use one")
        }
        return profile
    }

    /// DecodingError's description is several lines of Swift internals; one line with the JSON path is enough.
    private static func reason(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "bad value at \(path(context.codingPath))"
        case .keyNotFound(let key, let context): return "missing \(path(context.codingPath + [key]))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "wrong type at \(path(context.codingPath))"
        default: return "\(error)"
        }
    }
    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
    }

    /// The host's architecture in the profile's `arches` spelling (Go's names, as docker's profiles use).
    static var nativeArch: String {
        #if arch(x86_64)
        return "amd64"
        #elseif arch(arm64)
        return "arm64"
        #elseif arch(s390x)
        return "s390x"
        #elseif arch(powerpc64le)
        return "ppc64le"
        #elseif arch(riscv64)
        return "riscv64"
        #else
        return "unknown"
        #endif
    }

    /// The libseccomp name of the host's architecture, which picks the `archMap` entry.
    static var nativeSeccompArch: String {
        ["amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64", "s390x": "SCMP_ARCH_S390X",
         "ppc64le": "SCMP_ARCH_PPC64LE", "riscv64": "SCMP_ARCH_RISCV64"][nativeArch] ?? ""
    }

    /// The running kernel's (major, minor), from uname.
    static let kernelVersion: (Int, Int) = {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(2).map { Int($0) ?? 0 }
        return (numbers.first ?? 0, numbers.count > 1 ? numbers[1] : 0)
    }()

    static func kernelAtLeast(_ version: String) -> Bool {
        let wanted = version.split(separator: ".").map { Int($0) ?? 0 }
        let have = kernelVersion
        return (have.0, have.1) >= (wanted.first ?? 0, wanted.count > 1 ? wanted[1] : 0)
    }

    /// The OCI form for this host and a container whose bounding set is `capabilities`. As docker: an entry is
    /// left out when the host's arch is among its excluded arches, the container holds any excluded capability
    /// or the kernel is at least the excluded version; and when the host's arch is not among its included
    /// arches, the container lacks any included capability or the kernel is older than the included version.
    func oci(capabilities: [String], arch: String = SeccompProfile.nativeArch,
             kernelAtLeast: (String) -> Bool = SeccompProfile.kernelAtLeast) -> Spec.Seccomp {
        func applies(_ entry: Entry) -> Bool {
            if let excludes = entry.excludes {
                if excludes.arches?.contains(arch) == true { return false }
                if (excludes.caps ?? []).contains(where: capabilities.contains) { return false }
                if let version = excludes.minKernel, kernelAtLeast(version) { return false }
            }
            if let includes = entry.includes {
                if let arches = includes.arches, !arches.isEmpty, !arches.contains(arch) { return false }
                if !(includes.caps ?? []).allSatisfy(capabilities.contains) { return false }
                if let version = includes.minKernel, !kernelAtLeast(version) { return false }
            }
            return true
        }
        var architectures = architectures
        if architectures?.isEmpty != false, let archMap {
            let native = archMap.first { $0.architecture == Self.nativeSeccompArch }
            architectures = native.map { [$0.architecture] + ($0.subArchitectures ?? []) }
        }
        var profile = Spec.Seccomp(defaultAction: defaultAction, syscalls: nil)
        profile.defaultErrnoRet = defaultErrnoRet
        profile.architectures = architectures
        profile.flags = flags
        profile.listenerPath = listenerPath
        profile.listenerMetadata = listenerMetadata
        profile.syscalls = (syscalls ?? []).compactMap { entry in
            guard applies(entry) else { return nil }
            let names = entry.names ?? entry.name.map { [$0] } ?? []
            guard !names.isEmpty else { return nil }
            return Spec.Syscall(names: names, action: entry.action, errnoRet: entry.errnoRet, args: entry.args)
        }
        return profile
    }
}
