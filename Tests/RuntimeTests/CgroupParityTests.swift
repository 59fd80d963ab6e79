import Foundation
import Testing
import OCISpec

/// Is this a cgroup2-only host?
private var unifiedHost: Bool { FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") }

/// The lines of /proc/PID/cgroup as (hierarchy label, path); "" is the unified tree.
private func memberships(_ pid: Int32) -> [(String, String)] {
    let text = (try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap { line in
        let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        return f.count == 3 ? (String(f[1]), String(f[2])) : nil
    }
}

/// The host directories of the container's cgroup, one per hierarchy that has it (v1 hierarchies,
/// name=systemd and the unified tree on a hybrid host; the one directory on v2).
private func containerCgroupDirectories(_ path: String) -> [String] {
    if unifiedHost { return FileManager.default.fileExists(atPath: "/sys/fs/cgroup" + path) ? ["/sys/fs/cgroup" + path] : [] }
    let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
    var out: [String] = []
    for line in mounts.split(separator: "\n") {
        let f = line.split(separator: " ")
        guard let dash = f.firstIndex(of: "-"), dash + 1 < f.count, f[dash + 1].hasPrefix("cgroup"), f[3] == "/" else { continue }
        let dir = String(f[4]) + path
        if FileManager.default.fileExists(atPath: dir) { out.append(dir) }
    }
    return out
}

/// `exec -d` of `args`; the exec'd process's pid (read from --pid-file).
private func execDetached(_ bundle: Bundle, _ extra: [String], _ args: [String]) throws -> (CommandResult, Int32?) {
    let pidFile = bundle.directory + "/exec-\(UInt32.random(in: 0...UInt32.max)).pid"
    let result = try bundle.runtime(["exec", "-d", "--pid-file", pidFile] + extra + [bundle.id] + args)
    let pid = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    return (result, pid)
}

/// mkdir -p of `sub` under `dir`; a new v1 cpuset level gets its parent's cpus and mems, or no task
/// could join it.
private func makeSubCgroup(_ dir: String, _ sub: String) throws {
    var current = dir
    for component in sub.split(separator: "/") {
        let parent = current
        current += "/" + component
        try FileManager.default.createDirectory(atPath: current, withIntermediateDirectories: true)
        for file in ["cpuset.cpus", "cpuset.mems"] where FileManager.default.fileExists(atPath: parent + "/" + file) && !unifiedHost {
            if read(current + "/" + file).isEmpty { try read(parent + "/" + file).write(toFile: current + "/" + file, atomically: false, encoding: .utf8) }
        }
    }
}

private func cgroupPath(_ bundle: Bundle) -> String { bundle.spec.linux?.cgroupsPath ?? "/berth/\(bundle.id)" }

private func read(_ file: String) -> String {
    ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
}

@Suite("Cgroups: runc parity of exec, delete, update, devices and events", .serialized)
struct CgroupParityTests {
    @Test func execJoinsTheContainersCgroupInEveryHierarchy() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        let initPid = try #require(try bundle.state()).pid
        let (result, pid) = try execDetached(bundle, [], ["sleep", "100"])
        try #require(result.succeeded, "\(result.stderr)")
        let exec = try #require(pid)
        defer { kill(exec, SIGKILL) }
        let mine = memberships(exec)
        #expect(mine.map(\.0) == memberships(initPid).map(\.0))
        #expect(mine.map(\.1) == memberships(initPid).map(\.1), "exec and init share every cgroup: \(mine) \(memberships(initPid))")
        // Every mounted hierarchy (name=systemd and the unified tree of a hybrid host included) holds
        // the container's cgroup, as with runc.
        let mounted = Set(containerCgroupDirectories("/").map { $0 })
        for (label, path) in mine {
            let root = unifiedHost || label.isEmpty ? (unifiedHost ? "/sys/fs/cgroup/" : "/sys/fs/cgroup/unified/")
                : "/sys/fs/cgroup/" + (label.hasPrefix("name=") ? String(label.dropFirst(5)) : label) + "/"
            guard mounted.contains(root) || mounted.contains(String(root.dropLast())) else { continue }
            #expect(path == cgroupPath(bundle), "\(label) is \(path)")
        }
    }

    @Test func execCgroupPutsTheProcessIntoSubCgroups() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        let base = cgroupPath(bundle)
        for dir in containerCgroupDirectories(base) { try makeSubCgroup(dir, "sub/deeper") }

        // PATH: every hierarchy
        let (all, allPid) = try execDetached(bundle, ["--cgroup", "sub/deeper"], ["sleep", "100"])
        try #require(all.succeeded, "\(all.stderr)")
        for (label, path) in memberships(try #require(allPid)) where path.hasPrefix(base) {
            #expect(path == base + "/sub/deeper", "\(label) is \(path)")
        }
        // CONTROLLER[,CONTROLLER]:PATH (v1), or :PATH (the only form on v2)
        let form = unifiedHost ? [":sub"] : ["pids,memory:sub", "cpuset:/sub/deeper"]
        let (some, somePid) = try execDetached(bundle, form.flatMap { ["--cgroup", $0] }, ["sleep", "100"])
        try #require(some.succeeded, "\(some.stderr)")
        for (label, path) in memberships(try #require(somePid)) where path.hasPrefix(base) {
            let expected = unifiedHost ? base + "/sub"
                : ["pids", "memory"].contains(label) ? base + "/sub" : label == "cpuset" ? base + "/sub/deeper" : base
            #expect(path == expected, "\(label) is \(path)")
        }

        // runc's errors, status 255, and no process left behind
        let before = read(containerCgroupDirectories(base)[0] + "/cgroup.procs")
        var bad: [([String], String)] = [
            (["--cgroup", "nosuch"], "nosuch/cgroup.procs: no such file or directory"),
            (["--cgroup", unifiedHost ? ":nosuch" : "cpu:nosuch"], "nosuch/cgroup.procs: no such file or directory"),
            (["--cgroup", "bogus:sub"], "exec failed: unknown controller bogus in SubCgroupPaths"),
            (["--cgroup", "a:b:c"], "exec failed: invalid --cgroup argument: a:b:c"),
            (["--cgroup", "sub", "--cgroup", ":sub"], "exec failed: invalid --cgroup argument: sub (missing <controller>: prefix)"),
            (["--cgroup", "sub/../../x"], "exec failed: sub/../../x is not a sub cgroup path"),
        ]
        if unifiedHost { bad.append((["--cgroup", "memory:sub"], "exec failed: unknown controller memory in SubCgroupPaths")) }
        for (flags, message) in bad {
            let result = try bundle.runtime(["exec"] + flags + [bundle.id, "true"])
            #expect(result.status == 255, "\(flags): \(result.status)")
            #expect(errorLine(result).hasSuffix(message) || errorLine(result).contains(message), "\(flags): \(errorLine(result))")
        }
        #expect(read(containerCgroupDirectories(base)[0] + "/cgroup.procs") == before)
        // delete --force takes the sub-cgroups (with their processes) along
        #expect(try bundle.runtime(["delete", "--force", bundle.id]).succeeded)
        #expect(containerCgroupDirectories(base).isEmpty, "\(containerCgroupDirectories(base))")
    }

    /// v2: once the container has moved its init into a sub-cgroup and delegated controllers (what
    /// systemd inside a container does), its own cgroup refuses processes (EBUSY); exec then joins the
    /// init's cgroup, as runc does, and delete --force still removes everything.
    @Test func execJoinsTheInitsCgroupWhenTheContainersOwnRefuses() throws {
        guard unifiedHost else { return }
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        let dir = "/sys/fs/cgroup" + cgroupPath(bundle)
        let initPid = try #require(try bundle.state()).pid
        try FileManager.default.createDirectory(atPath: dir + "/init", withIntermediateDirectories: true)
        try "\(initPid)".write(toFile: dir + "/init/cgroup.procs", atomically: false, encoding: .utf8)
        try "+pids".write(toFile: dir + "/cgroup.subtree_control", atomically: false, encoding: .utf8)
        let (result, pid) = try execDetached(bundle, [], ["sleep", "100"])
        try #require(result.succeeded, "\(result.stderr)")
        #expect(memberships(try #require(pid)).first?.1 == cgroupPath(bundle) + "/init")
        // an explicit sub-cgroup gets no such fallback: the error is the kernel's
        let refused = try bundle.runtime(["exec", "--cgroup", "/", bundle.id, "true"])
        #expect(refused.status == 255)
        #expect(errorLine(refused).contains("device or resource busy"), "\(errorLine(refused))")
        #expect(try bundle.runtime(["delete", "--force", bundle.id]).succeeded)
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    @Test func unifiedResourcesOnACgroupV1HostAreRefusedAsRuncDoes() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        var resources = bundle.spec.linux?.resources ?? Resources()
        resources.memory = Resources.Memory(limit: 64 << 20)
        resources.unified = ["memory.high": "\(48 << 20)"]
        bundle.spec.linux?.resources = resources
        let created = try bundle.create()
        if unifiedHost {
            try #require(created.succeeded, "\(created.stderr)")
            #expect(read("/sys/fs/cgroup\(cgroupPath(bundle))/memory.high") == "\(48 << 20)")
            #expect(try bundle.runtime(["update", "-r", "-", bundle.id], input: "{\"unified\":{\"memory.high\":\"\(40 << 20)\"}}").succeeded)
            #expect(read("/sys/fs/cgroup\(cgroupPath(bundle))/memory.high") == "\(40 << 20)")
            return
        }
        #expect(created.status == 1)
        #expect(errorLine(created).hasSuffix("invalid configuration: cannot use unified on cgroup v1"), "\(created.stderr)")
        #expect(bundle.leftovers().isEmpty, "nothing half-made: \(bundle.leftovers())")
        #expect(containerCgroupDirectories(cgroupPath(bundle)).isEmpty)
        // an empty map is no v2 setting, as runc
        bundle.spec.linux?.resources?.unified = [:]
        try #require(try bundle.create().succeeded)
        let update = try bundle.runtime(["update", "-r", "-", bundle.id], input: "{\"pids\":{\"limit\":33},\"unified\":{\"pids.max\":\"12\"}}")
        #expect(update.status == 1)
        #expect(errorLine(update).hasSuffix("invalid configuration: cannot use unified on cgroup v1"))
        #expect(read("/sys/fs/cgroup/pids\(cgroupPath(bundle))/pids.max") == "max", "a refused update changes nothing")
    }

    @Test func deleteForceRemovesSubCgroupsMadeInsideAndByHand() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        // A writable cgroup mount, so the container can make its own sub-cgroups.
        for index in (bundle.spec.mounts ?? []).indices where bundle.spec.mounts?[index].type == "cgroup" {
            bundle.spec.mounts?[index].options = ["nosuid", "noexec", "nodev", "relatime", "rw"]
        }
        bundle.addCgroupNamespace()
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        let base = cgroupPath(bundle)
        let inside = try bundle.runtime(["exec", bundle.id, "sh", "-c",
            "for d in /sys/fs/cgroup /sys/fs/cgroup/*; do [ -f $d/cgroup.procs ] && mkdir -p $d/inner/a; done; true"])
        #expect(inside.succeeded, "\(inside.stderr)")
        #expect(containerCgroupDirectories(base).contains { FileManager.default.fileExists(atPath: $0 + "/inner/a") },
                "the container made sub-cgroups of its own")
        for dir in containerCgroupDirectories(base) { try makeSubCgroup(dir, "byhand/x/y") }
        let (result, pid) = try execDetached(bundle, ["--cgroup", "byhand/x/y"], ["sleep", "100"])
        try #require(result.succeeded, "\(result.stderr)")
        let exec = try #require(pid)
        let deleted = try bundle.runtime(["delete", "--force", bundle.id])
        #expect(deleted.succeeded, "\(deleted.stderr)")
        #expect(containerCgroupDirectories(base).isEmpty, "left: \(containerCgroupDirectories(base))")
        #expect(kill(exec, 0) != 0, "the process in the sub-cgroup is gone")
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    @Test func updateSetsTheCommonLimitsAsRuncDoes() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        var resources = bundle.spec.linux?.resources ?? Resources()
        resources.cpu = Resources.CPU(quota: 30000, period: 100000)
        bundle.spec.linux?.resources = resources
        #expect(try bundle.create().succeeded)
        let dirs = containerCgroupDirectories(cgroupPath(bundle))
        func value(_ v1: String, _ v1File: String, _ v2File: String) -> String {
            read((unifiedHost ? dirs[0] : "/sys/fs/cgroup/\(v1)\(cgroupPath(bundle))") + "/" + (unifiedHost ? v2File : v1File))
        }
        let swap = FileManager.default.fileExists(atPath: unifiedHost ? dirs[0] + "/memory.swap.max"
            : "/sys/fs/cgroup/memory\(cgroupPath(bundle))/memory.memsw.limit_in_bytes")
        var flags = ["--memory", "96m", "--memory-reservation", "32MiB", "--cpu-share", "512", "--cpu-period", "200000",
                     "--cpu-quota", "50000", "--cpuset-cpus", "0", "--cpuset-mems", "0", "--pids-limit", "77"]
        if swap { flags += ["--memory-swap", "128m"] }
        let updated = try bundle.runtime(["update"] + flags + [bundle.id])
        try #require(updated.succeeded, "\(updated.stderr)")
        #expect(value("memory", "memory.limit_in_bytes", "memory.max") == "\(96 << 20)")
        #expect(value("memory", "memory.soft_limit_in_bytes", "memory.low") == "\(32 << 20)")
        if swap { #expect(value("memory", "memory.memsw.limit_in_bytes", "memory.swap.max") == (unifiedHost ? "\(32 << 20)" : "\(128 << 20)")) }
        #expect(value("cpu", "cpu.shares", "cpu.weight") == (unifiedHost ? "59" : "512"))
        #expect(unifiedHost ? value("", "", "cpu.max") == "50000 200000"
                : value("cpu", "cpu.cfs_quota_us", "") == "50000" && value("cpu", "cpu.cfs_period_us", "") == "200000")
        #expect(value("cpuset", "cpuset.cpus", "cpuset.cpus") == "0")
        #expect(value("pids", "pids.max", "pids.max") == "77")

        // one of quota/period keeps the other; zero and missing flags leave values alone
        #expect(try bundle.runtime(["update", "--cpu-quota", "40000", "--pids-limit", "0", bundle.id]).succeeded)
        #expect(unifiedHost ? value("", "", "cpu.max") == "40000 200000"
                : value("cpu", "cpu.cfs_quota_us", "") == "40000" && value("cpu", "cpu.cfs_period_us", "") == "200000")
        #expect(value("pids", "pids.max", "pids.max") == "77")
        #expect(value("memory", "memory.limit_in_bytes", "memory.max") == "\(96 << 20)")
        #expect(try bundle.runtime(["update", "--pids-limit", "-1", bundle.id]).succeeded)
        #expect(value("pids", "pids.max", "pids.max") == "max")

        // -r: the other flags are ignored, as runc's help says
        let json = "{\"pids\":{\"limit\":55},\"memory\":{\"limit\":\(80 << 20)\(swap ? ",\"swap\":\(128 << 20)" : "")},\"blockIO\":{\"weight\":0}}"
        #expect(try bundle.runtime(["update", "-r", "-", "--pids-limit", "9", bundle.id], input: json).succeeded)
        #expect(value("pids", "pids.max", "pids.max") == "55")
        #expect(value("memory", "memory.limit_in_bytes", "memory.max") == "\(80 << 20)")

        // unlimited memory (swap follows on v1, as runc)
        #expect(try bundle.runtime(["update", "--memory", "-1", bundle.id]).succeeded)
        #expect(["max", "9223372036854771712"].contains(value("memory", "memory.limit_in_bytes", "memory.max")))

        // runc's words for bad values; nothing changes
        let bad: [([String], String)] = [
            (["--memory", "lots"], "invalid value for memory: invalid size: 'lots'"),
            (["--cpu-share", "x"], "invalid value for cpu-share: strconv.ParseUint: parsing \"x\": invalid syntax"),
            (["--cpu-quota", "1.5"], "invalid value for cpu-quota: strconv.ParseInt: parsing \"1.5\": invalid syntax"),
            (["--pids-limit", "x"], "invalid value \"x\" for flag -pids-limit: parse error"),
            (["--blkio-weight", "x"], "invalid value \"x\" for flag -blkio-weight: parse error"),
            (["--cpu-idle", "1"], "flag provided but not defined: -cpu-idle"),
        ]
        for (flags, message) in bad {
            let result = try bundle.runtime(["update"] + flags + ["--pids-limit", "12", bundle.id])
            #expect(result.status == 1, "\(flags)")
            #expect(errorLine(result).hasSuffix(message), "\(flags): \(errorLine(result))")
        }
        #expect(value("pids", "pids.max", "pids.max") == "55")
        if !unifiedHost {
            // what the kernel refuses or clamps, in runc's words
            let small = try bundle.runtime(["update", "--memory", "4k", bundle.id])
            #expect(small.status == 1)
            #expect(errorLine(small).contains("unable to set memory limit to 4096 (current usage: "), "\(errorLine(small))")
            let shares = try bundle.runtime(["update", "--cpu-share", "1", bundle.id])
            #expect(errorLine(shares).hasSuffix("the minimum allowed cpu-shares is 2"), "\(errorLine(shares))")
        }
        // a value the kernel refuses rolls the earlier ones back
        let refused = try bundle.runtime(["update", "--pids-limit", "21", "--cpuset-cpus", "4095", bundle.id])
        #expect(refused.status == 1)
        #expect(value("pids", "pids.max", "pids.max") == "55", "rolled back")
        #expect(value("cpuset", "cpuset.cpus", "cpuset.cpus") == "0")
        #expect(try bundle.runtime(["kill", bundle.id, "KILL"]).succeeded)
        #expect(try bundle.waitForStatus(.stopped))
        #expect(errorLine(try bundle.runtime(["update", "--memory", "10m", bundle.id])).hasSuffix("container not running"))
    }

    @Test func updateMatchesRuncOnTheSameBundle() throws {
        let runc = "/usr/sbin/runc"
        guard FileManager.default.isExecutableFile(atPath: runc), !unifiedHost else { return }
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        let runcRoot = bundle.directory + "/runc-root"
        let runcID = "runc-" + bundle.id
        defer {
            _ = try? runCommand(runc, ["--root", runcRoot, "delete", "-f", runcID])
            // Whatever runc left (a create that failed half-way), so no test cgroup outlives the test.
            for dir in containerCgroupDirectories("/runc-parity-\(bundle.id)") { rmdir(dir) }
        }
        bundle.spec.linux?.cgroupsPath = "/berth-parity-\(bundle.id)"
        try #require(try bundle.create().succeeded)
        bundle.spec.linux?.cgroupsPath = "/runc-parity-\(bundle.id)"
        try bundle.writeConfig()
        try #require(try runCommand(runc, ["--root", runcRoot, "create", "--bundle", bundle.directory, runcID]).succeeded)
        let files = ["memory/memory.limit_in_bytes", "memory/memory.soft_limit_in_bytes", "memory/memory.memsw.limit_in_bytes",
                     "cpu/cpu.shares", "cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us", "cpuset/cpuset.cpus", "cpuset/cpuset.mems",
                     "pids/pids.max", "devices/devices.list", "blkio/blkio.bfq.weight", "blkio/blkio.weight"]
        func snapshot(_ prefix: String) -> [String] {
            files.map { file -> String in
                let parts = file.split(separator: "/")
                return read("/sys/fs/cgroup/\(parts[0])/\(prefix)-parity-\(bundle.id)/\(parts[1])")
            }
        }
        #expect(snapshot("berth") == snapshot("runc"), "after create")
        let steps: [[String]] = [
            ["--memory", "100m", "--memory-swap", "200m", "--memory-reservation", "50m"],
            ["--cpu-share", "300", "--cpu-quota", "25000"], ["--cpu-period", "50000"],
            ["--pids-limit", "44", "--cpuset-cpus", "0", "--cpuset-mems", "0"], ["--memory", "60m"],
            ["--memory-swap", "-1"], ["--memory", "-1"], ["--pids-limit", "-1"], ["--blkio-weight", "300"], ["--memory", "1.5g", "--memory-swap", "2g"],
        ]
        for flags in steps {
            let ours = try bundle.runtime(["update"] + flags + [bundle.id])
            let theirs = try runCommand(runc, ["--root", runcRoot, "update"] + flags + [runcID])
            #expect(ours.status == theirs.status, "\(flags): \(ours.stderr) / \(theirs.stderr)")
            #expect(snapshot("berth") == snapshot("runc"), "after update \(flags)")
        }
        // Refused by the kernel: both fail. runc's own rollback re-applies the new values (its config copy
        // shares the cgroup settings) and so keeps what was written; berth puts the old values back.
        for flags in [["--memory", "4k"], ["--cpu-share", "1"], ["--cpuset-cpus", "4095"]] {
            let ours = try bundle.runtime(["update"] + flags + [bundle.id])
            let theirs = try runCommand(runc, ["--root", runcRoot, "update"] + flags + [runcID])
            #expect(ours.status == 1 && theirs.status == 1, "\(flags): \(ours.stderr) / \(theirs.stderr)")
        }
    }

    /// The device rules in many forms, set by update on a running container whose init reads
    /// /dev/zero and /dev/null in a tight loop and stops at the first refusal: no update may deny
    /// everything for a moment (v1 writes only the difference; v2 swaps programs atomically).
    @Test func deviceRulesChangeWithoutEverDenyingEverything() throws {
        let bundle = try Bundle(args: ["sleep", "1000"])
        defer { bundle.destroy() }
        // CAP_MKNOD to make a fuse node (c 10:229) in the container's /dev (c *:* m is always allowed).
        for kind in [\Spec.Capabilities.bounding, \.effective, \.permitted] {
            bundle.spec.process?.capabilities?[keyPath: kind]?.append("CAP_MKNOD")
        }
        try #require(try bundle.create().succeeded)
        try #require(try bundle.runtime(["start", bundle.id]).succeeded)
        let made = try bundle.runtime(["exec", bundle.id, "mknod", "/dev/fz", "c", "10", "229"])
        try #require(made.succeeded, "\(made.stderr)")
        let (looping, loopPid) = try execDetached(bundle, [], ["sh", "-c", "while : </dev/zero && : >/dev/null; do :; done"])
        try #require(looping.succeeded, "\(looping.stderr)")
        let loop = try #require(loopPid)
        // Alive and not a zombie (nobody may reap it: its parent, the exec, is gone).
        func loopRuns() -> Bool { !read("/proc/\(loop)/stat").isEmpty && !read("/proc/\(loop)/stat").contains(") Z ") }
        let list = unifiedHost ? nil : "/sys/fs/cgroup/devices\(cgroupPath(bundle))/devices.list"
        func rules(_ extra: String) -> String { "{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}\(extra)]}" }
        func can(_ redirect: String) throws -> Bool { try bundle.runtime(["exec", bundle.id, "sh", "-c", ": \(redirect)/dev/fz"]).succeeded }
        #expect(try !can("<"), "fuse is not among the always-allowed devices")
        for access in ["r", "w", "m", "rw", "rm", "wm", "rwm"] {
            let extra = ",{\"allow\":true,\"type\":\"c\",\"major\":10,\"minor\":229,\"access\":\"\(access)\"}"
                + ",{\"allow\":true,\"type\":\"b\",\"major\":7,\"access\":\"\(access)\"}"
            let result = try bundle.runtime(["update", "-r", "-", bundle.id], input: rules(extra))
            #expect(result.succeeded, "\(access): \(result.stderr)")
            #expect(try can("<") == access.contains("r"), "\(access): read")
            #expect(try can(">") == access.contains("w"), "\(access): write")
            if let list {
                let lines = read(list).split(separator: "\n").map(String.init)
                #expect(lines.contains("c 10:229 \(access)"), "\(access): \(lines)")
                #expect(lines.contains("b 7:* \(access)"), "\(access): \(lines)")
                #expect(lines.contains("c 1:3 rwm") && lines.contains("c 1:5 rwm"))
            }
        }
        // narrowing a rule of the same list (allow, then deny a part of it)
        let narrowed = rules(",{\"allow\":true,\"type\":\"c\",\"major\":10,\"minor\":229,\"access\":\"rwm\"}"
            + ",{\"allow\":false,\"type\":\"c\",\"major\":10,\"minor\":229,\"access\":\"w\"}")
        #expect(try bundle.runtime(["update", "-r", "-", bundle.id], input: narrowed).succeeded)
        #expect(try can("<"))
        #expect(try !can(">"))
        if let list { #expect(read(list).split(separator: "\n").contains("c 10:229 rm")) }
        // a rule cgroup v1 cannot express is refused before anything changes (v2 can express it)
        if let list {
            let before = read(list)
            let hole = try bundle.runtime(["update", "-r", "-", bundle.id],
                input: rules(",{\"allow\":true,\"type\":\"c\",\"major\":10,\"access\":\"rwm\"},{\"allow\":false,\"type\":\"c\",\"major\":10,\"minor\":229,\"access\":\"r\"}"))
            #expect(hole.status == 1)
            #expect(errorLine(hole).contains("cannot narrow"), "\(errorLine(hole))")
            #expect(read(list) == before)
        }
        // and many more changes back and forth, each a chance for a window to show
        for round in 0..<30 {
            let access = round % 2 == 0 ? "rw" : "r"
            let extra = ",{\"allow\":true,\"type\":\"c\",\"major\":10,\"minor\":229,\"access\":\"\(access)\"}"
            #expect(try bundle.runtime(["update", "-r", "-", bundle.id], input: rules(extra)).succeeded)
        }
        #expect(loopRuns(), "the loop never met a refused open")
        // type a: everything (any access on v1, where the kernel reads any "a" line as all). Flipping the
        // default is never quite seamless on v1: the kernel drops the exceptions before it changes the
        // default, and opens are not locked out meanwhile; so the loop is not watched from here on.
        #expect(try bundle.runtime(["update", "-r", "-", bundle.id], input: "{\"devices\":[{\"allow\":true,\"type\":\"a\",\"access\":\"rwm\"}]}").succeeded)
        if let list { #expect(read(list) == "a *:* rwm") }
        #expect(try can(">"))
        // and back to deny-all plus the always-allowed ones: from allow-all, whose deny exceptions
        // devices.list cannot show, only a reset gets there (runc's emulator resets too)
        #expect(try bundle.runtime(["update", "-r", "-", bundle.id], input: rules("")).succeeded)
        #expect(try !can("<"))
    }

    /// As runc (dev.bats, update.bats): a node listed in linux.devices is made but gets no cgroup rule of
    /// its own, so a deny-all rule holds for it, in exec'd processes too; and an access string counts
    /// only its r, w and m ("rwa" is rw).
    @Test func linuxDevicesGetNoRuleAndAccessCountsOnlyReadWriteMknod() throws {
        let bundle = try Bundle(args: ["sleep", "1000"])
        defer { bundle.destroy() }
        bundle.spec.linux?.devices = [Spec.Device(type: "c", path: "/dev/fuse", major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0)]
        var resources = bundle.spec.linux?.resources ?? Resources()
        resources.devices = [Resources.DeviceRule(allow: false, access: "rwm")]
        bundle.spec.linux?.resources = resources
        try #require(try bundle.create().succeeded)
        try #require(try bundle.runtime(["start", bundle.id]).succeeded)
        func open(_ redirect: String) throws -> CommandResult { try bundle.runtime(["exec", bundle.id, "sh", "-c", ": \(redirect)/dev/fuse"]) }
        #expect(try bundle.runtime(["exec", bundle.id, "test", "-c", "/dev/fuse"]).succeeded, "the node is made")
        for redirect in ["<", ">"] {
            let denied = try open(redirect)
            #expect(!denied.succeeded, "\(redirect) /dev/fuse is denied")
            #expect(denied.stderr.contains("Operation not permitted"), "\(denied.stderr)")
        }
        let list = unifiedHost ? nil : "/sys/fs/cgroup/devices\(cgroupPath(bundle))/devices.list"
        if let list { #expect(!read(list).contains("c 10:229"), "\(read(list))") }

        let rwa = "{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},{\"allow\":true,\"type\":\"c\",\"major\":10,\"minor\":229,\"access\":\"rwa\"}]}"
        let update = try bundle.runtime(["update", "-r", "-", bundle.id], input: rwa)
        #expect(update.succeeded, "\(update.stderr)")
        #expect(try open("<").succeeded)
        #expect(try open(">").succeeded)
        if let list { #expect(read(list).split(separator: "\n").contains("c 10:229 rw"), "\(read(list))") }
    }

    @Test func eventsStatsIsOneRuncShapedObject() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        var resources = bundle.spec.linux?.resources ?? Resources()
        resources.memory = Resources.Memory(limit: 64 << 20)
        resources.pids = Resources.Pids(limit: 50)
        bundle.spec.linux?.resources = resources
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        let result = try bundle.runtime(["events", "--stats", bundle.id])
        try #require(result.succeeded, "\(result.stderr)")
        #expect(result.stdout.hasSuffix("}\n") && result.stdout.split(separator: "\n").count == 1)
        #expect(result.stdout.hasPrefix("{\"type\":\"stats\",\"id\":\"\(bundle.id)\",\"data\":{\"cpu\":{\"usage\":{"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let data = try #require(object["data"] as? [String: Any])
        #expect(Set(data.keys).isSuperset(of: ["cpu", "memory", "pids", "blkio"]), "\(data.keys)")
        #expect(((data["pids"] as? [String: Any])?["limit"] as? Int) == 50)
        #expect((((data["memory"] as? [String: Any])?["usage"] as? [String: Any])?["limit"] as? Int) == 64 << 20)
        // --interval takes Go durations, and refuses others in the flag package's words
        #expect(try bundle.runtime(["events", "--interval", "1m30.5s", "--stats", bundle.id]).succeeded)
        let bad = try bundle.runtime(["events", "--interval", "5 s", bundle.id])
        #expect(bad.status == 1)
        #expect(errorLine(bad).hasSuffix("invalid value \"5 s\" for flag -interval: parse error"), "\(errorLine(bad))")
    }

    /// An OOM kill inside the container is reported at once, not at the next stats tick (an hour away).
    @Test func eventsReportsAnOOMKillAsItHappens() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        var resources = bundle.spec.linux?.resources ?? Resources()
        resources.memory = Resources.Memory(limit: 24 << 20, swap: 24 << 20)
        bundle.spec.linux?.resources = resources
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        let output = bundle.directory + "/events.out"
        let events = try spawnInBackground(runtimeBinary, ["--root", bundle.stateRoot, "events", "--interval", "1h", bundle.id], stdout: output)
        defer { kill(events, SIGKILL); var s: Int32 = 0; waitpid(events, &s, 0) }
        // Ready once it holds its notification fd (an eventfd on v1, inotify on v2).
        let deadline = Date().addingTimeInterval(120)
        func watching() -> Bool {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(events)/fd")) ?? []
            return fds.contains { fd in
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(events)/fd/\(fd)")) ?? ""
                return target.contains("eventfd") || target.contains("inotify")
            }
        }
        while !watching() && Date() < deadline { usleep(20_000) }
        try #require(watching())
        _ = try bundle.runtime(["exec", bundle.id, "sh", "-c", "x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; while true; do x=$x$x; done"], timeout: 120)
        func lines() -> [String] { ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
        while !lines().contains(where: { $0.contains("oom") }) && Date() < deadline { usleep(50_000) }
        #expect(lines().first == "{\"type\":\"oom\",\"id\":\"\(bundle.id)\"}", "\(lines())")
        #expect(try bundle.state()?.status == .running, "only the exec'd hog was killed")
    }
}
