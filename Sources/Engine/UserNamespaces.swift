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
            case let keep where keep == "keep-id" || keep.hasPrefix("keep-id:"):
                guard Rootless.isActive else { throw EngineError("invalid --userns \(mode)", "keep-id is only supported in rootless mode") }
                (uids, gids) = try keepID(keep)
            case "nomap":
                throw EngineError("invalid --userns \(mode)", Rootless.isActive ? "nomap is not supported by rootless berth yet"
                                                                            : "nomap is only supported in rootless mode")
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

    /// podman's rootless `--userns keep-id[:uid=U,gid=G]`: the container's uid U (by default the user's own
    /// uid on the host) is the user, so what it writes to a volume belongs to the user outside. Every other id
    /// of the engine's namespace (root = the user, 1… = the subordinate ids) is given out around it: container
    /// 0…U-1 are the namespace's 1…U, U+1… stay themselves. The rootfs is shown shifted to match by fuse-overlayfs.
    static func keepID(_ mode: String) throws(EngineError) -> (uids: [IDRange], gids: [IDRange]) {
        let ownUIDs = UserNamespaceFacts.ownMapping("/proc/self/uid_map")
        let ownGIDs = UserNamespaceFacts.ownMapping("/proc/self/gid_map")
        guard let user = IDMap.hostID(0, in: ownUIDs), let group = IDMap.hostID(0, in: ownGIDs) else {
            throw EngineError("invalid --userns \(mode)", "cannot read this user namespace's mapping")
        }
        var uid = user, gid = group
        if mode.hasPrefix("keep-id:") {
            for option in mode.dropFirst(8).split(separator: ",") {
                let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, let value = UInt32(parts[1]), parts[0] == "uid" || parts[0] == "gid" else {
                    throw EngineError("invalid --userns \(mode)", "keep-id takes uid=N and gid=N")
                }
                if parts[0] == "uid" { uid = value } else { gid = value }
            }
        }
        func around(_ id: UInt32, size: UInt64, flag: String) throws(EngineError) -> [IDRange] {
            guard UInt64(id) + 1 < size else {
                throw EngineError("invalid --userns \(mode)", "\(flag)id \(id) is beyond the \(size) ids this user has (/etc/sub\(flag)id)")
            }
            var ranges: [IDRange] = []
            if id > 0 { ranges.append(IDRange(inside: 0, outside: 1, count: id)) }
            ranges.append(IDRange(inside: id, outside: 0, count: 1))
            ranges.append(IDRange(inside: id + 1, outside: id + 1, count: UInt32(size - UInt64(id) - 1)))
            return ranges
        }
        let uidCount = ownUIDs.reduce(UInt64(0)) { $0 + UInt64($1.count) }
        let gidCount = ownGIDs.reduce(UInt64(0)) { $0 + UInt64($1.count) }
        return (try around(uid, size: uidCount, flag: "u"), try around(gid, size: gidCount, flag: "g"))
    }

    /// The user keep-id runs the container as, when no `--user` is given: the mapped uid and gid.
    static func keepIDUser(_ host: HostConfig) -> (uid: UInt32, gid: UInt32)? {
        guard let mode = host.UsernsMode, mode == "keep-id" || mode.hasPrefix("keep-id:"), let map = map(of: host),
              let uid = map.uids.first(where: { $0.outside == 0 })?.inside,
              let gid = map.gids.first(where: { $0.outside == 0 })?.inside else { return nil }
        return (uid, gid)
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
