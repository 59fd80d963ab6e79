import Foundation
import Testing

/// The bridge network, published ports and user networks, through the real CNI plugins; and that nothing of a
/// container or network is left on the host afterwards (veth, netns file, rules, cached results, bridge).
extension EngineSuite {
    @Suite struct NetworkTests {
        /// Everything on the host that names the container: iptables rules (the plugins' comments carry the
        /// id), the cached CNI results, the netns file, a host-local lease.
        static func networkLeftovers(of id: String) throws -> [String] {
            var found: [String] = []
            let rules = try runCommand("/usr/sbin/iptables-save", []).stdout
            found += rules.split(separator: "\n").filter { $0.contains(id) }.map { "rule: \($0)" }
            for directory in ["/var/lib/cni/results", TestEngine.runroot + "/netns"] {
                found += ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.contains(id) }.map { "\(directory)/\($0)" }
            }
            for network in (try? FileManager.default.contentsOfDirectory(atPath: "/var/lib/cni/networks")) ?? [] {
                let directory = "/var/lib/cni/networks/\(network)"
                for lease in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where Subnet4.isAddress(lease) {
                    if (try? String(contentsOfFile: directory + "/" + lease, encoding: .utf8))?.contains(id) == true { found.append("lease \(directory)/\(lease)") }
                }
            }
            return found
        }

        static func veths() throws -> Int {
            try runCommand("/usr/sbin/ip", ["-o", "link", "show", "type", "veth"]).stdout.split(separator: "\n").count
        }

        @Test func theDefaultBridgeGivesAnAddressARouteAndAHostsEntry() throws {
            let name = uniqueName()
            let vethsBefore = try Self.veths()
            #expect(try berth(["run", "-d", "--name", name, "-h", "boxed", TestEngine.image, "sleep", "300"]).succeeded)
            let id = try inspect(name, "{{.Id}}")
            let address = try inspect(name, "{{.NetworkSettings.IPAddress}}")
            #expect(address.hasPrefix("10.77."), "\(address)")
            #expect(try inspect(name, "{{.NetworkSettings.Gateway}}") == "10.77.0.1")
            #expect(try inspect(name, "{{.HostConfig.NetworkMode}}") == "bridge")
            let inside = try berth(["exec", name, "sh", "-c", "ip -4 -o addr show eth0; ip route; grep boxed /etc/hosts; ping -c1 -W2 10.77.0.1 >/dev/null && echo gateway-ok; ip -o link show lo"])
            #expect(inside.stdout.contains("inet \(address)/16"), "\(inside.stdout) \(inside.stderr)")
            #expect(inside.stdout.contains("default via 10.77.0.1"))
            #expect(inside.stdout.contains("\(address)\tboxed"))
            #expect(inside.stdout.contains("gateway-ok"))
            #expect(inside.stdout.contains("state UNKNOWN") || inside.stdout.contains("LOOPBACK,UP"), "lo is up: \(inside.stdout)")
            #expect(try Self.veths() == vethsBefore + 1)
            // Outbound NAT: docker's one rule for the network, not a chain per container.
            let nat = try runCommand("/usr/sbin/iptables-save", ["-t", "nat"]).stdout
            #expect(nat.contains("-A POSTROUTING -s 10.77.0.0/16 ! -o berth0 -m comment --comment \"berth network berth\" -j MASQUERADE"), "\(nat)")
            #expect(!nat.contains(id), "no per-container NAT chain: \(nat)")
            // Stopped: the network goes (docker keeps no endpoint for a stopped container); rm leaves nothing.
            #expect(try berth(["stop", "-t", "0", name]).succeeded)
            #expect(try eventually { try Self.networkLeftovers(of: id).isEmpty && (try Self.veths()) == vethsBefore })
            #expect(try berth(["start", name]).succeeded)
            #expect(try inspect(name, "{{.NetworkSettings.IPAddress}}").hasPrefix("10.77."))
            #expect(try berth(["rm", "-f", name]).succeeded)
            let left = try Self.networkLeftovers(of: id)
            #expect(left.isEmpty, "\(left)")
            #expect(try Self.veths() == vethsBefore)
            #expect(leftovers(of: id).isEmpty, "\(leftovers(of: id))")
        }

        @Test func publishedPortsReachTheContainerFromTheHost() throws {
            let name = uniqueName()
            let hostPort = Int.random(in: 20000...29999)
            let run = try berth(["run", "-d", "--name", name, "-p", "127.0.0.1:\(hostPort):8080", "-p", "8080", TestEngine.image,
                                 "sh", "-c", "echo served > /index.html; exec httpd -f -p 8080 -h /"])
            #expect(run.succeeded, "\(run.stderr)")
            let id = try inspect(name, "{{.Id}}")
            defer { _ = try? berth(["rm", "-f", name]) }
            func fetch(_ port: String) -> String {
                var body = ""
                _ = eventually(timeout: 10) {
                    body = (try? runCommand("/usr/bin/env", ["python3", "-c",
                        "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())",
                        "http://127.0.0.1:\(port)/index.html"]).stdout) ?? ""
                    return body == "served\n"
                }
                return body
            }
            #expect(fetch(String(hostPort)) == "served\n")
            let ports = try berth(["port", name]).stdout.split(separator: "\n").map(String.init)
            #expect(ports.contains("8080/tcp -> 127.0.0.1:\(hostPort)"), "\(ports)")
            let random = ports.first { $0.hasPrefix("8080/tcp -> 0.0.0.0:") }.map { String($0.split(separator: ":").last ?? "") }
            #expect(random != nil)
            if let random { #expect(fetch(random) == "served\n") }
            let listed = try berth(["ps", "--filter", "name=\(name)", "--format", "{{.Ports}}"]).stdout
            #expect(listed.contains("127.0.0.1:\(hostPort)->8080/tcp"), "\(listed)")
            #expect(try inspect(name, "{{json .NetworkSettings.Ports}}").contains("\"HostPort\":\"\(hostPort)\""))
            // The same host port again: docker's error, before anything is made.
            let before = try berth(["ps", "-aq"]).stdout
            let clash = try berth(["run", "--rm", "-p", "127.0.0.1:\(hostPort):80", TestEngine.image, "true"])
            #expect(clash.status == 125)
            #expect(clash.stderr.contains("port is already allocated"), "\(clash.stderr)")
            #expect(try berth(["ps", "-aq"]).stdout == before)
            #expect(try berth(["run", "--rm", "-p", "banana", TestEngine.image, "true"]).status == 125)
            #expect(try berth(["rm", "-f", name]).succeeded)
            let left = try Self.networkLeftovers(of: id)
            #expect(left.isEmpty, "\(left)")
        }

        @Test func userNetworksAreMadeUsedIsolatedAndRemoved() throws {
            let net = "n-\(UInt32.random(in: 0...UInt32.max))", other = net + "-b"
            let create = try berth(["network", "create", "--subnet", "10.98.7.0/24", "--gateway", "10.98.7.254", "--ip-range", "10.98.7.128/25",
                                    "--label", "team=blue", net])
            #expect(create.succeeded, "\(create.stderr)")
            #expect(try berth(["network", "create", other]).succeeded)
            defer { _ = try? berth(["network", "rm", net, other]) }
            let bridge = try berth(["network", "inspect", "-f", "{{index .Options \"com.docker.network.bridge.name\"}}", net]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try berth(["network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{.IPRange}}{{end}} {{.Labels.team}}", net]).stdout
                    == "10.98.7.0/24 10.98.7.254 10.98.7.128/25 blue\n")
            #expect(try berth(["network", "ls", "--format", "{{.Name}}"]).stdout.split(separator: "\n").contains { $0 == net })
            // Bad input: one line, exit 125, nothing made.
            for (arguments, message) in [(["--subnet", "10.98.7.0/25"], "Pool overlaps"), (["--subnet", "10.5.0.0/24", "--gateway", "10.6.0.1"], "invalid gateway"),
                                         (["--subnet", "10.5.0.1/24"], "invalid subnet"), (["-d", "macvlan"], "plugin \"macvlan\" not found")] {
                let result = try berth(["network", "create"] + arguments + ["bad-\(UInt32.random(in: 0...UInt32.max))"])
                #expect(result.status == 125 && result.stderr.contains(message), "\(arguments): \(result.stderr)")
            }
            #expect(try berth(["network", "create", net]).stderr.contains("already exists"))
            let outside = try berth(["run", "--rm", "--network", net, "--ip", "10.98.7.10", TestEngine.image, "true"])
            #expect(outside.status == 125 && outside.stderr.contains("--ip-range"), "\(outside.stderr)")
            #expect(try berth(["run", "--rm", "--network", "no-such-net", TestEngine.image, "true"]).stderr.contains("network no-such-net not found"))
            // Containers on it get addresses from the range; a fixed --ip; a second one with that --ip is refused.
            let first = uniqueName(), second = uniqueName(), third = uniqueName()
            defer { _ = try? berth(["rm", "-f", first, second, third]) }
            #expect(try berth(["run", "-d", "--name", first, "--network", net, "--ip", "10.98.7.140", TestEngine.image, "sleep", "300"]).succeeded)
            #expect(try berth(["run", "-d", "--name", second, "--network", net, TestEngine.image, "sleep", "300"]).succeeded)
            #expect(try berth(["run", "-d", "--name", third, "--network", other, TestEngine.image, "sleep", "300"]).succeeded)
            let secondAddress = try inspect(second, "{{(index .NetworkSettings.Networks \"\(net)\").IPAddress}}")
            #expect((Subnet4.parse(secondAddress) ?? 0) >= (Subnet4.parse("10.98.7.128") ?? 0), "\(secondAddress)")
            #expect(try berth(["run", "--rm", "--network", net, "--ip", "10.98.7.140", TestEngine.image, "true"]).stderr.contains("Address already in use"))
            #expect(try berth(["exec", second, "ping", "-c1", "-W2", "10.98.7.140"]).succeeded)
            let thirdAddress = try inspect(third, "{{.NetworkSettings.IPAddress}}")
            #expect(!(try berth(["exec", second, "ping", "-c1", "-W1", thirdAddress]).succeeded), "networks must be isolated")
            #expect(try berth(["network", "inspect", "-f", "{{len .Containers}}", net]).stdout == "2\n")
            #expect(try runCommand("/usr/sbin/iptables-save", ["-t", "nat"]).stdout.contains("-s 10.98.7.0/24 ! -o \(bridge) "), "the network's NAT rule")
            // --internal: no way out (no default route, no NAT rule).
            let sealed = net + "-int"
            #expect(try berth(["network", "create", "--internal", sealed]).succeeded)
            defer { _ = try? berth(["network", "rm", sealed]) }
            let routes = try berth(["run", "--rm", "--network", sealed, TestEngine.image, "ip", "route"])
            #expect(routes.succeeded && !routes.stdout.contains("default"), "\(routes.stdout) \(routes.stderr)")
            let sealedSubnet = try berth(["network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", sealed]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!(try runCommand("/usr/sbin/iptables-save", ["-t", "nat"]).stdout.contains("-s \(sealedSubnet) ")))
            #expect(try berth(["network", "rm", sealed]).succeeded)
            let inUse = try berth(["network", "rm", net])
            #expect(inUse.status == 125 && inUse.stderr.contains("has active endpoints"), "\(inUse.stderr)")
            #expect(try berth(["rm", "-f", first, second, third]).succeeded)
            #expect(try berth(["network", "rm", net, other]).succeeded)
            // The bridge and its isolation rules went with the network.
            #expect(!FileManager.default.fileExists(atPath: "/sys/class/net/\(bridge)"))
            #expect(!(try runCommand("/usr/sbin/iptables-save", []).stdout.contains(" \(bridge) ")))
            #expect(try berth(["network", "inspect", net]).status == 125)
        }
    }
}

extension EngineSuite.NetworkTests {
    /// Containers on one user network find each other by name and alias through aardvark-dns; names follow a
    /// rename and go when a container stops; --dns/--dns-search write resolv.conf.
    @Test func containersOnAUserNetworkResolveEachOtherByName() throws {
        let net = "dns-\(UInt32.random(in: 0...UInt32.max))"
        #expect(try berth(["network", "create", net]).succeeded)
        defer { _ = try? berth(["network", "rm", net]) }
        let server = uniqueName(), client = uniqueName()
        defer { _ = try? berth(["rm", "-f", server, client]) }
        #expect(try berth(["run", "-d", "--name", server, "--network", net, "--network-alias", "db", TestEngine.image, "sleep", "300"]).succeeded)
        #expect(try berth(["run", "-d", "--name", client, "--network", net, TestEngine.image, "sleep", "300"]).succeeded)
        let address = try inspect(server, "{{.NetworkSettings.IPAddress}}")
        func lookup(_ name: String) throws -> String {
            try berth(["exec", client, "nslookup", name]).stdout
        }
        let found = try lookup(server)
        #expect(found.contains("Address: \(address)"), "\(found)")
        #expect(try lookup("db").contains("Address: \(address)"))
        #expect(try berth(["exec", client, "ping", "-c1", "-W2", server]).succeeded)
        let renamed = server + "-new"
        #expect(try berth(["rename", server, renamed]).succeeded)
        #expect(try lookup(renamed).contains("Address: \(address)"))
        #expect(!(try lookup(server).contains("Address: \(address)")))
        #expect(try berth(["stop", "-t", "0", renamed]).succeeded)
        #expect(try eventually { !(try lookup("db").contains("Address: \(address)")) })
        #expect(try berth(["rm", "-f", renamed, client]).succeeded)
        let custom = try berth(["run", "--rm", "--dns", "192.0.2.53", "--dns-search", "example.test", "--dns-option", "ndots:2",
                                TestEngine.image, "cat", "/etc/resolv.conf"]).stdout
        #expect(custom.contains("nameserver 192.0.2.53") && custom.contains("search example.test") && custom.contains("options ndots:2"), "\(custom)")
        #expect(try berth(["run", "--rm", "--dns", "banana", TestEngine.image, "true"]).status == 125)
        // The last name gone: the DNS server stops, nothing of it is left.
        #expect(try berth(["network", "rm", net]).succeeded)
        #expect(try eventually { AardvarkRunning.none })
    }
}

/// Whether the test engine's aardvark-dns runs.
enum AardvarkRunning {
    static var none: Bool {
        let pidFile = TestEngine.runroot + "/aardvark-dns/aardvark.pid"
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return true }
        return kill(pid, 0) != 0
    }
}

/// Dotted-quad helpers for the tests.
enum Subnet4 {
    static func parse(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".").map { UInt32($0) }
        guard octets.count == 4, octets.allSatisfy({ $0 != nil && $0! < 256 }) else { return nil }
        return octets.reduce(0) { ($0 << 8) | $1! }
    }
    static func isAddress(_ text: String) -> Bool { parse(text) != nil }
}

extension EngineSuite.NetworkTests {
    /// `network connect` gives a running container a second interface at once (and a stopped one at its next
    /// start), its names on the new network resolve, `disconnect` takes the interface and the names away; docker's
    /// refusals; nothing left after rm.
    @Test func connectAndDisconnectARunningContainer() throws {
        let first = "cn-\(UInt32.random(in: 0...UInt32.max))", second = first + "-b"
        #expect(try berth(["network", "create", first]).succeeded)
        #expect(try berth(["network", "create", second]).succeeded)
        defer { _ = try? berth(["network", "rm", first, second]) }
        let roamer = uniqueName(), resident = uniqueName(), stopped = uniqueName(), isolated = uniqueName()
        defer { _ = try? berth(["rm", "-f", roamer, resident, stopped, isolated]) }
        #expect(try berth(["run", "-d", "--name", roamer, "--network", first, TestEngine.image, "sleep", "300"]).succeeded)
        #expect(try berth(["run", "-d", "--name", resident, "--network", second, TestEngine.image, "sleep", "300"]).succeeded)
        let roamerID = try inspect(roamer, "{{.Id}}")
        let residentAddress = try inspect(resident, "{{.NetworkSettings.IPAddress}}")
        // Before: the other network is out of reach.
        #expect(!(try berth(["exec", roamer, "ping", "-c1", "-W1", residentAddress]).succeeded))

        let connect = try berth(["network", "connect", "--alias", "web", second, roamer])
        #expect(connect.succeeded, "\(connect.stderr)")
        let interfaces = try berth(["exec", roamer, "ip", "-4", "-o", "addr"]).stdout
        let secondAddress = try inspect(roamer, "{{(index .NetworkSettings.Networks \"\(second)\").IPAddress}}")
        #expect(interfaces.contains("eth1") && interfaces.contains("inet \(secondAddress)/24"), "\(interfaces)")
        #expect(try berth(["exec", roamer, "ping", "-c1", "-W2", residentAddress]).succeeded)
        #expect(try berth(["exec", roamer, "nslookup", resident]).stdout.contains("Address: \(residentAddress)"))
        #expect(try berth(["exec", resident, "nslookup", "web"]).stdout.contains("Address: \(secondAddress)"))
        #expect(try berth(["ps", "--filter", "name=\(roamer)", "--format", "{{.Networks}}"]).stdout == "\(first),\(second)\n")
        #expect(try berth(["network", "inspect", "-f", "{{len .Containers}}", second]).stdout == "2\n")

        // docker's refusals, nothing changed by them.
        let twice = try berth(["network", "connect", second, roamer])
        #expect(twice.status == 125 && twice.stderr.contains("already exists in network \(second)"), "\(twice.stderr)")
        #expect(try berth(["network", "connect", "no-such-net", roamer]).stderr.contains("network no-such-net not found"))
        let outside = try berth(["network", "connect", "--ip", "192.0.2.9", first, resident])
        #expect(outside.status == 125 && outside.stderr.contains("subnet"), "\(outside.stderr)")
        #expect(try berth(["run", "-d", "--name", isolated, "--network", "none", TestEngine.image, "sleep", "300"]).succeeded)
        #expect(try berth(["network", "connect", first, isolated]).stderr.contains("private (none) mode"))
        #expect(try berth(["network", "inspect", "-f", "{{len .Containers}}", first]).stdout == "1\n")

        let disconnect = try berth(["network", "disconnect", second, roamer])
        #expect(disconnect.succeeded, "\(disconnect.stderr)")
        #expect(!(try berth(["exec", roamer, "ip", "-o", "link"]).stdout.contains("eth1")))
        #expect(try eventually { !(try berth(["exec", resident, "nslookup", "web"]).stdout.contains("Address: \(secondAddress)")) })
        #expect(try berth(["network", "disconnect", second, roamer]).stderr.contains("is not connected to network \(second)"))
        #expect(!(try runCommand("/bin/sh", ["-c", "ls /var/lib/cni/results"]).stdout.contains("\(second)-\(roamerID)")))

        // A stopped container gets the network at its next start, as its second interface.
        #expect(try berth(["create", "--name", stopped, "--network", first, TestEngine.image, "sleep", "300"]).succeeded)
        #expect(try berth(["network", "connect", second, stopped]).succeeded)
        #expect(try berth(["start", stopped]).succeeded)
        let started = try berth(["exec", stopped, "ip", "-4", "-o", "addr"]).stdout
        #expect(started.contains("eth0") && started.contains("eth1"), "\(started)")

        #expect(try berth(["rm", "-f", roamer, resident, stopped, isolated]).succeeded)
        let left = try Self.networkLeftovers(of: roamerID)
        #expect(left.isEmpty, "\(left)")
        #expect(try berth(["network", "rm", first, second]).succeeded)
    }

    /// `--mac-address` reaches the interface (through the tuning plugin's `mac` capability); a multicast or
    /// malformed one, or one on `--network none`, is refused before anything is made; a repeated `--network`
    /// gives one interface per network.
    @Test func macAddressAndSeveralNetworksAtRun() throws {
        let mac = "02:42:ac:11:\(String(format: "%02x", Int.random(in: 16...255))):07"
        let inside = try berth(["run", "--rm", "--mac-address", mac, TestEngine.image, "cat", "/sys/class/net/eth0/address"])
        #expect(inside.stdout == mac + "\n", "\(inside.stdout) \(inside.stderr)")
        for (arguments, message) in [(["--mac-address", "03:00:00:00:00:01"], "invalid MAC address"), (["--mac-address", "02:00:00:00:01"], "invalid MAC address"),
                                     (["--mac-address", "02:00:00:00:00:01", "--network", "none"], "conflicting options")] {
            let before = try berth(["ps", "-aq"]).stdout
            let result = try berth(["run", "--rm"] + arguments + [TestEngine.image, "true"])
            #expect(result.status == 125 && result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(try berth(["ps", "-aq"]).stdout == before)
        }
        let net = "two-\(UInt32.random(in: 0...UInt32.max))"
        #expect(try berth(["network", "create", net]).succeeded)
        defer { _ = try? berth(["network", "rm", net]) }
        let both = try berth(["run", "--rm", "--network", "bridge", "--network", net, TestEngine.image, "ip", "-4", "-o", "addr"])
        #expect(both.stdout.contains("eth0    inet 10.77.") && both.stdout.contains("eth1"), "\(both.stdout) \(both.stderr)")
        #expect(try berth(["run", "--rm", "--network", "host", "--network", net, TestEngine.image, "true"]).stderr.contains("conflicting options"))
    }
}

extension EngineSuite.NetworkTests {
    /// A plugin's ADD that fails (host-local out of addresses on a /30) while the monitor is creating the container:
    /// the start is abandoned at the start gate, the container stays `created` as docker leaves it, and neither a
    /// container process, runtime state, veth, netns file nor lease is left; rm then leaves nothing at all.
    @Test func aFailedNetworkSetupAbandonsTheStartAndLeavesNothing() throws {
        let net = "full-\(UInt32.random(in: 0...UInt32.max))"
        let octet = Int.random(in: 0...63) * 4
        #expect(try berth(["network", "create", "--subnet", "10.97.\(Int.random(in: 0...255)).\(octet)/30", net]).succeeded)
        defer { _ = try? berth(["network", "rm", net]) }
        let holder = uniqueName(), refused = uniqueName()
        defer { _ = try? berth(["rm", "-f", holder, refused]) }
        #expect(try berth(["run", "-d", "--name", holder, "--network", net, TestEngine.image, "sleep", "300"]).succeeded)
        let vethsBefore = try Self.veths()
        let result = try berth(["run", "-d", "--name", refused, "--network", net, TestEngine.image, "sleep", "300"])
        #expect(result.status == 125 && result.stderr.contains("no IP addresses available"), "\(result.status) \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
        let id = try inspect(refused, "{{.Id}}")
        #expect(try inspect(refused, "{{.State.Status}}") == "created")
        #expect(try Self.veths() == vethsBefore)
        let left = try Self.networkLeftovers(of: id)
        #expect(left.isEmpty, "\(left)")
        #expect(!FileManager.default.fileExists(atPath: "\(TestEngine.runroot)/runtime/\(id)"))
        #expect(try runCommand("/bin/sh", ["-c", "pgrep -f '[b]erth-monitor .*\(id)' || true"]).stdout.isEmpty)
        #expect(try berth(["rm", refused]).succeeded)
        #expect(leftovers(of: id).isEmpty, "\(leftovers(of: id))")
    }
}
