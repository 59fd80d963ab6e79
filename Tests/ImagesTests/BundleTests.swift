import Foundation
@testable import Images
import OCISpec
import Testing

/// An image made locally, loaded (or pulled), runs from an overlay rootfs through an OCI runtime.
@Suite(.serialized) struct BundleTests {
    /// berth-runtime when it has been built, and runc, whichever are there.
    static var runtimes: [String] {
        var out: [String] = []
        let built = repositoryRoot + "/.build/debug/berth-runtime"
        if FileManager.default.isExecutableFile(atPath: built),
           (try? run(built, ["--version"], allowFailure: true))?.status == 0 { out.append(built) }
        for candidate in ["/usr/sbin/runc", "/usr/bin/runc"] where FileManager.default.isExecutableFile(atPath: candidate) {
            out.append(candidate)
            break
        }
        return out
    }

    @Test func loadedImageRunsOnOverlayRootfs() async throws {
        let fixture = try BusyboxFixture()
        let work = TemporaryDirectory()
        let store = try ImageStore(root: work.file("root"))
        _ = try await store.load(archive: fixture.dockerArchive)
        let runtimes = BundleTests.runtimes
        try #require(!runtimes.isEmpty, "no OCI runtime to run the bundle (apt-get install runc)")
        for (i, runtime) in runtimes.enumerated() {
            let bundle = try ImageBundle.create(store: store, image: "busybox", bundle: work.file("bundle\(i)"))
            #expect(bundle.overlay)
            #expect(FileManager.default.fileExists(atPath: bundle.path + "/config.json"))
            let id = "berth-images-test-\(getpid())-\(i)"
            let result = try run(runtime, ["run", "--bundle", bundle.path, id], allowFailure: true)
            _ = try? run(runtime, ["delete", "--force", id], allowFailure: true)
            #expect(result.status == 0, "\(runtime): \(result.output)")
            #expect(result.output.contains("hello from berth"), "\(runtime): \(result.output)")
            // the container wrote nothing into the shared snapshot
            try ImageBundle.remove(store: store, bundle: bundle.path)
        }
        #expect(mountsBelow(work.path).isEmpty)
        #expect((try FileManager.default.contentsOfDirectory(atPath: store.leasesDirectory)).isEmpty)
    }

    @Test func writesGoToTheUpperLayerOnly() async throws {
        let fixture = try BusyboxFixture()
        let work = TemporaryDirectory()
        let store = try ImageStore(root: work.file("root"))
        let record = try await store.load(archive: fixture.ociArchive)[0]
        let first = try ImageBundle.create(store: store, image: "busybox", bundle: work.file("one"))
        let second = try ImageBundle.create(store: store, image: "busybox", bundle: work.file("two"))
        try "changed".write(toFile: first.rootfs + "/etc/hostname", atomically: false, encoding: .utf8)
        #expect(try String(contentsOfFile: second.rootfs + "/etc/hostname", encoding: .utf8) == "berth\n")
        let snapshot = store.snapshots.path(record.diffIDs[0])
        #expect(try String(contentsOfFile: snapshot + "/etc/hostname", encoding: .utf8) == "berth\n")
        // a leased snapshot survives prune -a
        _ = try store.prune(all: true)
        #expect(FileManager.default.fileExists(atPath: snapshot))
        try ImageBundle.remove(store: store, bundle: first.path)
        try ImageBundle.remove(store: store, bundle: second.path)
        #expect(mountsBelow(work.path).isEmpty)
    }
}
