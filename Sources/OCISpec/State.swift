#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The state of a container as the runtime spec defines it, plus the fields runc adds to `runc state`
/// (`rootfs`, `created`, `owner`) that podman and containerd read.
public struct ContainerState: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case creating, created, running, stopped, paused
    }
    public var ociVersion: String
    public var id: String
    public var pid: Int32
    public var status: Status
    public var bundle: String
    public var rootfs: String?
    public var created: String?
    public var owner: String?
    public var annotations: [String: String]?

    public init(id: String, pid: Int32, status: Status, bundle: String, rootfs: String? = nil, created: String? = nil,
                owner: String? = nil, annotations: [String: String]? = nil) {
        self.ociVersion = Spec.version; self.id = id; self.pid = pid; self.status = status; self.bundle = bundle
        self.rootfs = rootfs; self.created = created; self.owner = owner; self.annotations = annotations
    }

    /// The spec's state (what hooks read on stdin): the runc extras are left out.
    public var specState: ContainerState {
        var copy = self
        copy.rootfs = nil; copy.created = nil; copy.owner = nil
        return copy
    }
}
