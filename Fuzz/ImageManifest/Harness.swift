// Fuzzes image-spec decoding: the same bytes as an image index, a manifest, an image config and a descriptor,
// as a pulled or loaded image presents them, and every digest and platform string they carry.
//
// Asserts: failures are SpecDecodingErrors on one line; what decodes survives re-encoding unchanged; a digest
// that parses is `sha256:`/`sha512:` with lower-case hex of the right length, so it is safe as a file name
// (the content store uses it as one), and prints back as the text it was parsed from.
import FoundationEssentials
import OCISpec

func roundTrips<T: Codable & Equatable>(_ type: T.Type, _ data: Data, file: String) -> T? {
    let value: T
    do {
        value = try SpecJSON.decode(type, from: data, file: file)
    } catch let error as SpecDecodingError {
        fuzzCheck(!error.description.contains("\n"), "a decoding error spans lines: \(error.description)")
        return nil
    } catch {
        fuzzCheck(false, "SpecJSON.decode(\(type)) threw something other than SpecDecodingError: \(error)")
        return nil
    }
    do {
        let again = try SpecJSON.decode(type, from: try SpecJSON.encode(value), file: file)
        fuzzCheck(again == value, "\(type) changes when re-encoded")
    } catch {
        fuzzCheck(false, "\(type) does not survive re-encoding: \(error)")
    }
    return value
}

func checkDigest(_ text: String) {
    guard let digest = Digest(text) else { return }
    let hexLength = digest.algorithm == "sha256" ? 64 : 128
    fuzzCheck(["sha256", "sha512"].contains(digest.algorithm), "digest algorithm \(digest.algorithm) accepted")
    fuzzCheck(digest.encoded.utf8.count == hexLength
              && digest.encoded.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) },
              "digest \(text) accepted with unsafe or wrong-length hex")
    fuzzCheck(digest.description == text, "digest \(text) prints back as \(digest.description)")
    fuzzCheck(!digest.description.contains("/"), "digest \(text) is not safe as a file name")
}

func checkDescriptor(_ descriptor: Descriptor) {
    checkDigest(descriptor.digest)
    if let platform = descriptor.platform, let parsed = Platform(parsing: platform.description) {
        if !platform.os.contains("/") && !platform.architecture.contains("/") && !(platform.variant ?? "").contains("/")
            && !platform.os.isEmpty && !platform.architecture.isEmpty && platform.variant != "" {
            fuzzCheck(parsed.os == platform.os && parsed.architecture == platform.architecture
                      && parsed.variant == platform.variant, "platform \(platform.description) parses differently")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let data = Data(bytes: bytes, count: size)
    if let index = roundTrips(ImageIndex.self, data, file: "index.json") {
        index.manifests.forEach(checkDescriptor)
        index.subject.map(checkDescriptor)
    }
    if let manifest = roundTrips(ImageManifest.self, data, file: "manifest") {
        checkDescriptor(manifest.config)
        manifest.layers.forEach(checkDescriptor)
    }
    if let config = roundTrips(ImageConfig.self, data, file: "image config") {
        config.rootfs.diff_ids.forEach { checkDigest($0) }
    }
    if let descriptor = roundTrips(Descriptor.self, data, file: "descriptor") { checkDescriptor(descriptor) }
    _ = roundTrips(ImageLayoutMarker.self, data, file: "oci-layout")
    if size < 300, let text = String(validating: UnsafeBufferPointer(start: bytes, count: size), as: UTF8.self) {
        checkDigest(text)
        if let platform = Platform(parsing: text) {
            fuzzCheck(!platform.os.isEmpty && !platform.architecture.isEmpty, "platform \(text) parses with an empty part")
        }
    }
    return 0
}
