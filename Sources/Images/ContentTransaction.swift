import Foundation
import OCISpec

/// What one load, import or pull added to the store, so a failure can take it back.
final class ContentTransaction: @unchecked Sendable {
    private let lock = NSLock()
    private var createdBlobs: [Digest] = []
    private var createdSnapshots: [Digest] = []

    func added(blob: Digest) { lock.withLock { createdBlobs.append(blob) } }
    func added(snapshot: Digest) { lock.withLock { createdSnapshots.append(snapshot) } }

    var blobs: [Digest] { lock.withLock { createdBlobs } }
    var snapshots: [Digest] { lock.withLock { createdSnapshots } }
}
