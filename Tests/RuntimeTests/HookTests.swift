import Foundation
import Testing
import OCISpec

@Suite("Hooks: all six, in order, with the state on stdin")
struct HookTests {
    func hook(_ log: String, _ name: String) -> Spec.Hook {
        // Each hook appends its name and the state JSON it read to the log.
        Spec.Hook(path: "/bin/sh", args: ["sh", "-c", "printf '%s ' \(name) >> \(log); cat >> \(log); echo >> \(log)"])
    }

    @Test func everyHookRunsInOrderWithState() throws {
        let priv = try Bundle(privateRootfs: true, args: ["true"])
        defer { priv.destroy() }
        let log = priv.directory + "/hooks.log"
        var hooks = Spec.Hooks()
        hooks.prestart = [hook(log, "prestart")]
        hooks.createRuntime = [hook(log, "createRuntime")]
        hooks.createContainer = [hook(log, "createContainer")]
        hooks.startContainer = [Spec.Hook(path: "/bin/sh", args: ["sh", "-c", "echo startContainer-in-container > /tmp/started"])]
        hooks.poststart = [hook(log, "poststart")]
        hooks.poststop = [hook(log, "poststop")]
        priv.spec.hooks = hooks
        #expect(try priv.create().succeeded)
        let pid = try #require(try priv.state()).pid
        #expect(try priv.runtime(["start", priv.id]).succeeded)
        #expect(try priv.waitForStatus(.stopped))
        #expect(try priv.runtime(["delete", priv.id]).succeeded)
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.map { String($0.split(separator: " ")[0]) } == ["prestart", "createRuntime", "createContainer", "poststart", "poststop"])
        for line in lines {
            let json = String(line.drop { $0 != "{" })
            let state = try JSONDecoder().decode(ContainerState.self, from: Data(json.utf8))
            #expect(state.id == priv.id)
            #expect(state.bundle == priv.directory)
            if !line.hasPrefix("poststop") { #expect(state.pid == pid, "\(line)") }
        }
        #expect(lines[0].contains("\"status\":\"creating\""))
        #expect(lines[4].contains("\"status\":\"stopped\""))
        // startContainer ran inside the container, after pivot_root.
        #expect(try String(contentsOfFile: priv.rootfs + "/tmp/started", encoding: .utf8) == "startContainer-in-container\n")
    }

    @Test func failingCreateRuntimeHookFailsCreateAndLeavesNothing() throws {
        let bundle = try Bundle(args: ["sleep", "10"])
        defer { bundle.destroy() }
        var hooks = Spec.Hooks()
        hooks.createRuntime = [Spec.Hook(path: "/bin/sh", args: ["sh", "-c", "exit 3"])]
        bundle.spec.hooks = hooks
        let result = try bundle.create()
        #expect(result.status == 1)
        #expect(errorLine(result).contains("error running hook #0 (createRuntime /bin/sh)"), "\(result.stderr)")
        #expect(errorLine(result).contains("status 3"))
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    @Test func hookTimeout() throws {
        let bundle = try Bundle(args: ["true"])
        defer { bundle.destroy() }
        var hooks = Spec.Hooks()
        hooks.prestart = [Spec.Hook(path: "/bin/sleep", args: ["sleep", "29"], timeout: 1)]
        bundle.spec.hooks = hooks
        let started = Date()
        let result = try bundle.create()
        #expect(result.status == 1)
        #expect(errorLine(result).contains("timed out"), "\(result.stderr)")
        #expect(Date().timeIntervalSince(started) < 20)
        #expect(bundle.leftovers().isEmpty)
    }
}
