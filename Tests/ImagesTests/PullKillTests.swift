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

    private func expectBlobsVerify(_ root: String, _ when: String) throws {
        let blobs = root + "/image/blobs/sha256"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: blobs)) ?? [] {
            let sum = try run("/usr/bin/sha256sum", [blobs + "/" + name]).output.prefix(64)
            #expect(sum == name, "\(when): blob \(name) holds \(sum)")
        }
    }
}
