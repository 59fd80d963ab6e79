import CArchive
import Foundation
import Glibc
import Linux
import OCISpec

/// `berth save`: writes images as a docker-archive (what `docker load`/`podman load` read: `manifest.json`,
/// `<config>.json`, uncompressed `<diffID>.tar` layers) or as an OCI archive (a tarred image layout, with a
/// `manifest.json` for docker too).
struct ArchiveSaver {
    let store: ImageStore

    enum Format: String, Sendable, CaseIterable {
        case dockerArchive = "docker-archive"
        case ociArchive = "oci-archive"
    }

    /// Writes `images` to the file `path` (to `fd` when path is nil).
    func save(_ images: [ImageRecord], format: Format, path: String?, fd: Int32 = 1) throws(ImageError) {
        guard let archive = archive_write_new() else { throw ImageError("save", path ?? "-", "out of memory") }
        defer { archive_write_free(archive) }
        archive_write_set_format_pax_restricted(archive)
        let temporary = path.map { $0 + ".tmp-\(getpid())" }
        let opened = temporary.map { archive_write_open_filename(archive, $0) } ?? archive_write_open_fd(archive, fd)
        if opened != ARCHIVE_OK { throw ImageError("save", path ?? "-", ArchiveError.message(archive)) }
        do throws(ImageError) {
            switch format {
            case .dockerArchive: try writeDocker(images, to: archive)
            case .ociArchive: try writeOCI(images, to: archive)
            }
            if archive_write_close(archive) != ARCHIVE_OK { throw ImageError("save", path ?? "-", ArchiveError.message(archive)) }
            if let temporary, let path, rename(temporary, path) != 0 {
                throw ImageError("rename", path, SystemErrorText.current)
            }
        } catch {
            if let temporary { unlink(temporary) }
            throw error
        }
    }

    /// An OCI image layout, plus a docker-archive `manifest.json` naming the same blobs (as `ctr image export`
    /// writes): docker before 25 loads an archive only through that file, OCI readers ignore it.
    private func writeOCI(_ images: [ImageRecord], to archive: OpaquePointer) throws(ImageError) {
        try addBytes(Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8), name: "oci-layout", to: archive)
        var written = Set<Digest>()
        var manifests: [Descriptor] = []
        var dockerEntries: [DockerEntry] = []
        for image in images {
            dockerEntries.append(DockerEntry(Config: "blobs/sha256/\(image.configDigest.encoded)",
                                             RepoTags: image.reference.map { [$0.familiarTag] } ?? [],
                                             Layers: image.manifest.layers.map { "blobs/sha256/" + (Digest($0.digest)?.encoded ?? "") }))
            var descriptor = image.manifestDescriptor
            if let reference = image.reference {
                descriptor.annotations = [ImageAnnotation.imageName: reference.description,
                                          ImageAnnotation.refName: reference.tag ?? "latest"]
            }
            manifests.append(descriptor)
            let blobs = [image.manifestDigest, image.configDigest] + image.manifest.layers.compactMap { Digest($0.digest) }
            for blob in blobs where !written.contains(blob) {
                written.insert(blob)
                try addFile(store.content.path(blob), name: "blobs/sha256/\(blob.encoded)", expected: blob, to: archive)
            }
        }
        let index = ImageIndex(mediaType: MediaType.ociIndex, manifests: manifests)
        do {
            try addBytes(Array(try SpecJSON.encode(index)), name: "index.json", to: archive)
            try addBytes(Array(try SpecJSON.encode(dockerEntries)), name: "manifest.json", to: archive)
        } catch let error as ImageError {
            throw error
        } catch { throw ImageError("encode index.json", "", error) }
    }

    struct DockerEntry: Encodable {
        var Config: String
        var RepoTags: [String]
        var Layers: [String]
    }

    private func writeDocker(_ images: [ImageRecord], to archive: OpaquePointer) throws(ImageError) {
        var entries: [DockerEntry] = []
        var written = Set<String>()
        for image in images {
            let configName = image.configDigest.encoded + ".json"
            if written.insert(configName).inserted {
                try addFile(store.content.path(image.configDigest), name: configName, expected: image.configDigest,
                            to: archive)
            }
            var layers: [String] = []
            for (layer, diffID) in zip(image.manifest.layers, image.diffIDs) {
                let name = diffID.encoded + ".tar"
                layers.append(name)
                guard written.insert(name).inserted else { continue }
                guard let digest = Digest(layer.digest), let compression = MediaType.layerCompression(layer.mediaType) else {
                    throw ImageError("save", layer.digest, "unsupported layer media type \(layer.mediaType)")
                }
                if compression == .none {
                    try addFile(store.content.path(digest), name: name, expected: digest, to: archive)
                } else {
                    let plain = try decompress(store.content.path(digest), compression: compression)
                    defer { unlink(plain) }
                    try addFile(plain, name: name, expected: diffID, to: archive)
                }
            }
            entries.append(DockerEntry(Config: configName, RepoTags: image.reference.map { [$0.familiarTag] } ?? [],
                                       Layers: layers))
        }
        let bytes: Data
        do { bytes = try SpecJSON.encode(entries) } catch { throw ImageError("encode manifest.json", "", error) }
        try addBytes(Array(bytes), name: "manifest.json", to: archive)
    }

    /// The uncompressed tar of a layer, in a temporary file of the store's ingest directory.
    private func decompress(_ path: String, compression: LayerCompression) throws(ImageError) -> String {
        let writer = try store.content.decompressedWriter(of: path, operation: "decompress")
        let out = store.content.ingestDirectory + "/plain-" + UUID().uuidString
        if link(writer.temporaryPath, out) != 0 { throw ImageError("link", out, SystemErrorText.current) }
        writer.abort()
        return out
    }

    private func addBytes(_ bytes: [UInt8], name: String, to archive: OpaquePointer) throws(ImageError) {
        let entry = try header(name: name, size: Int64(bytes.count), to: archive)
        defer { archive_entry_free(entry) }
        let n = bytes.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, $0.count) }
        if n < 0 { throw ImageError("save", name, ArchiveError.message(archive)) }
    }

    /// Copies a file into the archive, hashing it: a blob that no longer matches its digest (or a layer its
    /// diffID) fails the save instead of being exported.
    private func addFile(_ path: String, name: String, expected: Digest?, to archive: OpaquePointer) throws(ImageError) {
        let hasher = SHA256()
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw ImageError("open", path, SystemErrorText.current) }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        let entry = try header(name: name, size: Int64(st.st_size), to: archive)
        defer { archive_entry_free(entry) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer, 1 << 20)
            if n < 0 {
                if errno == EINTR { continue }
                throw ImageError("read", path, SystemErrorText.current)
            }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(start: buffer, count: n))
            if archive_write_data(archive, buffer, n) < 0 { throw ImageError("save", name, ArchiveError.message(archive)) }
        }
        if let expected, hasher.finishHex() != expected.encoded {
            throw ImageError("save", expected.description, "stored content does not match its digest (corrupted store)")
        }
    }

    private func header(name: String, size: Int64, to archive: OpaquePointer) throws(ImageError) -> OpaquePointer {
        guard let entry = archive_entry_new() else { throw ImageError("save", name, "out of memory") }
        archive_entry_set_pathname(entry, name)
        archive_entry_set_filetype(entry, EntryType.regular)
        archive_entry_set_perm(entry, 0o644)
        archive_entry_set_size(entry, size)
        archive_entry_set_mtime(entry, 0, 0)
        if archive_write_header(archive, entry) != ARCHIVE_OK {
            archive_entry_free(entry)
            throw ImageError("save", name, ArchiveError.message(archive))
        }
        return entry
    }
}

extension ImageReference {
    /// `busybox:latest`, `localhost:5000/x:1`: the form docker writes in RepoTags.
    var familiarTag: String { familiarName + ":" + (tag ?? "latest") }
}
