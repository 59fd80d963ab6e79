import Foundation
import Glibc
import Linux
import OCISpec

/// An OCI bundle made from an image: `rootfs/` (an overlayfs mount of the image's snapshots, or a copy where
/// overlayfs is unavailable) and `config.json` built from the image config. The engine and the tests hand it to
/// the runtime; `ImageBundle.remove` undoes it.
public struct ImageBundle: Sendable {
    public let path: String
    public let rootfs: String
    public let overlay: Bool
    public let image: ImageRecord

    /// How a bundle's rootfs is made.
    public enum RootfsMode: Sendable {
        /// overlayfs when the kernel allows it, else a copy.
        case automatic
        case overlay
        case copy
    }

    /// Creates `bundle` (which must not exist or be empty) for `imageReference`.
    public static func create(store: ImageStore, image imageReference: String, bundle: String,
                              mode: RootfsMode = .automatic, args: [String]? = nil,
                              idMap: IDMap? = nil) throws(ImageError) -> ImageBundle {
        let image = try store.resolve(imageReference)
        let diffIDs = image.diffIDs
        try sys { () throws(SystemError) in try Files.makeDirectories(bundle, mode: 0o711) }
        guard let real = realpath(bundle, nil) else { throw ImageError("realpath", bundle, SystemErrorText.current) }
        let path = String(cString: real)
        free(real)
        let rootfs = path + "/rootfs"
        let id = path.utf8.reduce(into: UInt64(14695981039346656037)) { $0 = ($0 ^ UInt64($1)) &* 1099511628211 }
        let lease = store.leasesDirectory + "/" + String(id, radix: 16)
        try sys { () throws(SystemError) in
            try Files.replace(lease, Array((diffIDs.map(\.description) + [path]).joined(separator: "\n").utf8))
        }
        do throws(ImageError) {
            // after the lease, so a concurrent prune keeps what this unpacks
            for (layer, diffID) in zip(image.manifest.layers, diffIDs) where !store.snapshots.has(diffID) {
                try store.snapshots.prepare(layer: layer, diffID: diffID)   // collected by GC since: unpack again
            }
            try sys { () throws(SystemError) in try Files.makeDirectories(rootfs, mode: 0o755) }
            var overlay = false
            if idMap != nil && mode == .copy {
                throw ImageError("make the rootfs", path, "a user-namespace mapping needs an overlay rootfs (idmapped layers or fuse-overlayfs)")
            }
            if mode != .copy {
                do throws(ImageError) {
                    try mountOverlay(store: store, diffIDs: diffIDs, bundle: path, rootfs: rootfs, idMap: idMap)
                    overlay = true
                } catch {
                    // Without idmapped layers a copy would show the container root-owned files it cannot use.
                    if mode == .overlay || idMap != nil { throw error }
                }
            }
            if !overlay { try copyLayers(store: store, image: image, rootfs: rootfs) }
            let spec = try RuntimeConfigBuilder.spec(for: image.config, rootfs: rootfs, args: args)
            let bytes: Data
            do { bytes = try SpecJSON.encode(spec, pretty: true) } catch { throw ImageError("encode config.json", path, error) }
            try sys { () throws(SystemError) in try Files.replace(path + "/config.json", Array(bytes), mode: 0o644) }
            return ImageBundle(path: path, rootfs: rootfs, overlay: overlay, image: image)
        } catch {
            try? remove(store: store, bundle: path)
            throw error
        }
    }

    /// Mounts the rootfs of a bundle made by `create` again where it is not mounted (after a reboot): the same
    /// snapshots below, the bundle's own upper directory on top, so the container's changes are kept.
    public static func ensureMounted(store: ImageStore, image imageReference: String, bundle: String,
                                     idMap: IDMap? = nil) throws(ImageError) {
        let rootfs = bundle + "/rootfs"
        guard !Mounts.isMountPoint(rootfs), Files.isDirectory(bundle + "/overlay/upper") else { return }
        // A rootfs with content is a copy (made where overlayfs was unavailable): nothing to mount.
        if let entries = try? Files.listDirectory(rootfs), !entries.isEmpty { return }
        let image = try store.resolve(imageReference)
        for (layer, diffID) in zip(image.manifest.layers, image.diffIDs) where !store.snapshots.has(diffID) {
            try store.snapshots.prepare(layer: layer, diffID: diffID)
        }
        try mountOverlay(store: store, diffIDs: image.diffIDs, bundle: bundle, rootfs: rootfs, idMap: idMap)
    }

    /// Unmounts the rootfs, deletes the bundle and releases its snapshots.
    public static func remove(store: ImageStore, bundle: String) throws(ImageError) {
        guard let real = realpath(bundle, nil) else { return }
        let path = String(cString: real)
        free(real)
        let rootfs = path + "/rootfs"
        if Mounts.isMountPoint(rootfs) {
            do throws(SystemError) { try Mounts.unmount(rootfs) } catch {
                try sys { () throws(SystemError) in try Mounts.unmount(rootfs, detach: true) }
            }
        }
        try sys { () throws(SystemError) in try Files.removeTree(path) }
        let id = path.utf8.reduce(into: UInt64(14695981039346656037)) { $0 = ($0 ^ UInt64($1)) &* 1099511628211 }
        unlink(store.leasesDirectory + "/" + String(id, radix: 16))
    }

    /// overlayfs: the snapshots as lower layers (top first), upper and work directories in the bundle. With
    /// `idMap`, every lower layer is first given an idmapped mount under `bundle/idmapped`;
    /// overlayfs keeps private clones of its layers' mounts, so those are detached again once it is mounted.
    /// In a user namespace (rootless) idmapped layers are impossible, and fuse-overlayfs shifts the ids instead.
    static func mountOverlay(store: ImageStore, diffIDs: [Digest], bundle: String, rootfs: String,
                             idMap: IDMap? = nil) throws(ImageError) {
        let upper = bundle + "/overlay/upper"
        let work = bundle + "/overlay/work"
        var lowers = diffIDs.reversed().map { store.snapshots.path($0) }
        if lowers.isEmpty {
            let empty = bundle + "/overlay/empty"
            try sys { () throws(SystemError) in try Files.makeDirectories(empty) }
            lowers = [empty]
        }
        try sys { () throws(SystemError) in
            try Files.makeDirectories(upper, mode: 0o755)
            try Files.makeDirectories(work, mode: 0o700)
        }
        guard let idMap else {
            try OverlayMount.mount(lowers: lowers, upper: upper, work: work, target: rootfs)
            return
        }
        if !UserNamespaceFacts.isInitial {
            try FuseOverlayMount.mount(lowers: lowers, upper: upper, work: work, target: rootfs, map: idMap)
            return
        }
        // The upper directory is not idmapped: overlayfs writes there with the mounter's (host root's) ids,
        // which the mapping lacks. So what the container writes is stored with its host ids, under an upper
        // root owned by the container's root; commit and export map them back.
        if let uid = IDMap.hostID(0, in: idMap.uids), let gid = IDMap.hostID(0, in: idMap.gids) { chown(upper, uid, gid) }
        let staging = bundle + "/idmapped"
        var attached: [String] = []
        defer { for path in attached.reversed() { umount2(path, Int32(MNT_DETACH)) } }
        try sys { () throws(SystemError) in
            let userNamespace = try IDMappedMount.userNamespace(uids: idMap.uids, gids: idMap.gids)
            defer { close(userNamespace) }
            for (index, source) in lowers.enumerated() {
                let target = staging + "/\(index)"
                try Files.makeDirectories(target, mode: 0o700)
                try IDMappedMount.bind(source, on: target, userNamespace: userNamespace)
                attached.append(target)
            }
        }
        try OverlayMount.mount(lowers: attached, upper: upper, work: work, target: rootfs)
    }

    /// The fallback: every layer applied in order onto a plain directory, whiteouts deleting.
    static func copyLayers(store: ImageStore, image: ImageRecord, rootfs: String) throws(ImageError) {
        let unpacker = LayerUnpacker(destination: rootfs, mode: .apply)
        for (layer, diffID) in zip(image.manifest.layers, image.diffIDs) {
            guard let digest = Digest(layer.digest), let compression = MediaType.layerCompression(layer.mediaType) else {
                throw ImageError("copy layer", layer.digest, "unsupported layer \(layer.mediaType)")
            }
            _ = try unpacker.unpack(blobPath: store.content.path(digest), compression: compression,
                                    blobDigest: digest, diffID: diffID, name: digest.description)
        }
    }
}
