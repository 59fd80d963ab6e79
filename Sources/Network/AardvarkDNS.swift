import Foundation
import Glibc
import Linux

/// Names on user networks through aardvark-dns 1.4, podman's DNS server, run standalone: one config file per
/// network in a directory (first line the addresses to listen on, then `ID IPV4S IPV6S NAMES` per container),
/// reloaded on SIGHUP, one daemon for all networks of an engine. Chosen over the unmaintained dnsname plugin,
/// whose DEL leaves an INPUT rule and the bridge behind and whose CHECK always fails.
public enum AardvarkDNS {
    static let candidates = ["/usr/lib/podman/aardvark-dns", "/usr/libexec/podman/aardvark-dns"]

    public struct Record: Sendable, Equatable {
        public var id: String
        public var address: String
        public var names: [String]
        public init(id: String, address: String, names: [String]) { self.id = id; self.address = address; self.names = names }
    }

    public static var binary: String? { candidates.first { access($0, X_OK) == 0 } }

    /// Writes `network`'s names (none: its file goes) and makes the daemon see them: started if need be,
    /// else told to reload; stopped once no network has a name left.
    public static func update(directory: String, network: NetworkDefinition, records: [Record]) throws(NetworkError) {
        guard let binary else { throw NetworkError("aardvark-dns not found", "install the aardvark-dns package for names on user networks") }
        let file = directory + "/" + network.cniName
        do {
            try Files.makeDirectories(directory, mode: 0o700)
            if records.isEmpty {
                unlink(file)
            } else {
                let lines = [network.gateway] + records.map { "\($0.id) \($0.address)  \($0.names.joined(separator: ","))" }
                try Files.replace(file, Array((lines.joined(separator: "\n") + "\n").utf8), mode: 0o600)
            }
        } catch {
            throw NetworkError("writing the names of network \(network.name)", "\(error)")
        }
        let networks = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0 != "aardvark.pid" && !$0.hasPrefix(".") }
        let running = runningPid(directory)
        if networks.isEmpty {
            if let running { kill(running, SIGTERM) }
            unlink(directory + "/aardvark.pid")
            return
        }
        if let running {
            kill(running, SIGHUP)
            return
        }
        // `run` forks the server into the background and returns once it listens (the pid is in aardvark.pid).
        let status = NetworkCleanup.run(binary, [binary, "--config", directory, "-p", "53", "run"])
        if status != 0 { throw NetworkError("starting aardvark-dns", "it exited with \(status)") }
    }

    /// The daemon of `directory`, if it runs.
    public static func runningPid(_ directory: String) -> pid_t? {
        guard let text = try? Files.read(directory + "/aardvark.pid"), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)),
              pid > 0, kill(pid, 0) == 0,
              let command = try? Files.read("/proc/\(pid)/cmdline"), command.contains("aardvark-dns") else { return nil }
        return pid
    }

    /// Stops the daemon and forgets every name (the engine's networks are all gone, or the tests end).
    public static func stop(directory: String) {
        if let pid = runningPid(directory) { kill(pid, SIGTERM) }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
