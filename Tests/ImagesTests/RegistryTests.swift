import Foundation
@testable import Images
import OCISpec
import Testing

/// Pulls from the real distribution registry (Debian's docker-registry) seeded with skopeo, and from
/// scripts/fake-registry.py for token auth and every failure a registry can answer with.
@Suite(.serialized) struct RegistryTests {
    @Test func pullsFromRealRegistry() async throws {
        let fixture = try BusyboxFixture()
        let registry = try LocalRegistry()
        try registry.push("oci:\(fixture.layout):busybox", as: "test/busybox:1")
        let root = TemporaryDirectory()
        let store = try ImageStore(root: root.path)
        let events = EventLog()
        let record = try await store.pull("\(registry.host)/test/busybox:1") { events.add($0) }
        #expect(record.reference?.description == "\(registry.host)/test/busybox:1")
        #expect(record.config.config?.Cmd == ["/bin/sh", "-c", "echo hello from berth"])
        #expect(events.names.contains("finished"))
        #expect(FileManager.default.fileExists(atPath: store.snapshots.path(record.diffIDs[0]) + "/bin/busybox"))

        // the same image loaded from the archive has the same ID
        let other = TemporaryDirectory()
        let loaded = try await ImageStore(root: other.path).load(archive: fixture.ociArchive)
        #expect(loaded[0].configDigest == record.configDigest)

        // a second pull downloads nothing; a pull by digest resolves to the same image
        let again = EventLog()
        _ = try await store.pull("\(registry.host)/test/busybox:1") { again.add($0) }
        #expect(!again.names.contains("layerStarted"))
        let byDigest = try await store.pull("\(registry.host)/test/busybox@\(record.manifestDigest)")
        #expect(byDigest.configDigest == record.configDigest)

        // Docker schema2 (skopeo converts the manifest; the config and layers are the same content)
        try registry.push("oci:\(fixture.layout):busybox", as: "test/busybox:v2s2", format: "v2s2")
        let docker = try await store.pull("\(registry.host)/test/busybox:v2s2")
        #expect(docker.manifestMediaType == MediaType.dockerManifest)
        #expect(docker.diffIDs == record.diffIDs)
    }

    @Test func pullsPlatformFromIndex() async throws {
        let work = TemporaryDirectory()
        let registry = try LocalRegistry()
        let archive = try craftedImage("multiarch", in: work)
        try run("skopeo", ["--insecure-policy", "copy", "-q", "--all", "--dest-tls-verify=false",
                           "oci-archive:\(archive)", "docker://\(registry.host)/multi:1"])
        let store = try ImageStore(root: work.file("root"))
        var options = PullOptions()
        options.platform = Platform(parsing: "linux/arm64")
        let arm = try await store.pull("\(registry.host)/multi:1", options: options)
        #expect(arm.config.architecture == "arm64")
        let content = try String(contentsOfFile: store.snapshots.path(arm.diffIDs[0]) + "/arch", encoding: .utf8)
        #expect(content == "arm64")
        // the same as a Docker manifest list of schema2 manifests
        try run("skopeo", ["--insecure-policy", "copy", "-q", "--all", "--format", "v2s2", "--dest-tls-verify=false",
                           "oci-archive:\(archive)", "docker://\(registry.host)/multi:v2"])
        let dockerArm = try await store.pull("\(registry.host)/multi:v2", options: options)
        #expect(dockerArm.manifestMediaType == MediaType.dockerManifest)
        #expect(dockerArm.config.architecture == "arm64")
        options.platform = Platform(parsing: "linux/amd64")
        #expect(try await store.pull("\(registry.host)/multi:v2", options: options).config.architecture == "amd64")
        options.platform = Platform(parsing: "linux/riscv64")
        await expectFailure("no manifest for linux/riscv64") { _ = try await store.pull("\(registry.host)/multi:1", options: options) }
    }

    @Test func bearerTokenAnonymousAndWithLogin() async throws {
        let fixture = try BusyboxFixture()
        let anonymous = try FakeRegistry(mode: "token", layout: fixture.layout)
        let root = TemporaryDirectory()
        let store = try ImageStore(root: root.path)
        let record = try await store.pull("\(anonymous.host)/any/busybox:busybox")
        #expect(record.manifest.layers.count == 1)

        let guarded = try FakeRegistry(mode: "token", layout: fixture.layout, credentials: "user:secret")
        let second = TemporaryDirectory()
        let store2 = try ImageStore(root: second.path)
        await expectFailure("token server answered 401") { _ = try await store2.pull("\(guarded.host)/any/busybox:busybox") }
        await expectFailure("401") { try await store2.login(registry: guarded.host, username: "user", password: "wrong") }
        try await store2.login(registry: guarded.host, username: "user", password: "secret")
        let pulled = try await store2.pull("\(guarded.host)/any/busybox:busybox")
        #expect(pulled.configDigest == record.configDigest)
        var st = stat()
        #expect(stat(second.path + "/auth.json", &st) == 0 && st.st_mode & 0o777 == 0o600)
    }

    @Test func basicAuthWithLogin() async throws {
        let fixture = try BusyboxFixture()
        let registry = try FakeRegistry(mode: "basic", layout: fixture.layout, credentials: "u:p")
        let root = TemporaryDirectory()
        let store = try ImageStore(root: root.path)
        await expectFailure("berth login") { _ = try await store.pull("\(registry.host)/b/busybox:busybox") }
        try await store.login(registry: registry.host, username: "u", password: "p")
        _ = try await store.pull("\(registry.host)/b/busybox:busybox")
        try store.logout(registry: registry.host)
        #expect(CredentialStore(root: store.root).credentials(for: registry.host) == nil)
    }

    @Test(arguments: [
        ("401", "token server answered 401"),
        ("404", "404 Not Found: MANIFEST_UNKNOWN"),
        ("500", "500 Internal Server Error"),
        ("hang", "timed out"),
        ("badblob", "digest mismatch"),
    ])
    func registryFailuresLeaveStoreUnchanged(mode: String, message: String) async throws {
        let fixture = try BusyboxFixture()
        let registry = try FakeRegistry(mode: mode, layout: fixture.layout)
        let root = TemporaryDirectory()
        let store = try ImageStore(root: root.path)
        let before = StoreSnapshot(store)
        var options = PullOptions()
        options.timeout = 2
        let started = Date()
        await expectFailure(message) { _ = try await store.pull("\(registry.host)/x/busybox:busybox", options: options) }
        #expect(Date().timeIntervalSince(started) < 20)
        #expect(StoreSnapshot(store) == before)
    }

    @Test(arguments: [
        ("unknown-media-type", "unsupported layer media type application/vnd.example.unknown.layer"),
        ("corrupt-blob", "digest mismatch"),
        ("missing-blob", "404 Not Found: BLOB_UNKNOWN"),
    ])
    func badImagesInARegistry(kind: String, message: String) async throws {
        let work = TemporaryDirectory()
        let layout = work.file("layout")
        try FileManager.default.createDirectory(atPath: layout, withIntermediateDirectories: true)
        try run("tar", ["-C", layout, "-xf", try craftedImage(kind, in: work)])
        let registry = try FakeRegistry(mode: "token", layout: layout)
        let store = try ImageStore(root: work.file("root"))
        let before = StoreSnapshot(store)
        await expectFailure(message) { _ = try await store.pull("\(registry.host)/crafted/\(kind):latest") }
        #expect(StoreSnapshot(store) == before)
    }

    @Test func retriesABlobAfterA503() async throws {
        let fixture = try BusyboxFixture()
        let registry = try FakeRegistry(mode: "flaky", layout: fixture.layout)
        let root = TemporaryDirectory()
        let store = try ImageStore(root: root.path)
        let record = try await store.pull("\(registry.host)/x/busybox:busybox")
        #expect(store.snapshots.has(record.diffIDs[0]))
        #expect(StoreSnapshot(store).ingest.isEmpty)
    }

    @Test func connectionRefused() async throws {
        let root = TemporaryDirectory()
        let store = try ImageStore(root: root.path)
        let port = try freePort()
        await expectFailure("connection refused") { _ = try await store.pull("127.0.0.1:\(port)/x:1") }
    }
}

final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [String] = []
    func add(_ event: PullEvent) {
        let name: String
        switch event {
        case .resolved: name = "resolved"
        case .layerExists: name = "layerExists"
        case .layerStarted: name = "layerStarted"
        case .layerProgress: name = "layerProgress"
        case .layerDownloaded: name = "layerDownloaded"
        case .layerUnpacked: name = "layerUnpacked"
        case .finished: name = "finished"
        }
        lock.withLock { events.append(name) }
    }
    var names: [String] { lock.withLock { events } }
}
