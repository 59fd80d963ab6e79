import Foundation
import OCISpec

extension ImageStore {
    /// Stores a blob from memory as part of `transaction`.
    @discardableResult
    func put(_ bytes: [UInt8], expected: Digest? = nil, transaction: ContentTransaction) throws(ImageError) -> Digest {
        let writer = try content.writer(expected: expected, expectedSize: expected == nil ? nil : Int64(bytes.count))
        try writer.write(bytes)
        let result = try writer.commit()
        if result.created { transaction.added(blob: result.digest) }
        return result.digest
    }

    /// The last step of load, import and pull: checks that the manifest's config and layers are stored and of known
    /// types, unpacks every layer into its snapshot (verifying blob digests and diffIDs), and only then makes the
    /// image visible under `references` (untagged when empty).
    func commitImage(manifestDigest: Digest, mediaType: String, references: [ImageReference],
                     transaction: ContentTransaction) throws(ImageError) -> ImageRecord {
        guard MediaType.manifestTypes.contains(mediaType) else {
            throw ImageError("store image", manifestDigest.description, "unsupported manifest media type \(mediaType)")
        }
        let manifest = try content.decode(ImageManifest.self, manifestDigest)
        guard MediaType.configTypes.contains(manifest.config.mediaType) else {
            throw ImageError("store image", manifestDigest.description, "unsupported config media type \(manifest.config.mediaType)")
        }
        guard let configDigest = Digest(manifest.config.digest) else {
            throw ImageError("store image", manifestDigest.description, "invalid config digest \(manifest.config.digest)")
        }
        let config = try content.decode(ImageConfig.self, configDigest)
        for layer in manifest.layers where MediaType.layerCompression(layer.mediaType) == nil {
            throw ImageError("store image", layer.digest, "unsupported layer media type \(layer.mediaType)")
        }
        let diffIDs = config.rootfs.diff_ids.compactMap(Digest.init)
        guard diffIDs.count == config.rootfs.diff_ids.count, diffIDs.count == manifest.layers.count else {
            throw ImageError("store image", manifestDigest.description,
                             "config lists \(config.rootfs.diff_ids.count) diffIDs for \(manifest.layers.count) layers")
        }
        for layer in manifest.layers {
            guard let digest = Digest(layer.digest), content.has(digest) else {
                throw ImageError("store image", layer.digest, "layer blob is missing")
            }
        }
        try prepareSnapshots(layers: manifest.layers, diffIDs: diffIDs, transaction: transaction)
        let descriptor = Descriptor(mediaType: mediaType, digest: manifestDigest.description,
                                    size: content.size(manifestDigest) ?? 0)
        if references.isEmpty {
            try setReference(nil, manifest: descriptor)
        }
        for reference in references {
            try setReference(reference, manifest: descriptor)
        }
        return ImageRecord(reference: references.first, manifestDigest: manifestDigest, manifestMediaType: mediaType,
                           manifestSize: descriptor.size, manifest: manifest, configDigest: configDigest, config: config)
    }

    /// Unpacks missing snapshots, two at a time (the layers are independent in overlay form).
    func prepareSnapshots(layers: [Descriptor], diffIDs: [Digest], transaction: ContentTransaction) throws(ImageError) {
        let failures = FailureBox()
        let snapshots = self.snapshots
        DispatchQueue.concurrentPerform(iterations: layers.count) { i in
            guard failures.first == nil else { return }
            do throws(ImageError) {
                if try snapshots.prepare(layer: layers[i], diffID: diffIDs[i]) { transaction.added(snapshot: diffIDs[i]) }
            } catch {
                failures.record(error)
            }
        }
        if let failure = failures.first { throw failure }
    }
}

/// The first error of concurrent work.
final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private var error: ImageError?
    var first: ImageError? { lock.withLock { error } }
    func record(_ failure: ImageError) { lock.withLock { if error == nil { error = failure } } }
}
