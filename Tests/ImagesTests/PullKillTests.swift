import Foundation
import Testing

/// `berth pull` SIGKILLed at a sweep of moments (starting, fetching the manifest, the config, the layer, unpacking,
/// recording the image), each time into a store of its own, from the real registry on 127.0.0.1. Afterwards `images`
/// works and lists only whole images (each runs, its big file intact), every blob in the store hashes to its name,
/// and the next pull completes. (A writer that wrote blobs in place instead of through ingest/ and a rename makes
/// this fail at once.)
@Suite(.serialized) struct PullKillTests {
    @Test func pullKilledAtAnyMomentLeavesAUsableStore() throws {
        let berth = try #require(CommandLineTests.berth, "berth is built with the tests (swift build --build-tests)")
        let fixture = try BusyboxFixture()
        let registry = try LocalRegistry()
        let work = TemporaryDirectory("berth-killed-pull")
        // A layer of 24 MiB of random bytes on top, so that the kills land while blobs stream in and layers unpack.
        let bundle = work.file("bundle")
        try run("umoci", ["unpack", "--image", "\(fixture.layout):busybox", bundle])
        try run("/bin/sh", ["-c", "mkdir -p \(bundle)/rootfs/data && head -c 25165824 /dev/urandom > \(bundle)/rootfs/data/big"])
        let bigSum = String(try run("/usr/bin/sha256sum", [bundle + "/rootfs/data/big"]).output.prefix(64))
        try run("umoci", ["repack", "--image", "\(fixture.layout):busybox", bundle])
        try registry.push("oci:\(fixture.layout):busybox", as: "test/busybox:1")
        let image = "\(registry.host)/test/busybox:1"
        defer {
            _ = try? run("/bin/sh", ["-c", "grep -o ' \(work.path)[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l"],
                         allowFailure: true)
        }
        // The moments are fractions of a whole pull on this machine, from the start to past the end.
        let started = Date()
        try run(berth, ["--root", work.file("timing"), "--runroot", work.file("timing-run"), "pull", "-q", image])
        let whole = Date().timeIntervalSince(started)
        let delays = (0..<26).map { Double($0) / 20 }.map { UInt32($0 * whole * 1_000_000) }
        var listedAfterKill = 0
        for (round, delay) in delays.enumerated() {
            let store = ["--root", work.file("root\(round)"), "--runroot", work.file("run\(round)")]
            let pid = try spawn(berth, store + ["pull", "-q", image], stdout: "/dev/null")
            usleep(delay)
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}

            // Every blob the store holds is whole: its content hashes to its name.
            try expectBlobsVerify(work.file("root\(round)"), "after a kill at \(delay) µs")
            let listed = try run(berth, store + ["images", "--format", "{{.Repository}}:{{.Tag}}"], allowFailure: true)
            #expect(listed.status == 0, "images after a kill at \(delay) µs: \(listed.output)")
            if listed.output.contains(image) {
                listedAfterKill += 1
                let ran = try run(berth, store + ["run", "--rm", "--network", "none", image, "sha256sum", "/data/big"], allowFailure: true)
                #expect(ran.status == 0 && ran.output.hasPrefix(bigSum), "a listed image must run (kill at \(delay) µs): \(ran.output)")
            }
            let again = try run(berth, store + ["pull", "-q", image], allowFailure: true)
            #expect(again.status == 0, "pull after a kill at \(delay) µs: \(again.output)")
            try expectBlobsVerify(work.file("root\(round)"), "after the second pull (kill at \(delay) µs)")
            let ran = try run(berth, store + ["run", "--rm", "--network", "none", image, "sha256sum", "/data/big"], allowFailure: true)
            #expect(ran.status == 0 && ran.output.hasPrefix(bigSum), "after the second pull (kill at \(delay) µs): \(ran.output)")
            _ = try run(berth, store + ["rmi", "-f", image], allowFailure: true)
        }
        // The sweep reached the end: at the longest delays the first pull had finished.
        #expect(listedAfterKill > 0)
    }

    /// A blob torn by a crash (blobs are renamed into place without fsync, so after a power loss one can have its
    /// name and size and the wrong bytes, or be short): `run` says the stored blob is damaged instead of using it,
    /// and the next `pull` fetches it again and replaces it, for a layer and for the config alike.
    @Test func aTornBlobIsFetchedAgainByTheNextPull() throws {
        let berth = try #require(CommandLineTests.berth, "berth is built with the tests (swift build --build-tests)")
        let fixture = try BusyboxFixture()
        let registry = try LocalRegistry()
        let work = TemporaryDirectory("berth-torn-blob")
        try registry.push("oci:\(fixture.layout):busybox", as: "test/torn:1")
        let image = "\(registry.host)/test/torn:1"
        let root = work.file("root")
        let store = ["--root", root, "--runroot", work.file("run")]
        defer {
            _ = try? run("/bin/sh", ["-c", "grep -o ' \(work.path)[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l"],
                         allowFailure: true)
        }
        try run(berth, store + ["pull", "-q", image])
        let blobs = root + "/image/blobs/sha256"
        func blobsBySize() throws -> [(name: String, size: Int)] {
            try FileManager.default.contentsOfDirectory(atPath: blobs).map { name in
                (name, (try FileManager.default.attributesOfItem(atPath: blobs + "/" + name)[.size] as? Int) ?? 0)
            }.sorted { $0.size > $1.size }
        }
        let layer = try #require(try blobsBySize().first)
        let configDigest = try run(berth, store + ["image", "inspect", "-f", "{{.Id}}", image]).output
            .trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "sha256:", with: "")
        let tears = [
            "zeros": "dd if=/dev/zero of=\(blobs)/\(layer.name) bs=4096 seek=1 count=16 conv=notrunc 2>/dev/null",
            "short": "truncate -s \(layer.size / 2) \(blobs)/\(layer.name)",
            "config": "dd if=/dev/zero of=\(blobs)/\(configDigest) bs=1 count=8 conv=notrunc 2>/dev/null",
        ]
        for tear in ["zeros", "short", "config"] {
            // The tear, and the unpacked snapshots gone with it (they are made again from the blobs).
            try run("/bin/sh", ["-c", "\(tears[tear]!) && rm -rf \(root)/image/snapshots/*"])
            if tear == "zeros" {
                let refused = try run(berth, store + ["run", "--rm", "--network", "none", image, "true"], allowFailure: true)
                #expect(refused.status != 0 && refused.output.contains("the stored blob is damaged; pull or load the image again"), "\(tear): \(refused.output)")
            }
            let again = try run(berth, store + ["pull", "-q", image], allowFailure: true)
            #expect(again.status == 0, "pull after a \(tear) tear: \(again.output)")
            try expectBlobsVerify(root, "after the pull that follows a \(tear) tear")
            let ran = try run(berth, store + ["run", "--rm", "--network", "none", image, "echo", "whole"], allowFailure: true)
            #expect(ran.status == 0 && ran.output.contains("whole"), "\(tear): \(ran.output)")
        }
    }

    private func expectBlobsVerify(_ root: String, _ when: String) throws {
        let blobs = root + "/image/blobs/sha256"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: blobs)) ?? [] {
            let sum = try run("/usr/bin/sha256sum", [blobs + "/" + name]).output.prefix(64)
            #expect(sum == name, "\(when): blob \(name) holds \(sum)")
        }
    }
}
