import Foundation
@testable import Images
import OCISpec
import Testing

/// Each bad input fails with a clear error and leaves the store as it was: no image, no blob, no temporary file.
@Suite(.serialized) struct BadInputTests {
    /// A layer entry's name is quoted in unpack errors; a name holding a line break must not split the line.
    @Test func imageErrorQuotingALineBreakIsOneLine() {
        let error = ImageError("unpack layer", "sha256:abc", "entry \"a\nberth: forged\r/../x\" has a \"..\" component")
        #expect(!error.description.contains("\n") && !error.description.contains("\r"), "\(error)")
        #expect(error.description.contains(#"a\nberth: forged\r/../x"#), "\(error)")
    }

    @Test(arguments: [
        ("corrupt-blob", "digest mismatch"),
        ("missing-blob", "missing from the archive"),
        ("unknown-media-type", "unsupported layer media type application/vnd.example.unknown.layer"),
        // a layer may end after its last data byte, but not inside it (the digests match the cut bytes)
        ("truncated-entry", "etc/extra.txt: the layer ends inside this entry's data (600 of 1000 bytes)"),
        // an early end is no way around the diffID check
        ("no-padding-wrong-diffid", "diffID mismatch"),
    ])
    func badArchives(kind: String, message: String) async throws {
        let work = TemporaryDirectory()
        let store = try ImageStore(root: work.file("root"))
        let before = StoreSnapshot(store)
        let archive = try craftedImage(kind, in: work)
        await expectFailure(message) { _ = try await store.load(archive: archive) }
        #expect(StoreSnapshot(store) == before)
    }

    @Test func truncatedArchive() async throws {
        let fixture = try BusyboxFixture()
        let work = TemporaryDirectory()
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture.dockerArchive))
        let truncated = work.file("truncated.tar")
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: truncated))
        let store = try ImageStore(root: work.file("root"))
        let before = StoreSnapshot(store)
        await expectFailure("runcated") { _ = try await store.load(archive: truncated) }
        #expect(StoreSnapshot(store) == before)
    }

    @Test func notAnArchive() async throws {
        let work = TemporaryDirectory()
        try "hello".write(toFile: work.file("junk"), atomically: true, encoding: .utf8)
        let store = try ImageStore(root: work.file("root"))
        await expectFailure("load") { _ = try await store.load(archive: work.file("junk")) }
        await expectFailure("No such file") { _ = try await store.load(archive: work.file("absent.tar")) }
        #expect(try store.list().isEmpty)
    }

    @Test func corruptedBlobInStoreIsDetectedOnRead() async throws {
        let work = TemporaryDirectory()
        let store = try ImageStore(root: work.file("root"))
        let record = try await store.load(archive: try craftedImage("whiteouts", in: work))[0]
        let path = store.content.path(record.configDigest)
        try "{}".write(toFile: path, atomically: false, encoding: .utf8)
        await expectFailure("does not match its digest") { _ = try store.resolve("crafted/whiteouts") }
    }

    @Test(arguments: ["docker-archive", "oci-archive"])
    func saveRefusesACorruptedLayer(format: String) async throws {
        let work = TemporaryDirectory()
        let store = try ImageStore(root: work.file("root"))
        let record = try await store.load(archive: try craftedImage("whiteouts", in: work))[0]
        let layer = store.content.path(try #require(Digest(record.manifest.layers[0].digest)))
        var bytes = try Data(contentsOf: URL(fileURLWithPath: layer))
        bytes[bytes.count / 2] ^= 0xff
        try bytes.write(to: URL(fileURLWithPath: layer))
        await expectFailure(format == "oci-archive" ? "corrupted store" : "save") {
            try store.save(["crafted/whiteouts"], format: format, path: work.file("out.tar"))
        }
        #expect(!FileManager.default.fileExists(atPath: work.file("out.tar")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0.hasPrefix("out.tar") }.isEmpty)
    }

    @Test func unknownImage() throws {
        let work = TemporaryDirectory()
        let store = try ImageStore(root: work.file("root"))
        #expect(throws: ImageError.self) { try store.resolve("nothing:here") }
        #expect(throws: ImageError.self) { try store.tag("nothing", as: "x") }
    }
}
