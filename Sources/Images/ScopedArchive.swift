import CArchive
import Glibc
import Linux

/// Tar streams out of and into a directory tree that someone else may be changing as we go: a container's root,
/// under `berth cp` (CVE-2018-15664). A path checked and then used by path can have a component swapped for a
/// symlink to `/` in between, and the host then reads or writes its own files. So nothing here uses a path of
/// more than one component: the starting point is opened with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`
/// relative to an fd of the container's root, and every step below it is one name relative to an fd already
/// held, opened with O_NOFOLLOW. A swap then makes one entry fail or vanish; it can never lead out.
///
/// Why this and not the other ways: the host's GNU tar or cp run chrooted would load their libraries and NSS or
/// gconv modules from the container (CVE-2019-14271), and libarchive's secure-extract flags check symlinks by
/// path before writing, which is the same race. In-process code over fds needs neither a chroot nor a helper.
public enum ScopedArchive {
    /// O_PATH and AT_EMPTY_PATH are missing from Swift's Glibc module.
    static let openPath: Int32 = 0o10000000
    static let emptyPath: Int32 = 0x1000

    /// Writes `path` (resolved inside `rootFd`, a final symlink followed inside it too) as a tar stream on
    /// `output`, its top entry named `name` (`.` for the contents of a directory alone). Symlinks are stored as
    /// symlinks and never entered. With `idMap`, the owners are the ids the container sees.
    public static func write(rootFd: Int32, rootPath: String, path: String, as name: String, to output: Int32,
                             idMap: IDMap?) throws(ImageError) {
        let top: Int32
        do { top = try ScopedPath.open(rootFd: rootFd, rootPath: rootPath, path, flags: openPath) } catch {
            throw ImageError.system(error)
        }
        defer { close(top) }
        guard let archive = archive_write_new() else { throw ImageError("archive", path, "out of memory") }
        defer { archive_write_free(archive) }
        archive_write_set_format_pax_restricted(archive)
        // Unbuffered blocks: a pipe reader sees each entry as it is written.
        archive_write_set_bytes_in_last_block(archive, 1)
        if archive_write_open_fd(archive, output) != ARCHIVE_OK { throw ImageError("archive", path, ArchiveError.message(archive)) }
        let writer = Writer(archive: archive, idMap: idMap)
        try writer.add(fd: top, entry: name)
        if archive_write_close(archive) != ARCHIVE_OK { throw ImageError("archive", path, ArchiveError.message(archive)) }
    }

    private struct Writer {
        let archive: OpaquePointer
        let idMap: IDMap?

        /// `fd` is an O_PATH fd of the thing itself (a symlink's own inode, never its target).
        func add(fd: Int32, entry: String) throws(ImageError) {
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw ImageError("stat", entry, SystemErrorText.current) }
            if let idMap {
                st.st_uid = IDMap.containerID(st.st_uid, in: idMap.uids) ?? 65534
                st.st_gid = IDMap.containerID(st.st_gid, in: idMap.gids) ?? 65534
            }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                // Reopened through the fd, not by name: the directory listed is the one just checked.
                let directory = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                guard directory >= 0 else { throw ImageError("open", entry, SystemErrorText.current) }
                defer { close(directory) }
                try header(entry == "." ? "./" : entry + "/", st, size: 0)
                for child in try names(directory, entry) {
                    let childFd = openat(directory, child, openPath | O_NOFOLLOW | O_CLOEXEC)
                    if childFd < 0 { continue }   // gone since the listing
                    defer { close(childFd) }
                    try add(fd: childFd, entry: entry == "." ? child : entry + "/" + child)
                }
            case S_IFLNK:
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let length = readlinkat(fd, "", &buffer, Int(PATH_MAX))
                guard length >= 0 else { throw ImageError("readlink", entry, SystemErrorText.current) }
                let target = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                try header(entry, st, size: 0, link: target)
            case S_IFREG:
                // The same inode, opened for reading through our own fd (the host's /proc, not the container's).
                let file = open("/proc/self/fd/\(fd)", O_RDONLY | O_NOCTTY | O_CLOEXEC)
                guard file >= 0 else { throw ImageError("open", entry, SystemErrorText.current) }
                defer { close(file) }
                try header(entry, st, size: Int64(st.st_size))
                try copyData(file, entry, size: Int64(st.st_size))
            default:
                // Devices, fifos, sockets: never opened (a device of the container is not the host's to read).
                try header(entry, st, size: 0, device: UInt64(st.st_rdev))
            }
        }

        /// The names in a directory, each once (a rename during the listing can show a name twice, and a name
        /// written twice could be a symlink first and a directory with entries below it next).
        private func names(_ directory: Int32, _ entry: String) throws(ImageError) -> [String] {
            let copy = dup(directory)
            guard copy >= 0, let stream = fdopendir(copy) else {
                if copy >= 0 { close(copy) }
                throw ImageError("list", entry, SystemErrorText.current)
            }
            defer { closedir(stream) }
            var seen = Set<String>()
            while let item = readdir(stream) {
                let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name != "." && name != ".." { seen.insert(name) }
            }
            return seen.sorted()
        }

        private func header(_ name: String, _ st: stat, size: Int64, link: String? = nil, device: UInt64? = nil) throws(ImageError) {
            try LayerWriter.header(archive, name: name, stat: st, type: UInt32(st.st_mode & S_IFMT), size: size,
                                   link: link, device: device, what: "archive")
        }

        /// Exactly `size` bytes: a file the container grows meanwhile is cut, one it shrinks is padded with zeros
        /// by libarchive, so the stream stays well-formed.
        private func copyData(_ fd: Int32, _ name: String, size: Int64) throws(ImageError) {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buffer.deallocate() }
            var left = size
            while left > 0 {
                let n = read(fd, buffer, Int(min(left, 1 << 20)))
                if n < 0 { if errno == EINTR { continue }; throw ImageError("read", name, SystemErrorText.current) }
                if n == 0 { return }
                if archive_write_data(archive, buffer, n) < 0 { throw ImageError("archive", name, ArchiveError.message(archive)) }
                left -= Int64(n)
            }
        }
    }
}

extension ScopedArchive {
    /// How an unpacked entry is owned and where it goes.
    public struct Placement: Sendable {
        /// Each entry's path components → where it lands below the destination (empty: skipped, the top itself).
        public var rename: @Sendable ([String]) -> [String] = { $0 }
        /// The stream's owners (else the container's root).
        public var keepOwners = false
        /// The container's mapping: ids in the stream are the container's, the files get the host's.
        public var idMap: IDMap?
        /// Only check that no entry goes through a symlink or a non-directory already there; write nothing.
        public var checkOnly = false

        public init(rename: @escaping @Sendable ([String]) -> [String] = { $0 }, keepOwners: Bool = false, idMap: IDMap? = nil,
                    checkOnly: Bool = false) {
            self.rename = rename; self.keepOwners = keepOwners; self.idMap = idMap; self.checkOnly = checkOnly
        }
    }

    /// Unpacks the tar stream on `input` into `directory` (resolved inside `rootFd`). An entry whose way goes
    /// through a symlink (or anything but a directory) already in the tree is refused: GNU tar would follow it.
    public static func extract(from input: Int32, rootFd: Int32, rootPath: String, directory: String,
                               placement: Placement) throws(ImageError) {
        let top: Int32
        do { top = try ScopedPath.open(rootFd: rootFd, rootPath: rootPath, directory, flags: openPath | O_DIRECTORY) } catch {
            throw ImageError.system(error)
        }
        defer { close(top) }
        guard let archive = archive_read_new() else { throw ImageError("unpack", directory, "out of memory") }
        defer { archive_read_free(archive) }
        archive_read_support_format_tar(archive)
        archive_read_support_filter_all(archive)
        if archive_read_open_fd(archive, input, 1 << 16) != ARCHIVE_OK {
            throw ImageError("unpack", directory, ArchiveError.message(archive))
        }
        let reader = Reader(archive: archive, top: top, placement: placement, streamed: Streamed())
        while true {
            var entry: OpaquePointer?
            let status = archive_read_next_header(archive, &entry)
            if status == ARCHIVE_EOF { return }
            guard status >= ARCHIVE_WARN, let entry else { throw ImageError("unpack", directory, ArchiveError.message(archive)) }
            try reader.place(entry)
        }
    }

    /// What the stream itself makes that is not a directory (a check writes nothing, so it must remember them):
    /// an entry `a -> /etc` followed by `a/passwd` is refused before anything is written, not half-way.
    private final class Streamed {
        var nonDirectories = Set<String>()
    }

    private struct Reader {
        let archive: OpaquePointer
        let top: Int32
        let placement: Placement
        let streamed: Streamed

        func components(_ raw: UnsafePointer<CChar>?) throws(ImageError) -> [String] {
            guard let raw else { return [] }
            let path = String(cString: raw)
            var out: [String] = []
            for component in path.split(separator: "/", omittingEmptySubsequences: true) where component != "." {
                if component == ".." { throw ImageError("unpack", path, "the entry has a \"..\" component") }
                out.append(String(component))
            }
            return placement.rename(out)
        }

        /// The directory holding `components.last`, walked one name at a time from `top`; missing ones made.
        /// Nil in a check when a directory on the way does not exist yet (nothing below it can be in the way).
        func parent(_ components: [String], entry: String) throws(ImageError) -> Int32? {
            var current = dup(top)
            guard current >= 0 else { throw ImageError("unpack", entry, SystemErrorText.current) }
            for (index, name) in components.dropLast().enumerated() {
                var next = openat(current, name, ScopedArchive.openPath | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if next < 0 && errno == ENOENT {
                    if placement.checkOnly { close(current); return nil }
                    if mkdirat(current, name, 0o755) != 0 && errno != EEXIST {
                        let text = SystemErrorText.current
                        close(current)
                        throw ImageError("unpack", entry, "mkdir \(name): \(text)")
                    }
                    next = openat(current, name, ScopedArchive.openPath | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                }
                if next < 0 {
                    let code = errno
                    var st = stat()
                    let isLink = fstatat(current, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
                    close(current)
                    let prefix = components[0...index].joined(separator: "/")
                    if code == ELOOP || isLink {
                        throw ImageError("unpack", entry, "it goes through the symbolic link \(prefix) in the container")
                    }
                    throw ImageError("unpack", entry, "\(prefix): \(SystemError.message(code))")
                }
                close(current)
                current = next
            }
            return current
        }

        func place(_ entry: OpaquePointer) throws(ImageError) {
            let path = try components(archive_entry_pathname(entry))
            let shown = path.joined(separator: "/")
            if placement.checkOnly, !path.isEmpty {
                for depth in 0..<(path.count - 1) where streamed.nonDirectories.contains(path[0...depth].joined(separator: "/")) {
                    throw ImageError("unpack", shown, "it goes through \(path[0...depth].joined(separator: "/")), which the archive makes as a non-directory")
                }
                if archive_entry_filetype(entry) == EntryType.directory && archive_entry_hardlink(entry) == nil {
                    streamed.nonDirectories.remove(shown)
                } else {
                    streamed.nonDirectories.insert(shown)
                }
            }
            guard let name = path.last, let parentFd = try parent(path, entry: shown) else { return }
            defer { close(parentFd) }
            if placement.checkOnly { return }
            let type = archive_entry_filetype(entry)
            let mode = mode_t(archive_entry_perm(entry) & 0o7777)
            var existing = stat()
            let exists = fstatat(parentFd, name, &existing, AT_SYMLINK_NOFOLLOW) == 0
            let existingIsDirectory = exists && (existing.st_mode & S_IFMT) == S_IFDIR
            // Whatever is there is replaced (a directory only by a directory, which is kept with its metadata).
            if exists && !(existingIsDirectory && type == EntryType.directory) {
                if unlinkat(parentFd, name, existingIsDirectory ? AT_REMOVEDIR : 0) != 0 {
                    throw ImageError("unpack", shown, "replacing what is there: \(SystemErrorText.current)")
                }
            }
            let (uid, gid) = owners(entry)
            if let hardlink = archive_entry_hardlink(entry) {
                let target = try components(hardlink)
                guard let targetName = target.last, let targetParent = try parent(target, entry: shown) else {
                    throw ImageError("unpack", shown, "hard link to nothing")
                }
                defer { close(targetParent) }
                if linkat(targetParent, targetName, parentFd, name, 0) != 0 {
                    throw ImageError("unpack", shown, "link: \(SystemErrorText.current)")
                }
                return
            }
            switch type {
            case EntryType.directory:
                if !existingIsDirectory {
                    guard mkdirat(parentFd, name, 0o700) == 0 else { throw ImageError("unpack", shown, "mkdir: \(SystemErrorText.current)") }
                    let fd = openat(parentFd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    guard fd >= 0 else { throw ImageError("unpack", shown, "open: \(SystemErrorText.current)") }
                    defer { close(fd) }
                    try finish(fd: fd, entry, shown, uid: uid, gid: gid, mode: mode)
                }
            case EntryType.regular:
                let fd = openat(parentFd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw ImageError("unpack", shown, "create: \(SystemErrorText.current)") }
                defer { close(fd) }
                try copyData(to: fd, shown, size: archive_entry_size(entry))
                try finish(fd: fd, entry, shown, uid: uid, gid: gid, mode: mode)
            case EntryType.symlink:
                guard let target = archive_entry_symlink(entry), symlinkat(target, parentFd, name) == 0 else {
                    throw ImageError("unpack", shown, "symlink: \(SystemErrorText.current)")
                }
                _ = fchownat(parentFd, name, uid, gid, AT_SYMLINK_NOFOLLOW)
                var times = [timespec(tv_sec: archive_entry_mtime(entry), tv_nsec: archive_entry_mtime_nsec(entry))]
                times.insert(times[0], at: 0)
                _ = utimensat(parentFd, name, times, AT_SYMLINK_NOFOLLOW)
            default:
                guard mknodat(parentFd, name, mode_t(type) | 0o600, dev_t(archive_entry_rdev(entry))) == 0 else {
                    throw ImageError("unpack", shown, "mknod: \(SystemErrorText.current)")
                }
                // chmod has no O_NOFOLLOW: the node is pinned by an O_PATH fd, checked, and changed through it.
                let fd = openat(parentFd, name, ScopedArchive.openPath | O_NOFOLLOW | O_CLOEXEC)
                guard fd >= 0 else { throw ImageError("unpack", shown, "open: \(SystemErrorText.current)") }
                defer { close(fd) }
                var st = stat()
                guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == mode_t(type) else {
                    throw ImageError("unpack", shown, "replaced while it was being made")
                }
                _ = fchownat(fd, "", uid, gid, ScopedArchive.emptyPath)
                _ = chmod("/proc/self/fd/\(fd)", mode)
            }
        }

        private func owners(_ entry: OpaquePointer) -> (uid_t, gid_t) {
            var uid = placement.keepOwners ? uid_t(truncatingIfNeeded: archive_entry_uid(entry)) : 0
            var gid = placement.keepOwners ? gid_t(truncatingIfNeeded: archive_entry_gid(entry)) : 0
            if let map = placement.idMap {
                uid = IDMap.hostID(uid, in: map.uids) ?? 65534
                gid = IDMap.hostID(gid, in: map.gids) ?? 65534
            }
            return (uid, gid)
        }

        /// Owner, then mode (a chown clears set-id bits), then times, all on the fd of what was made.
        private func finish(fd: Int32, _ entry: OpaquePointer, _ shown: String, uid: uid_t, gid: gid_t, mode: mode_t) throws(ImageError) {
            if fchown(fd, uid, gid) != 0 { throw ImageError("unpack", shown, "chown: \(SystemErrorText.current)") }
            if fchmod(fd, mode) != 0 { throw ImageError("unpack", shown, "chmod: \(SystemErrorText.current)") }
            let mtime = timespec(tv_sec: archive_entry_mtime(entry), tv_nsec: archive_entry_mtime_nsec(entry))
            let times = [mtime, mtime]
            _ = futimens(fd, times)
        }

        private func copyData(to fd: Int32, _ shown: String, size: Int64) throws(ImageError) {
            var block: UnsafeRawPointer?
            var length = 0
            var offset: la_int64_t = 0
            while true {
                let status = archive_read_data_block(archive, &block, &length, &offset)
                if status == ARCHIVE_EOF { break }
                if status < ARCHIVE_WARN { throw ImageError("unpack", shown, ArchiveError.message(archive)) }
                var done = 0
                while done < length {
                    let n = pwrite(fd, block! + done, length - done, off_t(offset) + off_t(done))
                    if n < 0 { if errno == EINTR { continue }; throw ImageError("unpack", shown, "write: \(SystemErrorText.current)") }
                    done += n
                }
            }
            // A sparse file's holes at the end.
            if ftruncate(fd, off_t(size)) != 0 { throw ImageError("unpack", shown, "truncate: \(SystemErrorText.current)") }
        }
    }
}
