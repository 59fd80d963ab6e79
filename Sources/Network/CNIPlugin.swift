import Foundation
import Glibc
import Linux

/// One execution of a CNI plugin binary, per the CNI 1.0.0 spec: the command and container in the
/// environment, the network configuration on stdin, the result (or an error object) on stdout.
struct CNIPlugin {
    static let searchPath = ["/usr/lib/cni", "/opt/cni/bin"]

    /// The engine runs ADD and DEL only. CHECK is not run: in containernetworking-plugins 1.1.1 portmap's CHECK
    /// fails on IPv4-only networks such as ours, and dnsname's fails
    /// always; a chain whose CHECK fails for no reason would only teach users to ignore it.
    enum Command: String { case add = "ADD", del = "DEL", check = "CHECK" }

    let type: String

    var executable: String? {
        Self.searchPath.map { $0 + "/" + type }.first { access($0, X_OK) == 0 }
    }

    /// Runs the plugin; returns its parsed stdout (the result for ADD, empty for DEL/CHECK).
    func invoke(_ command: Command, config: [String: Any], containerID: String, netns: String, ifname: String,
                args: [(String, String)] = []) throws(NetworkError) -> [String: Any] {
        guard let path = executable else {
            throw NetworkError("CNI plugin \(type) not found", "looked in \(Self.searchPath.joined(separator: ", ")); install containernetworking-plugins")
        }
        let input: Data
        do { input = try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]) } catch {
            throw NetworkError("encoding the configuration of \(type)", "\(error)")
        }
        let cniArgs = (["IgnoreUnknown=1"] + args.map { "\($0.0)=\($0.1)" }).joined(separator: ";")
        let environment = ["CNI_COMMAND=\(command.rawValue)", "CNI_CONTAINERID=\(containerID)", "CNI_NETNS=\(netns)",
                           "CNI_IFNAME=\(ifname)", "CNI_ARGS=\(cniArgs)", "CNI_PATH=\(Self.searchPath.joined(separator: ":"))",
                           "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
        let started = Clock.monotonicNanoseconds()
        let (status, output) = try Self.run(path, input: input, environment: environment)
        Trace.log("CNI \(type) \(command.rawValue) \(ifname) = \(status) in \((Clock.monotonicNanoseconds() - started) / 1_000_000) ms")
        let object = (try? JSONSerialization.jsonObject(with: output)) as? [String: Any] ?? [:]
        if status != 0 {
            // The spec's error object: {"code": N, "msg": "...", "details": "..."}.
            let message = object["msg"] as? String ?? String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let details = (object["details"] as? String).map { $0.isEmpty ? "" : " (\($0))" } ?? ""
            let code = (object["code"] as? Int).map { " [CNI error \($0)]" } ?? ""
            throw NetworkError("CNI plugin \(type) \(command.rawValue) failed", message + details + code)
        }
        return object
    }

    private static func run(_ path: String, input: Data, environment: [String]) throws(NetworkError) -> (Int32, Data) {
        let stdin: (read: Int32, write: Int32)
        let stdout: (read: Int32, write: Int32)
        do {
            stdin = try FileDescriptors.pipe()
            stdout = try FileDescriptors.pipe()
        } catch { throw NetworkError("running \(path)", error.description) }
        let pid: pid_t
        do { pid = try Spawn.spawn(path: path, args: [path], env: environment, files: [0: stdin.read, 1: stdout.write, 2: 2]) } catch {
            close(stdin.read); close(stdin.write); close(stdout.read); close(stdout.write)
            throw NetworkError("running \(path)", error.description)
        }
        close(stdin.read)
        close(stdout.write)
        input.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(stdin.write, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { break }
                offset += written
            }
        }
        close(stdin.write)
        let output = Data(Self.readAll(stdout.read))
        close(stdout.read)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (Processes.exitCode(status), output)
    }

    /// Everything `fd` gives until end of file.
    static func readAll(_ fd: Int32) -> [UInt8] {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            data.append(contentsOf: chunk[0..<count])
        }
        return data
    }
}
