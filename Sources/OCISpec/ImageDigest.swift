/// A content digest `algorithm:encoded` (image-spec `descriptor.md#digests`). Only sha256 and sha512 are accepted,
/// with lower-case hex of the right length, so a digest is always safe to use as a file name.
public struct Digest: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public let algorithm: String
    public let encoded: String

    public init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let algorithm = String(text[..<colon])
        let encoded = String(text[text.index(after: colon)...])
        let length: Int
        switch algorithm {
        case "sha256": length = 64
        case "sha512": length = 128
        default: return nil
        }
        guard encoded.utf8.count == length,
              encoded.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else { return nil }
        self.algorithm = algorithm
        self.encoded = encoded
    }

    public init(sha256Hex: String) throws(DigestError) {
        guard let digest = Digest("sha256:" + sha256Hex) else { throw DigestError(text: "sha256:" + sha256Hex) }
        self = digest
    }

    public var description: String { "\(algorithm):\(encoded)" }
    /// The first 12 hex characters, as `docker images` shows IDs.
    public var short: String { String(encoded.prefix(12)) }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let digest = Digest(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a valid digest: \(text)")
        }
        self = digest
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

public struct DigestError: Error, CustomStringConvertible, Sendable {
    public let text: String
    public var description: String { "not a valid digest: \(text)" }
}
