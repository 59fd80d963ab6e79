import Foundation
@testable import Images
import OCISpec
import Testing

/// Load, save and import with images made by umoci/skopeo from Debian's busybox-static.
@Suite(.serialized) struct ArchiveTests {
    @Test func loadsDockerArchiveAndOCIArchive() async throws {
        let fixture = try BusyboxFixture()
        let root = TemporaryDirectory()
        let store = try ImageStore(root: root.path)
        let fromDocker = try await store.load(archive: fixture.dockerArchive)
        #expect(fromDocker.count == 1)
        #expect(fromDocker[0].reference?.description == "docker.io/library/busybox:latest")
        let fromOCI = try await store.load(archive: fixture.ociArchive)
        #expect(fromOCI[0].configDigest == fromDocker[0].configDigest)
        let record = try store.resolve("busybox")
        #expect(record.config.config?.Cmd == ["/bin/sh", "-c", "echo hello from berth"])
        #expect(record.config.config?.Labels?["org.example.test"] == "busybox")
        let snapshot = store.snapshots.path(try #require(record.diffIDs.first))
        #expect(FileManager.default.isExecutableFile(atPath: snapshot + "/bin/busybox"))
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: snapshot + "/bin/sh")) == "busybox")
        // loading twice is idempotent
        _ = try await store.load(archive: fixture.dockerArchive)
        #expect(try store.list().count == 1)
    }

    @Test func savesArchivesThatSkopeoAndBerthRead() async throws {
        let fixture = try BusyboxFixture()
        let root = TemporaryDirectory()
        let store = try ImageStore(root: root.path)
        _ = try await store.load(archive: fixture.ociArchive)
        try store.tag("busybox", as: "example.com/saved:2")
        for format in ["docker-archive", "oci-archive"] {
            let out = root.file("saved-\(format).tar")
            try store.save(["example.com/saved:2"], format: format, path: out)
            let inspected = try run("skopeo", ["inspect", "--raw", "\(format):\(out)"])
            #expect(inspected.output.contains("schemaVersion"))
            let other = TemporaryDirectory()
            let again = try ImageStore(root: other.path)
            let loaded = try await again.load(archive: out)
            #expect(loaded.first?.reference?.description == "example.com/saved:2")
            #expect(loaded.first?.configDigest == (try store.resolve("example.com/saved:2")).configDigest)
        }
    }

    /// berth's OCI archive also carries a docker-archive manifest.json naming the same blobs (what docker 20.10 needs to
    /// load it): without oci-layout and index.json, it still loads, as a docker-archive, to the same image.
    @Test func ociArchiveIsADockerArchiveToo() async throws {
        let fixture = try BusyboxFixture()
        let root = TemporaryDirectory()
        let store = try ImageStore(root: root.path)
        let record = try await store.load(archive: fixture.ociArchive)[0]
        let saved = root.file("saved.tar"), out = root.file("without-layout.tar")
        try store.save(["busybox"], format: "oci-archive", path: saved)
        // (not GNU tar 1.34's --delete, which corrupted the layer blob of this archive when tried)
        let copy = "import sys, tarfile\nwith tarfile.open(sys.argv[1]) as src, tarfile.open(sys.argv[2], 'w') as dst:\n" +
            "    for m in src:\n        if m.name not in ('oci-layout', 'index.json'): dst.addfile(m, src.extractfile(m))\n"
        try run("python3", ["-c", copy, saved, out])
        let other = TemporaryDirectory()
        let loaded = try await ImageStore(root: other.path).load(archive: out)
        #expect(loaded.first?.configDigest == record.configDigest)
        #expect(loaded.first?.reference?.description == "docker.io/library/busybox:latest")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/podman"), "needs podman"))
    func interoperatesWithPodman() async throws {
        let work = TemporaryDirectory()
        let podman = ["--root", work.file("podman/root"), "--runroot", work.file("podman/run"), "--storage-driver", "vfs"]
        try run("/bin/sh", [repositoryRoot + "/scripts/make-busybox-rootfs.sh", work.file("rootfs")])
        try run("tar", ["-C", work.file("rootfs"), "-cf", work.file("rootfs.tar"), "."])
        try run("podman", podman + ["import", work.file("rootfs.tar"), "localhost/made-by-podman:1"])
        try run("podman", podman + ["save", "-o", work.file("podman-docker.tar"), "localhost/made-by-podman:1"])
        try run("podman", podman + ["save", "--format", "oci-archive", "-o", work.file("podman-oci.tar"),
                                    "localhost/made-by-podman:1"])
        let store = try ImageStore(root: work.file("root"))
        let fromDocker = try await store.load(archive: work.file("podman-docker.tar"))
        let fromOCI = try await store.load(archive: work.file("podman-oci.tar"))
        #expect(fromDocker[0].reference?.description == "localhost/made-by-podman:1")
        #expect(fromOCI[0].configDigest == fromDocker[0].configDigest)
        #expect(FileManager.default.fileExists(atPath: store.snapshots.path(fromDocker[0].diffIDs[0]) + "/bin/busybox"))

        try store.tag("localhost/made-by-podman:1", as: "localhost/back-to-podman:2")
        try store.save(["localhost/back-to-podman:2"], format: "docker-archive", path: work.file("berth.tar"))
        let loaded = try run("podman", podman + ["load", "-i", work.file("berth.tar")])
        #expect(loaded.output.contains("localhost/back-to-podman:2"))
        let images = try run("podman", podman + ["images", "--format", "{{.ID}}"]).output
        #expect(images.contains(String(fromDocker[0].configDigest.encoded.prefix(12))))
        try run("podman", podman + ["system", "reset", "-f"], allowFailure: true)
    }

    @Test func importsRootfsTarball() async throws {
        let work = TemporaryDirectory()
        try run("/bin/sh", [repositoryRoot + "/scripts/make-busybox-rootfs.sh", work.file("rootfs")])
        try run("tar", ["-C", work.file("rootfs"), "-czf", work.file("rootfs.tar.gz"), "."])
        let store = try ImageStore(root: work.file("root"))
        let record = try await store.importRootfs(work.file("rootfs.tar.gz"), reference: "imported/busybox:1")
        #expect(record.manifest.layers.count == 1)
        #expect(record.manifest.layers[0].digest == record.config.rootfs.diff_ids[0])
        #expect(try store.resolve("imported/busybox:1").configDigest == record.configDigest)
        let snapshot = store.snapshots.path(try #require(record.diffIDs.first))
        #expect(FileManager.default.fileExists(atPath: snapshot + "/bin/busybox"))
    }

    @Test func tagRemoveAndPrune() async throws {
        let fixture = try BusyboxFixture()
        let root = TemporaryDirectory()
        let store = try ImageStore(root: root.path)
        let record = try await store.load(archive: fixture.ociArchive)[0]
        try store.tag("busybox", as: "other:1")
        #expect(try store.list().count == 2)
        await expectFailure("multiple repositories") { _ = try store.remove(record.configDigest.short) }
        #expect(try store.remove("other:1") == ["Untagged: other:1"])
        let lines = try store.remove("busybox")
        #expect(lines.contains("Deleted: \(record.configDigest)"))
        #expect(try store.list().isEmpty)
        let left = StoreSnapshot(store)
        #expect(left.blobs.isEmpty && left.snapshots.isEmpty)
        // prune of an empty store is fine
        _ = try store.prune(all: true)
    }

    @Test func concurrentLoadsAgree() async throws {
        let fixture = try BusyboxFixture()
        let root = TemporaryDirectory()
        let store = try ImageStore(root: root.path)
        let archives = [fixture.ociArchive, fixture.dockerArchive]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<4 {
                let archive = archives[i % 2]
                group.addTask { _ = try await store.load(archive: archive) }
            }
            try await group.waitForAll()
        }
        #expect(try store.list().count == 1)
        #expect(StoreSnapshot(store).ingest.isEmpty)
    }

    @Test func pruneRacingLoadsNeverBreaksAnImage() async throws {
        let fixture = try BusyboxFixture()
        let root = TemporaryDirectory()
        let store = try ImageStore(root: root.path)
        let archive = fixture.dockerArchive
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<6 {
                group.addTask {
                    if i % 2 == 0 {
                        _ = try await store.load(archive: archive)
                    } else {
                        _ = try store.prune()
                    }
                }
            }
            try await group.waitForAll()
        }
        let record = try store.resolve("busybox")
        for layer in record.manifest.layers {
            #expect(store.content.has(try #require(Digest(layer.digest))))
        }
        for diffID in record.diffIDs { #expect(store.snapshots.has(diffID)) }
        let bundle = try ImageBundle.create(store: store, image: "busybox", bundle: root.file("bundle"))
        #expect(FileManager.default.fileExists(atPath: bundle.rootfs + "/bin/busybox"))
        try ImageBundle.remove(store: store, bundle: bundle.path)
    }
}
