import Foundation
import Glibc
import Linux

/// The networks berth made: `berth-<name>.conflist` files in the CNI configuration directory (/etc/cni/net.d,
/// where kubelet, containerd and podman's CNI backend look too). Changes are made under a flock.
public struct NetworkStore: Sendable {
    public let configDirectory: String
    public static let defaultConfigDirectory = "/etc/cni/net.d"
    /// The default network's subnet: clear of podman's 10.88.0.0/16 and docker's 172.17.0.0/16.
    public static let defaultSubnet = "10.77.0.0/16"
    /// User networks get /24s from here, in order.
    static let userSubnetBase = Subnet.parse("10.78.0.0") ?? 0

    public init(configDirectory: String = NetworkStore.defaultConfigDirectory) { self.configDirectory = configDirectory }

    func path(_ name: String) -> String { configDirectory + "/berth-\(name == NetworkDefinition.defaultName ? NetworkDefinition.defaultCNIName : name).conflist" }

    public func list() -> [NetworkDefinition] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: configDirectory)) ?? [])
            .filter { $0.hasPrefix("berth-") && $0.hasSuffix(".conflist") }.sorted()
        return names.compactMap { name in
            guard let data = FileManager.default.contents(atPath: configDirectory + "/" + name),
                  let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
            return NetworkDefinition(conflist: object)
        }
    }

    /// By name, full id or unique id prefix; the default network is made on first use.
    public func network(_ reference: String) throws(NetworkError) -> NetworkDefinition {
        if reference == NetworkDefinition.defaultName { return try ensureDefault() }
        let all = list()
        if let exact = all.first(where: { $0.name == reference || $0.id == reference }) { return exact }
        let matches = all.filter { $0.id.hasPrefix(reference) }
        if matches.count == 1, reference.count >= 3 { return matches[0] }
        throw NetworkError("network \(reference) not found", "")
    }

    public func ensureDefault() throws(NetworkError) -> NetworkDefinition {
        if let existing = list().first(where: \.isDefault) { return existing }
        return try locked { () throws(NetworkError) in
            if let existing = list().first(where: \.isDefault) { return existing }
            let subnet = Subnet(parsing: Self.defaultSubnet)!
            let network = NetworkDefinition(name: NetworkDefinition.defaultName, id: Self.newID(), created: Self.now(),
                                            bridge: "berth0", subnet: subnet.description, gateway: Subnet.format(subnet.first + 1))
            try write(network)
            return network
        }
    }

    /// `network create`: docker's checks (the name free, the subnet well-formed and clear of the others, the
    /// gateway and range inside it), then the conflist.
    public func create(name: String, subnet: String?, gateway: String?, ipRange: String?, isInternal: Bool,
                       labels: [String: String], driver: String) throws(NetworkError) -> NetworkDefinition {
        guard driver == "bridge" else { throw NetworkError("plugin \"\(driver)\" not found", "berth has the bridge driver") }
        guard Self.validName(name) else {
            throw NetworkError("invalid network name \"\(name)\"", "names are [a-zA-Z0-9][a-zA-Z0-9_.-]*")
        }
        if ["bridge", "host", "none", "default"].contains(name) {
            throw NetworkError("network name \(name) is reserved", "")
        }
        return try locked { () throws(NetworkError) in
            let existing = list()
            if existing.contains(where: { $0.name == name }) { throw NetworkError("network with name \(name) already exists", "") }
            let chosen: Subnet
            if let subnet {
                guard let parsed = Subnet(parsing: subnet) else {
                    throw NetworkError("invalid subnet \(subnet)", "use an IPv4 CIDR with no host bits set, prefix 8 to 30, e.g. 10.99.0.0/24")
                }
                if let other = existing.first(where: { Subnet(parsing: $0.subnet)?.overlaps(parsed) == true }) {
                    throw NetworkError("invalid pool request", "Pool overlaps with other one on this address space (\(other.name): \(other.subnet))")
                }
                chosen = parsed
            } else {
                guard let free = (0..<256).lazy.map({ Subnet(address: Self.userSubnetBase + UInt32($0) << 8, prefix: 24) })
                    .first(where: { candidate in !existing.contains { Subnet(parsing: $0.subnet)?.overlaps(candidate) == true } }) else {
                    throw NetworkError("no free subnet for \(name)", "10.78.0.0/16 is used up; give --subnet")
                }
                chosen = free
            }
            var gatewayAddress = chosen.first + 1
            if let gateway {
                guard let parsed = Subnet.parse(gateway), chosen.contains(parsed), parsed != chosen.first, parsed != chosen.last else {
                    throw NetworkError("invalid gateway \(gateway)", "it must be an address inside \(chosen.description)")
                }
                gatewayAddress = parsed
            }
            if let ipRange {
                guard let range = Subnet(parsing: ipRange), chosen.contains(range.first), chosen.contains(range.last) else {
                    throw NetworkError("invalid --ip-range \(ipRange)", "it must be a CIDR inside \(chosen.description)")
                }
            }
            let used = Set(existing.map(\.bridge))
            let bridge = (1...).lazy.map { "berth\($0)" }.first { !used.contains($0) && !Files.exists("/sys/class/net/\($0)") } ?? "berth-x"
            let network = NetworkDefinition(name: name, id: Self.newID(), created: Self.now(), bridge: bridge,
                                            subnet: chosen.description, gateway: Subnet.format(gatewayAddress),
                                            ipRange: ipRange, isInternal: isInternal, labels: labels)
            try write(network)
            return network
        }
    }

    /// Deletes the conflist, the bridge device and host-local's leases of the network.
    public func remove(_ network: NetworkDefinition) throws(NetworkError) {
        try locked { () throws(NetworkError) in
            unlink(path(network.name))
            NetworkCleanup.removeBridge(network.bridge)
            NetworkMasquerade.remove(network)
            try? FileManager.default.removeItem(atPath: "/var/lib/cni/networks/\(network.cniName)")
        }
    }

    private func write(_ network: NetworkDefinition) throws(NetworkError) {
        do {
            try Files.makeDirectories(configDirectory, mode: 0o755)
            let data = try JSONSerialization.data(withJSONObject: network.conflist(), options: [.prettyPrinted, .sortedKeys])
            try Files.replace(path(network.name), Array(data), mode: 0o644)
        } catch {
            throw NetworkError("writing \(path(network.name))", "\(error)")
        }
    }

    private func locked<T>(_ body: () throws(NetworkError) -> T) throws(NetworkError) -> T {
        do { try Files.makeDirectories(configDirectory, mode: 0o755) } catch { throw NetworkError("creating \(configDirectory)", error.description) }
        let fd = open(configDirectory + "/berth.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw NetworkError("locking \(configDirectory)", SystemError.message(errno)) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 { if errno != EINTR { break } }
        return try body()
    }

    static func validName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return !bytes.isEmpty && bytes.count <= 64 && bytes.enumerated().allSatisfy { index, byte in
            let alnum = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
            return alnum || (index > 0 && (byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")))
        }
    }

    static func newID() -> String {
        (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    static func now() -> String { ISO8601DateFormatter().string(from: Date()) }
}
