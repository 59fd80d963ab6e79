import Foundation
@testable import Images
import OCISpec
import Testing

/// Layer semantics (whiteouts, opaque directories, links) and hostile tar paths.
@Suite(.serialized) struct UnpackTests {
    func tree(_ path: String) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: path)
        var out: [String] = []
        while let next = enumerator?.nextObject() as? String { out.append(next) }
        return out.sorted()
    }

    @Test(arguments: [ImageBundle.RootfsMode.overlay, .copy])
    func whiteoutsAndOpaqueDirectories(mode: ImageBundle.RootfsMode) async throws {
        let work = TemporaryDirectory()
        let store = try ImageStore(root: work.file("root"))
        _ = try await store.load(archive: try craftedImage("whiteouts", in: work))
        let bundle = try ImageBundle.create(store: store, image: "crafted/whiteouts", bundle: work.file("bundle"), mode: mode)
        #expect(bundle.overlay == (mode == .overlay))
        #expect(tree(bundle.rootfs) == ["a", "a/z", "b", "b/keep", "hard", "hello", "link", "new", "null", "owned"])
        var owned = stat(), device = stat()
        #expect(lstat(bundle.rootfs + "/owned", &owned) == 0)
        #expect(owned.st_uid == 1000 && owned.st_gid == 1001 && owned.st_mode & 0o7777 == 0o4750, "owner and setuid kept")
        #expect(lstat(bundle.rootfs + "/null", &device) == 0)
        #expect(device.st_mode & S_IFMT == S_IFCHR && device.st_rdev == (1 << 8 | 3), "device node")
        let xattr = try run("python3", ["-c", "import os,sys; print(os.getxattr(sys.argv[1], 'user.berth').decode())",
                                        bundle.rootfs + "/owned"], allowFailure: true)
        #expect(xattr.output.trimmingCharacters(in: .whitespacesAndNewlines) == "kept", "xattr: \(xattr.output)")
        var first = stat(), second = stat()
        #expect(lstat(bundle.rootfs + "/hello", &first) == 0 && lstat(bundle.rootfs + "/hard", &second) == 0)
        #expect(first.st_ino == second.st_ino, "hard link kept")
        #expect(first.st_mode & 0o777 == 0o755)
        #expect(first.st_mtim.tv_sec == 1_700_000_000, "mtime restored")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: bundle.rootfs + "/link")) == "hello")
        try ImageBundle.remove(store: store, bundle: bundle.path)
        #expect(!FileManager.default.fileExists(atPath: bundle.path))
        #expect(mountsBelow(work.path).isEmpty)
    }

    /// 60 lower directories do not fit one mount(2)'s options; they are added one by one with fsconfig.
    @Test(arguments: [ImageBundle.RootfsMode.overlay, .copy])
    func manyLayers(mode: ImageBundle.RootfsMode) async throws {
        let work = TemporaryDirectory()
        let store = try ImageStore(root: work.file("root"))
        let record = try await store.load(archive: try craftedImage("many-layers", in: work))[0]
        #expect(record.manifest.layers.count == 60)
        let bundle = try ImageBundle.create(store: store, image: "crafted/many-layers", bundle: work.file("bundle"), mode: mode)
        #expect(tree(bundle.rootfs) == (1..<60).map { "layer-\($0)" }.sorted())
        #expect(try String(contentsOfFile: bundle.rootfs + "/layer-42", encoding: .utf8) == "42")
        try ImageBundle.remove(store: store, bundle: bundle.path)
        #expect(mountsBelow(work.path).isEmpty)
    }

    @Test func overlaySnapshotsUseOverlayWhiteoutForm() async throws {
        let work = TemporaryDirectory()
        let store = try ImageStore(root: work.file("root"))
        let record = try await store.load(archive: try craftedImage("whiteouts", in: work))[0]
        let upper = store.snapshots.path(record.diffIDs[1])
        var st = stat()
        #expect(lstat(upper + "/f", &st) == 0 && st.st_mode & S_IFMT == S_IFCHR && st.st_rdev == 0)
        let xattr = try run("python3", ["-c", "import os,sys; print(os.getxattr(sys.argv[1], 'trusted.overlay.opaque').decode())", upper + "/a"])
        #expect(xattr.output.trimmingCharacters(in: .whitespacesAndNewlines) == "y")
    }

    @Test func layerCannotSetOverlayXattrs() async throws {
        let work = TemporaryDirectory()
        let store = try ImageStore(root: work.file("root"))
        let record = try await store.load(archive: try craftedImage("overlay-xattr", in: work))[0]
        let file = store.snapshots.path(record.diffIDs[0]) + "/d/f"
        let xattrs = try run("python3", ["-c", "import os,sys; print(os.listxattr(sys.argv[1]))", file])
        #expect(!xattrs.output.contains("trusted.overlay"))
    }

    /// A layer that ends right after its last file's data, without the padding to a whole block and without the two
    /// end-of-archive blocks (umoci 0.4.7's `insert` layers), or inside the padding, unpacks as podman and docker
    /// unpack it: into the snapshot (gzip and plain) and in the copying fallback.
    @Test(arguments: [("no-padding", ImageBundle.RootfsMode.overlay), ("no-padding", .copy),
                      ("no-padding-plain", .overlay), ("no-padding-plain", .copy),
                      ("partial-padding", .overlay), ("partial-padding", .copy)])
    func layerEndingRightAfterItsDataUnpacks(kind: String, mode: ImageBundle.RootfsMode) async throws {
        let work = TemporaryDirectory()
        let store = try ImageStore(root: work.file("root"))
        let record = try await store.load(archive: try craftedImage(kind, in: work))[0]
        let snapshot = store.snapshots.path(record.diffIDs[0])
        #expect(try String(contentsOfFile: snapshot + "/etc/extra.txt", encoding: .utf8) == "extra\n")
        let bundle = try ImageBundle.create(store: store, image: "crafted/\(kind)", bundle: work.file("bundle"), mode: mode)
        #expect(tree(bundle.rootfs) == ["etc", "etc/extra.txt", "etc/hostname"])
        #expect(try String(contentsOfFile: bundle.rootfs + "/etc/extra.txt", encoding: .utf8) == "extra\n")
        var st = stat()
        #expect(lstat(bundle.rootfs + "/etc/extra.txt", &st) == 0 && st.st_mode & 0o777 == 0o600, "the last entry is finished")
        try ImageBundle.remove(store: store, bundle: bundle.path)
        #expect(mountsBelow(work.path).isEmpty)
    }

    /// pax lets a hard link carry a body, which becomes the linked file's content; here it is also the layer's last
    /// entry, with nothing after its data.
    @Test(arguments: [ImageBundle.RootfsMode.overlay, .copy])
    func hardLinkWithABody(mode: ImageBundle.RootfsMode) async throws {
        let work = TemporaryDirectory()
        let store = try ImageStore(root: work.file("root"))
        _ = try await store.load(archive: try craftedImage("hardlink-body", in: work))
        let bundle = try ImageBundle.create(store: store, image: "crafted/hardlink-body", bundle: work.file("bundle"), mode: mode)
        var first = stat(), second = stat()
        #expect(lstat(bundle.rootfs + "/hello", &first) == 0 && lstat(bundle.rootfs + "/hard", &second) == 0)
        #expect(first.st_ino == second.st_ino, "hard link kept")
        #expect(try String(contentsOfFile: bundle.rootfs + "/hard", encoding: .utf8) == "HELLO")
        try ImageBundle.remove(store: store, bundle: bundle.path)
        #expect(mountsBelow(work.path).isEmpty)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/zstd"), "needs the zstd command"))
    func zstdLayers() async throws {
        let work = TemporaryDirectory()
        let store = try ImageStore(root: work.file("root"))
        let record = try await store.load(archive: try craftedImage("zstd", in: work))[0]
        #expect(record.manifest.layers[0].mediaType == MediaType.ociLayerZstd)
        let hello = try String(contentsOfFile: store.snapshots.path(record.diffIDs[0]) + "/hello", encoding: .utf8)
        #expect(hello == "zstd layer")
    }

    @Test func absolutePathsStayInsideTheLayer() async throws {
        let work = TemporaryDirectory()
        let outside = work.file("outside")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        let store = try ImageStore(root: work.file("root"))
        let record = try await store.load(archive: try craftedImage("absolute", in: work, outside: outside))[0]
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
        #expect(FileManager.default.fileExists(atPath: store.snapshots.path(record.diffIDs[0]) + outside + "/abs-escape"))
    }

    @Test(arguments: [
        ("dotdot", "\"..\" component"),
        ("symlink-escape", "through symlink"),
        ("symlink-relative", "through symlink"),
        ("hardlink-escape", "through symlink"),
        ("whiteout-escape", "below symlink"),
        ("whiteout-dotdot", "names no entry"),
    ])
    func hostileLayersAreRefused(kind: String, message: String) async throws {
        let work = TemporaryDirectory()
        let outside = work.file("outside")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try "precious".write(toFile: outside + "/victim", atomically: true, encoding: .utf8)
        let store = try ImageStore(root: work.file("root"))
        let before = StoreSnapshot(store)
        let archive = try craftedImage(kind, in: work, outside: outside)
        await expectFailure(message) { _ = try await store.load(archive: archive) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside) == ["victim"])
        #expect(try String(contentsOfFile: outside + "/victim", encoding: .utf8) == "precious")
        #expect(!FileManager.default.fileExists(atPath: "/escape-dotdot"))
        #expect(StoreSnapshot(store) == before, "the store is unchanged")
        for directory in ["snapshots", "blobs/sha256", "ingest"] {
            #expect(FileManager.default.fileExists(atPath: store.directory + "/" + directory))
        }
    }

    @Test func copyModeRefusesHostileLayersToo() async throws {
        let work = TemporaryDirectory()
        let outside = work.file("outside")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        let rootfs = work.file("rootfs")
        try FileManager.default.createDirectory(atPath: rootfs, withIntermediateDirectories: true)
        let archive = try craftedImage("symlink-escape", in: work, outside: outside)
        // unpack the layer blob straight from an extracted archive, in apply mode
        try run("tar", ["-C", work.path, "-xf", archive])
        let index = try JSONDecoder().decode(ImageIndex.self, from: Data(contentsOf: URL(fileURLWithPath: work.file("index.json"))))
        let manifestHex = try #require(Digest(index.manifests[0].digest)).encoded
        let manifest = try JSONDecoder().decode(ImageManifest.self, from: Data(contentsOf: URL(fileURLWithPath: work.file("blobs/sha256/\(manifestHex)"))))
        let layer = try #require(Digest(manifest.layers[0].digest))
        let unpacker = LayerUnpacker(destination: rootfs, mode: .apply)
        #expect(throws: ImageError.self) {
            _ = try unpacker.unpack(blobPath: work.file("blobs/sha256/\(layer.encoded)"), compression: .gzip,
                                    blobDigest: layer, diffID: nil, name: "test")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
    }
}
