import OCISpec

/// A normalised image reference: `registry/repository[:tag][@digest]`, with Docker's defaults
/// (`busybox` is `docker.io/library/busybox:latest`).
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    public var registry: String
    public var repository: String
    public var tag: String?
    public var digest: Digest?

    public static let defaultRegistry = "docker.io"

    public init(registry: String, repository: String, tag: String?, digest: Digest? = nil) {
        self.registry = registry; self.repository = repository; self.tag = tag; self.digest = digest
    }

    /// Parses and normalises `text`; fails on anything the distribution spec's grammar does not allow.
    public init(parsing text: String) throws(ImageError) {
        var rest = Substring(text)
        var digest: Digest?
        if let at = rest.firstIndex(of: "@") {
            guard let parsed = Digest(String(rest[rest.index(after: at)...])) else {
                throw ImageError("parse reference", text, "invalid digest")
            }
            digest = parsed
            rest = rest[..<at]
        }
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            tag = String(rest[rest.index(after: colon)...])
            rest = rest[..<colon]
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !components.isEmpty, components.allSatisfy({ !$0.isEmpty }) else {
            throw ImageError("parse reference", text, "empty name component")
        }
        var registry = ImageReference.defaultRegistry
        if components.count > 1,
           components[0].contains(".") || components[0].contains(":") || components[0] == "localhost" {
            registry = components.removeFirst()
        }
        if registry == "index.docker.io" || registry == "registry-1.docker.io" { registry = ImageReference.defaultRegistry }
        if registry == ImageReference.defaultRegistry && components.count == 1 { components.insert("library", at: 0) }
        for component in components {
            guard ImageReference.validComponent(component) else {
                throw ImageError("parse reference", text, "invalid repository name component \"\(component)\"")
            }
        }
        if let tag {
            guard ImageReference.validTag(tag) else { throw ImageError("parse reference", text, "invalid tag \"\(tag)\"") }
        }
        self.registry = registry
        self.repository = components.joined(separator: "/")
        self.tag = (tag == nil && digest == nil) ? "latest" : tag
        self.digest = digest
    }

    /// `registry/repository`.
    public var name: String { registry + "/" + repository }

    public var description: String {
        var out = name
        if let tag { out += ":" + tag }
        if let digest { out += "@" + digest.description }
        return out
    }

    /// How `docker images` shows the repository: without `docker.io/library/`.
    public var familiarName: String {
        if registry == ImageReference.defaultRegistry {
            return repository.hasPrefix("library/") ? String(repository.dropFirst(8)) : repository
        }
        return name
    }

    /// The whole reference as docker prints it (`Untagged: busybox:latest`).
    public var familiar: String {
        var out = familiarName
        if let tag { out += ":" + tag }
        if let digest { out += "@" + digest.description }
        return out
    }

    static func validComponent(_ text: String) -> Bool {
        // [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
        let bytes = Array(text.utf8)
        guard let first = bytes.first, let last = bytes.last, isAlnum(first), isAlnum(last) else { return false }
        return bytes.allSatisfy { isAlnum($0) || $0 == 0x2e || $0 == 0x5f || $0 == 0x2d }
    }

    static func validTag(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...128).contains(bytes.count), let first = bytes.first,
              isAlnum(first) || first == 0x5f || (first >= 0x41 && first <= 0x5a) else { return false }
        return bytes.allSatisfy { isAlnum($0) || ($0 >= 0x41 && $0 <= 0x5a) || $0 == 0x2e || $0 == 0x5f || $0 == 0x2d }
    }

    private static func isAlnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) }
}
