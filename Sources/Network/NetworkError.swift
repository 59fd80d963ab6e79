/// A network operation that failed: what, and why (a CNI plugin's own `msg` and `details` where it gave them).
public struct NetworkError: Error, CustomStringConvertible, Sendable {
    public let what: String
    public let why: String
    public init(_ what: String, _ why: String) { self.what = what; self.why = why }
    public var description: String { why.isEmpty ? what : "\(what): \(why)" }
}
