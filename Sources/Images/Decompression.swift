import CArchive
import Glibc

extension ContentStore {
    /// Streams the file at `path`, decompressed with whatever filter libarchive recognises (or none),
    /// into a new blob writer; the caller commits it or takes its temporary file.
    func decompressedWriter(of path: String, operation: String) throws(ImageError) -> BlobWriter {
        guard let reader = archive_read_new() else { throw ImageError(operation, path, "out of memory") }
        defer { archive_read_free(reader) }
        archive_read_support_filter_all(reader)
        archive_read_support_format_raw(reader)
        var entry: OpaquePointer?
        guard archive_read_open_filename(reader, path, 1 << 20) == ARCHIVE_OK,
              archive_read_next_header(reader, &entry) == ARCHIVE_OK else {
            throw ImageError(operation, path, ArchiveError.message(reader))
        }
        let writer = try self.writer()
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = archive_read_data(reader, buffer, 1 << 20)
            if n < 0 { writer.abort(); throw ImageError(operation, path, ArchiveError.message(reader)) }
            if n == 0 { break }
            do { try writer.write(UnsafeRawBufferPointer(start: buffer, count: n)) } catch { writer.abort(); throw error }
        }
        return writer
    }
}
