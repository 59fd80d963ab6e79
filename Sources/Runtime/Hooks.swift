import Linux
import OCISpec

/// OCI hooks: each gets the container state as JSON on stdin; a non-zero exit or a timeout fails the
/// lifecycle step (except poststart/poststop, which only warn, as the spec says).
enum Hooks {
    /// `directory`: where the hooks run (runc's working directory at that point: the bundle during
    /// create, the rootfs for createContainer); nil keeps the runtime's own.
    static func run(_ hooks: [Spec.Hook]?, kind: String, state: ContainerState, directory: String? = nil) throws(RuntimeError) {
        guard let hooks, !hooks.isEmpty else { return }
        let input = (try? SpecJSON.encode(state)).map(Array.init) ?? []
        for (index, hook) in hooks.enumerated() {
            // "error running hook", as runc says it: scripts and runc's bats tests look for it.
            let what = "error running hook #\(index) (\(kind) \(hook.path))"
            let result: Spawn.Result
            do {
                result = try Spawn.run(path: hook.path, args: hook.args ?? [hook.path], env: hook.env ?? runtimeEnvironment(),
                                       input: input, timeout: hook.timeout, directory: directory)
            } catch {
                throw RuntimeError(what, error.description)
            }
            if result.timedOut { throw RuntimeError(what, "timed out after \(hook.timeout ?? 0)s") }
            if result.exitCode == 127 && !Files.exists(hook.path) {
                throw RuntimeError(what, "no such file")
            }
            if result.signal != 0 { throw RuntimeError(what, "signal: \(Signals.description(of: result.signal))") }
            if result.exitCode != 0 { throw RuntimeError(what, "exited with status \(result.exitCode)") }
        }
    }

    /// A hook without `env` gets the runtime's own environment, as runc's (Go's exec.Cmd with a nil
    /// Env); one with `env` gets exactly that. Read from /proc, not `environ`: the runtime never changes
    /// its environment, and a C global is not concurrency-safe in Swift 6.
    static func runtimeEnvironment() -> [String] {
        guard let bytes = try? Files.readBytes("/proc/self/environ") else { return [] }
        return bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// poststart and poststop failures are logged, not fatal.
    static func runWarning(_ hooks: [Spec.Hook]?, kind: String, state: ContainerState, warn: (String) -> Void) {
        do { try run(hooks, kind: kind, state: state) } catch { warn(error.description) }
    }
}
