import Glibc
import Linux

/// `ps`: runs the host's ps with the given arguments and keeps the header and the container's lines.
enum ProcessTable {
    static func render(pids: Set<Int32>, psArguments: [String]) throws -> String {
        let output = try capture(["ps"] + psArguments)
        var lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard !lines.isEmpty else { return "" }
        let header = lines.removeFirst()
        guard let pidColumn = header.split(separator: " ").firstIndex(of: "PID") else {
            throw CommandError("ps", "the ps output has no PID column")
        }
        var kept = [header]
        for line in lines where !line.isEmpty {
            let fields = line.split(separator: " ")
            if fields.count > pidColumn, let pid = Int32(fields[pidColumn]), pids.contains(pid) { kept.append(line) }
        }
        return kept.joined(separator: "\n") + "\n"
    }

    private static func capture(_ argv: [String]) throws -> String {
        let pipe = try FileDescriptors.pipe()
        let candidates = ["/bin/ps", "/usr/bin/ps"]
        guard let path = candidates.first(where: { access($0, X_OK) == 0 }) else {
            throw CommandError("ps", "no ps program on this host (install procps)")
        }
        let pid = fork()
        if pid == 0 {
            dup2(pipe.write, 1)
            Spawn.execWithStrings(path: path, args: argv, env: ["PATH=/usr/bin:/bin", "LC_ALL=C"])
            _exit(127)
        }
        close(pipe.write)
        let bytes = (try? Files.readAll(fd: pipe.read)) ?? []
        close(pipe.read)
        let code = try Processes.wait(pid)
        if code != 0 { throw CommandError("ps \(argv.dropFirst().joined(separator: " "))", "exited with status \(code)") }
        return String(decoding: bytes, as: UTF8.self)
    }
}
