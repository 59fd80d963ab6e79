/// The flags of `create` and `run`.
public struct CreateOptions: Sendable {
    public var pidFile: String?
    public var consoleSocket: String?
    public var noPivot = false
    public var noNewKeyring = false
    public var preserveFds: Int32 = 0
    /// `run` without -d: the caller stays, so a terminal without --console-socket is relayed by it.
    public var foreground = false
    public init() {}
}
