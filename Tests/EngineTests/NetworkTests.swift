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

/// Dotted-quad helpers for the tests.
enum Subnet4 {
    static func parse(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".").map { UInt32($0) }
        guard octets.count == 4, octets.allSatisfy({ $0 != nil && $0! < 256 }) else { return nil }
        return octets.reduce(0) { ($0 << 8) | $1! }
    }
    static func isAddress(_ text: String) -> Bool { parse(text) != nil }
}
