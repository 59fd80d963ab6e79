/// The Go type a function parameter has, which decides how the evaluator checks an argument
/// before the call (and the messages it gives when the argument does not fit).
enum Parameter: Sendable {
    /// interface{} or reflect.Value: anything, nil included.
    case any
    case string
    case int
    /// []string, as strings.Join takes.
    case strings

    var goName: String {
        switch self {
        case .any: "interface {}"
        case .string: "string"
        case .int: "int"
        case .strings: "[]string"
        }
    }
}

struct FunctionError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// A template function: its parameters as Go declares them, and a body that receives
/// arguments already checked against them (`.strings` arrives as an array of strings).
struct Function: Sendable {
    var parameters: [Parameter]
    /// The element type of a trailing `...` parameter.
    var variadic: Parameter?
    var body: @Sendable ([TemplateValue]) throws(FunctionError) -> TemplateValue
}

enum Functions {
    /// Go's builtins plus the functions docker's and podman's CLI add (cli/templates).
    static let standard: [String: Function] = {
        var table: [String: Function] = [
            // `and` and `or` short-circuit, so the evaluator runs them itself; these bodies
            // only document their shape.
            "and": Function(parameters: [.any], variadic: .any) { args in args.first { !$0.isTruthy } ?? args[args.count - 1] },
            "or": Function(parameters: [.any], variadic: .any) { args in args.first { $0.isTruthy } ?? args[args.count - 1] },
            "not": Function(parameters: [.any]) { args in .bool(!args[0].isTruthy) },
            "call": Function(parameters: [.any], variadic: .any, body: call),
            "index": Function(parameters: [.any], variadic: .any, body: index),
            "slice": Function(parameters: [.any], variadic: .any, body: slice),
            "len": Function(parameters: [.any], body: length),
            "print": Function(parameters: [], variadic: .any) { args in .string(GoFormat.sprint(args)) },
            "println": Function(parameters: [], variadic: .any) { args in .string(GoFormat.sprintln(args)) },
            "printf": Function(parameters: [.string], variadic: .any) { args in
                guard case .string(let format) = args[0] else { return .null }
                return .string(GoFormat.sprintf(format, Array(args.dropFirst())))
            },
            "html": Function(parameters: [], variadic: .any) { args in .string(Escaping.html(printed(args))) },
            "js": Function(parameters: [], variadic: .any) { args in .string(Escaping.javaScript(printed(args))) },
            "urlquery": Function(parameters: [], variadic: .any) { args in .string(Escaping.urlQuery(printed(args))) },
            "eq": Function(parameters: [.any], variadic: .any) { args throws(FunctionError) in
                .bool(try Comparison.equal(args[0], Array(args.dropFirst())))
            },
            "ne": Function(parameters: [.any, .any]) { args throws(FunctionError) in
                .bool(!(try Comparison.equal(args[0], [args[1]])))
            },
            "lt": Function(parameters: [.any, .any]) { args throws(FunctionError) in
                .bool(try Comparison.less(args[0], args[1]))
            },
            "le": Function(parameters: [.any, .any]) { args throws(FunctionError) in
                .bool(try Comparison.lessOrEqual(args[0], args[1]))
            },
            "gt": Function(parameters: [.any, .any]) { args throws(FunctionError) in
                .bool(!(try Comparison.lessOrEqual(args[0], args[1])))
            },
            "ge": Function(parameters: [.any, .any]) { args throws(FunctionError) in
                .bool(!(try Comparison.less(args[0], args[1])))
            },
        ]
        // docker's additions. Its `json` encodes without HTML escaping and drops the newline
        // json.Encoder appends.
        table["json"] = Function(parameters: [.any]) { args in .string(args[0].jsonString(escapeHTML: false)) }
        table["split"] = Function(parameters: [.string, .string]) { args in
            .array(Text.split(string(args[0]), separator: string(args[1])).map { .string($0) })
        }
        table["join"] = Function(parameters: [.strings, .string]) { args in
            guard case .array(let elements) = args[0] else { return .string("") }
            return .string(elements.map(string).joined(separator: string(args[1])))
        }
        table["title"] = Function(parameters: [.string]) { args in .string(Text.title(string(args[0]))) }
        table["lower"] = Function(parameters: [.string]) { args in .string(Text.lower(string(args[0]))) }
        table["upper"] = Function(parameters: [.string]) { args in .string(Text.upper(string(args[0]))) }
        table["pad"] = Function(parameters: [.string, .int, .int]) { args in
            let source = string(args[0])
            // docker leaves an empty string alone, so empty columns stay empty.
            if source.isEmpty { return .string(source) }
            return .string(String(repeating: " ", count: max(int(args[1]), 0)) + source
                + String(repeating: " ", count: max(int(args[2]), 0)))
        }
        table["truncate"] = Function(parameters: [.string, .int]) { args in
            .string(Text.truncate(string(args[0]), bytes: int(args[1])))
        }
        return table
    }()

    /// docker's HeaderFunctions: while a table header renders, the functions that would
    /// transform a value pass the header text through unchanged. `pad` stays, to keep the
    /// header aligned with the padded column.
    static let header: [String: Function] = {
        var table = standard
        let identity: @Sendable ([TemplateValue]) throws(FunctionError) -> TemplateValue = { args in args[0] }
        table["json"] = Function(parameters: [.string], body: identity)
        table["split"] = Function(parameters: [.string, .string], body: identity)
        table["join"] = Function(parameters: [.string, .string], body: identity)
        table["title"] = Function(parameters: [.string], body: identity)
        table["lower"] = Function(parameters: [.string], body: identity)
        table["upper"] = Function(parameters: [.string], body: identity)
        table["truncate"] = Function(parameters: [.string, .int], body: identity)
        return table
    }()

    private static func string(_ value: TemplateValue) -> String {
        if case .string(let s) = value { return s }
        return ""
    }

    private static func int(_ value: TemplateValue) -> Int {
        if case .int(let i) = value { return Int(clamping: i) }
        return 0
    }

    /// What html, js and urlquery escape: fmt.Sprint of the arguments, except that a nil
    /// argument reads `<no value>` as it would printed by the template itself.
    private static func printed(_ args: [TemplateValue]) -> String {
        if args.count == 1, case .string(let s) = args[0] { return s }
        return GoFormat.sprint(args.map { if case .null = $0 { return .string("<no value>") } else { return $0 } })
    }

    private static func length(_ args: [TemplateValue]) throws(FunctionError) -> TemplateValue {
        switch args[0] {
        case .null: throw FunctionError("len of nil pointer")
        case .string(let s): return .int(Int64(s.utf8.count))
        case .array(let a): return .int(Int64(a.count))
        case .object(let pairs): return .int(Int64(TemplateValue.mapEntries(pairs).count))
        default: throw FunctionError("len of type \(args[0].goTypeName)")
        }
    }

    private static func call(_ args: [TemplateValue]) throws(FunctionError) -> TemplateValue {
        switch args[0] {
        case .null: throw FunctionError("call of nil")
        case .method(let method):
            do { return try method(Array(args.dropFirst())) } catch { throw FunctionError("\(error)") }
        default: throw FunctionError("non-function of type \(args[0].goTypeName)")
        }
    }

    /// An index into something of length `count`: Go allows `count` itself only when slicing.
    private static func indexArgument(_ value: TemplateValue, limit: Int) throws(FunctionError) -> Int {
        switch value {
        case .int(let i):
            if i < 0 || i > Int64(limit) { throw FunctionError("index out of range: \(i)") }
            return Int(i)
        case .null: throw FunctionError("cannot index slice/array with nil")
        default: throw FunctionError("cannot index slice/array with type \(value.goTypeName)")
        }
    }

    private static func index(_ args: [TemplateValue]) throws(FunctionError) -> TemplateValue {
        var item = args[0]
        if case .null = item { throw FunctionError("index of untyped nil") }
        for key in args.dropFirst() {
            switch item {
            case .null:
                throw FunctionError("index of nil pointer")
            case .array(let elements):
                let i = try indexArgument(key, limit: elements.count)
                if i == elements.count { throw FunctionError("index out of range: \(i)") }
                item = elements[i]
            case .string(let s):
                let bytes = Array(s.utf8)
                let i = try indexArgument(key, limit: bytes.count)
                if i == bytes.count { throw FunctionError("index out of range: \(i)") }
                item = .int(Int64(bytes[i]))
            case .object(let pairs):
                switch key {
                case .string(let name):
                    // A missing key gives the map's zero value: for interface{} that is nil.
                    item = pairs.last(where: { $0.key == name })?.value ?? .null
                case .null:
                    item = pairs.last(where: { $0.key == "" })?.value ?? .null
                default:
                    throw FunctionError("value has type \(key.goTypeName); should be string")
                }
            default:
                throw FunctionError("can't index item of type \(item.goTypeName)")
            }
        }
        return item
    }

    private static func slice(_ args: [TemplateValue]) throws(FunctionError) -> TemplateValue {
        let item = args[0]
        let indexes = Array(args.dropFirst())
        if case .null = item { throw FunctionError("slice of untyped nil") }
        if indexes.count > 3 { throw FunctionError("too many slice indexes: \(indexes.count)") }
        let length: Int
        switch item {
        case .string(let s):
            if indexes.count == 3 { throw FunctionError("cannot 3-index slice a string") }
            length = s.utf8.count
        case .array(let a):
            length = a.count
        default:
            throw FunctionError("can't slice item of type \(item.goTypeName)")
        }
        var bounds = [0, length, length]
        for (i, index) in indexes.enumerated() { bounds[i] = try indexArgument(index, limit: length) }
        if bounds[0] > bounds[1] { throw FunctionError("invalid slice index: \(bounds[0]) > \(bounds[1])") }
        if indexes.count == 3 && bounds[1] > bounds[2] {
            throw FunctionError("invalid slice index: \(bounds[1]) > \(bounds[2])")
        }
        switch item {
        case .string(let s):
            return .string(String(decoding: Array(s.utf8)[bounds[0]..<bounds[1]], as: UTF8.self))
        case .array(let a):
            return .array(Array(a[bounds[0]..<bounds[1]]))
        default:
            return .null
        }
    }
}

/// eq, lt and friends, with Go's rules: only basic kinds order, and kinds must match.
enum Comparison {
    private enum Kind { case bool, int, float, string, other }

    private static func kind(_ value: TemplateValue) -> Kind {
        switch value {
        case .bool: .bool
        case .int: .int
        case .double: .float
        case .string: .string
        default: .other
        }
    }

    static func equal(_ first: TemplateValue, _ others: [TemplateValue]) throws(FunctionError) -> Bool {
        if others.isEmpty { throw FunctionError("missing argument for comparison") }
        for other in others {
            let (k1, k2) = (kind(first), kind(other))
            var truth = false
            if k1 != k2 {
                // nil compares (unequal) with anything; other mismatches are errors.
                if first != .null && other != .null {
                    throw FunctionError("incompatible types for comparison: \(first.goTypeName) and \(other.goTypeName)")
                }
            } else {
                switch (first, other) {
                case (.bool(let a), .bool(let b)): truth = a == b
                case (.int(let a), .int(let b)): truth = a == b
                case (.double(let a), .double(let b)): truth = a == b
                case (.string(let a), .string(let b)): truth = a.utf8.elementsEqual(b.utf8)
                default:
                    // Neither is a basic kind: only nil against nil or against something else works.
                    if case .null = first {
                        if case .null = other { truth = true } else { truth = false }
                    } else if case .null = other {
                        truth = false
                    } else if case .array = first, case .array = other {
                        throw FunctionError("non-comparable type \(GoFormat.sprint([other])): \(other.goTypeName)")
                    } else if sameShape(first, other) {
                        throw FunctionError("non-comparable type \(GoFormat.sprint([other])): \(other.goTypeName)")
                    } else {
                        throw FunctionError("non-comparable types \(GoFormat.sprint([first])): \(first.goTypeName), "
                            + "\(other.goTypeName): \(GoFormat.sprint([other]))")
                    }
                }
            }
            if truth { return true }
        }
        return false
    }

    private static func sameShape(_ a: TemplateValue, _ b: TemplateValue) -> Bool {
        switch (a, b) {
        case (.array, .array), (.object, .object), (.method, .method): true
        default: false
        }
    }

    static func less(_ a: TemplateValue, _ b: TemplateValue) throws(FunctionError) -> Bool {
        let (k1, k2) = (kind(a), kind(b))
        if k1 == .other || k2 == .other { throw FunctionError("invalid type for comparison") }
        if k1 != k2 { throw FunctionError("incompatible types for comparison: \(a.goTypeName) and \(b.goTypeName)") }
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y
        case (.double(let x), .double(let y)): return x < y
        case (.string(let x), .string(let y)): return x.utf8.lexicographicallyPrecedes(y.utf8)
        default: throw FunctionError("invalid type for comparison")
        }
    }

    static func lessOrEqual(_ a: TemplateValue, _ b: TemplateValue) throws(FunctionError) -> Bool {
        if try less(a, b) { return true }
        return try equal(a, [b])
    }
}

/// The string functions, with Go's byte- and rune-level semantics rather than Swift's
/// grapheme-level ones.
enum Text {
    /// strings.Split: every separator splits, empty fields are kept, and an empty separator
    /// splits into single characters (Unicode scalars, Go's runes).
    static func split(_ s: String, separator: String) -> [String] {
        if separator.isEmpty { return s.unicodeScalars.map { String($0) } }
        let bytes = Array(s.utf8)
        let sep = Array(separator.utf8)
        var parts: [String] = []
        var fieldStart = 0
        var i = 0
        while i + sep.count <= bytes.count {
            if bytes[i..<(i + sep.count)].elementsEqual(sep) {
                parts.append(String(decoding: bytes[fieldStart..<i], as: UTF8.self))
                i += sep.count
                fieldStart = i
            } else {
                i += 1
            }
        }
        parts.append(String(decoding: bytes[fieldStart...], as: UTF8.self))
        return parts
    }

    /// docker's truncate: the first `bytes` bytes. It stops short of a character the cut
    /// would split, where Go would emit half of it.
    static func truncate(_ s: String, bytes limit: Int) -> String {
        let bytes = Array(s.utf8)
        if bytes.count < limit { return s }
        var end = max(limit, 0)
        // Continuation bytes are 10xxxxxx: back up to the start of the character.
        while end > 0 && end < bytes.count && bytes[end] & 0xC0 == 0x80 { end -= 1 }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    static func lower(_ s: String) -> String { map(s) { simpleMapping($0, $0.properties.lowercaseMapping) } }

    static func upper(_ s: String) -> String { map(s) { simpleMapping($0, $0.properties.uppercaseMapping) } }

    /// strings.Title: the first letter of each word to title case; a word starts after
    /// anything but a letter, digit or underscore (outside ASCII, only after a space).
    static func title(_ s: String) -> String {
        var previous: Unicode.Scalar = " "
        return map(s) { r in
            defer { previous = r }
            return isSeparator(previous) ? simpleMapping(r, r.properties.titlecaseMapping) : r
        }
    }

    private static func map(_ s: String, _ transform: (Unicode.Scalar) -> Unicode.Scalar) -> String {
        var out = String.UnicodeScalarView()
        for r in s.unicodeScalars { out.append(transform(r)) }
        return String(out)
    }

    /// Go maps case one rune to one rune (unicode.SimpleFold tables). Swift gives the full
    /// mapping, which can grow (ß → SS); where it does, Go keeps the rune.
    private static func simpleMapping(_ r: Unicode.Scalar, _ full: String) -> Unicode.Scalar {
        if r == "\u{130}" && full != "\u{130}" { return "i" }
        let scalars = full.unicodeScalars
        guard scalars.count == 1, let first = scalars.first else { return r }
        return first
    }

    private static func isSeparator(_ r: Unicode.Scalar) -> Bool {
        if r.value <= 0x7F {
            switch r {
            case "0"..."9", "a"..."z", "A"..."Z", "_": return false
            default: return true
            }
        }
        switch r.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber:
            return false
        default:
            return r.properties.isWhitespace
        }
    }
}

/// The html, js and urlquery escapers of Go's template package.
enum Escaping {
    static func html(_ s: String) -> String {
        var out = ""
        for r in s.unicodeScalars {
            switch r {
            case "\0": out += "\u{FFFD}"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.unicodeScalars.append(r)
            }
        }
        return out
    }

    static func javaScript(_ s: String) -> String {
        var out = ""
        for r in s.unicodeScalars {
            switch r {
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            case "\"": out += "\\\""
            case "<": out += "\\u003C"
            case ">": out += "\\u003E"
            case "&": out += "\\u0026"
            case "=": out += "\\u003D"
            default:
                if r.value < 0x20 {
                    out += "\\u00" + GoQuote.hex(r.value, minimumDigits: 2, upper: true)
                } else if r.value >= 0x80 && !GoQuote.isPrint(r) {
                    out += "\\u" + GoQuote.hex(r.value, minimumDigits: 4, upper: true)
                } else {
                    out.unicodeScalars.append(r)
                }
            }
        }
        return out
    }

    /// url.QueryEscape: unreserved bytes stay, a space becomes `+`, the rest `%XX`.
    static func urlQuery(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                 UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "):
                out += "+"
            default:
                out += "%" + GoQuote.hex(UInt32(byte), minimumDigits: 2, upper: true)
            }
        }
        return out
    }
}
