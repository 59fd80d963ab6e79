import Glibc
import Linux
import OCISpec
import Runtime

/// `--log FILE` and `--log-format text|json`: runc's logrus lines, which containerd's shim reads back
/// (json) to report why a call failed, and `--debug`'s syscall trail in the same shape. Errors also go
/// to stderr, berth-style (`berth: …`).
struct Log {
    var fd: Int32 = -1
    var json = false

    /// runc's checks and flags: an unknown format is an error; the file is appended to, synchronously.
    mutating func open(path: String?, format: String) throws(CommandError) {
        switch format {
        case "", "text": json = false
        case "json": json = true
        default: throw CommandError("invalid log-format: \(format)", "")
        }
        if let path {
            fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_SYNC | O_CLOEXEC, 0o644)
            if fd < 0 { throw CommandError("open \(path)", RuntimeError.goMessage(errno)) }
        }
    }

    /// One logrus line. Text: `time="…" level=… msg=…`, a value quoted (Go's %q) only when it holds
    /// anything but letters, digits and `-._/@^+`. JSON: the keys sorted, as logrus's JSONFormatter
    /// writes them. The time is RFC 3339 to the second in local time, logrus's default.
    static func line(level: String, _ message: String, json: Bool) -> String {
        let time = Clock.rfc3339Seconds()
        if json {
            return JSONValue.object([("level", .string(level)), ("msg", .string(message)), ("time", .string(time))]).compact + "\n"
        }
        return "time=\(logfmtValue(time)) level=\(logfmtValue(level)) msg=\(logfmtValue(message))\n"
    }

    static func logfmtValue(_ text: String) -> String {
        let plain = text.unicodeScalars.allSatisfy { c in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || "-._/@^+".unicodeScalars.contains(c)
        }
        return plain && !text.isEmpty ? text : goQuoted(text)
    }

    func write(level: String, _ message: String) {
        guard fd >= 0 else { return }
        _ = try? Files.writeAll(fd: fd, Array(Log.line(level: level, message, json: json).utf8))
    }

    func error(_ message: String) {
        write(level: "error", message)
        let line = "berth: \(message)\n"
        _ = try? Files.writeAll(fd: 2, Array(line.utf8))
    }

    func warning(_ message: String) {
        write(level: "warning", message)
        if fd < 0 {
            let line = "berth: warning: \(message)\n"
            _ = try? Files.writeAll(fd: 2, Array(line.utf8))
        }
    }
}

/// Go's strconv.Quote (fmt's %q): `\"`, `\\`, the C escapes, `\xHH` for other control bytes.
func goQuoted(_ text: String) -> String {
    let hex: [Character] = Array("0123456789abcdef")
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\u{07}": out += "\\a"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{0B}": out += "\\v"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7f {
                out += "\\x" + String([hex[Int(scalar.value >> 4)], hex[Int(scalar.value & 0xf)]])
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
