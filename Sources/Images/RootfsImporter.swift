import CArchive
import Foundation
import Glibc
import OCISpec

/// `berth import`: a root filesystem tarball (plain, gzip, zstd or xz) becomes a one-layer image. The layer is
/// stored uncompressed, so its digest is its diffID.
struct RootfsImporter {
    let store: ImageStore

    func importTarball(_ path: String, reference: ImageReference?, change: ImageConfig.Execution?,
                       transaction: ContentTransaction) throws(ImageError) -> ImageRecord {
        let writer = try store.content.decompressedWriter(of: path, operation: "import")
        let layer = try writer.commit()
        if layer.created { transaction.added(blob: layer.digest) }

        let now = ISO8601DateFormatter().string(from: Date())
        let host = PlatformSelection.host
        var config = ImageConfig(architecture: host.architecture, os: "linux",
                                 config: change ?? ImageConfig.Execution(Env: [RuntimeConfigBuilder.defaultPath]),
                                 rootfs: .init(diffIDs: [layer.digest.description]),
                                 history: [.init(created: now, createdBy: "berth import \(path)", comment: "imported")],
                                 created: now)
        config.variant = host.variant
        let configBytes: [UInt8]
        do { configBytes = Array(try SpecJSON.encode(config)) } catch { throw ImageError("encode config", path, error) }
        let configDigest = try store.put(configBytes, transaction: transaction)
        let manifest = ImageManifest(config: Descriptor(mediaType: MediaType.ociConfig, digest: configDigest.description,
                                                        size: Int64(configBytes.count)),
                                     layers: [Descriptor(mediaType: MediaType.ociLayer, digest: layer.digest.description,
                                                         size: layer.size)])
        let manifestBytes: [UInt8]
        do { manifestBytes = Array(try SpecJSON.encode(manifest)) } catch { throw ImageError("encode manifest", path, error) }
        let manifestDigest = try store.put(manifestBytes, transaction: transaction)
        return try store.commitImage(manifestDigest: manifestDigest, mediaType: MediaType.ociManifest,
                                     references: reference.map { [$0] } ?? [], transaction: transaction)
    }
}
