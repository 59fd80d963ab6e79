import Foundation
@testable import Images
import Testing

/// The `berth` image commands as a user runs them (the binary built next to this test bundle).
@Suite(.serialized) struct CommandLineTests {
    static var berth: String? {
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        let path = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("berth").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    @Test func loadListTagSaveRemove() throws {
        let berth = try #require(CommandLineTests.berth, "berth is built with the tests (swift build --build-tests)")
        let fixture = try BusyboxFixture()
        let work = TemporaryDirectory()
        let root = ["--root", work.file("root")]
        #expect(try run(berth, ["load"] + root + ["-i", fixture.dockerArchive]).output == "Loaded image: busybox:latest\n")
        let id = try run(berth, ["images", "-q"] + root).output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.count == 12)
        try run(berth, ["tag"] + root + ["busybox", "example.com/team/bb:1"])
        let listing = try run(berth, ["images", "--format", "{{.Repository}}:{{.Tag}}"] + root).output
        #expect(listing.contains("busybox:latest") && listing.contains("example.com/team/bb:1"))
        #expect(try run(berth, ["history"] + root + ["busybox"]).output.contains("umoci"))
        let inspect = try run(berth, ["image", "inspect"] + root + ["busybox"]).output
        #expect(inspect.contains("\"Id\" : \"sha256:\(id)"))
        try run(berth, ["save"] + root + ["-o", work.file("out.tar"), "--format", "oci-archive", "busybox"])
        #expect(FileManager.default.fileExists(atPath: work.file("out.tar")))
        let missing = try run(berth, ["rmi"] + root + ["nothing:here"], allowFailure: true)
        #expect(missing.status == 1)
        #expect(missing.output == "berth: find image nothing:here: no such image\n")
        try run(berth, ["rmi"] + root + ["example.com/team/bb:1", "busybox"])
        #expect(try run(berth, ["images", "-q"] + root).output.isEmpty)
    }

    @Test func bundleAndUnbundle() throws {
        let berth = try #require(CommandLineTests.berth)
        let fixture = try BusyboxFixture()
        let work = TemporaryDirectory()
        let root = ["--root", work.file("root")]
        try run(berth, ["load"] + root + ["-i", fixture.ociArchive])
        let made = try run(berth, ["image", "bundle"] + root + ["busybox", work.file("bundle"), "/bin/echo", "hi"]).output
        #expect(made.contains("(overlay)"))
        let config = try String(contentsOfFile: work.file("bundle/config.json"), encoding: .utf8)
        #expect(config.contains("\"/bin/echo\""))
        try run(berth, ["image", "unbundle"] + root + [work.file("bundle")])
        #expect(mountsBelow(work.path).isEmpty)
        let failed = try run(berth, ["load"] + root + ["-i", work.file("absent.tar")], allowFailure: true)
        #expect(failed.status == 1 && failed.output.hasPrefix("berth: load "))
    }
}
