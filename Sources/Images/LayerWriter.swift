import CArchive
import Foundation
import Glibc
import Linux
import OCISpec

/// `berth commit`: a container's overlay upper directory becomes a new layer on top of its image. overlayfs
/// marks deletions its own way (a 0:0 character device, an opaque directory's xattr); the layer carries them
/// as the image spec's whiteouts (`.wh.NAME`, `.wh..wh..opq`).
struct LayerWriter {
    /// Writes the tar of `upper` to `path`. With `idMap` (a container in a user namespace, whose upper directory
    /// holds host ids), the entries carry the ids the container saw.
    /// `skipping`: paths under `upper` (`etc/hosts`) left out of the layer.
    static func write(upper: String, to path: String, idMap: IDMap? = nil, skipping: Set<String> = []) throws(ImageError) {
        guard let archive = archive_write_new() else { throw ImageError("commit", path, "out of memory") }
        defer { archive_write_free(archive) }
        archive_write_set_format_pax_restricted(archive)
        if archive_write_open_filename(archive, path) != ARCHIVE_OK {
            throw ImageError("commit", path, ArchiveError.message(archive))
        }
        try add(directory: upper, relative: "", to: archive, idMap: idMap, skipping: skipping)
        if archive_write_close(archive) != ARCHIVE_OK { throw ImageError("commit", path, ArchiveError.message(archive)) }
    }

    private static func add(directory: String, relative: String, to archive: OpaquePointer, idMap: IDMap?,
                            skipping: Set<String>) throws(ImageError) {
        let names: [String]
        let here = relative.isEmpty ? directory : directory + "/" + relative
        do { names = try Files.listDirectory(here).sorted() } catch {
            throw ImageError("commit", here, error.description)
        }
        for name in names where !FuseOverlayMount.markerNames.contains(name) {
            let path = relative.isEmpty ? name : relative + "/" + name
            if skipping.contains(path) { continue }
            let full = directory + "/" + path
            var st = stat()
            guard lstat(full, &st) == 0 else { continue }
            if let idMap {
                st.st_uid = IDMap.containerID(st.st_uid, in: idMap.uids) ?? 65534
                st.st_gid = IDMap.containerID(st.st_gid, in: idMap.gids) ?? 65534
            }
            let kind = st.st_mode & S_IFMT
            if kind == S_IFCHR && st.st_rdev == 0 {
                let parent = (path as NSString).deletingLastPathComponent
                try header(archive, name: (parent.isEmpty ? "" : parent + "/") + ".wh." + name, stat: st, type: EntryType.regular, size: 0)
                continue
            }
            switch kind {
            case S_IFDIR:
                try header(archive, name: path + "/", stat: st, type: EntryType.directory, size: 0)
                if FuseOverlayMount.isOpaque(full) {
                    try header(archive, name: path + "/.wh..wh..opq", stat: st, type: EntryType.regular, size: 0)
                }
                try add(directory: directory, relative: path, to: archive, idMap: idMap, skipping: skipping)
            case S_IFLNK:
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = readlink(full, &buffer, buffer.count - 1)
                guard n >= 0 else { throw ImageError("readlink", full, SystemErrorText.current) }
                let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                try header(archive, name: path, stat: st, type: EntryType.symlink, size: 0, link: target)
            case S_IFREG:
                try header(archive, name: path, stat: st, type: EntryType.regular, size: Int64(st.st_size))
                try copyData(full, to: archive)
            default:
                // Devices, fifos, sockets: metadata only.
                try header(archive, name: path, stat: st, type: UInt32(kind), size: 0, device: UInt64(st.st_rdev))
            }
        }
    }

    /// One tar header from a stat of the file (owner, mode, mtime as they are). `what` names the operation in errors;
    /// `ScopedArchive` writes its headers through this too.
    static func header(_ archive: OpaquePointer, name: String, stat st: stat, type: UInt32, size: Int64,
                       link: String? = nil, device: UInt64? = nil, what: String = "commit") throws(ImageError) {
        guard let entry = archive_entry_new() else { throw ImageError(what, name, "out of memory") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname(entry, name)
        archive_entry_set_filetype(entry, type)
        archive_entry_set_perm(entry, mode_t(st.st_mode & 0o7777))
        archive_entry_set_uid(entry, la_int64_t(st.st_uid))
        archive_entry_set_gid(entry, la_int64_t(st.st_gid))
        archive_entry_set_mtime(entry, st.st_mtim.tv_sec, st.st_mtim.tv_nsec)
        archive_entry_set_size(entry, size)
        if let link { archive_entry_set_symlink(entry, link) }
        if let device { archive_entry_set_rdev(entry, dev_t(device)) }
        if archive_write_header(archive, entry) != ARCHIVE_OK { throw ImageError(what, name, ArchiveError.message(archive)) }
    }

    private static func copyData(_ path: String, to archive: OpaquePointer) throws(ImageError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ImageError("open", path, SystemErrorText.current) }
        defer { close(fd) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer, 1 << 20)
            if n < 0 { if errno == EINTR { continue }; throw ImageError("read", path, SystemErrorText.current) }
            if n == 0 { return }
            if archive_write_data(archive, buffer, n) < 0 { throw ImageError("commit", path, ArchiveError.message(archive)) }
        }
    }
}

extension ImageStore {
    /// A new image: `base`'s layers plus the tar of `upper`, with `execution` as its config and a history entry.
    public func commit(base baseReference: String, upper: String, reference: String?, execution: ImageConfig.Execution?,
                       comment: String, author: String?, createdBy: String, idMap: IDMap? = nil,
                       skipping: Set<String> = []) async throws -> ImageRecord {
        let parsed = try reference.map { (text) throws(ImageError) in try ImageReference(parsing: text) }
        let base = try resolve(baseReference)
        let tarPath = content.ingestDirectory + "/commit-" + UUID().uuidString
        defer { unlink(tarPath) }
        try LayerWriter.write(upper: upper, to: tarPath, idMap: idMap, skipping: skipping)
        return try await transaction { transaction in
            let writer = try content.decompressedWriter(of: tarPath, operation: "commit")
            let layer = try writer.commit()
            if layer.created { transaction.added(blob: layer.digest) }
            let now = ISO8601DateFormatter().string(from: Date())
            var config = base.config
            config.config = execution ?? base.config.config
            config.rootfs.diff_ids.append(layer.digest.description)
            config.created = now
            if let author { config.author = author }
            config.history = (config.history ?? []) + [.init(created: now, createdBy: createdBy, comment: comment)]
            let configBytes: [UInt8]
            do { configBytes = Array(try SpecJSON.encode(config)) } catch { throw ImageError("encode config", tarPath, error) }
            let configDigest = try put(configBytes, transaction: transaction)
            var layers = base.manifest.layers
            layers.append(Descriptor(mediaType: MediaType.ociLayer, digest: layer.digest.description, size: layer.size))
            let manifest = ImageManifest(config: Descriptor(mediaType: MediaType.ociConfig, digest: configDigest.description,
                                                            size: Int64(configBytes.count)), layers: layers)
            let manifestBytes: [UInt8]
            do { manifestBytes = Array(try SpecJSON.encode(manifest)) } catch { throw ImageError("encode manifest", tarPath, error) }
            let manifestDigest = try put(manifestBytes, transaction: transaction)
            return try commitImage(manifestDigest: manifestDigest, mediaType: MediaType.ociManifest,
                                   references: parsed.map { [$0] } ?? [], transaction: transaction)
        }
    }
}
