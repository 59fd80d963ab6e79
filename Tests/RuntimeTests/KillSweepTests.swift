import Foundation
import Testing
import OCISpec

/// berth-runtime itself SIGKILLed at a sweep of moments of `create`, `start`, `run -d` and `delete`, as podman or
/// containerd would see it if the runtime died under them: afterwards `state` and `list` either report the
/// container or say it does not exist (never a crash), and `delete --force` leaves no state directory, cgroup
/// (every v1 hierarchy and the unified tree), mount or process of it.
@Suite("Kill sweep: berth-runtime SIGKILLed at any moment", .serialized)
struct KillSweepTests {
    /// Fractions of the step's own duration on this machine, from before it starts to after it has ended.
    static let moments: [Double] = (0..<26).map { Double($0) / 20 }

    enum Step: String, CaseIterable, Sendable { case create, start, runDetached, delete, deleteForce }

    @Test(arguments: Step.allCases)
    func killedAtAnyMoment(_ step: Step) throws {
        let whole = try duration(of: step)
        for delay in Self.moments.map({ UInt32($0 * whole * 1_000_000) }) {
            let marker = String(UInt32.random(in: 100_000...999_999))
            let bundle = try Bundle("kill\(step.rawValue)", args: ["sleep", marker])
            defer { bundle.destroy() }
            try prepare(step, bundle)
            let runtime = try spawnInBackground(runtimeBinary, ["--root", bundle.stateRoot] + arguments(step, bundle))
            usleep(delay)
            kill(runtime, SIGKILL)
            var status: Int32 = 0
            while waitpid(runtime, &status, 0) < 0 && errno == EINTR {}
            let when = "\(step.rawValue) killed at \(delay) µs"

            // state: the container as it is, or "does not exist", or (killed between making the container's
            // directory and writing its first record) that the create was interrupted; never a crash or a
            // half-written answer.
            let state = try bundle.runtime(["state", bundle.id])
            if state.succeeded {
                let decoded = try? JSONDecoder().decode(ContainerState.self, from: Data(state.stdout.utf8))
                #expect(decoded?.id == bundle.id, "\(when): state printed \(state.stdout)")
            } else {
                let known = state.stderr.contains("does not exist") || state.stderr.contains("a create was interrupted")
                #expect(state.status == 1 && state.stderr.hasPrefix("berth: ") && known && state.stderr.split(separator: "\n").count == 1,
                        "\(when): state failed with \(state.status): \(state.stderr)")
            }
            let list = try bundle.runtime(["list", "--format", "json"])
            #expect(list.succeeded, "\(when): list failed with \(list.status): \(list.stderr)")
            let listed = list.stdout.contains("\"id\":\"\(bundle.id)\"")
            #expect(listed == state.succeeded, "\(when): state and list disagree: \(state.stdout) / \(list.stdout)")

            let deleted = try bundle.runtime(["delete", "--force", bundle.id])
            #expect(deleted.succeeded || deleted.stderr.contains("does not exist"), "\(when): delete --force: \(deleted.stderr)")
            #expect(try bundle.state() == nil, "\(when): still there after delete --force")
            #expect(bundle.leftovers().isEmpty, "\(when): \(bundle.leftovers())")
            #expect(cgroups(of: bundle).isEmpty, "\(when): \(cgroups(of: bundle))")
            #expect(processes(marker, bundle.id).isEmpty, "\(when): the container's processes live on: \(processes(marker, bundle.id))")
        }
    }

    /// What exists before the step is made normally; only the step itself is killed.
    private func prepare(_ step: Step, _ bundle: Bundle) throws {
        try bundle.writeConfig()
        switch step {
        case .create, .runDetached: break
        case .start, .deleteForce:
            #expect(try bundle.create().succeeded)
        case .delete:
            #expect(try bundle.create().succeeded)
            #expect(try bundle.runtime(["kill", bundle.id, "KILL"]).succeeded)
            #expect(try bundle.waitForStatus(.stopped))
        }
    }

    private func arguments(_ step: Step, _ bundle: Bundle) -> [String] {
        switch step {
        case .create: ["create", "--bundle", bundle.directory, bundle.id]
        case .runDetached: ["run", "--detach", "--bundle", bundle.directory, bundle.id]
        case .start: ["start", bundle.id]
        case .delete: ["delete", bundle.id]
        case .deleteForce: ["delete", "--force", bundle.id]
        }
    }

    /// How long the step takes uninterrupted (the longest of three), in seconds.
    private func duration(of step: Step) throws -> Double {
        var longest = 0.0
        for _ in 0..<3 {
            let bundle = try Bundle("time\(step.rawValue)", args: ["sleep", "60"])
            defer { bundle.destroy() }
            try prepare(step, bundle)
            let started = Date()
            #expect(try bundle.runtime(arguments(step, bundle)).succeeded)
            longest = max(longest, Date().timeIntervalSince(started))
        }
        return longest
    }

    /// The container's cgroup in every hierarchy mounted under /sys/fs/cgroup (the unified tree of a hybrid host
    /// included), whichever the runtime joined.
    private func cgroups(of bundle: Bundle) -> [String] {
        let path = bundle.spec.linux?.cgroupsPath ?? "/berth/\(bundle.id)"
        let hierarchies = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []
        return (hierarchies.map { "/sys/fs/cgroup/\($0)" + path } + ["/sys/fs/cgroup" + path])
            .filter { FileManager.default.fileExists(atPath: $0) }
    }

    /// Processes running `sleep MARKER`, or a runtime process (an init not yet exec'd) whose command line names the container.
    private func processes(_ marker: String, _ id: String) -> [pid_t] {
        let deadline = Date().addingTimeInterval(2)
        var found: [pid_t] = []
        repeat {
            found = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }.filter { pid in
                guard let cmdline = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")) else { return false }
                let words = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                // The init before its execve is a clone of the runtime: its command line names the container.
                guard words == ["sleep", marker] || words.contains(id) else { return false }
                // A zombie (this host's PID 1 does not reap) is gone for our purposes.
                let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
                return !(stat.split(separator: ")").last?.hasPrefix(" Z") ?? true)
            }
            if found.isEmpty { return [] }
            usleep(50_000)
        } while Date() < deadline
        return found
    }
}
