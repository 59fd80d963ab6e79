import Foundation
import Linux

/// `HostConfig.SecurityOpt` read as docker's daemon reads it: `KEY=VALUE` (or the old `KEY:VALUE`) with the
/// keys label, apparmor, seccomp, no-new-privileges and writable-cgroups, plus the bare `no-new-privileges`
/// and `writable-cgroups`. As with docker, a `seccomp=` value is the profile's JSON itself, put there by the
/// client (`inliningSeccompFiles`), so the container keeps the profile it was created with.
public struct SecurityOptions {
    enum Seccomp {
        /// Nothing asked: the built-in profile, none when privileged (docker's rule).
        case implicitDefault
        /// `seccomp=builtin`: the built-in profile, even when privileged.
        case builtin
        case unconfined
        case profile(SeccompProfile)
    }
    var seccomp = Seccomp.implicitDefault
    var noNewPrivileges = false
    var writableCgroups: Bool?

    static func parse(_ options: [String]) throws(EngineError) -> SecurityOptions {
        var parsed = SecurityOptions()
        for option in options {
            if option == "no-new-privileges" { parsed.noNewPrivileges = true; continue }
            if option == "writable-cgroups" { parsed.writableCgroups = true; continue }
            if option == "disable" { continue }   // docker's old spelling of label=disable
            // `=` wins over an earlier `:` (a profile's JSON is full of colons), as in docker.
            guard let cut = option.firstIndex(of: "=") ?? option.firstIndex(of: ":") else {
                throw EngineError("invalid --security-opt \(quoted(option))", "use KEY=VALUE (label, apparmor, seccomp, no-new-privileges, writable-cgroups)")
            }
            let key = String(option[..<cut]), value = String(option[option.index(after: cut)...])
            switch key {
            case "label":
                // No SELinux here: asking for a label is refused, never ignored.
                if value != "disable" {
                    throw EngineError("invalid --security-opt \(quoted(option))", "SELinux is not enabled on this host (only label=disable)")
                }
            case "apparmor":
                if value != "unconfined" {
                    throw EngineError("invalid --security-opt \(quoted(option))", "AppArmor is not enabled on this host (only apparmor=unconfined)")
                }
            case "seccomp":
                switch value {
                case "unconfined": parsed.seccomp = .unconfined
                case "builtin": parsed.seccomp = .builtin
                case "": throw EngineError("invalid --security-opt \(quoted(option))", "seccomp needs unconfined, builtin or a profile")
                default: parsed.seccomp = .profile(try SeccompProfile.decode(Data(value.utf8), origin: "--security-opt"))
                }
            case "no-new-privileges":
                guard let flag = goBool(value) else { throw EngineError("invalid --security-opt \(quoted(option))", "no-new-privileges takes true or false") }
                parsed.noNewPrivileges = flag
            case "writable-cgroups":
                guard let flag = goBool(value) else { throw EngineError("invalid --security-opt \(quoted(option))", "writable-cgroups takes true or false") }
                parsed.writableCgroups = flag
            default:
                throw EngineError("invalid --security-opt \(quoted(option))",
                                  "unknown option \(key) (label, apparmor, seccomp, no-new-privileges, writable-cgroups)")
            }
        }
        return parsed
    }

    /// What docker's client does before it sends `--security-opt`: a `seccomp=FILE` becomes `seccomp=` and the
    /// file's JSON, compacted, so the profile travels with the container's config (and `inspect` shows it).
    public static func inliningSeccompFiles(_ options: [String]) throws(EngineError) -> [String] {
        try options.map { (option) throws(EngineError) -> String in
            guard option.hasPrefix("seccomp=") || option.hasPrefix("seccomp:") else { return option }
            let value = String(option.dropFirst(8))
            if value == "unconfined" || value == "builtin" || value.isEmpty || value.hasPrefix("{") { return option }
            let bytes: [UInt8]
            do throws(SystemError) { bytes = try Files.readBytes(value) } catch {
                throw EngineError("opening seccomp profile (\(value)) failed", SystemError.message(error.errno))
            }
            guard (try? JSONSerialization.jsonObject(with: Data(bytes))) != nil, let compact = compactJSON(bytes) else {
                throw EngineError("compacting json for seccomp profile (\(value)) failed", "not valid JSON")
            }
            return "seccomp=" + compact
        }
    }

    /// JSON without the whitespace between tokens (Go's json.Compact): keys keep their order and spelling.
    static func compactJSON(_ bytes: [UInt8]) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var inString = false, escaped = false
        for byte in bytes {
            if inString {
                out.append(byte)
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
                out.append(byte)
            } else if ![0x20, 0x09, 0x0a, 0x0d].contains(byte) {
                out.append(byte)
            }
        }
        return inString ? nil : String(decoding: out, as: UTF8.self)
    }

    /// Go's strconv.ParseBool.
    private static func goBool(_ text: String) -> Bool? {
        switch text {
        case "1", "t", "T", "true", "TRUE", "True": return true
        case "0", "f", "F", "false", "FALSE", "False": return false
        default: return nil
        }
    }

    /// A long inline profile is cut in the message: the line names the option, it need not repeat it.
    private static func quoted(_ option: String) -> String {
        "\"" + (option.count > 60 ? option.prefix(57) + "..." : option) + "\""
    }
}
