import Foundation
import Testing
import OCISpec

@Suite("Bad input: one clear line, exit 1, nothing left behind")
struct BadInputTests {
    @Test(arguments: ["../x", "", String(repeating: "a", count: 1024), "a/b", "."])
    func invalidContainerIDs(_ id: String) throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        try bundle.writeConfig()
        let result = try bundle.runtime(["create", "--bundle", bundle.directory, id])
        #expect(result.status == 1)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("berth: invalid container ID"), "\(result.stderr)")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: bundle.stateRoot)) ?? []
        #expect(!left.contains { $0.hasPrefix("x") || $0.count >= 255 })
    }

    @Test func duplicateIDIsRefusedAndTheFirstSurvives() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        #expect(try bundle.create().succeeded)
        let again = try bundle.create()
        #expect(again.status == 1)
        #expect(errorLine(again).contains("already exists"))
        #expect(try bundle.state()?.status == .created)
    }

    @Test func malformedConfigNamesTheField() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        try bundle.writeConfig()
        let path = bundle.directory + "/config.json"
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        var process = json["process"] as! [String: Any]
        var user = process["user"] as! [String: Any]
        user["uid"] = "zero"
        process["user"] = user
        json["process"] = process
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        let result = try bundle.runtime(["create", "--bundle", bundle.directory, bundle.id])
        #expect(result.status == 1)
        #expect(result.stderr.contains("process.user.uid"), "\(result.stderr)")
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    /// state.json is read without Codable: a record in Codable's own layout (pretty, keys sorted, `\/` escapes,
    /// hooks and annotations with non-ASCII text) reads back, and a damaged one is one line naming the field.
    @Test func stateFilesOfEitherLayoutReadBackAndADamagedOneNamesTheField() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        bundle.spec.annotations = ["note": "café \"quoted\"\nline", "path": "/a/b"]
        bundle.spec.hooks = Spec.Hooks()
        bundle.spec.hooks?.poststop = [Spec.Hook(path: "/bin/true", args: ["true", "é"], env: ["A=1"], timeout: 5)]
        #expect(try bundle.create().succeeded)
        let path = bundle.stateRoot + "/" + bundle.id + "/state.json"
        let written = try Data(contentsOf: URL(fileURLWithPath: path))
        // What Codable would have written: the same keys, another layout.
        let object = try JSONSerialization.jsonObject(with: written)
        let relaid = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        #expect(String(decoding: relaid, as: UTF8.self).contains("\\/"), "JSONSerialization escapes slashes")
        try relaid.write(to: URL(fileURLWithPath: path))
        let state = try bundle.runtime(["state", bundle.id])
        #expect(state.succeeded, "\(state.stderr)")
        #expect(state.stdout.contains("\"note\": \"café \\\"quoted\\\"\\nline\""), "\(state.stdout)")
        #expect(state.stdout.contains("\"path\": \"/a/b\""), "\(state.stdout)")
        // A damaged record: the field and the file are named, on one line; delete --force still cleans up.
        var damaged = try #require(object as? [String: Any])
        damaged["initPid"] = "one"
        try JSONSerialization.data(withJSONObject: damaged).write(to: URL(fileURLWithPath: path))
        let refused = try bundle.runtime(["state", bundle.id])
        #expect(refused.status == 1)
        #expect(refused.stderr.split(separator: "\n").count == 1 && refused.stderr.contains("state.json: field initPid: expected a pid"), "\(refused.stderr)")
        try relaid.write(to: URL(fileURLWithPath: path))
        #expect(try bundle.runtime(["delete", "--force", bundle.id]).succeeded)
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    /// Found by the SpecValidation fuzzer: a config string holding a newline made the error two lines.
    @Test func errorQuotingAConfigStringWithANewlineIsOneLine() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.process?.cwd = "relative\nberth: forged second line"
        let result = try bundle.create()
        #expect(result.status == 1)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("process.cwd: relative\\nberth: forged second line is not an absolute path"),
                "\(result.stderr)")
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    @Test func invalidJSONIsReported() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        try "{\"ociVersion\": \"1.2.0\", ".write(toFile: bundle.directory + "/config.json", atomically: true, encoding: .utf8)
        let result = try bundle.runtime(["create", "--bundle", bundle.directory, bundle.id])
        #expect(result.status == 1)
        #expect(result.stderr.contains("config.json"), "\(result.stderr)")
        #expect(result.stderr.contains("JSON"), "\(result.stderr)")
        #expect(bundle.leftovers().isEmpty)
    }

    @Test func missingRootfs() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.root = Spec.Root(path: "/nonexistent/rootfs")
        let result = try bundle.create()
        #expect(result.status == 1)
        #expect(errorLine(result).contains("root.path"))
        #expect(errorLine(result).contains("/nonexistent/rootfs"))
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    @Test func unsupportedNamespace() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.linux?.namespaces?.append(Spec.Namespace(type: "teleport"))
        let result = try bundle.create()
        #expect(result.status == 1)
        #expect(errorLine(result).contains("unsupported namespace type \"teleport\""), "\(result.stderr)")
        #expect(bundle.leftovers().isEmpty)
    }

    @Test func impossibleLimitLeavesNoCgroup() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        var resources = bundle.spec.linux?.resources ?? Resources()
        resources.cpu = Resources.CPU(cpus: "0-999")
        bundle.spec.linux?.resources = resources
        let result = try bundle.create()
        #expect(result.status == 1)
        #expect(errorLine(result).contains("cpuset"), "\(result.stderr)")
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    @Test func negativeQuotaIsRefusedBeforeAnythingIsMade() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        var resources = bundle.spec.linux?.resources ?? Resources()
        resources.cpu = Resources.CPU(quota: -5)
        bundle.spec.linux?.resources = resources
        let result = try bundle.create()
        #expect(result.status == 1)
        #expect(errorLine(result).contains("cpu.quota"))
        #expect(bundle.leftovers().isEmpty)
    }

    @Test func missingExecutableFailsAtCreate() throws {
        let bundle = try Bundle(args: ["no-such-program"])
        defer { bundle.destroy() }
        let result = try bundle.create()
        #expect(result.status == 1)
        #expect(errorLine(result).contains("executable file not found"), "\(result.stderr)")
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    @Test func unknownContainer() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        for command in [["state"], ["start"], ["kill"], ["delete"], ["pause"], ["exec"]] {
            let result = try bundle.runtime(command + ["no-such-container"] + (command == ["exec"] ? ["true"] : []))
            #expect(result.status == (command == ["exec"] ? 255 : 1), "\(command)")
            #expect(errorLine(result).contains("container does not exist"), "\(command): \(result.stderr)")
        }
        #expect(try bundle.runtime(["delete", "--force", "no-such-container"]).succeeded, "delete --force of nothing succeeds, as runc")
    }

    @Test func apparmorProfileIsRefusedNotIgnored() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.process?.apparmorProfile = "docker-default"
        let result = try bundle.create()
        #expect(result.status == 1)
        #expect(errorLine(result).contains("AppArmor"))
        #expect(bundle.leftovers().isEmpty)
    }

    @Test func idmappedMountIsRefusedNotIgnored() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.mounts?.append(Spec.Mount(destination: "/data", type: "bind", source: "/tmp", options: ["rbind", "idmap"]))
        let result = try bundle.create()
        #expect(result.status == 1)
        #expect(errorLine(result).contains("mounts[") && errorLine(result).contains("idmap"), "\(result.stderr)")
        #expect(bundle.leftovers().isEmpty)
    }

    @Test func terminalWithoutConsoleSocketIsRefused() throws {
        let bundle = try Bundle()
        defer { bundle.destroy() }
        bundle.spec.process?.terminal = true
        let result = try bundle.create()
        #expect(result.status == 1)
        #expect(errorLine(result) == "berth: cannot allocate tty if runc will detach without setting console socket", "\(result.stderr)")
        #expect(bundle.leftovers().isEmpty)
    }

    @Test func unknownFlagIsAnError() throws {
        let result = try runCommand(runtimeBinary, ["create", "--no-such-flag", "x"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("flag provided but not defined"))
    }

    /// A SIGKILL of the runtime in the middle of create leaves nothing that delete --force cannot clean.
    @Test func runtimeKilledDuringCreateIsCleanedByDeleteForce() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        var hooks = Spec.Hooks()
        hooks.createRuntime = [Spec.Hook(path: "/bin/sleep", args: ["sleep", "30"])]
        bundle.spec.hooks = hooks
        try bundle.writeConfig()
        let runtime = try spawnInBackground(runtimeBinary, ["--root", bundle.stateRoot, "create", "--bundle", bundle.directory, bundle.id])
        // Wait until the hook runs: the container exists (cgroup made, init cloned) but is not complete.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !FileManager.default.fileExists(atPath: bundle.cgroupDirectories()[0]) { usleep(10_000) }
        usleep(200_000)
        kill(runtime, SIGKILL)
        var status: Int32 = 0
        waitpid(runtime, &status, 0)
        // The init notices its parent is gone; the hook (a plain child) is orphaned but not ours to clean.
        #expect(try bundle.state()?.status != .running)
        #expect(try bundle.runtime(["delete", "--force", bundle.id]).succeeded)
        usleep(100_000)
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
        _ = try? runCommand("/usr/bin/pkill", ["-f", "sleep 30"])
    }
}
