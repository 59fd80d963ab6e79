import Foundation
@testable import Images
import Testing

/// Images written by the other image tools Debian has load into berth and run, and what berth saves loads back into
/// those tools. scripts/interop-corpus.sh builds the corpus from busybox-static with no network (umoci, skopeo,
/// buildah, podman, docker through a dockerd of its own, containerd through a containerd of its own) and does the
/// other tools' side of the round trip; see its header for what each tool writes.
///
/// A tool that is not installed, or whose daemon cannot start on a host, is reported with the reason (printed, as the
/// script says it) and does not fail the test; a tool that runs and then fails does. Known limits of the other tools,
/// reported and not failed, each detected from the tool's own error: umoci reads OCI layouts only (so not berth's
/// docker-archives), and umoci 0.4.7 reads neither zstd layers nor a manifest of docker's media type (what an OCI
/// archive that `ctr image export` wrote keeps when berth saves it again); docker 20.10 reads no zstd layers (berth's
/// OCI archive keeps a zstd image's layers as they are).
@Suite(.serialized) struct InteropTests {
    static let script = repositoryRoot + "/scripts/interop-corpus.sh"
    /// The archives each tool makes (scripts/interop-corpus.sh produce).
    static let expected: [(tool: String, programs: [String], archives: [String])] = [
        ("umoci", ["umoci", "skopeo"], ["umoci-layout", "umoci-oci", "umoci-docker"]),
        ("skopeo", ["skopeo", "umoci"], ["skopeo-zstd"]),
        ("buildah", ["buildah"], ["buildah-docker", "buildah-oci"]),
        ("podman", ["podman"], ["podman-docker", "podman-oci"]),
        ("docker", ["dockerd", "docker"], ["docker"]),
        ("containerd", ["containerd", "ctr"], ["containerd"]),
    ]
    static let consumers = ["skopeo", "podman", "umoci", "buildah", "docker", "containerd"]

    static func installed(_ program: String) -> Bool {
        ["/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/"].contains { FileManager.default.isExecutableFile(atPath: $0 + program) }
    }

    struct Archive {
        var name: String
        var format: String
        var file: String
        var what: String
    }

    @Test func imagesOfOtherToolsLoadRunAndGoBack() throws {
        let berth = try #require(CommandLineTests.berth, "berth is built with the tests (swift build --build-tests)")
        let runtime = try #require(BundleTests.runtimes.first, "no OCI runtime to run the bundles (apt-get install runc)")
        let work = TemporaryDirectory("berth-interop")

        // 1. the corpus
        try run("/bin/bash", [InteropTests.script, "produce", work.file("corpus")])
        var archives: [Archive] = []
        var skipped: [String: String] = [:]
        for line in try String(contentsOfFile: work.file("corpus/corpus.tsv"), encoding: .utf8).split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            switch fields.first {
            case "archive" where fields.count == 5:
                archives.append(Archive(name: fields[1], format: fields[2], file: fields[3], what: fields[4]))
            case "skip" where fields.count == 3:
                skipped[fields[1]] = fields[2]
                print("interop: \(fields[1]) makes no archive on this host: \(fields[2])")
            case "fail" where fields.count == 3:
                Issue.record("\(fields[1]) failed to make its images: \(fields[2])")
            default:
                Issue.record("unexpected line in corpus.tsv: \(line)")
            }
        }
        for tool in InteropTests.expected where skipped[tool.tool] == nil {
            guard tool.programs.allSatisfy(InteropTests.installed) else {
                Issue.record("\(tool.tool) is installed only in part and the script did not say why")
                continue
            }
            for name in tool.archives {
                #expect(archives.contains { $0.name == name }, "\(tool.tool) is installed but made no \(name) archive")
            }
        }

        // 2. each archive loads into a store of its own (so every layer is unpacked from it), runs, and is saved back
        var saved: [String] = []
        for (i, archive) in archives.enumerated() {
            let root = ["--root", work.file("root-\(archive.name)")]
            let loaded = try run(berth, ["load"] + root + ["-q", "-i", archive.file], allowFailure: true)
            guard loaded.status == 0, let id = loaded.output.split(separator: "\n").last.map(String.init),
                  id.hasPrefix("sha256:") else {
                Issue.record("\(archive.name) (\(archive.what)): berth load: \(loaded.output)")
                continue
            }
            if archive.name == "umoci-docker" {
                // the corpus covers what it is meant to: umoci's insert layer (stored uncompressed from a
                // docker-archive) ends right after its data, not on a 512-byte block
                let layers = try ImageStore(root: work.file("root-\(archive.name)")).resolve(id).manifest.layers
                #expect(layers.contains { $0.size % 512 != 0 }, "umoci's insert layer ends on a block: \(layers.map(\.size))")
            }
            let bundle = work.file("bundle-\(archive.name)")
            try run(berth, ["image", "bundle"] + root + [id, bundle, "/bin/busybox", "echo", "ok"])
            let container = "berth-interop-\(getpid())-\(i)"
            let state = ["--root", work.file("runtime-state")]
            let ran = try run(runtime, state + ["run", "--bundle", bundle, container], allowFailure: true)
            _ = try? run(runtime, state + ["delete", "--force", container], allowFailure: true)
            try run(berth, ["image", "unbundle"] + root + [bundle])
            #expect(ran.status == 0 && ran.output == "ok\n", "\(archive.name) (\(archive.what)) in \(runtime): \(ran.output)")

            let name = "localhost/berth-roundtrip:\(archive.name)"
            try run(berth, ["tag"] + root + [id, name])
            for format in ["docker-archive", "oci-archive"] {
                let out = work.file("saved-\(archive.name).\(format).tar")
                try run(berth, ["save"] + root + ["--format", format, "-o", out, name])
                saved.append("\(format)\t\(out)\t\(id)")
            }
        }
        #expect(mountsBelow(work.path).isEmpty, "bundles unmounted")
        try (saved.joined(separator: "\n") + "\n").write(toFile: work.file("saved.tsv"), atomically: true, encoding: .utf8)

        // 3. the other tools load what berth saved
        for tool in InteropTests.consumers {
            let result = try run("/bin/bash", [InteropTests.script, "consume", tool, work.file("consume"), work.file("saved.tsv")],
                                 allowFailure: true)
            #expect(result.status == 0, "\(tool): \(result.output)")
            let lines = result.output.split(separator: "\n").map(String.init)
            if lines.count == 1, lines[0].hasPrefix("skip \(tool):") {
                print("interop: \(lines[0])")
                continue
            }
            var answered = 0
            for line in lines {
                if line.hasPrefix("ok ") {
                    answered += 1
                } else if line.hasPrefix("skip ") {
                    answered += 1
                    #expect(InteropTests.knownLimit(tool: tool, line: line), "\(tool): not a known limit of the tool: \(line)")
                    print("interop: \(tool): \(line)")
                } else {
                    Issue.record("\(tool): \(line)")
                }
            }
            #expect(answered == saved.count, "\(tool) answered \(answered) of \(saved.count) archives:\n\(result.output)")
        }
        #expect(mountsBelow(work.path).isEmpty, "the tools' mounts are gone")
    }

    /// The other tools' limits the script reports instead of failing (each checked by hand on this host).
    static func knownLimit(tool: String, line: String) -> Bool {
        switch tool {
        case "umoci": line.contains(".docker-archive.tar: umoci reads OCI layouts only") ||
            line.contains(".oci-archive.tar: umoci 0.4.7 reads no zstd layers") ||
            line.contains(".oci-archive.tar: umoci 0.4.7 reads OCI manifests only")
        case "docker": line.contains(".oci-archive.tar: docker 20.10 reads no zstd layers")
        default: false
        }
    }
}
