import Foundation

/// A network as berth knows it, stored as an ordinary CNI 1.0.0 conflist (bridge + host-local, portmap,
/// firewall, tuning): what containerd's CRI plugin or podman's CNI backend could read unchanged. Berth's own
/// facts (id, labels, creation time) ride in the bridge plugin's `args`, which plugins ignore.
public struct NetworkDefinition: Sendable, Equatable {
    public var name: String
    public var id: String
    public var created: String
    public var bridge: String
    public var subnet: String
    public var gateway: String
    public var ipRange: String?
    public var isInternal: Bool
    public var labels: [String: String]

    /// docker's name for the default network; its CNI name is `berth`.
    public static let defaultName = "bridge"
    public static let defaultCNIName = "berth"
    public static let cniVersion = "1.0.0"

    public var cniName: String { name == Self.defaultName ? Self.defaultCNIName : name }
    public var isDefault: Bool { name == Self.defaultName }

    public init(name: String, id: String, created: String, bridge: String, subnet: String, gateway: String,
                ipRange: String? = nil, isInternal: Bool = false, labels: [String: String] = [:]) {
        self.name = name; self.id = id; self.created = created; self.bridge = bridge; self.subnet = subnet
        self.gateway = gateway; self.ipRange = ipRange; self.isInternal = isInternal; self.labels = labels
    }

    public func conflist() -> [String: Any] {
        var range: [String: Any] = ["subnet": subnet, "gateway": gateway]
        // --ip-range: host-local's rangeStart/rangeEnd, without the subnet's network and broadcast addresses.
        if let ipRange, let bounds = Subnet(parsing: ipRange), let whole = Subnet(parsing: subnet) {
            range["rangeStart"] = Subnet.format(bounds.first == whole.first ? bounds.first + 1 : bounds.first)
            range["rangeEnd"] = Subnet.format(bounds.last == whole.last ? bounds.last - 1 : bounds.last)
        }
        var ipam: [String: Any] = ["type": "host-local", "ranges": [[range]]]
        if !isInternal { ipam["routes"] = [["dst": "0.0.0.0/0"]] }
        var berth: [String: Any] = ["id": id, "created": created, "name": name, "internal": isInternal]
        if !labels.isEmpty { berth["labels"] = labels }
        if let ipRange { berth["ipRange"] = ipRange }
        // Outbound NAT is one rule per network (`NetworkMasquerade`, as docker has it), not the bridge plugin's
        // ipMasq: that makes a chain per container, nine iptables runs on ADD and six on DEL, the largest part
        // of a container's network setup.
        let bridgePlugin: [String: Any] = [
            "type": "bridge", "bridge": bridge, "isGateway": true, "ipMasq": false, "hairpinMode": true,
            "ipam": ipam, "args": ["berth": berth],
        ]
        return [
            "cniVersion": Self.cniVersion,
            "name": cniName,
            "plugins": [
                bridgePlugin,
                ["type": "portmap", "capabilities": ["portMappings": true]],
                // Containers of one network reach each other, not those of another (docker's isolation).
                ["type": "firewall", "ingressPolicy": "same-bridge"],
                // A container's --mac-address, set after the bridge plugin made the interface.
                ["type": "tuning", "capabilities": ["mac": true]],
            ] as [[String: Any]],
        ]
    }

    public init?(conflist: [String: Any]) {
        guard let plugins = conflist["plugins"] as? [[String: Any]],
              let bridgePlugin = plugins.first(where: { $0["type"] as? String == "bridge" }),
              let berth = (bridgePlugin["args"] as? [String: Any])?["berth"] as? [String: Any],
              let name = berth["name"] as? String, let id = berth["id"] as? String,
              let bridge = bridgePlugin["bridge"] as? String,
              let ranges = (bridgePlugin["ipam"] as? [String: Any])?["ranges"] as? [[[String: Any]]],
              let range = ranges.first?.first, let subnet = range["subnet"] as? String else { return nil }
        self.init(name: name, id: id, created: berth["created"] as? String ?? "", bridge: bridge, subnet: subnet,
                  gateway: range["gateway"] as? String ?? "", ipRange: berth["ipRange"] as? String,
                  isInternal: berth["internal"] as? Bool ?? false, labels: berth["labels"] as? [String: String] ?? [:])
    }
}

/// An IPv4 subnet in CIDR form.
public struct Subnet: Sendable, Equatable {
    public let address: UInt32
    public let prefix: Int

    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let prefix = Int(parts[1]), (8...30).contains(prefix), let address = Self.parse(String(parts[0])) else { return nil }
        self.prefix = prefix
        self.address = address & Self.mask(prefix)
        if self.address != address { return nil }   // host bits set: docker refuses it too
    }

    public init(address: UInt32, prefix: Int) { self.address = address & Self.mask(prefix); self.prefix = prefix }

    public var first: UInt32 { address }
    public var last: UInt32 { address | ~Self.mask(prefix) }
    public var description: String { "\(Self.format(address))/\(prefix)" }

    public func contains(_ ip: UInt32) -> Bool { ip & Self.mask(prefix) == address }
    public func overlaps(_ other: Subnet) -> Bool { first <= other.last && other.first <= last }

    static func mask(_ prefix: Int) -> UInt32 { prefix == 0 ? 0 : UInt32.max << (32 - prefix) }

    public static func parse(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false).map { UInt32($0) }
        guard octets.count == 4, octets.allSatisfy({ $0 != nil && $0! <= 255 }) else { return nil }
        return octets.reduce(0) { ($0 << 8) | $1! }
    }

    public static func format(_ address: UInt32) -> String {
        "\(address >> 24).\((address >> 16) & 255).\((address >> 8) & 255).\(address & 255)"
    }
}
