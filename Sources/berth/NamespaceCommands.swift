import ArgumentParser
import Foundation
import Glibc
import Linux

/// `berth ns`: which namespaces processes are in, and entering them.
struct NamespaceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ns",
        abstract: "Show the namespaces of processes (by type and inode) and which of them share each.",
        discussion: "berth ns PID [PID...] lists them; berth ns exec PID -- CMD runs a command inside a process's namespaces.",
        subcommands: [NamespaceShow.self, NamespaceExec.self],
        defaultSubcommand: NamespaceShow.self
    )
}

/// One namespace and which of the listed processes are in it.
struct NamespaceRow: Codable {
    let type: String
    let inode: UInt64
    let pids: [Int32]
    /// Whether every listed process is in it.
    let shared: Bool
}

struct NamespaceShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "List namespaces of PIDs (default: the calling shell and this process).")
    @Argument(help: "Process IDs.") var pids: [Int32] = []
    @OptionGroup var output: FormatOption

    func run() throws {
        try ToolkitOutput.run {
            let targets = pids.isEmpty ? [getppid(), getpid()] : pids
            for pid in targets where !Files.exists("/proc/\(pid)/ns") {
                throw ToolkitError(what: "ns \(pid)", why: "no process with PID \(pid)")
            }
            var rows: [NamespaceRow] = []
            var unreadable: [String] = []
            for pid in targets {
                do { _ = try NamespaceIdentity.of(pid: pid, .mount) } catch { unreadable.append("\(pid): \(error)") }
            }
            for kind in NamespaceKind.allCases {
                var byInode: [UInt64: [Int32]] = [:]
                var order: [UInt64] = []
                for pid in targets {
                    guard let id = try? NamespaceIdentity.of(pid: pid, kind) else { continue }
                    if byInode[id.inode] == nil { order.append(id.inode) }
                    byInode[id.inode, default: []].append(pid)
                }
                for inode in order {
                    let members = byInode[inode] ?? []
                    rows.append(NamespaceRow(type: kind.procName, inode: inode, pids: members,
                                             shared: members.count == targets.count))
                }
            }
            if output.format == .json { return try ToolkitOutput.json(rows) }
            let names = targets.map { pid in "\(pid)(\(CgroupFileText.read("/proc/\(pid)/comm") ?? "?"))" }
            print("processes: \(names.joined(separator: " "))")
            ToolkitOutput.table(["TYPE", "INODE", "PIDS", "SHARED"], rows.map { r in
                [r.type, String(r.inode), r.pids.map(String.init).joined(separator: ","),
                 targets.count == 1 ? "-" : (r.shared ? "all" : "no")]
            })
            for line in unreadable { ToolkitOutput.error("ns \(line)") }
        }
    }
}

struct NamespaceExec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec", abstract: "Run a command in the namespaces of PID: berth ns exec PID -- CMD [ARG...].")
    @Option(name: .long, help: "Namespaces to enter, comma-separated (default: all that differ from ours).")
    var only: String?
    @Argument(help: "Target process ID.") var pid: Int32
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.") var command: [String] = []

    func run() throws {
        var code: Int32 = 0
        try ToolkitOutput.run {
            var argv = command
            if argv.first == "--" { argv.removeFirst() }
            guard let program = argv.first else { throw ToolkitError(what: "ns exec \(pid)", why: "no command given") }
            guard Files.exists("/proc/\(pid)/ns") else { throw ToolkitError(what: "ns exec \(pid)", why: "no process with PID \(pid)") }
            var kinds = NamespaceKind.allCases
            if let only {
                kinds = []
                for name in only.split(separator: ",") {
                    guard let k = NamespaceKind.allCases.first(where: { $0.procName == name || $0.rawValue == name }) else {
                        throw ToolkitError(what: "ns exec", why: "unknown namespace \"\(name)\" (pid net mnt ipc uts user cgroup time)")
                    }
                    kinds.append(k)
                }
            }
            // The user namespace first (it grants the rights to join the others), the mount namespace last.
            let order: [NamespaceKind] = [.user, .cgroup, .ipc, .uts, .network, .pid, .time, .mount]
            var joins: [(kind: NamespaceKind, fd: Int32, name: String)] = []
            for kind in order where kinds.contains(kind) {
                let path = "/proc/\(pid)/ns/\(kind.procName)"
                guard let theirs = try? NamespaceIdentity.of(pid: pid, kind),
                      let ours = try? NamespaceIdentity.of(pid: getpid(), kind) else { continue }
                if theirs == ours { continue } // already there (joining one's own user ns is an error)
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw ToolkitError(what: "open \(path)", why: String(cString: strerror(errno))) }
                joins.append((kind, fd, path))
            }
            let joinsPid = joins.contains { $0.kind == .pid }
            let cArgs = argv.map { strdup($0) } + [nil]
            fflush(nil)
            // Fork first: this process may have threads, and setns(2) into a user or mount namespace
            // needs a single-threaded caller. A PID namespace applies to children, hence a second fork.
            let child = fork()
            if child < 0 { throw ToolkitError(what: "fork", why: String(cString: strerror(errno))) }
            if child == 0 {
                for join in joins {
                    do { try Namespaces.join(fd: join.fd, kind: join.kind, name: join.name) } catch {
                        ToolkitOutput.error("\(error)")
                        _exit(125)
                    }
                }
                if joins.contains(where: { $0.kind == .mount }) { _ = chdir("/") }
                if joinsPid {
                    let grandchild = fork()
                    if grandchild < 0 { _exit(125) }
                    if grandchild > 0 {
                        var status: Int32 = 0
                        while waitpid(grandchild, &status, 0) < 0 && errno == EINTR {}
                        _exit(Processes.exitCode(status))
                    }
                }
                execvp(program, cArgs)
                ToolkitOutput.error("exec \(program): \(String(cString: strerror(errno)))")
                _exit(127)
            }
            for join in joins { close(join.fd) }
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 && errno == EINTR {}
            code = Processes.exitCode(status)
        }
        if code != 0 { throw ExitCode(code) }
    }
}
