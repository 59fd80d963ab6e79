import Glibc

/// Which user namespace this process runs in. A rootless engine (an ordinary user's `berth`, see
/// docs/rootless.md) runs everything as root of a user namespace the user was given by newuidmap; the
/// runtime and the image store then behave as they do in any user namespace: no mknod, no host cgroups,
/// `user.` instead of `trusted.` xattrs.
public enum UserNamespaceFacts {
    /// Whether this is the host's (initial) user namespace: its uid_map is the whole identity range.
    /// Read once per process; a process never leaves its user namespace without exec'ing again.
    public static let isInitial: Bool = {
        guard let text = try? Files.read("/proc/self/uid_map") else { return true }
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        return fields == ["0", "0", "4294967295"]
    }()

    /// This namespace's mapping (/proc/self/uid_map or gid_map) as ranges: inside = here, outside = the parent's.
    public static func ownMapping(_ file: String) -> [IDRange] {
        let text = (try? Files.read(file)) ?? ""
        return text.split(separator: "\n").compactMap { line -> IDRange? in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { UInt32($0) }
            return fields.count == 3 ? IDRange(inside: fields[0], outside: fields[1], count: fields[2]) : nil
        }
    }
}
