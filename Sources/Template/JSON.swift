extension TemplateValue {
    /// Why a JSON text could not be read, and the byte offset where reading stopped.
    public struct JSONError: Error, CustomStringConvertible, Sendable, Equatable {
        public let offset: Int
        public let message: String
        public var description: String { "invalid JSON at byte \(offset): \(message)" }
    }

    /// Reads RFC 8259 JSON, keeping object keys in document order (a repeated key keeps its
    /// first position and takes its last value, as Go's map would). Integers that fit
    /// `Int64` become `.int`; every other number becomes `.double`.
    public static func parse(json bytes: [UInt8]) throws(JSONError) -> TemplateValue {
        var reader = JSONReader(bytes: bytes)
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        if reader.position != bytes.count { throw reader.error("unexpected data after the value") }
        return value
    }

    /// Reads JSON text; see `parse(json:)` for bytes.
    public static func parse(json text: String) throws(JSONError) -> TemplateValue {
        try parse(json: Array(text.utf8))
    }

    /// Compact JSON as Go's encoding/json writes it: no spaces, object keys in stored order,
    /// integers without a decimal point, doubles in Go's shortest form. With `escapeHTML`
    /// (json.Marshal's default) `<`, `>` and `&` become `\u003c`, `\u003e`, `\u0026`; docker's
    /// `json` template function turns that off. Methods are left out of objects (they are not
    /// data, as a Go struct's methods are not marshalled) and print as `null` elsewhere; NaN
    /// and infinities, which Go refuses to encode, print as `null`.
    public func jsonString(escapeHTML: Bool = true) -> String {
        var out = ""
        JSONWriter.write(self, into: &out, escapeHTML: escapeHTML)
        return out
    }
}

private struct JSONReader {
    let bytes: [UInt8]
    var position = 0
    /// Deep enough for any real document, shallow enough not to exhaust a thread's stack.
    static let maximumDepth = 512

    init(bytes: [UInt8]) { self.bytes = bytes }

    func error(_ message: String) -> TemplateValue.JSONError {
        TemplateValue.JSONError(offset: position, message: message)
    }

    mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    mutating func value(depth: Int) throws(TemplateValue.JSONError) -> TemplateValue {
        guard depth < Self.maximumDepth else { throw error("nesting deeper than \(Self.maximumDepth)") }
        guard position < bytes.count else { throw error("unexpected end of input") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected character")
        }
    }

    mutating func literal(_ word: String) throws(TemplateValue.JSONError) {
        for byte in word.utf8 {
            guard position < bytes.count, bytes[position] == byte else { throw error("invalid literal") }
            position += 1
        }
    }

    mutating func object(depth: Int) throws(TemplateValue.JSONError) -> TemplateValue {
        position += 1
        var pairs: [(key: String, value: TemplateValue)] = []
        var indexOfKey: [String: Int] = [:]
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(pairs)
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw error("expected a key") }
            let key = try string()
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw error("expected ':'") }
            position += 1
            skipWhitespace()
            let element = try value(depth: depth + 1)
            if let existing = indexOfKey[key] {
                pairs[existing].value = element
            } else {
                indexOfKey[key] = pairs.count
                pairs.append((key: key, value: element))
            }
            skipWhitespace()
            guard position < bytes.count else { throw error("unexpected end of input") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(pairs) }
            throw error("expected ',' or '}'")
        }
    }

    mutating func array(depth: Int) throws(TemplateValue.JSONError) -> TemplateValue {
        position += 1
        var elements: [TemplateValue] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth + 1))
            skipWhitespace()
            guard position < bytes.count else { throw error("unexpected end of input") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(elements) }
            throw error("expected ',' or ']'")
        }
    }

    mutating func number() throws(TemplateValue.JSONError) -> TemplateValue {
        let start = position
        var isInteger = true
        func digits(_ reader: inout JSONReader) -> Int {
            let from = reader.position
            while reader.position < reader.bytes.count,
                  (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(reader.bytes[reader.position]) {
                reader.position += 1
            }
            return reader.position - from
        }
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        if position < bytes.count, bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else if digits(&self) == 0 {
            throw error("invalid number")
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            if digits(&self) == 0 { throw error("invalid number") }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            isInteger = false
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            if digits(&self) == 0 { throw error("invalid number") }
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        if isInteger, let int = Int64(text) { return .int(int) }
        guard let double = Double(text) else { throw error("invalid number") }
        return .double(double)
    }

    mutating func hexQuad() throws(TemplateValue.JSONError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = hexValue(bytes[position]) else { throw error("invalid \\u escape") }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    mutating func string() throws(TemplateValue.JSONError) -> String {
        position += 1
        var utf8: [UInt8] = []
        while true {
            guard position < bytes.count else { throw error("unterminated string") }
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                position += 1
                guard position < bytes.count else { throw error("unterminated string") }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hexQuad()
                    if (0xD800..<0xDC00).contains(code) {
                        // A high surrogate needs its low half; Go decodes a lone one as U+FFFD.
                        let save = position
                        if position + 2 <= bytes.count, bytes[position] == UInt8(ascii: "\\"),
                           bytes[position + 1] == UInt8(ascii: "u") {
                            position += 2
                            let low = try hexQuad()
                            if (0xDC00..<0xE000).contains(low) {
                                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                position = save
                                code = 0xFFFD
                            }
                        } else {
                            code = 0xFFFD
                        }
                    } else if (0xDC00..<0xE000).contains(code) {
                        code = 0xFFFD
                    }
                    let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                    utf8.append(contentsOf: String(Character(scalar)).utf8)
                default:
                    position -= 1
                    throw error("invalid escape")
                }
            case 0x00..<0x20:
                throw error("control character in string")
            default:
                utf8.append(byte)
                position += 1
            }
        }
    }
}

func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}

enum JSONWriter {
    static func write(_ value: TemplateValue, into out: inout String, escapeHTML: Bool) {
        switch value {
        case .null, .method: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += number(d)
        case .string(let s): quote(s, into: &out, escapeHTML: escapeHTML)
        case .array(let elements):
            out += "["
            for (i, element) in elements.enumerated() {
                if i > 0 { out += "," }
                write(element, into: &out, escapeHTML: escapeHTML)
            }
            out += "]"
        case .object(let pairs):
            out += "{"
            var first = true
            for pair in pairs {
                if case .method = pair.value { continue }
                if !first { out += "," }
                first = false
                quote(pair.key, into: &out, escapeHTML: escapeHTML)
                out += ":"
                write(pair.value, into: &out, escapeHTML: escapeHTML)
            }
            out += "}"
        }
    }

    /// encoding/json's float format: shortest digits, exponent form only outside [1e-6, 1e21),
    /// and a one-digit negative exponent written without its leading zero (`1e-7`, not `1e-07`).
    static func number(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        let magnitude = d.magnitude
        let exponential = magnitude != 0 && (magnitude < 1e-6 || magnitude >= 1e21)
        var text = FloatFormat.format(d, exponential ? UInt8(ascii: "e") : UInt8(ascii: "f"), precision: -1)
        if exponential {
            var scalars = Array(text.utf8)
            let n = scalars.count
            if n >= 4, scalars[n - 4] == UInt8(ascii: "e"), scalars[n - 3] == UInt8(ascii: "-"),
               scalars[n - 2] == UInt8(ascii: "0") {
                scalars.remove(at: n - 2)
                text = String(decoding: scalars, as: UTF8.self)
            }
        }
        return text
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func quote(_ s: String, into out: inout String, escapeHTML: Bool) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<", ">", "&":
                if escapeHTML { unicodeEscape(scalar.value, into: &out) } else { out.unicodeScalars.append(scalar) }
            // JavaScript treats these two as line ends, so Go always escapes them.
            case "\u{2028}", "\u{2029}": unicodeEscape(scalar.value, into: &out)
            default:
                if scalar.value < 0x20 {
                    unicodeEscape(scalar.value, into: &out)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    private static func unicodeEscape(_ value: UInt32, into out: inout String) {
        out += "\\u"
        for shift in stride(from: 12, through: 0, by: -4) {
            out.unicodeScalars.append(Unicode.Scalar(hexDigits[Int((value >> UInt32(shift)) & 0xF)]))
        }
    }
}
