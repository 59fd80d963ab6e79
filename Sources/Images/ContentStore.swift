import Foundation
import Glibc
import Linux
import OCISpec

/// Content-addressed blobs of an OCI image layout: `blobs/sha256/<hex>`. Every blob is verified against its digest
/// when it is written (temporary file in `ingest/`, hashed while written, renamed into place only if it matches)
/// and small blobs (manifests, configs) again when read.
public struct ContentStore: Sendable {
    /// The image layout directory (`<root>/image`).
    public let directory: String

    public init(directory: String) { self.directory = directory }

    var blobsDirectory: String { directory + "/blobs/sha256" }
    var ingestDirectory: String { directory + "/ingest" }

    public func path(_ digest: Digest) -> String { blobsDirectory + "/" + digest.encoded }

    public func has(_ digest: Digest) -> Bool { Files.exists(path(digest)) }

    public func size(_ digest: Digest) -> Int64? {
        var st = stat()
        guard stat(path(digest), &st) == 0 else { return nil }
        return Int64(st.st_size)
    }

    /// Starts a new blob. `expected` makes `commit()` fail unless the content has that digest (and size).
    func writer(expected: Digest? = nil, expectedSize: Int64? = nil) throws(ImageError) -> BlobWriter {
        try BlobWriter(store: self, expected: expected, expectedSize: expectedSize)
    }

    /// Stores bytes whose digest is computed (or checked against `expected`).
    @discardableResult
    func put(_ bytes: [UInt8], expected: Digest? = nil) throws(ImageError) -> Digest {
        let writer = try writer(expected: expected, expectedSize: expected == nil ? nil : Int64(bytes.count))
        try writer.write(bytes)
        return try writer.commit().digest
    }

    /// Reads a whole blob (meant for JSON documents) and verifies it against its digest.
    func read(_ digest: Digest, limit: Int = 8 << 20) throws(ImageError) -> [UInt8] {
        guard let size = size(digest) else { throw ImageError("read blob", digest.description, "blob is missing") }
        guard size <= limit else { throw ImageError("read blob", digest.description, "larger than \(limit) bytes") }
        let bytes = try sys { () throws(SystemError) in try Files.readBytes(path(digest)) }
        guard digest.algorithm == "sha256", SHA256.hex(of: bytes) == digest.encoded else {
            throw ImageError("read blob", digest.description, "content does not match its digest (corrupted store)")
        }
        return bytes
    }

    func decode<T: Decodable>(_ type: T.Type, _ digest: Digest) throws(ImageError) -> T {
        let bytes = try read(digest)
        do {
            return try SpecJSON.decode(type, from: Data(bytes), file: digest.description)
        } catch {
            throw ImageError("decode blob", digest.description, error)
        }
    }

    /// Whether the stored blob hashes to its name (a read of the whole file: for the failure paths only).
    func verifies(_ digest: Digest) -> Bool {
        let fd = open(path(digest), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let hasher = SHA256()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return false }
            if n == 0 { break }
            chunk.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return hasher.finishHex() == digest.encoded
    }

    func delete(_ digest: Digest) {
        unlink(path(digest))
    }

    /// All stored blobs.
    func list() -> [Digest] {
        let names = (try? Files.listDirectory(blobsDirectory)) ?? []
        return names.compactMap { Digest("sha256:" + $0) }
    }

    /// Removes temporary files that an interrupted writer left, older than `age` seconds.
    func cleanIngest(olderThan age: Int = 3600) {
        let now = time(nil)
        for name in (try? Files.listDirectory(ingestDirectory)) ?? [] {
            var st = stat()
            let path = ingestDirectory + "/" + name
            if lstat(path, &st) == 0 && now - st.st_mtim.tv_sec > age { try? Files.removeTree(path) }
        }
    }
}

/// One blob being written: hashed as it is written, renamed into the store only if the digest matches.
final class BlobWriter {
    let store: ContentStore
    let expected: Digest?
    let expectedSize: Int64?
    let temporaryPath: String
    private var fd: Int32
    private var hasher = SHA256()
    private(set) var written: Int64 = 0
    private var finished = false

    init(store: ContentStore, expected: Digest?, expectedSize: Int64?) throws(ImageError) {
        self.store = store; self.expected = expected; self.expectedSize = expectedSize
        if let expected, expected.algorithm != "sha256" {
            throw ImageError("write blob", expected.description, "unsupported digest algorithm \(expected.algorithm)")
        }
        temporaryPath = store.ingestDirectory + "/" + UUID().uuidString
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 { throw ImageError("create", temporaryPath, SystemErrorText.current) }
    }

    deinit { abort() }

    func write(_ buffer: UnsafeRawBufferPointer) throws(ImageError) {
        guard let base = buffer.baseAddress else { return }
        hasher.update(buffer)
        var offset = 0
        while offset < buffer.count {
            let n = Glibc.write(fd, base + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw ImageError("write", temporaryPath, SystemErrorText.current)
            }
            offset += n
        }
        written += Int64(buffer.count)
        if let expectedSize, written > expectedSize {
            throw ImageError("write blob", expected?.description ?? "", "more data than the \(expectedSize) bytes announced")
        }
    }

    func write(_ bytes: [UInt8]) throws(ImageError) {
        var failure: ImageError?
        bytes.withUnsafeBytes { buffer in
            do throws(ImageError) { try write(buffer) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Starts the blob over (a download that is retried from the beginning).
    func reset() throws(ImageError) {
        guard fd >= 0 else { throw ImageError("write blob", temporaryPath, "writer already closed") }
        if ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0 {
            throw ImageError("truncate", temporaryPath, SystemErrorText.current)
        }
        hasher = SHA256()
        written = 0
    }

    /// Verifies and moves the blob into place. A blob that is already stored is left as it is.
    func commit() throws(ImageError) -> (digest: Digest, size: Int64, created: Bool) {
        defer { abort() }
        let hex = hasher.finishHex()
        let digest: Digest
        do { digest = try Digest(sha256Hex: hex) } catch { throw ImageError("write blob", hex, error) }
        if let expected, expected != digest {
            throw ImageError("verify blob", expected.description, "digest mismatch: content hashes to \(digest)")
        }
        if let expectedSize, expectedSize != written {
            throw ImageError("verify blob", digest.description, "size mismatch: expected \(expectedSize) bytes, got \(written)")
        }
        // No fdatasync: snapshots are not synced either (as with docker's overlay2), and a blob torn by a crash
        // is caught by the digest check when it is read or unpacked again; pull then fetches it again and this
        // rename replaces the torn copy. Syncing each layer blob forced the whole archive to disk before
        // unpacking could finish, on the path bench/images.sh times.
        close(fd)
        fd = -1
        let destination = store.path(digest)
        // A copy already there is replaced rather than kept: it may be the torn one (readers keep their inode).
        let existed = store.has(digest)
        if rename(temporaryPath, destination) != 0 {
            throw ImageError("rename", destination, SystemErrorText.current)
        }
        finished = true
        return (digest, written, !existed)
    }

    /// Drops the temporary file (idempotent).
    func abort() {
        if fd >= 0 { close(fd); fd = -1 }
        if !finished { unlink(temporaryPath); finished = true }
    }
}
