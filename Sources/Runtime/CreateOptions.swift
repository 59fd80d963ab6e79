/// The flags of `create` and `run`.
public struct CreateOptions: Sendable {
    public var pidFile: String?
    public var consoleSocket: String?
    public var noPivot = false
    public var noNewKeyring = false
    public var preserveFds: Int32 = 0
    /// Socket activation (systemd's LISTEN_FDS for this process): fds 3..<3+N go to the init before the
    /// --preserve-fds ones, and it is told LISTEN_FDS=N, LISTEN_PID=1, as runc does.
    public var listenFds: Int32 = 0
    /// `run` without -d: the caller stays, so a terminal without --console-socket is relayed by it.
    public var foreground = false
    public init() {}
}
