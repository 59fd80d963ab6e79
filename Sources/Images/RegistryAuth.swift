import Foundation
import Linux

/// A `WWW-Authenticate` challenge (RFC 7235) as registries send it: `Bearer realm="…",service="…",scope="…"` or
/// `Basic realm="…"`.
struct AuthChallenge: Sendable, Equatable {
    var scheme: String
    var parameters: [String: String]

    init?(header: String) {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard let space = trimmed.firstIndex(of: " ") else {
            if trimmed.isEmpty { return nil }
            scheme = trimmed.lowercased(); parameters = [:]
            return
        }
        scheme = trimmed[..<space].lowercased()
        parameters = [:]
        var rest = Substring(trimmed[trimmed.index(after: space)...])
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let key = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                var end = rest.endIndex
                for index in rest.indices {
                    let c = rest[index]
                    if escaped { value.append(c); escaped = false; continue }
                    if c == "\\" { escaped = true; continue }
                    if c == "\"" { end = index; break }
                    value.append(c)
                }
                rest = end < rest.endIndex ? rest[rest.index(after: end)...] : ""
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            parameters[key] = value
        }
    }
}

/// Registry credentials saved by `berth login`: `<root>/auth.json`, mode 0600, in the docker config.json
/// shape (`{"auths":{"host":{"auth":"base64(user:password)"}}}`).
public struct CredentialStore: Sendable {
    public let path: String

    public init(root: String) { path = root + "/auth.json" }

    public struct Credentials: Sendable, Equatable {
        public var username: String
        public var password: String
        public init(username: String, password: String) { self.username = username; self.password = password }
        var basicHeader: String { "Basic " + Data("\(username):\(password)".utf8).base64EncodedString() }
    }

    struct File: Codable {
        var auths: [String: Entry]
        struct Entry: Codable { var auth: String }
    }

    public func credentials(for registry: String) -> Credentials? {
        guard let bytes = try? Files.readBytes(path),
              let file = try? JSONDecoder().decode(File.self, from: Data(bytes)),
              let entry = file.auths[registry],
              let decoded = Data(base64Encoded: entry.auth),
              let text = String(data: decoded, encoding: .utf8),
              let colon = text.firstIndex(of: ":") else { return nil }
        return Credentials(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
    }

    public func save(_ credentials: Credentials?, for registry: String) throws(ImageError) {
        var file = File(auths: [:])
        if let bytes = try? Files.readBytes(path), let existing = try? JSONDecoder().decode(File.self, from: Data(bytes)) {
            file = existing
        }
        if let credentials {
            file.auths[registry] = File.Entry(auth: Data("\(credentials.username):\(credentials.password)".utf8).base64EncodedString())
        } else {
            file.auths[registry] = nil
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let bytes: Data
        do { bytes = try encoder.encode(file) } catch { throw ImageError("encode", path, error) }
        try sys { () throws(SystemError) in try Files.replace(path, Array(bytes), mode: 0o600) }
    }
}
