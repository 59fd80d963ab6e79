import CArchive
import Foundation
import Glibc
import OCISpec

/// `berth load`: reads a docker-archive (`docker save`/`podman save`, `manifest.json` + layer tars) or an OCI
/// archive (a tarred OCI image layout), optionally gzip/zstd-compressed, in one streaming pass: blobs go straight
/// into the content store (verified against their names' digests), small JSON documents are kept in memory.
struct ArchiveLoader {
    let store: ImageStore

    /// One regular file of the archive once it is stored.
    struct StoredFile {
        var digest: Digest
        var size: Int64
        var compression: LayerCompression
    }

    struct Contents {
        var documents: [String: [UInt8]] = [:]
        var files: [String: StoredFile] = [:]
        var links: [String: String] = [:]

        /// A path of the archive, following the links docker-save uses for shared layers.
        func file(_ path: String) -> StoredFile? {
            var current = ArchiveLoader.normalize(path)
            for _ in 0..<16 {
                if let file = files[current] { return file }
                guard let next = links[current] else { return nil }
                current = next
            }
            return nil
        }
    }

    static let documentLimit: Int64 = 16 << 20

    func load(path: String?, transaction: ContentTransaction) throws(ImageError) -> [ImageRecord] {
        let contents = try read(path: path, transaction: transaction)
        if contents.documents["oci-layout"] != nil, let index = contents.documents["index.json"] {
            return try loadOCI(index: index, contents: contents, transaction: transaction)
        }
        if let manifest = contents.documents["manifest.json"] {
            return try loadDocker(manifest: manifest, contents: contents, transaction: transaction)
        }
        throw ImageError("load", path ?? "stdin", "neither a docker-archive (manifest.json) nor an OCI archive (oci-layout, index.json)")
    }

    // MARK: - The streaming pass

    func read(path optionalPath: String?, transaction: ContentTransaction) throws(ImageError) -> Contents {
        let path = optionalPath ?? "stdin"
        guard let archive = archive_read_new() else { throw ImageError("load", path, "out of memory") }
        defer { archive_read_free(archive) }
        archive_read_support_filter_gzip(archive)
        archive_read_support_filter_zstd(archive)
        archive_read_support_filter_xz(archive)
        archive_read_support_format_tar(archive)
        if let optionalPath, access(optionalPath, R_OK) != 0 {
            throw ImageError("load", path, SystemErrorText.current)
        }
        if archive_read_open_filename(archive, optionalPath, 1 << 20) != ARCHIVE_OK {
            throw ImageError("load", path, ArchiveError.message(archive))
        }
        var contents = Contents()
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        let early = EarlyUnpacker(store: store, transaction: transaction)
        defer { early.wait() }
        while true {
            var entry: OpaquePointer?
            let status = archive_read_next_header(archive, &entry)
            if status == ARCHIVE_EOF { break }
            guard status >= ARCHIVE_WARN, let entry, let rawName = archive_entry_pathname(entry) else {
                throw ImageError("load", path, ArchiveError.message(archive))
            }
            let name = ArchiveLoader.normalize(String(cString: rawName))
            if let hardlink = archive_entry_hardlink(entry) {
                contents.links[name] = ArchiveLoader.normalize(String(cString: hardlink))
                continue
            }
            let type = archive_entry_filetype(entry)
            if type == EntryType.symlink, let target = archive_entry_symlink(entry) {
                let text = String(cString: target)
                let base = name.split(separator: "/").dropLast().joined(separator: "/")
                contents.links[name] = ArchiveLoader.normalize(text.hasPrefix("/") ? text : base + "/" + text)
                continue
            }
            guard type == EntryType.regular else { continue }
            let size = archive_entry_size(entry)
            let parts = name.split(separator: "/")
            let blobName: Digest? = parts.count == 3 && parts[0] == "blobs"
                ? Digest(parts[1] + ":" + parts[2]) : nil
            if blobName == nil, name.hasSuffix(".json") || name == "oci-layout" || name == "repositories",
               size <= ArchiveLoader.documentLimit {
                contents.documents[name] = try readDocument(archive, path: path, name: name, buffer: buffer)
                continue
            }
            let writer = try store.content.writer(expected: blobName, expectedSize: blobName == nil ? nil : size)
            var head: [UInt8] = []
            while true {
                let n = archive_read_data(archive, buffer, 1 << 20)
                if n < 0 { throw ImageError("load", path, "\(name): \(ArchiveError.message(archive))") }
                if n == 0 { break }
                let chunk = UnsafeRawBufferPointer(start: buffer, count: n)
                if head.count < 512 { head.append(contentsOf: chunk.prefix(512 - head.count)) }
                try writer.write(chunk)
            }
            let result: (digest: Digest, size: Int64, created: Bool)
            do { result = try writer.commit() } catch { throw ImageError("load", "\(path): \(name)", error.reason) }
            if result.created { transaction.added(blob: result.digest) }
            let compression = ArchiveLoader.sniff(head)
            contents.files[name] = StoredFile(digest: result.digest, size: result.size, compression: compression)
            if compression == .none && ArchiveLoader.isTar(head) { early.unpack(result.digest, size: result.size) }
            // OCI layout documents are blobs too: keep JSON ones readable for the docker path.
            if blobName != nil, size <= 4 << 20, head.first == UInt8(ascii: "{") {
                contents.documents[name] = try store.content.read(result.digest)
            }
        }
        return contents
    }

    private func readDocument(_ archive: OpaquePointer, path: String, name: String,
                              buffer: UnsafeMutableRawPointer) throws(ImageError) -> [UInt8] {
        var bytes: [UInt8] = []
        while true {
            let n = archive_read_data(archive, buffer, 1 << 20)
            if n < 0 { throw ImageError("load", path, "\(name): \(ArchiveError.message(archive))") }
            if n == 0 { return bytes }
            bytes.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: n))
        }
    }

    /// The ustar magic at offset 257 of the first header.
    static func isTar(_ head: [UInt8]) -> Bool {
        head.count >= 262 && head[257..<262].elementsEqual(Array("ustar".utf8))
    }

    static func sniff(_ head: [UInt8]) -> LayerCompression {
        if head.starts(with: [0x1f, 0x8b]) { return .gzip }
        if head.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) { return .zstd }
        return .none
    }

    static func normalize(_ path: String) -> String {
        var out: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { _ = out.popLast(); continue }
            out.append(part)
        }
        return out.joined(separator: "/")
    }

    // MARK: - OCI archive

    private func loadOCI(index bytes: [UInt8], contents: Contents,
                         transaction: ContentTransaction) throws(ImageError) -> [ImageRecord] {
        let index: ImageIndex
        do { index = try SpecJSON.decode(ImageIndex.self, from: Data(bytes), file: "index.json") } catch {
            throw ImageError("load", "index.json", error)
        }
        var records: [ImageRecord] = []
        for descriptor in index.manifests {
            var (digest, mediaType) = try manifestDigest(descriptor)
            if MediaType.indexTypes.contains(mediaType) {
                let nested = try store.content.decode(ImageIndex.self, digest)
                let chosen = try PlatformSelection.choose(from: nested.manifests, platform: nil, subject: digest.description)
                (digest, mediaType) = try manifestDigest(chosen)
            }
            try requirePresent(digest, contents: contents)
            let manifest = try store.content.decode(ImageManifest.self, digest)
            for blob in [manifest.config] + manifest.layers {
                guard let blobDigest = Digest(blob.digest) else { throw ImageError("load", blob.digest, "invalid digest") }
                try requirePresent(blobDigest, contents: contents)
            }
            var references: [ImageReference] = []
            if let name = ArchiveLoader.referenceName(descriptor.annotations) { references.append(name) }
            records.append(try store.commitImage(manifestDigest: digest, mediaType: mediaType,
                                                 references: references, transaction: transaction))
        }
        return records
    }

    private func manifestDigest(_ descriptor: Descriptor) throws(ImageError) -> (Digest, String) {
        guard let digest = Digest(descriptor.digest) else {
            throw ImageError("load", descriptor.digest, "invalid manifest digest")
        }
        guard MediaType.indexTypes.contains(descriptor.mediaType) || MediaType.manifestTypes.contains(descriptor.mediaType) else {
            throw ImageError("load", descriptor.digest, "unsupported media type \(descriptor.mediaType)")
        }
        return (digest, descriptor.mediaType)
    }

    private func requirePresent(_ digest: Digest, contents: Contents) throws(ImageError) {
        guard store.content.has(digest) else {
            throw ImageError("load", digest.description, "blob named by the manifest is missing from the archive")
        }
    }

    /// The image name an OCI index entry carries: containerd's full name, else a ref.name that is a reference.
    static func referenceName(_ annotations: [String: String]?) -> ImageReference? {
        if let full = annotations?[ImageAnnotation.imageName], let reference = try? ImageReference(parsing: full) {
            return reference
        }
        if let name = annotations?[ImageAnnotation.refName], name.contains(":") || name.contains("/"),
           let reference = try? ImageReference(parsing: name) {
            return reference
        }
        return nil
    }

    // MARK: - docker-archive

    struct DockerManifestEntry: Decodable {
        var Config: String
        var RepoTags: [String]?
        var Layers: [String]
    }

    private func loadDocker(manifest bytes: [UInt8], contents: Contents,
                            transaction: ContentTransaction) throws(ImageError) -> [ImageRecord] {
        let entries: [DockerManifestEntry]
        do { entries = try SpecJSON.decode([DockerManifestEntry].self, from: Data(bytes), file: "manifest.json") } catch {
            throw ImageError("load", "manifest.json", error)
        }
        var records: [ImageRecord] = []
        for entry in entries {
            let configDigest: Digest
            let configSize: Int64
            if let document = contents.documents[ArchiveLoader.normalize(entry.Config)] {
                configDigest = try store.put(document, transaction: transaction)
                configSize = Int64(document.count)
            } else if let file = contents.file(entry.Config) {
                configDigest = file.digest
                configSize = file.size
            } else {
                throw ImageError("load", entry.Config, "config named by manifest.json is missing from the archive")
            }
            var layers: [Descriptor] = []
            for path in entry.Layers {
                guard let file = contents.file(path) else {
                    throw ImageError("load", path, "layer named by manifest.json is missing from the archive")
                }
                let mediaType: String
                switch file.compression {
                case .none: mediaType = MediaType.ociLayer
                case .gzip: mediaType = MediaType.ociLayerGzip
                case .zstd: mediaType = MediaType.ociLayerZstd
                }
                layers.append(Descriptor(mediaType: mediaType, digest: file.digest.description, size: file.size))
            }
            let manifest = ImageManifest(mediaType: MediaType.ociManifest,
                                         config: Descriptor(mediaType: MediaType.ociConfig,
                                                            digest: configDigest.description, size: configSize),
                                         layers: layers)
            let manifestBytes: [UInt8]
            do { manifestBytes = Array(try SpecJSON.encode(manifest)) } catch { throw ImageError("encode manifest", "", error) }
            let manifestDigest = try store.put(manifestBytes, transaction: transaction)
            var references: [ImageReference] = []
            for tag in entry.RepoTags ?? [] {
                do { references.append(try ImageReference(parsing: tag)) } catch { throw ImageError("load", tag, error) }
            }
            records.append(try store.commitImage(manifestDigest: manifestDigest, mediaType: MediaType.ociManifest,
                                                 references: references, transaction: transaction))
        }
        return records
    }
}

/// Unpacks uncompressed layer tars of an archive while the rest of it is still being read: an uncompressed
/// layer's digest is its diffID, so its snapshot can be made before manifest.json (last in a docker-archive) says
/// which image it belongs to. One layer at a time, beside the reading thread. Failures are ignored here: the
/// commit step unpacks any missing snapshot again and reports the error then.
final class EarlyUnpacker: @unchecked Sendable {
    private let store: ImageStore
    private let transaction: ContentTransaction
    private let queue = DispatchQueue(label: "berth.images.early-unpack")
    private let group = DispatchGroup()

    init(store: ImageStore, transaction: ContentTransaction) {
        self.store = store; self.transaction = transaction
    }

    func unpack(_ digest: Digest, size: Int64) {
        let snapshots = store.snapshots
        let transaction = self.transaction
        queue.async(group: group) {
            let layer = Descriptor(mediaType: MediaType.ociLayer, digest: digest.description, size: size)
            if (try? snapshots.prepare(layer: layer, diffID: digest)) == true { transaction.added(snapshot: digest) }
        }
    }

    func wait() { group.wait() }
}
