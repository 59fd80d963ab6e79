import ArgumentParser
import Engine
import Foundation
import Network
import Template

/// `berth network …`: docker's network commands over CNI conflists (see docs/networking.md).
struct NetworkGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network", abstract: "Manage networks.",
        subcommands: [NetworkConnect.self, NetworkCreate.self, NetworkDisconnect.self, NetworkList.self, NetworkInspect.self,
                      NetworkRemove.self, NetworkPrune.self])

    struct NetworkConnect: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "connect", abstract: "Connect a container to a network.")
        @OptionGroup var options: EngineOptions
        @Option(name: .long, help: "Add network-scoped alias for the container.") var alias: [String] = []
        @Option(name: .long, help: "IPv4 address (e.g., 172.30.100.104).") var ip: String?
        @Argument(help: "Network.") var network: String
        @Argument(help: "Container.") var container: String
        func run() throws {
            try engineCommand {
                if let ip, Subnet.parse(ip) == nil { throw EngineError("invalid IPv4 address: \(ip)", "") }
                try options.open().connect(network, container: container, aliases: alias, ip: ip)
            }
        }
    }

    struct NetworkDisconnect: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "disconnect", abstract: "Disconnect a container from a network.")
        @OptionGroup var options: EngineOptions
        @Flag(name: .shortAndLong, help: "Force the container to disconnect from a network.") var force = false
        @Argument(help: "Network.") var network: String
        @Argument(help: "Container.") var container: String
        func run() throws {
            try engineCommand { try options.open().disconnect(network, container: container) }
        }
    }

    struct NetworkCreate: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a network.")
        @OptionGroup var options: EngineOptions
        @Option(name: [.customShort("d"), .customLong("driver")], help: "Driver to manage the Network.") var driver = "bridge"
        @Option(name: .long, help: "Subnet in CIDR format that represents a network segment.") var subnet: String?
        @Option(name: .long, help: "IPv4 Gateway for the master subnet.") var gateway: String?
        @Option(name: .customLong("ip-range"), help: "Allocate container ip from a sub-range.") var ipRange: String?
        @Flag(name: .long, help: "Restrict external access to the network.") var `internal` = false
        @Option(name: .long, help: "Set metadata on a network.") var label: [String] = []
        @Argument(help: "Network name.") var name: String
        func run() throws {
            try engineCommand {
                var labels: [String: String] = [:]
                for entry in label {
                    let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
                    labels[parts[0]] = parts.count > 1 ? parts[1] : ""
                }
                let network = try options.open().createNetwork(name: name, subnet: subnet, gateway: gateway, ipRange: ipRange,
                                                               isInternal: `internal`, labels: labels, driver: driver)
                print(network.id)
            }
        }
    }

    struct NetworkList: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List networks.", aliases: ["list"])
        @OptionGroup var options: EngineOptions
        @Flag(name: .shortAndLong, help: "Only display network IDs.") var quiet = false
        @Flag(name: .customLong("no-trunc"), help: "Do not truncate the output.") var noTrunc = false
        @Option(name: .long, help: "Format output using a Go template, or json.") var format: String?
        func run() throws {
            try engineCommand {
                let engine = try options.open()
                var rows: [(id: String, name: String, driver: String, internal: Bool, labels: [String: String], created: String)] =
                    try engine.listNetworks().map { ($0.id, $0.name, "bridge", $0.isInternal, $0.labels, $0.created) }
                // docker's two pseudo-networks, with stable ids of their own.
                let none: [String: String] = [:]
                func pseudoID(_ name: String) -> String {
                    var hash: UInt64 = 14695981039346656037
                    return (0..<4).map { round in
                        for byte in (name + String(round)).utf8 { hash = (hash ^ UInt64(byte)) &* 1099511628211 }
                        return String(format: "%016llx", hash)
                    }.joined()
                }
                rows.insert(contentsOf: [(id: pseudoID("host"), name: "host", driver: "host", internal: false, labels: none, created: ""),
                                         (id: pseudoID("none"), name: "none", driver: "null", internal: false, labels: none, created: "")],
                            at: min(1, rows.count))
                if quiet { for row in rows { print(noTrunc ? row.id : String(row.id.prefix(12))) }; return }
                let values = rows.map { row -> TemplateValue in
                    .object([("ID", .string(noTrunc ? row.id : String(row.id.prefix(12)))), ("Name", .string(row.name)),
                             ("Driver", .string(row.driver)), ("Scope", .string("local")), ("IPv6", .string("false")),
                             ("Internal", .string(String(row.internal))), ("CreatedAt", .string(row.created)),
                             ("Labels", .string(row.labels.keys.sorted().map { "\($0)=\(row.labels[$0] ?? "")" }.joined(separator: ",")))])
                }
                print(try Formatting.render(format: format, rows: values, defaultTable: "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
                                            headers: ["ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6",
                                                      "Internal": "INTERNAL", "CreatedAt": "CREATED AT", "Labels": "LABELS"]),
                      terminator: "")
            }
        }
    }

    struct NetworkInspect: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Display detailed information on one or more networks.")
        @OptionGroup var options: EngineOptions
        @Option(name: [.customShort("f"), .customLong("format")], help: "Format output using a Go template.") var format: String?
        @Argument(help: "Networks.") var names: [String]
        func run() throws {
            try engineCommand {
                let engine = try options.open()
                let values = try names.map { name -> TemplateValue in
                    let network = try engine.network(name)
                    return InspectView.network(network, containers: try engine.containers(on: network))
                }
                if let format { print(try Formatting.each(format, values), terminator: "") } else { print(Formatting.indentedJSON(.array(values))) }
            }
        }
    }

    struct NetworkRemove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more networks.", aliases: ["remove"])
        @OptionGroup var options: EngineOptions
        @Argument(help: "Networks.") var names: [String]
        func run() throws {
            try engineCommand {
                let engine = try options.open()
                for name in names {
                    try engine.removeNetwork(name)
                    print(name)
                }
            }
        }
    }

    struct NetworkPrune: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove all unused networks.")
        @OptionGroup var options: EngineOptions
        @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.") var force = false
        func run() throws {
            try engineCommand {
                let removed = try options.open().pruneNetworks()
                if !removed.isEmpty { print("Deleted Networks:\n" + removed.joined(separator: "\n")) }
            }
        }
    }
}

extension InspectView {
    /// docker's network inspect shape.
    static func network(_ network: NetworkDefinition, containers: [ContainerInfo]) -> TemplateValue {
        var config: [(key: String, value: TemplateValue)] = [("Subnet", .string(network.subnet)), ("Gateway", .string(network.gateway))]
        if let range = network.ipRange { config.append(("IPRange", .string(range))) }
        let endpoints: [(key: String, value: TemplateValue)] = containers.compactMap { record in
            guard let attachment = record.Network?.attachments.first(where: { $0.network == network.name }), !attachment.isPending else { return nil }
            return (record.Id, .object([("Name", .string(record.Name)), ("EndpointID", .string(record.Id)),
                                        ("MacAddress", .string(attachment.mac)),
                                        ("IPv4Address", .string("\(attachment.address)/\(attachment.prefixLength)")), ("IPv6Address", .string(""))]))
        }
        return .object([
            ("Name", .string(network.name)), ("Id", .string(network.id)), ("Created", .string(network.created)),
            ("Scope", .string("local")), ("Driver", .string("bridge")), ("EnableIPv6", .bool(false)),
            ("IPAM", .object([("Driver", .string("default")), ("Options", .object([])), ("Config", .array([.object(config)]))])),
            ("Internal", .bool(network.isInternal)), ("Attachable", .bool(false)), ("Ingress", .bool(false)),
            ("ConfigFrom", .object([("Network", .string(""))])), ("ConfigOnly", .bool(false)),
            ("Containers", .object(endpoints)),
            ("Options", .object([("com.docker.network.bridge.name", .string(network.bridge))])),
            ("Labels", .object(network.labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
        ])
    }
}
