import ArgumentParser
import Cgroups
import Foundation
import Glibc
import Linux

/// `berth cgroup`: the kernel's cgroups made visible — hierarchies, cgroups, tasks, limits.
struct CgroupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cgroup",
        abstract: "See and drive cgroups (v1, v2 and hybrid hosts).",
        discussion: """
            A task (process) is in exactly one cgroup of each hierarchy. A hierarchy is a tree of \
            cgroups with subsystems (controllers) attached: on v1 each subsystem sits in one of \
            several hierarchies; on v2 there is a single, unified one. PATHs are cgroup paths from \
            a hierarchy's root, like /demo.
            """,
        subcommands: [
            CgroupLs.self, CgroupTree.self, CgroupWhich.self, CgroupCreate.self, CgroupSet.self, CgroupGet.self,
            CgroupMove.self, CgroupExec.self, CgroupRm.self, CgroupMount.self, CgroupStatsCommand.self,
        ]
    )
}

struct CgroupLs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List hierarchies: ID, subsystems, mount point, number of cgroups.")
    @OptionGroup var output: FormatOption

    func run() throws {
        try ToolkitOutput.run {
            let all = CgroupToolkit.hierarchies()
            if output.format == .json {
                struct Listing: Encodable { let mode: String; let hierarchies: [HierarchyInfo] }
                return try ToolkitOutput.json(Listing(mode: Cgroups.detectMode().rawValue, hierarchies: all))
            }
            print("cgroup mode: \(Cgroups.detectMode().rawValue)")
            ToolkitOutput.table(["ID", "VERSION", "SUBSYSTEMS", "MOUNT", "CGROUPS"], all.map { h in
                var subs = h.subsystems.joined(separator: ",")
                if let name = h.name { subs += (subs.isEmpty ? "" : ",") + "name=" + name }
                if subs.isEmpty { subs = "-" }
                return [String(h.id), "v\(h.version)", subs, h.mountPoint ?? "(not mounted)", String(h.cgroups)]
            })
            let unattached = Cgroups.subsystems().filter { $0.hierarchy == 0 }.map(\.name)
            if !unattached.isEmpty && Cgroups.detectMode() != .unified {
                print("not in a v1 hierarchy: \(unattached.joined(separator: " "))")
            }
        }
    }
}

struct CgroupTree: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tree", abstract: "Show cgroups under PATH with task counts and key limits/usage.")
    @Argument(help: "Cgroup path (default: the root).") var path: String = "/"
    @Option(name: .shortAndLong, help: "v1: the hierarchy to walk, by one of its subsystems (default: pids).")
    var controller: String?
    @Option(name: .long, help: "How many levels to descend.") var depth: Int = 64
    @OptionGroup var output: FormatOption

    func run() throws {
        try ToolkitOutput.run {
            let entries = try CgroupToolkit.tree(path: path, controller: controller, maxDepth: depth)
            if output.format == .json { return try ToolkitOutput.json(entries) }
            ToolkitOutput.table(["CGROUP", "TASKS", "MEMORY", "PIDS", "CPU", "STATE"], entries.map { e in
                let name = e.depth == 0 ? e.path : String(repeating: "  ", count: e.depth) + (e.path.split(separator: "/").last.map(String.init) ?? e.path)
                let v = e.values
                let memory = v["memory.current"].map { ToolkitOutput.bytes($0) + "/" + ToolkitOutput.bytes(v["memory.max"]) } ?? "-"
                let pids = v["pids.current"].map { $0 + "/" + (v["pids.max"] ?? "max") } ?? "-"
                var cpu = "-"
                if let max = v["cpu.max"] {
                    cpu = max == "max 100000" ? "max" : max.replacingOccurrences(of: " ", with: "/")
                } else if let quota = v["cpu.cfs_quota_us"] {
                    cpu = quota == "-1" ? "max" : quota + "/" + (v["cpu.cfs_period_us"] ?? "100000")
                }
                if let shares = v["cpu.shares"], shares != "1024" { cpu += " shares=" + shares }
                if let weight = v["cpu.weight"], weight != "100" { cpu += " weight=" + weight }
                let v1State = v["freezer.state"].map { $0 == "THAWED" ? "" : $0.lowercased() } ?? ""
                let frozen = v["cgroup.freeze"] == "1" ? "frozen" : v1State
                return [name, String(e.tasks), memory, pids, cpu, frozen.isEmpty ? "-" : frozen]
            })
        }
    }
}

struct CgroupWhich: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "which", abstract: "Explain each line of /proc/PID/cgroup: one cgroup per hierarchy.")
    @Argument(help: "A process ID (default: this process).") var pid: Int32?
    @OptionGroup var output: FormatOption

    func run() throws {
        try ToolkitOutput.run {
            let target = pid ?? getpid()
            let lines = try CgroupToolkit.which(pid: target)
            if output.format == .json { return try ToolkitOutput.json(lines) }
            let comm = CgroupFileText.read("/proc/\(target)/comm") ?? "?"
            print("PID \(target) (\(comm)) is in \(lines.count) cgroup(s), one per hierarchy:")
            ToolkitOutput.table(["HIERARCHY", "CONTROLLERS", "CGROUP", "DIRECTORY"], lines.map { l in
                let controllers = l.version == 2 && l.controllers.isEmpty ? "(v2 unified)" : l.controllers.joined(separator: ",")
                return [String(l.hierarchy), controllers, l.path, l.directory ?? "(hierarchy not mounted here)"]
            })
        }
    }
}

enum CgroupFileText {
    static func read(_ path: String) -> String? {
        (try? Files.read(path)).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }
}

struct CgroupCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a cgroup (in every hierarchy, or those of -c CONTROLLERS).")
    @Argument(help: "Cgroup path, e.g. /demo.") var path: String
    @Option(name: .shortAndLong, help: "Comma-separated controllers, e.g. memory,pids.") var controllers: String?

    func run() throws {
        try ToolkitOutput.run {
            let list = controllers.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
            let dirs = try CgroupToolkit.create(path: path, controllers: list)
            for dir in dirs { print(dir) }
        }
    }
}

struct CgroupSet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Write interface files: KEY=VALUE (all or nothing).",
        discussion: "KEY is a file name such as pids.max, memory.max (v2) or memory.limit_in_bytes (v1); SUBSYSTEM:KEY picks a v1 hierarchy.")
    @Argument(help: "Cgroup path.") var path: String
    @Argument(help: "KEY=VALUE assignments.") var assignments: [String]

    func run() throws {
        try ToolkitOutput.run {
            var pairs: [(key: String, value: String)] = []
            for a in assignments {
                guard let eq = a.firstIndex(of: "="), eq != a.startIndex else {
                    throw ToolkitError(what: "cgroup set \(path)", why: "\"\(a)\" is not KEY=VALUE")
                }
                pairs.append((String(a[..<eq]), String(a[a.index(after: eq)...])))
            }
            guard !pairs.isEmpty else { throw ToolkitError(what: "cgroup set \(path)", why: "nothing to set") }
            try CgroupToolkit.set(path: path, pairs)
        }
    }
}

struct CgroupGet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Read interface files (all readable ones when no KEY is given).")
    @Argument(help: "Cgroup path.") var path: String
    @Argument(help: "Keys, e.g. memory.max pids.current.") var keys: [String] = []
    @OptionGroup var output: FormatOption

    func run() throws {
        try ToolkitOutput.run {
            let values = try CgroupToolkit.get(path: path, keys: keys)
            if output.format == .json {
                var map: [String: String] = [:]
                for (k, v) in values { map[k] = v }
                return try ToolkitOutput.json(map)
            }
            if keys.count == 1, let only = values.first { print(only.value); return }
            let width = values.map(\.key.count).max() ?? 0
            for (k, v) in values {
                let lines = v.split(separator: "\n", omittingEmptySubsequences: false)
                print(k.padding(toLength: width + 2, withPad: " ", startingAt: 0) + (lines.first.map(String.init) ?? ""))
                for more in lines.dropFirst() { print(String(repeating: " ", count: width + 2) + more) }
            }
        }
    }
}

struct CgroupMove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "move", abstract: "Move processes (or with --thread, single threads) into a cgroup.")
    @Flag(name: .long, help: "Move only the given thread IDs, not whole processes.") var thread = false
    @Argument(help: "PID... PATH") var arguments: [String]

    func run() throws {
        try ToolkitOutput.run {
            guard arguments.count >= 2, let path = arguments.last else {
                throw ToolkitError(what: "cgroup move", why: "usage: berth cgroup move PID... PATH")
            }
            var pids: [Int32] = []
            for a in arguments.dropLast() {
                guard let pid = Int32(a), pid > 0 else { throw ToolkitError(what: "cgroup move", why: "\"\(a)\" is not a PID") }
                pids.append(pid)
            }
            try CgroupToolkit.move(pids: pids, path: path, thread: thread)
        }
    }
}

struct CgroupExec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec", abstract: "Run a command inside a cgroup: berth cgroup exec PATH -- CMD [ARG...].")
    @Argument(help: "Cgroup path.") var path: String
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.") var command: [String] = []

    func run() throws {
        try ToolkitOutput.run {
            var argv = command
            if argv.first == "--" { argv.removeFirst() }
            guard let program = argv.first else { throw ToolkitError(what: "cgroup exec \(path)", why: "no command given") }
            // This process joins the cgroup and becomes the command (its children follow it).
            try CgroupToolkit.move(pids: [getpid()], path: path, thread: false)
            let cArgs = argv.map { strdup($0) } + [nil]
            execvp(program, cArgs)
            throw ToolkitError(what: "exec \(program)", why: String(cString: strerror(errno)))
        }
    }
}

struct CgroupRm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove a cgroup (refused while it has tasks, unless --force kills them).")
    @Flag(name: .shortAndLong, help: "Kill the cgroup's tasks first.") var force = false
    @Argument(help: "Cgroup paths.") var paths: [String]

    func run() throws {
        try ToolkitOutput.run {
            for path in paths { try CgroupToolkit.remove(path: path, force: force) }
        }
    }
}

struct CgroupMount: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount", abstract: "Mount a named v1 hierarchy (no subsystems) at DIR.",
        discussion: "A named hierarchy groups tasks without controlling anything (systemd's name=systemd is one). -c attaches subsystems, which the kernel allows only if none is already in another hierarchy.")
    @Option(name: .long, help: "The hierarchy's name.") var name: String
    @Option(name: .shortAndLong, help: "Comma-separated subsystems to attach (default: none).") var controllers: String?
    @Argument(help: "Mount point.") var directory: String

    func run() throws {
        try ToolkitOutput.run {
            let subs = controllers.map { $0.split(separator: ",").map(String.init) } ?? []
            try CgroupToolkit.mountNamed(name: name, directory: directory, subsystems: subs)
            print("mounted hierarchy name=\(name) at \(directory)")
        }
    }
}

struct CgroupStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Show a cgroup's accounting: cpu, memory, pids, io (--watch: live).")
    @Argument(help: "Cgroup path.") var path: String
    @Flag(name: .shortAndLong, help: "Print a line every --interval until interrupted.") var watch = false
    @Option(name: .long, help: "Seconds between lines with --watch.") var interval: Double = 1
    @Option(name: .long, help: "Stop after this many lines with --watch.") var count: Int?
    @OptionGroup var output: FormatOption

    func run() throws {
        try ToolkitOutput.run {
            let cgroup = try CgroupToolkit.cgroupPath(path)
            let manager = try Cgroups.manager(path: cgroup)
            guard manager.exists() else { throw ToolkitError(what: "cgroup stats \(cgroup)", why: "no such cgroup") }
            if !watch {
                let s = try manager.stats()
                if output.format == .json { return try ToolkitOutput.json(s) }
                Self.show(s)
                return
            }
            var previous = try manager.stats()
            var previousTime = Clock.monotonicNanoseconds()
            var printed = 0
            if output.format == .table {
                print(["TIME", "CPU%", "MEMORY", "LIMIT", "PIDS", "THROTTLED", "OOM_KILLS"]
                    .map { $0.padding(toLength: 10, withPad: " ", startingAt: 0) }.joined())
            }
            while count.map({ printed < $0 }) ?? true {
                usleep(UInt32(max(interval, 0.05) * 1_000_000))
                let s = try manager.stats()
                let now = Clock.monotonicNanoseconds()
                let cpu = Double(s.cpu.usage.total &- previous.cpu.usage.total) / Double(max(now - previousTime, 1)) * 100
                if output.format == .json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    print(String(decoding: try encoder.encode(s), as: UTF8.self))
                } else {
                    let limit = s.memory.usage.limit == 0 || s.memory.usage.limit >= 1 << 62 ? "max" : ToolkitOutput.bytes(s.memory.usage.limit)
                    let time = String(format: "%.1f", Double(printed + 1) * interval)
                    print([time, String(format: "%.1f", cpu), ToolkitOutput.bytes(s.memory.usage.usage), limit,
                           "\(s.pids.current)/\(s.pids.limit == 0 ? "max" : String(s.pids.limit))",
                           String(s.cpu.throttling.throttledPeriods), String(s.memory.eventCount.oomKill)]
                        .map { $0.padding(toLength: 10, withPad: " ", startingAt: 0) }.joined())
                }
                fflush(nil)
                previous = s
                previousTime = now
                printed += 1
            }
        }
    }

    static func show(_ s: CgroupStats) {
        let limit = s.memory.usage.limit == 0 || s.memory.usage.limit >= 1 << 62 ? "max" : ToolkitOutput.bytes(s.memory.usage.limit)
        var rows: [[String]] = [
            ["cpu", "usage", ToolkitOutput.seconds(s.cpu.usage.total)],
            ["cpu", "user / system", ToolkitOutput.seconds(s.cpu.usage.user) + " / " + ToolkitOutput.seconds(s.cpu.usage.kernel)],
            ["cpu", "throttled", "\(s.cpu.throttling.throttledPeriods) of \(s.cpu.throttling.periods) periods, \(ToolkitOutput.seconds(s.cpu.throttling.throttledTime))"],
            ["memory", "usage / limit", ToolkitOutput.bytes(s.memory.usage.usage) + " / " + limit],
            ["memory", "peak", ToolkitOutput.bytes(s.memory.usage.max)],
            ["memory", "cache", ToolkitOutput.bytes(s.memory.cache)],
            ["memory", "hit limit / oom / oom_kill", "\(s.memory.eventCount.max) / \(s.memory.eventCount.oom) / \(s.memory.eventCount.oomKill)"],
            ["pids", "current / limit", "\(s.pids.current) / \(s.pids.limit == 0 ? "max" : String(s.pids.limit))"],
        ]
        if !s.cpu.usage.percpu.isEmpty {
            rows.insert(["cpu", "per cpu", s.cpu.usage.percpu.map(ToolkitOutput.seconds).joined(separator: " ")], at: 2)
        }
        var read: UInt64 = 0, write: UInt64 = 0
        for e in s.blkio.ioServiceBytesRecursive {
            if e.op == "Read" { read += e.value } else if e.op == "Write" { write += e.value }
        }
        rows.append(["io", "read / written", ToolkitOutput.bytes(read) + " / " + ToolkitOutput.bytes(write)])
        for (size, h) in s.hugetlb.sorted(by: { $0.key < $1.key }) {
            rows.append(["hugetlb", size, "\(ToolkitOutput.bytes(h.usage)) (peak \(ToolkitOutput.bytes(h.max)), failed \(h.failcnt))"])
        }
        let pressure: [(String, CgroupStats.PSIStats?)] = [("cpu", s.cpu.psi), ("memory", s.memory.psi), ("io", s.blkio.psi)]
        for (name, psi) in pressure {
            guard let psi else { continue }
            rows.append([name, "pressure (some, avg10/60/300)",
                         String(format: "%.2f%% %.2f%% %.2f%%", psi.some.avg10, psi.some.avg60, psi.some.avg300)])
        }
        ToolkitOutput.table(["CONTROLLER", "WHAT", "VALUE"], rows)
    }
}
