import Foundation
import Glibc
import Linux
import OCISpec

/// The image store under the engine root: an OCI image layout in `<root>/image` (`oci-layout`, `index.json`,
/// `blobs/`), plus unpacked layer snapshots, temporary ingest files and locks.
///
/// `index.json` is the reference index: each entry is a manifest descriptor whose `io.containerd.image.name`
/// annotation holds the full reference (`docker.io/library/busybox:latest`); entries without one are untagged.
/// Writers replace it atomically under `index.lock`. Operations that add content hold `gc.lock` shared and garbage
/// collection holds it exclusive, so concurrent `berth` invocations are safe.
public struct ImageStore: Sendable {
    public let root: String
    public let directory: String
    public let content: ContentStore

    public static let defaultRoot = "/var/lib/berth"

    /// Opens (creating if needed) the store under `root`.
    public init(root: String = ImageStore.defaultRoot) throws(ImageError) {
        try sys { () throws(SystemError) in try Files.makeDirectories(root, mode: 0o711) }
        guard let real = realpath(root, nil) else { throw ImageError("realpath", root, SystemErrorText.current) }
        self.root = String(cString: real)
        free(real)
        directory = self.root + "/image"
        content = ContentStore(directory: directory)
        for sub in ["", "/blobs/sha256", "/ingest", "/snapshots", "/leases"] {
            try sys { () throws(SystemError) in try Files.makeDirectories(directory + sub, mode: 0o700) }
        }
        let layout = directory + "/oci-layout"
        if !Files.exists(layout) {
            try sys { () throws(SystemError) in try Files.replace(layout, Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8), mode: 0o644) }
        }
    }

    var indexPath: String { directory + "/index.json" }
    var gcLockPath: String { directory + "/gc.lock" }
    var indexLockPath: String { directory + "/index.lock" }
    public var snapshots: SnapshotStore { SnapshotStore(store: self) }

    /// Runs an operation that adds content: holds the GC lock shared meanwhile (a concurrent prune cannot delete
    /// what it is about to reference), and on failure deletes the blobs and snapshots it created that no image
    /// references, so a failed load or pull leaves the store as it was.
    func transaction<T>(_ body: (ContentTransaction) async throws -> T) async throws -> T {
        let transaction = ContentTransaction()
        let lock = try StoreLock(gcLockPath, .shared)
        do {
            let result = try await body(transaction)
            lock.unlock()
            return result
        } catch {
            lock.unlock()
            rollback(transaction)
            throw error
        }
    }

    func rollback(_ transaction: ContentTransaction) {
        guard let lock = StoreLock.tryExclusive(gcLockPath) else { return }   // others are adding: leave it to prune
        defer { lock.unlock() }
        let (blobs, snapshotsInUse) = (try? reachable()) ?? (Set(content.list()), Set(snapshots.list()))
        for blob in transaction.blobs where !blobs.contains(blob) { content.delete(blob) }
        for snapshot in transaction.snapshots where !snapshotsInUse.contains(snapshot) { snapshots.remove(snapshot) }
    }

    // MARK: - Reference index

    /// The layout's index.json (empty when there is none yet).
    public func readIndex() throws(ImageError) -> ImageIndex {
        guard Files.exists(indexPath) else { return ImageIndex(mediaType: MediaType.ociIndex, manifests: []) }
        let bytes = try sys { () throws(SystemError) in try Files.readBytes(indexPath) }
        do {
            return try SpecJSON.decode(ImageIndex.self, from: Data(bytes), file: indexPath)
        } catch {
            throw ImageError("read", indexPath, error)
        }
    }

    /// Read-modify-write of index.json under the index lock; the file is replaced atomically.
    func updateIndex(_ change: (inout [Descriptor]) throws(ImageError) -> Void) throws(ImageError) {
        let lock = try StoreLock(indexLockPath, .exclusive)
        defer { withExtendedLifetime(lock) {} }
        var index = try readIndex()
        try change(&index.manifests)
        index.mediaType = MediaType.ociIndex
        let bytes: Data
        do { bytes = try SpecJSON.encode(index, pretty: true) } catch { throw ImageError("encode", indexPath, error) }
        try sys { () throws(SystemError) in try Files.replace(indexPath, Array(bytes), mode: 0o644) }
    }

    /// Points `reference` at `manifest` (moving it away from any other image). With nil, records an untagged image.
    public func setReference(_ reference: ImageReference?, manifest: Descriptor) throws(ImageError) {
        var entry = Descriptor(mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size)
        if let reference {
            entry.annotations = [ImageAnnotation.imageName: reference.description,
                                 ImageAnnotation.refName: reference.tag ?? reference.digest?.description ?? "latest"]
        }
        try updateIndex { (manifests) throws(ImageError) in
            if let reference {
                manifests.removeAll { $0.annotations?[ImageAnnotation.imageName] == reference.description }
                // an untagged record of the same manifest is superseded by the named one
                manifests.removeAll { $0.digest == manifest.digest && $0.annotations?[ImageAnnotation.imageName] == nil }
            } else if manifests.contains(where: { $0.digest == manifest.digest }) {
                return
            }
            manifests.append(entry)
        }
    }

    // MARK: - Lookup

    /// Every image record: one per reference, plus untagged images.
    public func list() throws(ImageError) -> [ImageRecord] {
        var out: [ImageRecord] = []
        for entry in try readIndex().manifests {
            out.append(try record(for: entry))
        }
        return out
    }

    func record(for entry: Descriptor) throws(ImageError) -> ImageRecord {
        guard let digest = Digest(entry.digest) else { throw ImageError("read index", indexPath, "invalid digest \(entry.digest)") }
        let manifest = try content.decode(ImageManifest.self, digest)
        guard let configDigest = Digest(manifest.config.digest) else {
            throw ImageError("read manifest", digest.description, "invalid config digest")
        }
        let config = try content.decode(ImageConfig.self, configDigest)
        var reference: ImageReference?
        if let name = entry.annotations?[ImageAnnotation.imageName] { reference = try? ImageReference(parsing: name) }
        return ImageRecord(reference: reference, manifestDigest: digest, manifestMediaType: entry.mediaType,
                           manifestSize: entry.size, manifest: manifest, configDigest: configDigest, config: config)
    }

    /// Finds an image by reference (`busybox`, `localhost:5000/x:1`, `name@sha256:…`), by ID (config digest or a
    /// prefix of at least 4 hex digits), or by manifest digest.
    public func resolve(_ text: String) throws(ImageError) -> ImageRecord {
        let records = try list()
        let hexText = text.hasPrefix("sha256:") ? String(text.dropFirst(7)) : text
        if hexText.count >= 4, hexText.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) {
            let byID = records.filter { $0.configDigest.encoded.hasPrefix(hexText) }
            if let first = byID.first {
                if Set(byID.map(\.configDigest)).count > 1 { throw ImageError("find image", text, "ambiguous image ID prefix") }
                return first
            }
            if let byManifest = records.first(where: { $0.manifestDigest.encoded.hasPrefix(hexText) }) { return byManifest }
        }
        let reference: ImageReference
        do { reference = try ImageReference(parsing: text) } catch { throw ImageError("find image", text, "no such image") }
        if let digest = reference.digest {
            if let match = records.first(where: { $0.manifestDigest == digest && $0.reference?.name == reference.name }) {
                return match
            }
        } else if let match = records.first(where: { $0.reference == reference }) {
            return match
        }
        throw ImageError("find image", text, "no such image")
    }

    /// Adds another reference to an existing image.
    public func tag(_ source: String, as target: String) throws(ImageError) {
        let record = try resolve(source)
        let reference = try ImageReference(parsing: target)
        guard reference.digest == nil else { throw ImageError("tag", target, "a tag cannot contain a digest") }
        try setReference(reference, manifest: record.manifestDescriptor)
    }

    /// Removes a reference (or, given an ID, every reference of that image when `force` or when there is only one),
    /// then collects what no image references any more. Returns docker-style `Untagged:`/`Deleted:` lines.
    /// `usedBy` names a container made from an image ID, if any: an image a container still needs (its config
    /// is read again at every start) keeps its last name, even with `force`; untagging one of several names is fine.
    public func remove(_ text: String, force: Bool = false,
                       usedBy: (Digest) -> String? = { _ in nil }) throws(ImageError) -> [String] {
        let record = try resolve(text)
        let all = try list().filter { $0.configDigest == record.configDigest }
        var byReference = false
        if let reference = try? ImageReference(parsing: text), all.contains(where: { $0.reference == reference }) {
            byReference = true
        }
        var targets = byReference ? all.filter { $0.reference == record.reference } : all
        if !byReference && Set(all.compactMap(\.reference)).count > 1 && !force {
            throw ImageError("remove image", text, "image is referenced in multiple repositories (use --force)")
        }
        if targets.isEmpty { targets = [record] }
        let deletesImage = all.allSatisfy { entry in
            targets.contains { $0.manifestDigest == entry.manifestDigest && $0.reference == entry.reference }
        }
        if deletesImage, let user = usedBy(record.configDigest) {
            throw ImageError("remove image", text, "container \(user) is using it (remove the container first)")
        }
        var lines: [String] = []
        try updateIndex { (manifests) throws(ImageError) in
            for target in targets {
                manifests.removeAll { entry in
                    entry.digest == target.manifestDigest.description &&
                        entry.annotations?[ImageAnnotation.imageName] == target.reference?.description
                }
                if let reference = target.reference { lines.append("Untagged: \(reference.familiar)") }
            }
        }
        let remaining = try list()
        if !remaining.contains(where: { $0.configDigest == record.configDigest }) {
            lines.append("Deleted: \(record.configDigest)")
            _ = try? collectGarbage(wait: false)
        }
        return lines
    }
}

/// One image as the store knows it.
public struct ImageRecord: Sendable {
    public let reference: ImageReference?
    public let manifestDigest: Digest
    public let manifestMediaType: String
    public let manifestSize: Int64
    public let manifest: ImageManifest
    /// The image ID.
    public let configDigest: Digest
    public let config: ImageConfig

    public var manifestDescriptor: Descriptor {
        Descriptor(mediaType: manifestMediaType, digest: manifestDigest.description, size: manifestSize)
    }

    /// Sum of the layer blobs' sizes.
    public var size: Int64 { manifest.layers.reduce(manifest.config.size) { $0 + $1.size } }

    public var diffIDs: [Digest] { config.rootfs.diff_ids.compactMap(Digest.init) }
}
