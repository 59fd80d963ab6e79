import Glibc
import CBerth
import Linux

/// The socket between `create` and the container's init. SOCK_SEQPACKET keeps message boundaries, and
/// end-of-file on either side means the other one is gone: init never outlives a killed `create`
/// while it is still being set up.
struct SyncChannel {
    let fd: Int32

    func send(_ message: String) throws(SystemError) {
        let bytes = Array(message.utf8)
        let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if sent < 0 { throw SystemError("send", "sync socket") }
    }

    /// The init's last message, sent once its no_new_privs filter is in force: with write(2), which a
    /// profile lets through where it may not allow sendto (runc's init writes to a pipe there). Should
    /// `create` be gone, SIGPIPE ends the init, which is what it would want anyway.
    func sendLast(_ message: String) throws(SystemError) {
        let bytes = Array(message.utf8)
        let sent = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if sent < 0 { throw SystemError("write", "sync socket") }
    }

    /// The next message, or nil when the other side has closed.
    func receive() throws(SystemError) -> String? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("recv", "sync socket")
            }
            if n == 0 { return nil }
            return String(decoding: buffer[0..<n], as: UTF8.self)
        }
    }

    /// A message with an fd attached (SCM_RIGHTS); the fd stays open in the sender too.
    func send(_ message: String, fd passed: Int32) throws(SystemError) {
        let bytes = Array(message.utf8)
        let result = bytes.withUnsafeBytes { berth_send_with_fd(fd, $0.baseAddress, $0.count, passed) }
        if result < 0 { throw SystemError("sendmsg", "sync socket") }
    }

    /// Like `receive`, and an fd that came with the message (-1 if none). recv(2) would close it.
    func receiveWithFd() throws(SystemError) -> (message: String?, fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var passed: Int32 = -1
        let n = buffer.withUnsafeMutableBytes { berth_recv_with_fd(fd, $0.baseAddress, $0.count, &passed) }
        if n < 0 { throw SystemError("recvmsg", "sync socket") }
        if n == 0 { return (nil, passed) }
        return (String(decoding: buffer[0..<n], as: UTF8.self), passed)
    }

    /// Sends a child's failure to the parent, or, when the parent is gone, to stderr.
    func reportFailure(_ error: RuntimeError) {
        if (try? send(SyncMessage.errorPrefix + error.description)) == nil {
            let line = "berth: \(error.description)\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
        }
    }

    /// Waits for exactly `expected`; an `error …` message or EOF becomes a thrown error.
    func expect(_ expected: String) throws(RuntimeError) {
        let message: String?
        do { message = try receive() } catch { throw RuntimeError("waiting for the runtime", error.description) }
        guard let message else { throw RuntimeError("waiting for the runtime", "it went away") }
        if message != expected { throw RuntimeError("sync", "expected \(expected), got \(message)") }
    }
}

/// The messages exchanged on the sync channel.
enum SyncMessage {
    static let go = "go"
    static let ready = "ready"
    static let runHooks = "hooks"
    static let hooksDone = "hooks-done"
    static let mapUsers = "map-users"
    static let usersMapped = "users-mapped"
    static let errorPrefix = "error "
    static let pidPrefix = "pid "
    /// The seccomp notify fd rides along (SCM_RIGHTS) for the parent to pass to the agent.
    static let seccompListener = "seccomp-listener"
}
