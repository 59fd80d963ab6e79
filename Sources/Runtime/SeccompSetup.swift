#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import CBerth
import Linux
import OCISpec

extension Runtime {
    /// The container's seccomp program, compiled here in the runtime (or read from the cache under the
    /// state root) before the fork, so the child only loads it.
    func seccompProgram(_ profile: Spec.Seccomp?) throws(RuntimeError) -> SeccompProgram? {
        guard let profile else { return nil }
        do {
            return try SeccompCache(directory: store.seccompCacheDirectory).program(for: profile)
        } catch {
            throw RuntimeError("config.json: field linux.seccomp", error.reason)
        }
    }
}

/// The runtime-spec's "container process state", which runc sends a seccomp agent together with the
/// notify fd (libcontainer's sendContainerProcessState); Go's field names and omitempty rules.
struct ContainerProcessState: Encodable {
    var ociVersion: String
    var fds: [String]
    var pid: Int32
    var metadata: String?
    var state: ContainerState
}

enum SeccompAgent {
    /// Connects to the agent at `path` and sends the state JSON with the listener fd (SCM_RIGHTS), in
    /// one message as runc does. Bounded in time: an agent that does not accept or read makes this fail
    /// after 10 s rather than hang `create`. The caller closes its copy of the listener right after, so
    /// once the agent is gone the container's notified syscalls fail (ENOSYS) instead of blocking.
    static func hand(listener: Int32, to path: String, pid: Int32, metadata: String?, state: ContainerState) throws(RuntimeError) {
        var processState = ContainerProcessState(ociVersion: Spec.version, fds: ["seccompFd"], pid: pid,
                                                 metadata: metadata, state: state)
        if processState.metadata?.isEmpty == true { processState.metadata = nil }
        let payload: [UInt8]
        do { payload = Array(try SpecJSON.encode(processState)) } catch {
            throw RuntimeError("encoding the state for the seccomp agent", "\(error)")
        }
        let socket: Int32
        do { socket = try UnixSocket.connect(path: path, kind: .stream, timeout: 10) } catch {
            // runc's words: seccomp-notify.bats (and scripts) look for them.
            throw RuntimeError("failed to connect with seccomp agent specified in the seccomp profile",
                               "dial unix \(path): connect: \(RuntimeError.goMessage(error.errno))")
        }
        defer { close(socket) }
        let sent = payload.withUnsafeBytes { berth_send_with_fd(socket, $0.baseAddress, $0.count, listener) }
        if sent < 0 { throw RuntimeError("sending the seccomp notify fd to \(path)", SystemError.message(errno)) }
        Trace.log("seccomp agent \(path): sent the notify fd and \(payload.count) bytes of state")
    }
}
