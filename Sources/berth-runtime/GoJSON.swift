/// JSON exactly as Go's encoding/json writes it, which is what runc prints and what scripts compare
/// against: keys in the order given (Go: struct field order; maps sorted, so callers sort them), `<`,
/// `>`, `&`, U+2028 and U+2029 escaped, other control characters as `\u00XX` except `\n` `\r` `\t`.
/// `indented` is json.MarshalIndent (and Encoder.SetIndent): `"key": value`, one element per line,
/// `{}` and `[]` when empty. Hand-written rather than Codable: Foundation's encoder neither keeps the
/// field order nor escapes like Go, and it costs ~1 ms per type graph (see ARCHITECTURE.md).
indirect enum GoJSON {
    case object([(String, GoJSON)])
    case array([GoJSON])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    static func int<T: BinaryInteger>(_ value: T) -> GoJSON { .number(String(value)) }

    /// A Go map[string]string: keys sorted, as encoding/json sorts them.
    static func stringMap(_ map: [String: String]) -> GoJSON {
        .object(map.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { ($0.key, .string($0.value)) })
    }

    /// json.Marshal / Encoder.Encode without the newline the Encoder adds.
    var compact: String {
        var out = ""
        write(into: &out, indent: nil, depth: 0)
        return out
    }

    /// json.MarshalIndent(v, "", indent).
    func indented(_ indent: String) -> String {
        var out = ""
        write(into: &out, indent: indent, depth: 0)
        return out
    }

    private func write(into out: inout String, indent: String?, depth: Int) {
        func newline(_ depth: Int) {
            guard let indent else { return }
            out += "\n"
            for _ in 0..<depth { out += indent }
        }
        switch self {
        case .object(let members):
            if members.isEmpty { out += "{}"; return }
            out += "{"
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out += "," }
                newline(depth + 1)
                GoJSON.quote(key, into: &out)
                out += indent == nil ? ":" : ": "
                value.write(into: &out, indent: indent, depth: depth + 1)
            }
            newline(depth)
            out += "}"
        case .array(let elements):
            if elements.isEmpty { out += "[]"; return }
            out += "["
            for (index, value) in elements.enumerated() {
                if index > 0 { out += "," }
                newline(depth + 1)
                value.write(into: &out, indent: indent, depth: depth + 1)
            }
            newline(depth)
            out += "]"
        case .string(let text): GoJSON.quote(text, into: &out)
        case .number(let text): out += text
        case .bool(let value): out += value ? "true" : "false"
        case .null: out += "null"
        }
    }

    static func quote(_ text: String, into out: inout String) {
        let hex: [Character] = Array("0123456789abcdef")
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                let v = Int(scalar.value)
                out += "\\u" + String([hex[v >> 12 & 0xf], hex[v >> 8 & 0xf], hex[v >> 4 & 0xf], hex[v & 0xf]])
            default:
                if scalar.value < 0x20 {
                    let v = Int(scalar.value)
                    out += "\\u00" + String([hex[v >> 4], hex[v & 0xf]])
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

/// Go's time.RFC3339Nano as encoding/json writes a time.Time: the fraction without trailing zeros
/// (none at all for a whole second). `created` is stored with nine digits.
func goRFC3339Nano(_ stamp: String) -> String {
    guard let dot = stamp.firstIndex(of: "."), let zone = stamp[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) else {
        return stamp
    }
    var fraction = stamp[stamp.index(after: dot)..<zone]
    while fraction.last == "0" { fraction = fraction.dropLast() }
    return String(stamp[..<dot]) + (fraction.isEmpty ? "" : "." + fraction) + String(stamp[zone...])
}
