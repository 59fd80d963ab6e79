import OCISpec

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
        // One JSON reader for the project (OCISpec's, Go's rules); here its numbers are typed as Go's
        // encoding/json types them into an interface{} map.
        do { return convert(try JSONValue.parse(bytes)) } catch {
            throw JSONError(offset: error.offset, message: error.reason)
        }
    }

    static func convert(_ value: JSONValue) -> TemplateValue {
        switch value {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .string(let s): return .string(s)
        case .number(let text):
            if !text.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }),
               let int = Int64(text) { return .int(int) }
            return .double(Double(text) ?? .nan)
        case .array(let items): return .array(items.map(convert))
        case .object(let members): return .object(members.map { (key: $0.0, value: convert($0.1)) })
        }
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
