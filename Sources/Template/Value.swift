/// A value a template reads: the shape of decoded JSON, plus methods a row can expose.
///
/// Objects keep their keys in the order given, because `json` prints them that way (docker's
/// JSON output order is part of its interface). Printing an object with `{{.}}` and ranging
/// over it use Go's map order instead: keys sorted bytewise.
public enum TemplateValue: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([TemplateValue])
    /// Key/value pairs in their given order. A repeated key behaves like a Go map entry
    /// written twice: the last value wins.
    case object([(key: String, value: TemplateValue)])
    /// A method such as docker's `{{.Label "com.example.x"}}`: `.Label` on the object holding it
    /// calls it with the arguments that follow (and a piped value last). Reached without
    /// arguments (`{{.Names}}`, or mid-chain as in `{{.Config.Env}}`) it is called with none.
    /// What it throws is reported as `error calling Label: <error>`.
    case method(@Sendable ([TemplateValue]) throws -> TemplateValue)
}

/// An error a `TemplateValue.method` can throw; it prints as its message.
public struct TemplateMethodError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension TemplateValue {
    /// The value stored under `key` in an object (the last one if the key repeats), else nil.
    public subscript(key: String) -> TemplateValue? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.last(where: { $0.key == key })?.value
    }

    /// The element at `index` of an array, else nil.
    public subscript(index: Int) -> TemplateValue? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    /// The Go type docker's data would have, for error messages such as
    /// `can't evaluate field X in type string` and fmt's `%!d(string=x)`.
    var goTypeName: String {
        switch self {
        case .null: "interface {}"
        case .bool: "bool"
        case .int: "int"
        case .double: "float64"
        case .string: "string"
        case .array: "[]interface {}"
        case .object: "map[string]interface {}"
        case .method: "func"
        }
    }

    /// Go's template truth: the zero value of a type and empty collections are false.
    var isTruthy: Bool {
        switch self {
        case .null: false
        case .bool(let b): b
        case .int(let i): i != 0
        case .double(let d): d != 0
        case .string(let s): !s.isEmpty
        case .array(let a): !a.isEmpty
        case .object(let pairs): !pairs.isEmpty
        case .method: true
        }
    }

    /// An object's entries as a Go map holds them: one per key (the last wins), sorted bytewise.
    /// Methods are left out: they are behaviour, not data, so printing and ranging skip them
    /// the way Go's printing of a struct skips its methods.
    static func mapEntries(_ pairs: [(key: String, value: TemplateValue)]) -> [(key: String, value: TemplateValue)] {
        var lastIndex: [String: Int] = [:]
        for (i, pair) in pairs.enumerated() { lastIndex[pair.key] = i }
        var entries: [(key: String, value: TemplateValue)] = []
        for (i, pair) in pairs.enumerated() where lastIndex[pair.key] == i {
            if case .method = pair.value { continue }
            entries.append(pair)
        }
        entries.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return entries
    }
}

/// Structural equality, for tests and callers comparing data. Methods never compare equal,
/// not even to themselves: closures have no identity to compare.
extension TemplateValue: Equatable {
    public static func == (lhs: TemplateValue, rhs: TemplateValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        case (.double(let a), .double(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }
}

/// Prints as compact JSON, so failed test expectations show readable data.
extension TemplateValue: CustomStringConvertible {
    public var description: String { jsonString() }
}

extension TemplateValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension TemplateValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) { self = .int(value) }
}

extension TemplateValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension TemplateValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension TemplateValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: TemplateValue...) { self = .array(elements) }
}

/// A dictionary literal keeps its order, which is what an object needs.
extension TemplateValue: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        self = .object(elements.map { (key: $0.0, value: $0.1) })
    }
}
