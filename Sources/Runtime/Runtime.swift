import Glibc
import Linux
import Cgroups
import OCISpec

/// The OCI lifecycle over one state directory. Every operation is a short-lived call: the runtime
/// keeps no daemon; the kernel (processes, cgroups, the exec fifo) holds the truth between calls.
public struct Runtime: Sendable {
    public let store: ContainerStore
    /// Where non-fatal problems (a failing poststop hook) are reported.
    public let warn: @Sendable (String) -> Void

    public init(root: String, warn: @escaping @Sendable (String) -> Void = { _ in }) {
        self.store = ContainerStore(root: root)
        self.warn = warn
    }
}
