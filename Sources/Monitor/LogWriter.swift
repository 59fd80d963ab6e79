import Glibc
import Linux

/// docker's json-file log driver: one JSON object per line, `{"log":"…","stream":"stdout","time":"…"}`,
/// rotated to `<path>.1 … <path>.N-1` once the file would pass `maxSize`. Reading is the engine's job.
public final class LogWriter {
    let path: String
    let maxSize: Int64?
    let maxFiles: Int
    private var fd: Int32
    private var size: Int64
    /// A line cut by a read boundary, held until its newline (or a flush) so one line is one entry.
    private var pending: [String: [UInt8]] = [:]

    public init(path: String, maxSize: Int64?, maxFiles: Int) throws(SystemError) {
        self.path = path; self.maxSize = maxSize; self.maxFiles = max(1, maxFiles)
        fd = try check("open", path) { open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640) }
        var st = stat()
        size = fstat(fd, &st) == 0 ? Int64(st.st_size) : 0
    }

    deinit { close(fd) }

    /// Logs the bytes read from `stream` ("stdout" or "stderr"), one entry per line.
    public func write(_ bytes: ArraySlice<UInt8>, stream: String) {
        var buffer = pending[stream] ?? []
        buffer.append(contentsOf: bytes)
        var start = buffer.startIndex
        var output: [UInt8] = []
        let time = Clock.rfc3339Now()
        while let newline = buffer[start...].firstIndex(of: 10) {
            output += Self.entry(buffer[start...newline], stream: stream, time: time)
            start = newline + 1
        }
        var rest = Array(buffer[start...])
        // A long line without a newline (progress bars, a tty) is written in pieces, as docker does.
        if rest.count >= 16 * 1024 {
            output += Self.entry(rest[...], stream: stream, time: time)
            rest = []
        }
        pending[stream] = rest
        append(output)
    }

    /// Writes what is held back (at the container's exit).
    public func flush() {
        let time = Clock.rfc3339Now()
        var output: [UInt8] = []
        for (stream, rest) in pending.sorted(by: { $0.key < $1.key }) where !rest.isEmpty {
            output += Self.entry(rest[...], stream: stream, time: time)
        }
        pending = [:]
        append(output)
    }

    private func append(_ output: [UInt8]) {
        guard !output.isEmpty else { return }
        if let maxSize, size > 0, size + Int64(output.count) > maxSize { rotate() }
        output.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return }
                offset += n
            }
        }
        size += Int64(output.count)
    }

    private func rotate() {
        if maxFiles <= 1 {
            _ = ftruncate(fd, 0)
        } else {
            for index in stride(from: maxFiles - 1, to: 1, by: -1) {
                rename("\(path).\(index - 1)", "\(path).\(index)")
            }
            rename(path, path + ".1")
            close(fd)
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_TRUNC, 0o640)
        }
        size = 0
    }

    static func entry(_ line: ArraySlice<UInt8>, stream: String, time: String) -> [UInt8] {
        var out: [UInt8] = Array("{\"log\":\"".utf8)
        JSONText.appendEscaped(line, to: &out)
        out += Array("\",\"stream\":\"\(stream)\",\"time\":\"\(time)\"}\n".utf8)
        return out
    }
}

/// JSON string escaping of raw bytes as Go's encoding/json does it: invalid UTF-8 becomes U+FFFD.
public enum JSONText {
    public static func appendEscaped(_ bytes: ArraySlice<UInt8>, to out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        let text = String(decoding: bytes, as: UTF8.self)   // repairs invalid sequences with U+FFFD
        for byte in text.utf8 {
            switch byte {
            case 0x22: out += [0x5c, 0x22]
            case 0x5c: out += [0x5c, 0x5c]
            case 0x0a: out += [0x5c, 0x6e]
            case 0x0d: out += [0x5c, 0x72]
            case 0x09: out += [0x5c, 0x74]
            case 0x3c, 0x3e, 0x26, 0..<0x20:
                out += [0x5c, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
            default: out.append(byte)
            }
        }
    }

    public static func quoted(_ text: String) -> String {
        var out: [UInt8] = [0x22]
        appendEscaped(ArraySlice(Array(text.utf8)), to: &out)
        out.append(0x22)
        return String(decoding: out, as: UTF8.self)
    }
}
