import Foundation
import Glibc
import Linux
import OCISpec

/// Unpacked layers, one directory per diffID (`<root>/image/snapshots/<hex>`), in overlayfs form, so each layer
/// is unpacked once and shared by every image and container that uses it. A snapshot is unpacked into a
/// temporary directory and renamed into place when complete: a visible snapshot is always whole.
public struct SnapshotStore: Sendable {
    let store: ImageStore

    var directory: String { store.directory + "/snapshots" }

    public func path(_ diffID: Digest) -> String { directory + "/" + diffID.encoded }

    public func has(_ diffID: Digest) -> Bool { Files.isDirectory(path(diffID)) }

    /// Unpacks a layer blob into its snapshot unless it is there already. Returns true when it unpacked.
    @discardableResult
    func prepare(layer: Descriptor, diffID: Digest) throws(ImageError) -> Bool {
        if has(diffID) { return false }
        guard let blobDigest = Digest(layer.digest) else {
            throw ImageError("unpack layer", layer.digest, "invalid digest")
        }
        guard let compression = MediaType.layerCompression(layer.mediaType) else {
            throw ImageError("unpack layer", layer.digest, "unsupported layer media type \(layer.mediaType)")
        }
        guard store.content.has(blobDigest) else { throw ImageError("unpack layer", layer.digest, "blob is missing") }
        let temporary = directory + "/.tmp-" + UUID().uuidString
        if mkdir(temporary, 0o755) != 0 { throw ImageError("mkdir", temporary, SystemErrorText.current) }
        do throws(ImageError) {
            let unpacker = LayerUnpacker(destination: temporary, mode: .overlay)
            _ = try unpacker.unpack(blobPath: store.content.path(blobDigest), compression: compression,
                                    blobDigest: blobDigest, diffID: diffID, name: blobDigest.description)
            if rename(temporary, path(diffID)) != 0 {
                if errno == EEXIST || errno == ENOTEMPTY {   // another process finished the same layer first
                    try? Files.removeTree(temporary)
                    return false
                }
                throw ImageError("rename", path(diffID), SystemErrorText.current)
            }
            return true
        } catch {
            try? Files.removeTree(temporary)
            if !store.content.verifies(blobDigest) {
                // A crash tore the stored blob (blobs are not fsynced); pull replaces it.
                throw ImageError(error.operation, error.subject, error.reason + ": the stored blob is damaged; pull or load the image again")
            }
            throw error
        }
    }

    func list() -> [Digest] {
        ((try? Files.listDirectory(directory)) ?? []).compactMap { Digest("sha256:" + $0) }
    }

    func remove(_ diffID: Digest) {
        try? Files.removeTree(path(diffID))
    }

    /// Removes unpack directories that an interrupted process left behind.
    func cleanTemporary(olderThan age: Int = 3600) {
        let now = time(nil)
        for name in (try? Files.listDirectory(directory)) ?? [] where name.hasPrefix(".tmp-") {
            var st = stat()
            let path = directory + "/" + name
            if lstat(path, &st) == 0 && now - st.st_mtim.tv_sec > age { try? Files.removeTree(path) }
        }
    }
}
