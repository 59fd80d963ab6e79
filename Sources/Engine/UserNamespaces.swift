import Glibc
import Linux

/// podman's `IDMappings` in HostConfig: the container's user-namespace mappings as CONTAINER:HOST:SIZE strings.
public struct IDMappingsJSON: Codable, Sendable, Equatable {
    public var UidMap: [String]
    public var GidMap: [String]
    public init(UidMap: [String], GidMap: [String]) { self.UidMap = UidMap; self.GidMap = GidMap }
}

/// `--userns`, `--uidmap`, `--gidmap` (podman's rootful forms): a container in its own user namespace, its
/// root an unprivileged host uid. The image's files are shown to it through idmapped layers (`ImageBundle`),
/// so nothing is chowned and one image serves containers with different mappings.
enum UserNamespaces {
    /// podman's `--userns=auto` takes ranges from the subordinate ids of the user "containers".
    static let autoUser = "containers"
    static let defaultAutoSize: UInt32 = 65536

    /// One CONTAINER:HOST:SIZE mapping (podman's --uidmap syntax).
    static func parse(_ text: String, flag: String) throws(EngineError) -> IDRange {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { UInt32($0) }
        guard parts.count == 3, let inside = parts[0], let outside = parts[1], let count = parts[2], count > 0 else {
            throw EngineError("invalid \(flag) \(text)", "use CONTAINER_ID:HOST_ID:SIZE, e.g. 0:100000:65536")
        }
        guard UInt64(inside) + UInt64(count) <= UInt64(UInt32.max), UInt64(outside) + UInt64(count) <= UInt64(UInt32.max) else {
            throw EngineError("invalid \(flag) \(text)", "the range runs past the largest id")
        }
        return IDRange(inside: inside, outside: outside, count: count)
    }

    static func format(_ range: IDRange) -> String { "\(range.inside):\(range.outside):\(range.count)" }

    static func ranges(_ strings: [String], flag: String) throws(EngineError) -> [IDRange] {
        var result: [IDRange] = []
        for text in strings { result.append(try parse(text, flag: flag)) }
        return result
    }

    /// The mapping a container was made with, nil for the host's user namespace.
    static func map(of host: HostConfig) -> IDMap? {
        guard let mappings = host.IDMappings, !mappings.UidMap.isEmpty else { return nil }
        let uids = (try? ranges(mappings.UidMap, flag: "--uidmap")) ?? []
        let gids = (try? ranges(mappings.GidMap, flag: "--gidmap")) ?? []
        return uids.isEmpty ? nil : IDMap(uids: uids, gids: gids.isEmpty ? uids : gids)
    }

    /// Checks `--userns`/`--uidmap`/`--gidmap` and works out the mapping. `others` are the mappings of the
    /// other containers (auto gives each container ids no other one has).
    static func resolve(_ host: inout HostConfig, others: [IDMap]) throws(EngineError) {
        let mode = host.UsernsMode ?? ""
        var uids = try ranges(host.IDMappings?.UidMap ?? [], flag: "--uidmap")
        var gids = try ranges(host.IDMappings?.GidMap ?? [], flag: "--gidmap")
        if !uids.isEmpty || !gids.isEmpty {
            guard mode.isEmpty || mode == "private" else {
                throw EngineError("invalid --userns \(mode)", "it cannot be combined with --uidmap or --gidmap")
            }
            if uids.isEmpty { uids = gids }
            if gids.isEmpty { gids = uids }
        } else {
            switch mode {
            case "", "host":
                host.IDMappings = nil
                return
            case "keep-id", "nomap":
                // Rootless keep-id needs the image's files shifted by one id (the container's uid U is the user,
                // root is subordinate id 1), which idmapped mounts cannot do from a user namespace: not done yet.
                throw EngineError("invalid --userns \(mode)", Rootless.isActive ? "\(mode) is not supported by rootless berth yet"
                                                                            : "\(mode) is only supported in rootless mode")
            case let auto where auto == "auto" || auto.hasPrefix("auto:"):
                let size = try autoSize(auto)
                uids = [IDRange(inside: 0, outside: try allocate(size, from: subordinate("/etc/subuid"), taken: others.flatMap(\.uids), file: "/etc/subuid"), count: size)]
                let gidStart = try allocate(size, from: subordinate("/etc/subgid"), taken: others.flatMap(\.gids), file: "/etc/subgid")
                gids = [IDRange(inside: 0, outside: gidStart, count: size)]
            default:
                throw EngineError("invalid --userns \(mode)", "use host, auto[:size=N], or --uidmap/--gidmap")
            }
        }
        for (name, list) in [("--uidmap", uids), ("--gidmap", gids)] {
            guard IDMap.hostID(0, in: list) != nil else {
                throw EngineError("invalid \(name)", "container id 0 must be mapped (the container's root)")
            }
            let sorted = list.sorted { $0.inside < $1.inside }
            for (a, b) in zip(sorted, sorted.dropFirst()) where UInt64(a.inside) + UInt64(a.count) > UInt64(b.inside) {
                throw EngineError("invalid \(name)", "container ranges \(format(a)) and \(format(b)) overlap")
            }
        }
        host.IDMappings = IDMappingsJSON(UidMap: uids.map(format), GidMap: gids.map(format))
    }

    static func autoSize(_ mode: String) throws(EngineError) -> UInt32 {
        guard mode.hasPrefix("auto:") else { return defaultAutoSize }
        var size = defaultAutoSize
        for option in mode.dropFirst(5).split(separator: ",") {
            let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0] == "size", let value = UInt32(parts[1]), value > 0 else {
                throw EngineError("invalid --userns \(mode)", "auto takes size=N")
            }
            size = value
        }
        return size
    }

    /// The ranges /etc/subuid (or subgid) gives the user "containers".
    static func subordinate(_ file: String) throws(EngineError) -> [IDRange] {
        let text = (try? Files.read(file)) ?? ""
        let ranges = text.split(separator: "\n").compactMap { line -> IDRange? in
            let fields = line.split(separator: ":").map(String.init)
            guard fields.count == 3, fields[0] == autoUser, let start = UInt32(fields[1]), let count = UInt32(fields[2]) else { return nil }
            return IDRange(inside: 0, outside: start, count: count)
        }
        if ranges.isEmpty {
            throw EngineError("cannot find mappings for user \"\(autoUser)\" in \(file)",
                              "--userns=auto needs a line such as \(autoUser):2147483647:2147483648 there")
        }
        return ranges
    }

    /// The first `size` ids of `available` that no other container uses.
    static func allocate(_ size: UInt32, from available: [IDRange], taken: [IDRange], file: String) throws(EngineError) -> UInt32 {
        let used = taken.sorted { $0.outside < $1.outside }
        for range in available {
            var start = UInt64(range.outside)
            let end = UInt64(range.outside) + UInt64(range.count)
            for other in used {
                let otherStart = UInt64(other.outside), otherEnd = otherStart + UInt64(other.count)
                if otherEnd <= start || otherStart >= start + UInt64(size) { continue }
                start = max(start, otherEnd)
            }
            if start + UInt64(size) <= end { return UInt32(start) }
        }
        throw EngineError("no free range of \(size) ids for --userns=auto", "the ranges of \"\(autoUser)\" in \(file) are all in use")
    }
}
