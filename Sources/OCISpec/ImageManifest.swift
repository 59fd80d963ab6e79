/// An image manifest: one config and ordered layers (OCI `manifest.md`; also Docker schema2, whose JSON is the same
/// shape with Docker media types).
public struct ImageManifest: Codable, Sendable, Equatable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var artifactType: String?
    public var config: Descriptor
    public var layers: [Descriptor]
    public var subject: Descriptor?
    public var annotations: [String: String]?

    public init(mediaType: String = MediaType.ociManifest, config: Descriptor, layers: [Descriptor],
                annotations: [String: String]? = nil) {
        self.schemaVersion = 2; self.mediaType = mediaType; self.config = config; self.layers = layers
        self.annotations = annotations
    }
}

/// An image index: manifests for several platforms (OCI `image-index.md`; also the Docker manifest list), and the
/// top-level `index.json` of an OCI image layout.
public struct ImageIndex: Codable, Sendable, Equatable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var artifactType: String?
    public var manifests: [Descriptor]
    public var subject: Descriptor?
    public var annotations: [String: String]?

    public init(mediaType: String? = MediaType.ociIndex, manifests: [Descriptor], annotations: [String: String]? = nil) {
        self.schemaVersion = 2; self.mediaType = mediaType; self.manifests = manifests; self.annotations = annotations
    }
}

/// `oci-layout` at the root of an image layout.
public struct ImageLayoutMarker: Codable, Sendable, Equatable {
    public var imageLayoutVersion: String
    public init(imageLayoutVersion: String = "1.0.0") { self.imageLayoutVersion = imageLayoutVersion }
}

/// Well-known annotation keys.
public enum ImageAnnotation {
    /// The reference (tag) of a manifest in an image layout's index.json.
    public static let refName = "org.opencontainers.image.ref.name"
    /// The full image name, as containerd writes it in an OCI archive.
    public static let imageName = "io.containerd.image.name"
}
