import CArchive
import Glibc

/// Glue between libarchive's callback readers and Swift: a file (or a decompressed stream) fed to libarchive in
/// 1 MiB blocks, hashed with SHA-256 on the way.
final class HashingFileSource {
    let fd: Int32
    let name: String
    let hasher: SHA256?
    let buffer: UnsafeMutableRawPointer
    let capacity = 1 << 20
    var total: Int64 = 0
    var failure: String?

    init(fd: Int32, name: String, hashing: Bool) {
        self.fd = fd; self.name = name
        hasher = hashing ? SHA256() : nil
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { buffer.deallocate() }

    func readBlock() -> Int {
        while true {
            let n = Glibc.read(fd, buffer, capacity)
            if n < 0 {
                if errno == EINTR { continue }
                failure = "read \(name): \(SystemErrorText.current)"
                return -1
            }
            if n > 0 {
                hasher?.update(UnsafeRawBufferPointer(start: buffer, count: n))
                total += Int64(n)
            }
            return n
        }
    }

    /// Reads (and hashes) whatever libarchive left unread, so the digest covers the whole file.
    func drain() throws(ImageError) {
        while true {
            let n = readBlock()
            if n < 0 { throw ImageError("read", name, failure ?? "read failed") }
            if n == 0 { return }
        }
    }

    /// Opens `archive` over this source.
    func open(_ archive: OpaquePointer) -> Int32 {
        archive_read_open(archive, Unmanaged.passUnretained(self).toOpaque(), nil, { _, client, out in
            guard let client, let out else { return -1 }
            let source = Unmanaged<HashingFileSource>.fromOpaque(client).takeUnretainedValue()
            let n = source.readBlock()
            out.pointee = UnsafeRawPointer(source.buffer)
            return n
        }, nil)
    }
}

/// The decompressed bytes of an outer libarchive reader (format "raw"), hashed (the layer's diffID) and handed to an
/// inner tar reader.
final class DecompressedSource {
    let outer: OpaquePointer
    let hasher = SHA256()
    let buffer: UnsafeMutableRawPointer
    let capacity = 1 << 20
    var total: Int64 = 0
    var failure: String?
    /// The decompressed stream has ended (its last read returned no bytes and no error).
    var reachedEnd = false

    init(outer: OpaquePointer) {
        self.outer = outer
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { buffer.deallocate() }

    func readBlock() -> Int {
        let n = archive_read_data(outer, buffer, capacity)
        if n < 0 {
            failure = ArchiveError.message(outer)
            return -1
        }
        if n > 0 {
            hasher.update(UnsafeRawBufferPointer(start: buffer, count: n))
            total += Int64(n)
        } else {
            reachedEnd = true
        }
        return n
    }

    func drain() throws(ImageError) {
        while true {
            let n = readBlock()
            if n < 0 { throw ImageError("decompress", "", failure ?? "read failed") }
            if n == 0 { return }
        }
    }

    func open(_ archive: OpaquePointer) -> Int32 {
        archive_read_open(archive, Unmanaged.passUnretained(self).toOpaque(), nil, { _, client, out in
            guard let client, let out else { return -1 }
            let source = Unmanaged<DecompressedSource>.fromOpaque(client).takeUnretainedValue()
            let n = source.readBlock()
            out.pointee = UnsafeRawPointer(source.buffer)
            return n
        }, nil)
    }
}

enum ArchiveError {
    static func message(_ archive: OpaquePointer?) -> String {
        guard let archive, let text = archive_error_string(archive) else { return "unknown libarchive error" }
        return String(cString: text)
    }
}

/// File types as libarchive reports them (`AE_IF*`, the same values as the kernel's `S_IF*`).
enum EntryType {
    static let regular: UInt32 = 0o100000
    static let symlink: UInt32 = 0o120000
    static let directory: UInt32 = 0o040000
}
