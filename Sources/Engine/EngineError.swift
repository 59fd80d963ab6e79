/// Every failure the engine reports: what failed and why, with docker's exit code (125 for the engine's
/// own errors, 126/127 when the container's command cannot run). Prints as `what: why`.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    public let what: String
    public let why: String
    public let exitCode: Int32

    public init(_ what: String, _ why: String, exitCode: Int32 = 125) {
        self.what = what; self.why = why; self.exitCode = exitCode
    }

    public init(_ what: String, _ error: any Error, exitCode: Int32 = 125) {
        if let engine = error as? EngineError {
            self.init(what, engine.description, exitCode: engine.exitCode)
        } else {
            self.init(what, "\(error)", exitCode: exitCode)
        }
    }

    public var description: String { why.isEmpty ? what : "\(what): \(why)" }

    static func noSuchContainer(_ name: String) -> EngineError {
        EngineError("No such container", name)
    }

    /// Whether this is the lookup failure of a container that is not there.
    public var isNoSuchContainer: Bool { what == "No such container" }
}
