import Glibc
import Linux

/// `--log FILE` and `--log-format text|json`: runc's log, which containerd's shim reads back (json)
/// to report why a call failed. Errors also go to stderr, as runc prints them.
struct Log {
    var fd: Int32 = -1
    var json = false

    mutating func open(path: String?, format: String) {
        json = format == "json"
        if let path {
            fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        }
    }

    func write(level: String, _ message: String) {
        guard fd >= 0 else { return }
        let time = Clock.rfc3339Now()
        let line: String
        if json {
            line = "{\"level\":\"\(level)\",\"msg\":\(jsonString(message)),\"time\":\"\(time)\"}\n"
        } else {
            line = "time=\"\(time)\" level=\(level) msg=\(jsonString(message))\n"
        }
        _ = try? Files.writeAll(fd: fd, Array(line.utf8))
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

func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
