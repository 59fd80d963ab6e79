import Foundation
import Testing
import OCISpec

/// Reads a cgroup file of the container, on v1 (per controller) or v2.
func cgroupValue(_ bundle: Bundle, v1 controller: String, _ v1File: String, v2 v2File: String) -> String? {
    let path = bundle.spec.linux?.cgroupsPath ?? "/berth/\(bundle.id)"
    let file = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")
        ? "/sys/fs/cgroup\(path)/\(v2File)" : "/sys/fs/cgroup/\(controller)\(path)/\(v1File)"
    return (try? String(contentsOfFile: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
}

@Suite("Cgroups: linux.resources applied, enforced, updated, reported")
struct CgroupTests {
    @Test func limitsAreWrittenToTheContainersCgroup() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        bundle.spec.linux?.cgroupsPath = "/berth-custom-\(bundle.id)"
        var resources = bundle.spec.linux?.resources ?? Resources()
        resources.memory = Resources.Memory(limit: 64 << 20)
        resources.cpu = Resources.CPU(shares: 512, quota: 20000, period: 100000, cpus: "0")
        resources.pids = Resources.Pids(limit: 32)
        bundle.spec.linux?.resources = resources
        let created = try bundle.create()
        try #require(created.succeeded, "\(created.stderr)")
        #expect(cgroupValue(bundle, v1: "memory", "memory.limit_in_bytes", v2: "memory.max") == "\(64 << 20)")
        #expect(cgroupValue(bundle, v1: "pids", "pids.max", v2: "pids.max") == "32")
        #expect(cgroupValue(bundle, v1: "cpu", "cpu.cfs_quota_us", v2: "cpu.max") ?? "" == "20000" || cgroupValue(bundle, v1: "cpu", "cpu.cfs_quota_us", v2: "cpu.max") == "20000 100000")
        #expect(cgroupValue(bundle, v1: "cpuset", "cpuset.cpus", v2: "cpuset.cpus") == "0")
        let pid = try #require(try bundle.state()).pid
        let procs = cgroupValue(bundle, v1: "memory", "cgroup.procs", v2: "cgroup.procs") ?? ""
        #expect(procs.split(separator: "\n").contains(Substring("\(pid)")), "init is in the cgroup")
        #expect(try bundle.runtime(["delete", "--force", bundle.id]).succeeded)
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    @Test func memoryLimitOOMKillsAnAllocation() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        var resources = bundle.spec.linux?.resources ?? Resources()
        resources.memory = Resources.Memory(limit: 16 << 20, swap: 16 << 20)
        bundle.spec.linux?.resources = resources
        // Grows a shell variable well past 16 MiB.
        let result = try bundle.run(["sh", "-c", "x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; while true; do x=$x$x; done"])
        #expect(result.status == 137, "killed by SIGKILL (OOM): \(result.status) \(result.stderr)")
    }

    @Test func pidsLimitStopsAForkBomb() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        var resources = bundle.spec.linux?.resources ?? Resources()
        resources.pids = Resources.Pids(limit: 10)
        bundle.spec.linux?.resources = resources
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        // busybox sh gives up at the first refused fork; the sleeps it made stay under the container's init.
        _ = try bundle.runtime(["exec", bundle.id, "sh", "-c", "for i in $(seq 40); do sleep 30 & done"])
        usleep(200_000)
        let current = Int(cgroupValue(bundle, v1: "pids", "pids.current", v2: "pids.current") ?? "") ?? 0
        #expect((5...10).contains(current), "the fork loop ran into the limit and never passed it: \(current)")
        let events = cgroupValue(bundle, v1: "pids", "pids.events", v2: "pids.events") ?? ""
        #expect(events.hasPrefix("max ") && events != "max 0", "the kernel refused forks: \(events)")
    }

    @Test func updateChangesLimitsOfARunningContainer() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["update", "--memory", "96m", "--pids-limit", "77", "--cpu-quota", "50000", "--cpu-period", "100000", bundle.id]).succeeded)
        #expect(cgroupValue(bundle, v1: "memory", "memory.limit_in_bytes", v2: "memory.max") == "\(96 << 20)")
        #expect(cgroupValue(bundle, v1: "pids", "pids.max", v2: "pids.max") == "77")
        let json = "{\"pids\": {\"limit\": 55}}"
        #expect(try bundle.runtime(["update", "-r", "-", bundle.id], input: json).succeeded)
        #expect(cgroupValue(bundle, v1: "pids", "pids.max", v2: "pids.max") == "55")
        let bad = try bundle.runtime(["update", "--memory", "lots", bundle.id])
        #expect(bad.status == 1)
        #expect(errorLine(bad).hasSuffix("invalid value for memory: invalid size: 'lots'"))
        #expect(cgroupValue(bundle, v1: "pids", "pids.max", v2: "pids.max") == "55", "a bad update changes nothing")
    }

    @Test func eventsStatsReportsUsage() throws {
        let bundle = try Bundle(args: ["sh", "-c", "x=$(seq 100000); sleep 100"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        usleep(500_000)
        let result = try bundle.runtime(["events", "--stats", bundle.id])
        #expect(result.succeeded, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["type"] as? String == "stats")
        #expect(object?["id"] as? String == bundle.id)
        let data = object?["data"] as? [String: Any]
        let memory = (data?["memory"] as? [String: Any])?["usage"] as? [String: Any]
        #expect(((memory?["usage"] as? Int) ?? 0) > 0, "memory usage is accounted: \(result.stdout.prefix(300))")
        let pids = data?["pids"] as? [String: Any]
        #expect((pids?["current"] as? Int ?? 0) >= 1)
        let cpu = ((data?["cpu"] as? [String: Any])?["usage"] as? [String: Any])?["total"] as? Int
        #expect((cpu ?? 0) > 0)
    }

    @Test func eventsStreamEndsWhenTheContainerStops() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        let output = bundle.directory + "/events.out"
        let events = try spawnInBackground(runtimeBinary, ["--root", bundle.stateRoot, "events", "--interval", "100ms", bundle.id], stdout: output)
        // No timing assumptions: wait (bounded) for two events, then stop the container.
        let deadline = Date().addingTimeInterval(120)
        func lines() -> Int { ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n").count }
        while lines() < 2 && Date() < deadline { usleep(50_000) }
        #expect(lines() >= 2, "several stats events")
        #expect(try bundle.runtime(["kill", bundle.id, "KILL"]).succeeded)
        var status: Int32 = 0
        var reaped: pid_t = 0
        while reaped == 0 && Date() < deadline { reaped = waitpid(events, &status, WNOHANG); usleep(50_000) }
        if reaped == 0 { kill(events, SIGKILL); waitpid(events, &status, 0) }
        #expect(reaped == events && status == 0, "events exits by itself, successfully, once the container stops")
    }
}
