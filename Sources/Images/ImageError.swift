import Foundation
import Linux
import OCISpec

/// Every failure of the image store, pull, load or unpack: what was being done, on what, and why.
/// Prints as `<operation> <subject>: <reason>`; the CLI prefixes `berth: `.
public struct ImageError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let subject: String
    public let reason: String

    public init(_ operation: String, _ subject: String = "", _ reason: String) {
        self.operation = operation; self.subject = subject; self.reason = reason
    }

    public init(_ operation: String, _ subject: String = "", _ error: any Error) {
        self.operation = operation; self.subject = subject
        self.reason = (error as? ImageError)?.description ?? "\(error)"
    }

    /// One line, always: entry names in a layer and strings in a manifest may hold line breaks.
    public var description: String {
        let what = subject.isEmpty ? operation : "\(operation) \(subject)"
        return SpecText.oneLine("\(what): \(reason)")
    }

    static func system(_ error: SystemError) -> ImageError {
        ImageError(error.operation, error.subject, SystemError.message(error.errno))
    }
}

/// Runs a `Linux` helper and turns its `SystemError` into an `ImageError`.
func sys<T>(_ body: () throws(SystemError) -> T) throws(ImageError) -> T {
    do { return try body() } catch { throw ImageError.system(error) }
}
