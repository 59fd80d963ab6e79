import CArchive
import Glibc
import Linux
import OCISpec

/// Unpacks one layer tarball (plain, gzip or zstd) into a directory with libarchive, per the image spec's
/// changeset rules, verifying the blob digest and the diffID (the uncompressed tar's digest) on the way.
///
/// Safety: every entry path is cleaned and rejected if it has a `..` component; it is written below the
/// (symlink-free, real) destination; libarchive's secure-symlink check refuses to write through any symlink
/// (so a symlink pointing out followed by an entry below it fails instead of escaping); whiteouts are applied only
/// after checking that no parent is a symlink; `trusted.overlay.*` and `user.overlay.*` xattrs in the tar are dropped.
struct LayerUnpacker {
    /// How whiteouts are recorded.
    enum Mode {
        /// Each layer in its own directory, whiteouts in overlayfs form (0/0 char device, the opaque xattr).
        case overlay
        /// Layers applied in order onto one directory: whiteouts delete (the copying fallback).
        case apply
    }

    let destination: String
    let mode: Mode

    struct Result {
        var diffID: Digest
        var blobDigest: Digest
        var uncompressedSize: Int64
        var entries: Int
    }

    static let extractFlags: Int32 = ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
        ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT

    /// Unpacks `blobPath`. `blobDigest`/`diffID`, when given, must match or the unpack fails.
    func unpack(blobPath: String, compression: LayerCompression, blobDigest: Digest?, diffID: Digest?,
                name: String) throws(ImageError) -> Result {
        let fd = open(blobPath, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw ImageError("open layer", blobPath, SystemErrorText.current) }
        defer { close(fd) }
        let file = HashingFileSource(fd: fd, name: blobPath, hashing: compression != .none)

        guard let outer = archive_read_new() else { throw ImageError("unpack layer", name, "out of memory") }
        defer { archive_read_free(outer) }
        switch compression {
        case .none: archive_read_support_filter_none(outer)
        case .gzip: archive_read_support_filter_gzip(outer)
        case .zstd: archive_read_support_filter_zstd(outer)
        }
        archive_read_support_format_raw(outer)
        if file.open(outer) != ARCHIVE_OK {
            throw ImageError("unpack layer", name, file.failure ?? ArchiveError.message(outer))
        }
        var rawEntry: OpaquePointer?
        if archive_read_next_header(outer, &rawEntry) != ARCHIVE_OK {
            throw ImageError("unpack layer", name, file.failure ?? ArchiveError.message(outer))
        }
        if compression != .none && archive_filter_count(outer) < 2 {
            throw ImageError("unpack layer", name, "layer is not \(compression.rawValue)-compressed as its media type says")
        }

        let stream = DecompressedSource(outer: outer)
        guard let inner = archive_read_new() else { throw ImageError("unpack layer", name, "out of memory") }
        defer { archive_read_free(inner) }
        archive_read_support_format_tar(inner)
        if stream.open(inner) != ARCHIVE_OK {
            throw ImageError("unpack layer", name, stream.failure ?? ArchiveError.message(inner))
        }
        guard let writer = archive_write_disk_new() else { throw ImageError("unpack layer", name, "out of memory") }
        defer { archive_write_free(writer) }
        archive_write_disk_set_options(writer, LayerUnpacker.extractFlags)

        var written = Set<String>()
        var entries = 0
        while true {
            var entry: OpaquePointer?
            let status = archive_read_next_header(inner, &entry)
            if status == ARCHIVE_EOF { break }
            guard status >= ARCHIVE_WARN, let entry else {
                throw ImageError("unpack layer", name, stream.failure ?? ArchiveError.message(inner))
            }
            entries += 1
            guard let rawPath = archive_entry_pathname(entry) else { continue }
            let components = try clean(String(cString: rawPath), layer: name)
            guard let last = components.last else { continue }   // the layer root itself

            if last.hasPrefix(".wh.") {
                try whiteout(parent: Array(components.dropLast()), name: String(last.dropFirst(4)), written: written,
                             layer: name)
                continue
            }
            let relative = components.joined(separator: "/")
            archive_entry_set_pathname(entry, destination + "/" + relative)
            if let rawLink = archive_entry_hardlink(entry) {
                let target = try clean(String(cString: rawLink), layer: name)
                guard !target.isEmpty else { throw ImageError("unpack layer", name, "hard link to the layer root") }
                archive_entry_set_hardlink(entry, destination + "/" + target.joined(separator: "/"))
            }
            dropOverlayXattrs(entry)
            if mode == .apply { try prepareReplace(components, entry: entry, layer: name) }
            if archive_write_header(writer, entry) < ARCHIVE_WARN {
                throw ImageError("unpack layer", name, "\(relative): \(ArchiveError.message(writer))")
            }
            var endedAfterData = false
            if archive_entry_size(entry) > 0 {
                // A hard link may carry a body too (pax allows it): archive_write_disk opened the linked file for it.
                endedAfterData = try copyData(from: inner, to: writer, entry: entry, path: relative, layer: name,
                                              stream: stream)
            }
            if archive_write_finish_entry(writer) < ARCHIVE_WARN {
                throw ImageError("unpack layer", name, "\(relative): \(ArchiveError.message(writer))")
            }
            if mode == .apply { written.insert(relative) }
            if endedAfterData { break }
        }
        if archive_write_close(writer) < ARCHIVE_WARN {
            throw ImageError("unpack layer", name, ArchiveError.message(writer))
        }
        // The digests cover every byte, including what follows the tar's end-of-archive blocks.
        do { try stream.drain() } catch { throw ImageError("unpack layer", name, error.reason) }
        try file.drain()
        let diff = try digest(stream.hasher.finishHex())
        let blob = compression == .none ? diff : try digest(file.hasher?.finishHex() ?? "")
        if let blobDigest, blobDigest != blob {
            throw ImageError("unpack layer", name, "digest mismatch: blob hashes to \(blob), expected \(blobDigest)")
        }
        if let diffID, diffID != diff {
            throw ImageError("unpack layer", name, "diffID mismatch: uncompressed layer hashes to \(diff), config says \(diffID)")
        }
        return Result(diffID: diff, blobDigest: blob, uncompressedSize: stream.total, entries: entries)
    }

    private func digest(_ hex: String) throws(ImageError) -> Digest {
        do { return try Digest(sha256Hex: hex) } catch { throw ImageError("hash", hex, error) }
    }

    /// Copies an entry's data into `writer`. Returns true when the layer ended right after the entry's
    /// last data byte: some tar writers stop there, without padding the entry to a whole 512-byte block or writing
    /// the two end-of-archive blocks (umoci 0.4.7's `insert` layers). libarchive then fails consuming the padding
    /// ("Truncated input file"); Go's archive/tar, which podman, docker and containerd use, takes it as the end of
    /// the archive. The same is accepted here, but only when every byte the header announced was read: a body that
    /// is cut short still fails. The digests are checked afterwards as for any layer.
    private func copyData(from reader: OpaquePointer, to writer: OpaquePointer, entry: OpaquePointer, path: String,
                          layer: String, stream: DecompressedSource) throws(ImageError) -> Bool {
        let announced = archive_entry_size(entry)
        let sparse = archive_entry_sparse_count(entry) > 0   // a sparse body is shorter than the file: not counted
        var received: Int64 = 0
        var block: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        while true {
            let status = archive_read_data_block(reader, &block, &size, &offset)
            if status == ARCHIVE_EOF { return false }
            if status < ARCHIVE_WARN {
                if stream.reachedEnd && stream.failure == nil && !sparse {
                    if received == announced { return true }
                    if received < announced {
                        throw ImageError("unpack layer", layer,
                                         "\(path): the layer ends inside this entry's data (\(received) of \(announced) bytes)")
                    }
                }
                throw ImageError("unpack layer", layer, "\(path): \(stream.failure ?? ArchiveError.message(reader))")
            }
            received += Int64(size)
            if archive_write_data_block(writer, block, size, offset) < ARCHIVE_WARN {
                throw ImageError("unpack layer", layer, "\(path): \(ArchiveError.message(writer))")
            }
        }
    }

    /// Splits an entry path into components: leading `/` and `./` dropped, `.` skipped, `..` refused.
    func clean(_ path: String, layer: String) throws(ImageError) -> [String] {
        var out: [String] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            if component == "." { continue }
            if component == ".." {
                throw ImageError("unpack layer", layer, "entry \"\(path)\" has a \"..\" component (refusing to write outside the layer)")
            }
            out.append(String(component))
        }
        return out
    }

    /// The directory `components` below the destination, refusing symlinks on the way; created when `create`.
    /// Nil when it does not exist and is not to be created.
    private func safeDirectory(_ components: [String], create: Bool, layer: String) throws(ImageError) -> String? {
        var path = destination
        for component in components {
            path += "/" + component
            var st = stat()
            if lstat(path, &st) != 0 {
                guard errno == ENOENT, create else {
                    if errno == ENOENT { return nil }
                    throw ImageError("lstat", path, SystemErrorText.current)
                }
                if mkdir(path, 0o755) != 0 { throw ImageError("mkdir", path, SystemErrorText.current) }
                continue
            }
            switch st.st_mode & S_IFMT {
            case S_IFDIR: continue
            case S_IFLNK:
                throw ImageError("unpack layer", layer, "whiteout below symlink \(components.joined(separator: "/")) (refusing to follow it)")
            default:
                if create { throw ImageError("unpack layer", layer, "\(path) is not a directory") }
                return nil
            }
        }
        return path
    }

    private func whiteout(parent: [String], name: String, written: Set<String>, layer: String) throws(ImageError) {
        let opaque = name == ".wh..opq"
        if !opaque && name.hasPrefix(".wh.") { return }   // other AUFS metadata (.wh..wh.plnk …) carries no change
        guard opaque || !(name.isEmpty || name == "." || name == "..") else {
            // `.wh..` / `.wh...` would name the directory itself or its parent, outside the layer at its root
            throw ImageError("unpack layer", layer, "whiteout \".wh.\(name)\" names no entry (refusing it)")
        }
        switch mode {
        case .overlay:
            guard let directory = try safeDirectory(parent, create: true, layer: layer) else { return }
            if opaque {
                let name = OverlayMount.xattrPrefix + "opaque"
                if lsetxattr(directory, name, "y", 1, 0) != 0 {
                    throw ImageError("setxattr \(name)", directory, SystemErrorText.current)
                }
            } else {
                let target = directory + "/" + name
                if Files.exists(target) { try sys { () throws(SystemError) in try Files.removeTree(target) } }
                if mknod(target, S_IFCHR | 0o000, 0) != 0 { throw ImageError("mknod whiteout", target, SystemErrorText.current) }
            }
        case .apply:
            guard let directory = try safeDirectory(parent, create: false, layer: layer) else { return }
            if opaque {
                let prefix = parent.isEmpty ? "" : parent.joined(separator: "/") + "/"
                for child in try sys({ () throws(SystemError) in try Files.listDirectory(directory) })
                where !written.contains(prefix + child) {
                    try sys { () throws(SystemError) in try Files.removeTree(directory + "/" + child) }
                }
            } else {
                try sys { () throws(SystemError) in try Files.removeTree(directory + "/" + name) }
            }
        }
    }

    /// In apply mode, an entry may replace something of another type that a lower layer left (a directory by a
    /// file, …): remove it first, as a layer's changeset means. Parents must not be symlinks.
    private func prepareReplace(_ components: [String], entry: OpaquePointer, layer: String) throws(ImageError) {
        guard let parent = try safeDirectory(Array(components.dropLast()), create: false, layer: layer),
              let last = components.last else { return }
        let path = parent + "/" + last
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        let existingIsDirectory = (st.st_mode & S_IFMT) == S_IFDIR
        let entryIsDirectory = archive_entry_filetype(entry) == EntryType.directory
        if existingIsDirectory && !entryIsDirectory {
            try sys { () throws(SystemError) in try Files.removeTree(path) }
        } else if !existingIsDirectory && entryIsDirectory {
            unlink(path)
        }
    }

    /// A layer must not smuggle overlayfs metadata (opaque/redirect markers) into the snapshot.
    private func dropOverlayXattrs(_ entry: OpaquePointer) {
        guard archive_entry_xattr_reset(entry) > 0 else { return }
        var kept: [(String, [UInt8])] = []
        var dropped = false
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK {
            guard let name else { continue }
            let key = String(cString: name)
            if key.hasPrefix("trusted.overlay.") || key.hasPrefix("user.overlay.") { dropped = true; continue }
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            kept.append((key, bytes))
        }
        guard dropped else { return }
        archive_entry_xattr_clear(entry)
        for (key, bytes) in kept {
            bytes.withUnsafeBytes { archive_entry_xattr_add_entry(entry, key, $0.baseAddress, $0.count) }
        }
    }
}
