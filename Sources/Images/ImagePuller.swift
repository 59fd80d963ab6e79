import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import OCISpec

/// What a pull reports as it goes, for the CLI's progress display.
public enum PullEvent: Sendable {
    case resolved(reference: String, manifest: Digest, layers: Int)
    case layerExists(Digest)
    case layerStarted(Digest, size: Int64)
    case layerProgress(Digest, received: Int64, size: Int64)
    case layerDownloaded(Digest)
    case layerUnpacked(Digest)
    case finished(ImageRecord)
}

/// Options of `berth pull`.
public struct PullOptions: Sendable {
    public var insecure = false
    public var platform: Platform?
    /// Idle timeout of each request, in seconds.
    public var timeout: TimeInterval = 30
    /// Blob downloads in flight at once.
    public var parallel = 3
    public init() {}
}

extension ImageStore {
    /// Pulls `reference` from its registry: resolves the manifest (choosing the platform from an index or manifest
    /// list), downloads config and layers in parallel, each verified against its digest, unpacks each layer into its
    /// snapshot as soon as it is down, and only then makes the image visible. A failure leaves no partial image.
    public func pull(_ text: String, options: PullOptions = PullOptions(),
                     events: @escaping @Sendable (PullEvent) -> Void = { _ in }) async throws -> ImageRecord {
        let reference = try ImageReference(parsing: text)
        let credentials = CredentialStore(root: root).credentials(for: reference.registry)
        let client = try RegistryClient(registry: reference.registry, credentials: credentials,
                                        options: .init(insecure: options.insecure, timeout: options.timeout))
        return try await transaction { transaction in
            try await ImagePuller(store: self, client: client, reference: reference, options: options, events: events,
                                  transaction: transaction).run()
        }
    }
}

struct ImagePuller {
    let store: ImageStore
    let client: RegistryClient
    let reference: ImageReference
    let options: PullOptions
    let events: @Sendable (PullEvent) -> Void
    let transaction: ContentTransaction

    static let manifestAccept = [MediaType.ociIndex, MediaType.dockerManifestList, MediaType.ociManifest,
                                 MediaType.dockerManifest]
    static let manifestLimit = 4 << 20

    var scope: String { RegistryClient.scope(reference.repository) }

    func run() async throws -> ImageRecord {
        var (digest, mediaType, body) = try await fetchManifest(reference.digest?.description ?? reference.tag ?? "latest",
                                                                expected: reference.digest)
        if MediaType.indexTypes.contains(mediaType) {
            let index: ImageIndex
            do { index = try SpecJSON.decode(ImageIndex.self, from: body, file: "index \(digest)") } catch {
                throw ImageError("pull", reference.description, error)
            }
            let chosen = try PlatformSelection.choose(from: index.manifests, platform: options.platform,
                                                      subject: reference.description)
            guard let chosenDigest = Digest(chosen.digest) else {
                throw ImageError("pull", chosen.digest, "invalid manifest digest in index")
            }
            (digest, mediaType, body) = try await fetchManifest(chosenDigest.description, expected: chosenDigest)
        }
        guard MediaType.manifestTypes.contains(mediaType) else {
            throw ImageError("pull", reference.description, "unsupported manifest media type \(mediaType)")
        }
        let manifest: ImageManifest
        do { manifest = try SpecJSON.decode(ImageManifest.self, from: body, file: "manifest \(digest)") } catch {
            throw ImageError("pull", reference.description, error)
        }
        for layer in manifest.layers where MediaType.layerCompression(layer.mediaType) == nil {
            throw ImageError("pull", layer.digest, "unsupported layer media type \(layer.mediaType)")
        }
        guard MediaType.configTypes.contains(manifest.config.mediaType) else {
            throw ImageError("pull", manifest.config.digest, "unsupported config media type \(manifest.config.mediaType)")
        }
        events(.resolved(reference: reference.description, manifest: digest, layers: manifest.layers.count))

        guard let configDigest = Digest(manifest.config.digest) else {
            throw ImageError("pull", manifest.config.digest, "invalid config digest")
        }
        let config = try await fetchConfig(configDigest, size: manifest.config.size)
        let diffIDs = config.rootfs.diff_ids.compactMap(Digest.init)
        guard diffIDs.count == manifest.layers.count, diffIDs.count == config.rootfs.diff_ids.count else {
            throw ImageError("pull", reference.description,
                             "config lists \(config.rootfs.diff_ids.count) diffIDs for \(manifest.layers.count) layers")
        }
        try await fetchLayers(manifest.layers, diffIDs: diffIDs)
        try store.put(Array(body), expected: digest, transaction: transaction)
        let record = try store.commitImage(manifestDigest: digest, mediaType: mediaType, references: [reference],
                                           transaction: transaction)
        events(.finished(record))
        return record
    }

    /// GET a manifest by tag or digest; verifies the digest when one is expected.
    func fetchManifest(_ tagOrDigest: String, expected: Digest?) async throws -> (Digest, String, Data) {
        let (body, response) = try await client.get("\(reference.repository)/manifests/\(tagOrDigest)", scope: scope,
                                                    accept: ImagePuller.manifestAccept)
        guard response.statusCode == 200 else {
            throw client.failure("pull", reference.description, response, body)
        }
        guard body.count <= ImagePuller.manifestLimit else {
            throw ImageError("pull", reference.description, "manifest larger than \(ImagePuller.manifestLimit) bytes")
        }
        let digest = try Digest(sha256Hex: SHA256.hex(of: Array(body)))
        if let expected, expected != digest {
            throw ImageError("pull", reference.description, "manifest digest mismatch: got \(digest), expected \(expected)")
        }
        var mediaType = response.value(forHTTPHeaderField: "Content-Type")?
            .split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        struct Probe: Decodable { var mediaType: String? }
        if let inBody = (try? JSONDecoder().decode(Probe.self, from: body))?.mediaType { mediaType = inBody }
        guard MediaType.indexTypes.contains(mediaType) || MediaType.manifestTypes.contains(mediaType) else {
            throw ImageError("pull", reference.description, "unsupported manifest media type \"\(mediaType)\"")
        }
        return (digest, mediaType, body)
    }

    /// The image config, fetched unless stored; a stored copy torn by a crash (blobs are not fsynced) fails its
    /// digest check when decoded and is fetched again, replacing it.
    func fetchConfig(_ digest: Digest, size: Int64) async throws -> ImageConfig {
        let fetched = try await fetchBlob(digest, size: size, quiet: true)
        if !fetched, let stored = try? store.content.decode(ImageConfig.self, digest) { return stored }
        if !fetched { try await fetchBlob(digest, size: size, quiet: true, replacing: true) }
        return try store.content.decode(ImageConfig.self, digest)
    }

    /// Downloads a blob unless the store has it at its size; says whether it downloaded. `replacing`: download
    /// even so (the stored copy failed its digest check).
    @discardableResult
    func fetchBlob(_ digest: Digest, size: Int64, quiet: Bool, replacing: Bool = false) async throws -> Bool {
        if !replacing, store.content.size(digest) == size {
            if !quiet { events(.layerExists(digest)) }
            return false
        }
        let writer = try store.content.writer(expected: digest, expectedSize: size)
        if !quiet { events(.layerStarted(digest, size: size)) }
        let counter = ByteCounter()
        let events = self.events
        do {
            try await client.download(repository: reference.repository, digest: digest, into: writer) { bytes in
                let received = counter.add(bytes)
                if !quiet { events(.layerProgress(digest, received: received, size: size)) }
            }
        } catch {
            writer.abort()   // now: the URLSession may hold the delegate (and so the writer) a while longer
            throw error
        }
        let result = try writer.commit()
        if result.created { transaction.added(blob: digest) }
        if !quiet { events(.layerDownloaded(digest)) }
        return true
    }

    /// Downloads layers `options.parallel` at a time and unpacks each into its snapshot (off the cooperative pool).
    func fetchLayers(_ layers: [Descriptor], diffIDs: [Digest]) async throws {
        let puller = self
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func launch() {
                let i = next
                next += 1
                group.addTask {
                    guard let digest = Digest(layers[i].digest) else {
                        throw ImageError("pull", layers[i].digest, "invalid layer digest")
                    }
                    if puller.store.snapshots.has(diffIDs[i]) && puller.store.content.has(digest) {
                        puller.events(.layerExists(digest))
                        return
                    }
                    let fetched = try await puller.fetchBlob(digest, size: layers[i].size, quiet: false)
                    do { try await puller.unpack(layers[i], diffID: diffIDs[i], digest: digest) } catch where !fetched {
                        // The stored blob has the right size but not the right content (torn by a crash):
                        // unpacking verifies the digest; a fresh copy replaces it.
                        try await puller.fetchBlob(digest, size: layers[i].size, quiet: false, replacing: true)
                        try await puller.unpack(layers[i], diffID: diffIDs[i], digest: digest)
                    }
                }
            }
            while next < min(layers.count, max(1, options.parallel)) { launch() }
            while try await group.next() != nil {
                if next < layers.count { launch() }
            }
        }
    }

    func unpack(_ layer: Descriptor, diffID: Digest, digest: Digest) async throws {
        let snapshots = store.snapshots
        let transaction = self.transaction
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async {
                do throws(ImageError) {
                    if try snapshots.prepare(layer: layer, diffID: diffID) { transaction.added(snapshot: diffID) }
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
        events(.layerUnpacked(digest))
    }
}

/// Bytes received so far by one download.
final class ByteCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var total: Int64 = 0
    func add(_ bytes: Int64) -> Int64 { lock.withLock { total += bytes; return total } }
}

extension ImageStore {
    /// `berth login`: checks the credentials against the registry, then saves them.
    public func login(registry: String, username: String, password: String, insecure: Bool = false,
                      timeout: TimeInterval = 30) async throws {
        let credentials = CredentialStore.Credentials(username: username, password: password)
        let client = try RegistryClient(registry: registry, credentials: credentials,
                                        options: .init(insecure: insecure, timeout: timeout))
        try await client.ping()
        try CredentialStore(root: root).save(credentials, for: registry)
    }

    public func logout(registry: String) throws(ImageError) {
        try CredentialStore(root: root).save(nil, for: registry)
    }
}
