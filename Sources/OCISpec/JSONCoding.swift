#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A JSON document that could not be decoded, with the path of the offending field (`process.user.uid`).
public struct SpecDecodingError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let fieldPath: String
    public let reason: String
    public init(file: String, fieldPath: String, reason: String) {
        self.file = file; self.fieldPath = fieldPath; self.reason = reason
    }
    /// One line, always: keys and values quoted from the document may hold line breaks.
    public var description: String {
        SpecText.oneLine(fieldPath.isEmpty ? "\(file): \(reason)" : "\(file): field \(fieldPath): \(reason)")
    }
}

public enum SpecText {
    /// `text` with CR and LF written as `\r` and `\n`, so an error quoting input prints as one line.
    public static func oneLine(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) else { return text }
        return text.replacing("\r", with: "\\r").replacing("\n", with: "\\n")
    }
}

public enum SpecJSON {
    /// Decodes `T`, turning Foundation's DecodingError into an error that names the JSON path.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, file: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw describe(error, file: file)
        }
    }

    public static func encode<T: Encodable>(_ value: T, pretty: Bool = false) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    static func path(_ codingPath: [any CodingKey]) -> String {
        var out = ""
        for key in codingPath {
            if let index = key.intValue {
                out += "[\(index)]"
            } else {
                out += out.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return out
    }

    static func describe(_ error: DecodingError, file: String) -> SpecDecodingError {
        switch error {
        case .typeMismatch(let type, let context):
            return SpecDecodingError(file: file, fieldPath: path(context.codingPath),
                                     reason: "expected \(jsonKind(type))")
        case .valueNotFound(let type, let context):
            return SpecDecodingError(file: file, fieldPath: path(context.codingPath),
                                     reason: "expected \(jsonKind(type)), found null")
        case .keyNotFound(let key, let context):
            return SpecDecodingError(file: file, fieldPath: path(context.codingPath + [key]),
                                     reason: "required field is missing")
        case .dataCorrupted(let context):
            let underlying = context.underlyingError.map { " (\($0))" } ?? ""
            // Foundation reports a number out of range for its field (-1 for a uid) as invalid JSON
            // without a path, so the message says both.
            let reason = context.codingPath.isEmpty
                ? "not valid JSON, or a number out of range for its field (such as a negative id)\(underlying)"
                : context.debugDescription
            return SpecDecodingError(file: file, fieldPath: path(context.codingPath), reason: reason)
        @unknown default:
            return SpecDecodingError(file: file, fieldPath: "", reason: "\(error)")
        }
    }

    static func jsonKind(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type, is Int32.Type, is Int64.Type: return "an integer"
        case is UInt.Type, is UInt16.Type, is UInt32.Type, is UInt64.Type: return "a non-negative integer"
        case is Double.Type: return "a number"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "an object (\(name))"
        }
    }
}
