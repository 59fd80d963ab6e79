import Foundation
@testable import Images
import OCISpec
import Testing

@Suite struct ReferenceTests {
    @Test func dockerHubDefaults() throws {
        let busybox = try ImageReference(parsing: "busybox")
        #expect(busybox.description == "docker.io/library/busybox:latest")
        #expect(busybox.familiarName == "busybox")
        let user = try ImageReference(parsing: "someone/tool:1.2")
        #expect(user.description == "docker.io/someone/tool:1.2")
    }

    @Test func registryWithPortAndDigest() throws {
        let digest = "sha256:" + String(repeating: "ab", count: 32)
        let reference = try ImageReference(parsing: "127.0.0.1:5000/team/app:v1@\(digest)")
        #expect(reference.registry == "127.0.0.1:5000")
        #expect(reference.repository == "team/app")
        #expect(reference.tag == "v1")
        #expect(reference.digest?.description == digest)
        let local = try ImageReference(parsing: "localhost/app")
        #expect(local.registry == "localhost" && local.tag == "latest")
    }

    @Test(arguments: ["", "UPPER/case", "a//b", "name:bad tag", "x@sha256:short", "-lead"])
    func rejectsInvalid(_ text: String) {
        #expect(throws: ImageError.self) { try ImageReference(parsing: text) }
    }

    @Test func digestsAreStrict() {
        #expect(Digest("sha256:" + String(repeating: "0", count: 64)) != nil)
        #expect(Digest("sha256:" + String(repeating: "A", count: 64)) == nil)
        #expect(Digest("sha256:../../etc/passwd") == nil)
        #expect(Digest("md5:abc") == nil)
    }

    @Test func sha256MatchesKnownVector() {
        #expect(SHA256.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func parsesChallenges() throws {
        let bearer = try #require(AuthChallenge(header: #"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#))
        #expect(bearer.scheme == "bearer")
        #expect(bearer.parameters["realm"] == "https://auth.example/token")
        #expect(bearer.parameters["scope"] == "repository:a/b:pull")
        let basic = try #require(AuthChallenge(header: #"Basic realm="x""#))
        #expect(basic.scheme == "basic")
    }

    @Test func choosesPlatform() throws {
        let manifests = [
            Descriptor(mediaType: MediaType.ociManifest, digest: "sha256:" + String(repeating: "1", count: 64), size: 1,
                       platform: Platform(architecture: "arm64", os: "linux", variant: "v8")),
            Descriptor(mediaType: MediaType.ociManifest, digest: "sha256:" + String(repeating: "2", count: 64), size: 1,
                       platform: Platform(architecture: "amd64", os: "linux")),
        ]
        let arm = try PlatformSelection.choose(from: manifests, platform: Platform(parsing: "linux/arm64"), subject: "t")
        #expect(arm.digest.hasSuffix("1111"))
        let amd = try PlatformSelection.choose(from: manifests, platform: Platform(parsing: "linux/amd64"), subject: "t")
        #expect(amd.digest.hasSuffix("2222"))
        #expect(throws: ImageError.self) {
            try PlatformSelection.choose(from: manifests, platform: Platform(parsing: "linux/s390x"), subject: "t")
        }
    }

    @Test func imageConfigBecomesRuntimeConfig() throws {
        let root = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: root.file("etc"), withIntermediateDirectories: true)
        try "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n".write(toFile: root.file("etc/passwd"), atomically: true, encoding: .utf8)
        try "root:x:0:\nstaff:x:50:\nwheel:x:10:root,app\naudio:x:29:app\n".write(toFile: root.file("etc/group"), atomically: true, encoding: .utf8)
        var execution = ImageConfig.Execution(Env: ["A=1"], Entrypoint: ["/entry"], Cmd: ["arg"], WorkingDir: "/work",
                                              User: "app:staff")
        execution.ExposedPorts = ["80/tcp": EmptyObject(), "53/udp": EmptyObject()]
        execution.Labels = ["l": "v"]
        execution.StopSignal = "SIGINT"
        let config = ImageConfig(architecture: "amd64", os: "linux", config: execution, rootfs: .init(diffIDs: []))
        let spec = try RuntimeConfigBuilder.spec(for: config, rootfs: root.path)
        #expect(spec.process?.args == ["/entry", "arg"])
        #expect(spec.process?.cwd == "/work")
        #expect(spec.process?.user.uid == 1000 && spec.process?.user.gid == 50)
        #expect(spec.process?.env?.contains("A=1") == true)
        #expect(spec.process?.env?.contains("HOME=/home/app") == true)
        #expect(spec.process?.user.additionalGids == [10, 29])
        #expect(spec.process?.env?.contains { $0.hasPrefix("PATH=") } == true)
        #expect(spec.annotations?["l"] == "v")
        #expect(spec.annotations?["org.opencontainers.image.exposedPorts"] == "53/udp,80/tcp")
        #expect(spec.annotations?["org.opencontainers.image.stopSignal"] == "SIGINT")
        #expect(throws: ImageError.self) {
            var bad = config
            bad.config?.User = "nobody-here"
            _ = try RuntimeConfigBuilder.spec(for: bad, rootfs: root.path)
        }
    }
}
