import Engine
import Foundation
import Template

/// `--format` for the engine's commands: Go templates through the Template module, docker's `table` and
/// `json` conventions, and docker's JSON indentation for `inspect`.
enum Formatting {
    /// A docker-shaped value as a template value (keys sorted, as Go sorts a map's).
    static func value<T: Encodable>(_ item: T) throws -> TemplateValue {
        // Sorted keys: Foundation on Linux does not keep declaration order, and output must not change per run.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(item)
        return try TemplateValue.parse(json: Array(data))
    }

    /// Rows through `format` (nil: `defaultTable`), as docker's formatter prints them.
    static func render(format: String?, rows: [TemplateValue], defaultTable: String, headers: [String: String]) throws -> String {
        do {
            return try DockerFormat.render(format: format, rows: rows, defaultTable: defaultTable, headers: headers)
        } catch {
            throw EngineError("template parsing error", "\(error)")
        }
    }

    /// `inspect -f`: one rendering per item, each followed by a newline.
    static func each(_ format: String, _ items: [TemplateValue]) throws -> String {
        let text = format.replacingOccurrences(of: "\\t", with: "\t").replacingOccurrences(of: "\\n", with: "\n")
        let template: Template
        do { template = try Template(text) } catch { throw EngineError("template parsing error", "\(error)") }
        var out = ""
        for item in items {
            do { out += try template.render(item) + "\n" } catch { throw EngineError("template", "\(error)") }
        }
        return out
    }

    /// docker's `inspect` output: a JSON array, four-space indentation, `"key": value`.
    static func indentedJSON(_ value: TemplateValue) -> String {
        indent(value.jsonString(escapeHTML: false))
    }

    /// Re-indents compact JSON the way Go's json.MarshalIndent(v, "", "    ") prints it.
    static func indent(_ compact: String) -> String {
        var out = ""
        var level = 0
        var inString = false
        var escaped = false
        let characters = Array(compact)
        var index = 0
        func newline() { out += "\n" + String(repeating: "    ", count: level) }
        while index < characters.count {
            let c = characters[index]
            if inString {
                out.append(c)
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
                index += 1
                continue
            }
            switch c {
            case "\"": inString = true; out.append(c)
            case "{", "[":
                let close: Character = c == "{" ? "}" : "]"
                if index + 1 < characters.count && characters[index + 1] == close {
                    out.append(c); out.append(close); index += 1
                } else {
                    out.append(c); level += 1; newline()
                }
            case "}", "]": level -= 1; newline(); out.append(c)
            case ",": out.append(c); newline()
            case ":": out += ": "
            default: out.append(c)
            }
            index += 1
        }
        return out
    }
}

/// docker's human times: "5 seconds ago", "About a minute ago", "2 hours ago".
enum HumanTime {
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds)
        if s < 1 { return "Less than a second" }
        if s == 1 { return "1 second" }
        if s < 60 { return "\(s) seconds" }
        let minutes = Int((seconds / 60).rounded())
        if minutes == 1 { return "About a minute" }
        if minutes < 60 { return "\(minutes) minutes" }
        let hours = Int((seconds / 3600).rounded())
        if hours == 1 { return "About an hour" }
        if hours < 48 { return "\(hours) hours" }
        let days = hours / 24
        if days < 14 { return "\(days) days" }
        if days < 60 { return "\(days / 7) weeks" }
        if days < 365 * 2 { return "\(days / 30) months" }
        return "\(days / 365) years"
    }

    static func ago(_ rfc3339: String) -> String {
        guard let time = Timestamps.parse(rfc3339) else { return "" }
        return duration(Date().timeIntervalSince1970 - time) + " ago"
    }

    /// docker's `CreatedAt`: `2024-01-02 03:04:05 +0000 UTC`.
    static func createdAt(_ rfc3339: String) -> String {
        let base = rfc3339.prefix(19).replacingOccurrences(of: "T", with: " ")
        return base + " +0000 UTC"
    }

    static func bytes(_ value: Double) -> String {
        // docker's units.HumanSize: decimal units, 3 significant digits.
        let units = ["B", "kB", "MB", "GB", "TB", "PB"]
        var v = value
        var i = 0
        while v >= 1000 && i < units.count - 1 { v /= 1000; i += 1 }
        return String(format: "%.4g", v) + units[i]
    }

    static func binaryBytes(_ value: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var v = value
        var i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        return String(format: "%.4g", v) + units[i]
    }
}
