import Foundation
import Glibc
import Linux
import OCISpec

/// What a prune removed.
public struct PruneReport: Sendable {
    public var untagged: [String] = []
    public var deletedBlobs: [Digest] = []
    public var deletedSnapshots: [Digest] = []
    public var reclaimedBytes: Int64 = 0
}

extension ImageStore {
    /// Mark and sweep: every blob and snapshot reachable from index.json (or held by a bundle's lease) is kept,
    /// the rest deleted. Holds the GC lock exclusive; with `wait: false` gives up (returns nil) while another
    /// invocation is adding content.
    public func collectGarbage(wait: Bool = true) throws(ImageError) -> PruneReport? {
        let lock: StoreLock
        if wait {
            lock = try StoreLock(gcLockPath, .exclusive)
        } else {
            guard let taken = StoreLock.tryExclusive(gcLockPath) else { return nil }
            lock = taken
        }
        defer { withExtendedLifetime(lock) {} }
        let (keepBlobs, keepSnapshots) = try reachable()
        var report = PruneReport()
        for blob in content.list() where !keepBlobs.contains(blob) {
            report.reclaimedBytes += content.size(blob) ?? 0
            content.delete(blob)
            report.deletedBlobs.append(blob)
        }
        for snapshot in snapshots.list() where !keepSnapshots.contains(snapshot) {
            snapshots.remove(snapshot)
            report.deletedSnapshots.append(snapshot)
        }
        content.cleanIngest()
        snapshots.cleanTemporary()
        return report
    }

    /// Blobs and snapshots that index.json reaches, plus snapshots leased by bundles.
    func reachable() throws(ImageError) -> (blobs: Set<Digest>, snapshots: Set<Digest>) {
        var keepBlobs = Set<Digest>()
        var keepSnapshots = Set<Digest>(leasedSnapshots())
        for entry in try readIndex().manifests {
            guard let digest = Digest(entry.digest) else { continue }
            keepBlobs.insert(digest)
            guard let bytes = try? content.read(digest) else { continue }
            if MediaType.indexTypes.contains(entry.mediaType) {
                if let index = try? SpecJSON.decode(ImageIndex.self, from: Data(bytes), file: "") {
                    keepBlobs.formUnion(index.manifests.compactMap { Digest($0.digest) })
                }
                continue
            }
            guard let manifest = try? SpecJSON.decode(ImageManifest.self, from: Data(bytes), file: "") else { continue }
            if let config = Digest(manifest.config.digest) {
                keepBlobs.insert(config)
                if let image = try? content.decode(ImageConfig.self, config) {
                    keepSnapshots.formUnion(image.rootfs.diff_ids.compactMap(Digest.init))
                }
            }
            keepBlobs.formUnion(manifest.layers.compactMap { Digest($0.digest) })
        }
        return (keepBlobs, keepSnapshots)
    }

    /// `image prune`: forgets untagged images (every image with `all`, except those a bundle uses), then collects.
    public func prune(all: Bool = false) throws(ImageError) -> PruneReport {
        let leased = Set(leasedSnapshots())
        var untagged: [String] = []
        let records = try list()
        try updateIndex { manifests in
            manifests.removeAll { entry in
                let named = entry.annotations?[ImageAnnotation.imageName] != nil
                if named && !all { return false }
                if let record = records.first(where: { $0.manifestDigest.description == entry.digest }),
                   !leased.isDisjoint(with: record.diffIDs) && all {
                    return false
                }
                untagged.append(entry.annotations?[ImageAnnotation.imageName] ?? entry.digest)
                return true
            }
        }
        var report = try collectGarbage() ?? PruneReport()
        report.untagged = untagged
        return report
    }

    var leasesDirectory: String { directory + "/leases" }

    /// Snapshots that bundles (containers) still use.
    func leasedSnapshots() -> [Digest] {
        var out: [Digest] = []
        for name in (try? Files.listDirectory(leasesDirectory)) ?? [] {
            guard let text = try? Files.read(leasesDirectory + "/" + name) else { continue }
            out.append(contentsOf: text.split(separator: "\n").compactMap { Digest(String($0)) })
        }
        return out
    }
}
