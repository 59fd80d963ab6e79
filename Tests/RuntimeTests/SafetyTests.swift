import Foundation
import Testing
import OCISpec

@Suite("Safety: the runtime binary, orphans, cleanup")
struct SafetyTests {
    /// Before start, the init is still the runtime binary; nothing in the container may reach it.
    @Test func runtimeBinaryIsNotReachableThroughProcExe() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        let caps = ["CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_CHOWN", "CAP_KILL"]
        bundle.spec.process?.capabilities = Spec.Capabilities(bounding: caps, effective: caps, permitted: caps)
        #expect(try bundle.create().succeeded)
        let before = try Data(contentsOf: URL(fileURLWithPath: runtimeBinary)).count
        let result = try bundle.runtime(["exec", bundle.id, "sh", "-c", "ls -l /proc/1/exe 2>&1; echo x >> /proc/1/exe 2>&1; cat /proc/1/exe > /dev/null 2>&1 && echo READ-OK; echo done"])
        #expect(!result.stdout.contains("READ-OK"), "the init's exe must not be readable: \(result.stdout)")
        #expect(result.stdout.contains("done"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: runtimeBinary)).count == before)
    }

    @Test func killingInitLeavesNoOrphans() throws {
        let bundle = try Bundle(args: ["sh", "-c", "sleep 1000 & sleep 1000 & wait"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        usleep(200_000)
        let ps = try bundle.runtime(["ps", "-f", "json", bundle.id])
        let pids = try JSONDecoder().decode([Int32].self, from: Data(ps.stdout.utf8))
        #expect(pids.count == 3)
        let initPid = try #require(try bundle.state()).pid
        kill(initPid, SIGKILL)
        #expect(try bundle.waitForStatus(.stopped))
        usleep(200_000)
        let alive = pids.filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
            return !stat.contains(") Z")
        }
        #expect(alive.isEmpty, "the pid namespace takes every process with its init: \(alive)")
    }

    @Test func debugShowsTheSyscallTrail() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        try bundle.writeConfig()
        let result = try bundle.runtime(["--debug", "run", "--bundle", bundle.directory, bundle.id])
        #expect(result.succeeded)
        #expect(result.stderr.contains("pivot_root("), "\(result.stderr.prefix(500))")
        #expect(result.stderr.contains("mount("))
    }

    @Test func jsonLogCarriesTheError() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        let log = bundle.directory + "/log.json"
        let result = try runCommand(runtimeBinary, ["--root", bundle.stateRoot, "--log", log, "--log-format", "json", "state", "nonexistent-\(bundle.id)"])
        #expect(result.status == 1)
        let line = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").last.map(String.init) ?? ""
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        #expect(object?["level"] == "error")
        #expect(object?["msg"]?.contains("does not exist") == true)
        #expect(object?["time"] != nil)
    }
}

@Suite("CLI: spec, features, version, ps")
struct CLITests {
    @Test func specWritesAConfigOnceAndRootlessDiffers() throws {
        let dir = NSTemporaryDirectory() + "berth-spec-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try runCommand(runtimeBinary, ["spec", "--bundle", dir]).succeeded)
        let spec = try JSONDecoder().decode(Spec.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")))
        #expect(spec.process?.args == ["sh"])
        let unified = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")
        #expect(spec.linux?.namespaces?.map(\.type).sorted() == (unified ? ["cgroup"] : []) + ["ipc", "mount", "network", "pid", "uts"])
        let again = try runCommand(runtimeBinary, ["spec", "--bundle", dir])
        #expect(again.status == 1)
        #expect(again.stderr.contains("exists"))
        try FileManager.default.removeItem(atPath: dir + "/config.json")
        #expect(try runCommand(runtimeBinary, ["spec", "--rootless", "--bundle", dir]).succeeded)
        let rootless = try JSONDecoder().decode(Spec.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")))
        #expect(rootless.linux?.namespaces?.contains { $0.type == "user" } == true)
        #expect(rootless.linux?.uidMappings?.first?.hostID == getuid())
    }

    @Test func featuresDescribeTheRuntime() throws {
        let result = try runCommand(runtimeBinary, ["features"])
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["ociVersionMax"] as? String == "1.2.0")
        let linux = object?["linux"] as? [String: Any]
        #expect((linux?["namespaces"] as? [String])?.contains("time") == true)
        #expect(((linux?["seccomp"] as? [String: Any])?["enabled"] as? Bool) == true)
        #expect((object?["hooks"] as? [String])?.count == 6)
    }

    @Test func versionAndHelp() throws {
        #expect(try runCommand(runtimeBinary, ["--version"]).stdout.hasPrefix("berth-runtime version"))
        #expect(try runCommand(runtimeBinary, ["--help"]).stdout.contains("COMMANDS"))
        let unknown = try runCommand(runtimeBinary, ["frobnicate"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.hasPrefix("berth: frobnicate:"))
    }

    @Test func psShowsTheContainersProcesses() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        let table = try bundle.runtime(["ps", bundle.id])
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.first?.contains("PID") == true)
        #expect(lines.count == 2, "\(table.stdout)")
        #expect(lines.last?.contains("sleep 100") == true)
    }

    @Test func systemdCgroupIsAClearError() throws {
        guard !FileManager.default.fileExists(atPath: "/run/systemd/system") else { return }
        let result = try runCommand(runtimeBinary, ["--systemd-cgroup", "list"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("systemd"))
    }
}
