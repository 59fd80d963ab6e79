/// The flags of `create` and `run`.
public struct CreateOptions: Sendable {
    public var pidFile: String?
    public var consoleSocket: String?
    public var noPivot = false
    public var noNewKeyring = false
    public var preserveFds: Int32 = 0
    public init() {}
}
