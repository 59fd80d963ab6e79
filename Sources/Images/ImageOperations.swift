import Foundation
import OCISpec

/// The public entry points of the store that add or export content.
extension ImageStore {
    /// Loads every image of a docker-archive or OCI archive (from stdin when `path` is nil). Nothing becomes
    /// visible unless all of it is valid.
    public func load(archive path: String?) async throws -> [ImageRecord] {
        try await transaction { transaction in
            try ArchiveLoader(store: self).load(path: path, transaction: transaction)
        }
    }

    /// Makes a one-layer image of a root filesystem tarball.
    public func importRootfs(_ path: String, reference: String?, change: ImageConfig.Execution? = nil) async throws -> ImageRecord {
        let parsed = try reference.map { (text) throws(ImageError) in try ImageReference(parsing: text) }
        return try await transaction { transaction in
            try RootfsImporter(store: self).importTarball(path, reference: parsed, change: change, transaction: transaction)
        }
    }

    /// Writes images to an archive file (`path` nil: to `fd`).
    public func save(_ images: [String], format: String, path: String?, fd: Int32 = 1) throws(ImageError) {
        guard let chosen = ArchiveSaver.Format(rawValue: format) else {
            throw ImageError("save", format, "unknown format (docker-archive or oci-archive)")
        }
        var records: [ImageRecord] = []
        for image in images { records.append(try resolve(image)) }
        try ArchiveSaver(store: self).save(records, format: chosen, path: path, fd: fd)
    }
}
