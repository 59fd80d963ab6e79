import Linux
import Cgroups
import OCISpec

/// Every failure the runtime reports: what was being done, and why it failed. Prints as `what: why`,
/// which the CLI prefixes with `berth: `.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public let what: String
    public let why: String
    public init(_ what: String, _ why: String) { self.what = what; self.why = why }
    /// One line, always: a config's strings (a cwd, an rlimit name, a path) may hold line breaks, which are
    /// escaped so the CLI's `berth: …` stays one line.
    public var description: String { SpecText.oneLine(why.isEmpty ? what : "\(what): \(why)") }

    /// libcontainer's error texts, which scripts and shims match on (`does not exist`, `not running`).
    public static let notExist = "container does not exist"
    public static let notRunning = "container not running"
    public static let exists = "container with given ID already exists"
    /// runc's refusal of `linux.resources.unified` where the controllers are v1 ones.
    public static let unifiedOnV1 = "invalid configuration: cannot use unified on cgroup v1"

    /// An errno as Go words it (strerror, lower-cased first letter: "invalid argument").
    public static func goMessage(_ code: Int32) -> String {
        let text = SystemError.message(code)
        return text.prefix(1).lowercased() + text.dropFirst()
    }

    /// Wraps any lower-level error (SystemError, CgroupError, decoding errors) with the step that failed.
    public init(_ what: String, _ error: any Error) {
        if let runtime = error as? RuntimeError {
            self.init(what, runtime.description)
        } else {
            self.init(what, "\(error)")
        }
    }
}

/// Runs `body`, re-throwing any error as a RuntimeError that names `what`.
@discardableResult
func step<T>(_ what: String, _ body: () throws -> T) throws(RuntimeError) -> T {
    do {
        return try body()
    } catch let error as RuntimeError {
        throw error
    } catch {
        throw RuntimeError(what, error)
    }
}
