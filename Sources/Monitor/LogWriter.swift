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
        let streamBytes = stream == "stderr" ? Self.stderrName : Self.stdoutName
        var buffer = pending[stream] ?? []
        buffer.append(contentsOf: bytes)
        var start = buffer.startIndex
        var output: [UInt8] = []
        let time = LogTime.now()
        while let newline = buffer[start...].firstIndex(of: 10) {
            output += Self.entry(buffer[start...newline], stream: streamBytes, time: time)
            start = newline + 1
        }
        var rest = Array(buffer[start...])
        // A long line without a newline (progress bars, a tty) is written in pieces, as docker does.
        if rest.count >= 16 * 1024 {
            output += Self.entry(rest[...], stream: streamBytes, time: time)
            rest = []
        }
        pending[stream] = rest
        append(output)
    }

    /// Writes what is held back (at the container's exit).
    public func flush() {
        let time = LogTime.now()
        var output: [UInt8] = []
        for (stream, rest) in pending.sorted(by: { $0.key < $1.key }) where !rest.isEmpty {
            output += Self.entry(rest[...], stream: stream == "stderr" ? Self.stderrName : Self.stdoutName, time: time)
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

    static let stdoutName: [UInt8] = Array("stdout".utf8)
    static let stderrName: [UInt8] = Array("stderr".utf8)
    static let head: [UInt8] = Array("{\"log\":\"".utf8)
    static let streamKey: [UInt8] = Array("\",\"stream\":\"".utf8)
    static let timeKey: [UInt8] = Array("\",\"time\":\"".utf8)
    static let tail: [UInt8] = Array("\"}\n".utf8)

    static func entry(_ line: ArraySlice<UInt8>, stream: [UInt8], time: [UInt8]) -> [UInt8] {
        var out = head
        out.reserveCapacity(line.count + 80)
        JSONText.appendEscaped(line, to: &out)
        out += streamKey; out += stream; out += timeKey; out += time; out += tail
        return out
    }
}

/// JSON string escaping of raw bytes as Go's encoding/json does it: invalid UTF-8 becomes U+FFFD. Byte by byte,
/// without String: this runs for every line a container prints, in a process that should stay small.
public enum JSONText {
    public static func appendEscaped(_ bytes: ArraySlice<UInt8>, to out: inout [UInt8]) {
        let hex: [UInt8] = [48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]
        var index = bytes.startIndex
        let end = bytes.endIndex
        while index < end {
            let byte = bytes[index]
            if byte < 0x80 {
                switch byte {
                case 0x22: out.append(0x5c); out.append(0x22)
                case 0x5c: out.append(0x5c); out.append(0x5c)
                case 0x0a: out.append(0x5c); out.append(0x6e)
                case 0x0d: out.append(0x5c); out.append(0x72)
                case 0x09: out.append(0x5c); out.append(0x74)
                case 0x3c, 0x3e, 0x26, 0..<0x20:
                    out.append(0x5c); out.append(0x75); out.append(0x30); out.append(0x30)
                    out.append(hex[Int(byte >> 4)]); out.append(hex[Int(byte & 0xf)])
                default: out.append(byte)
                }
                index += 1
                continue
            }
            // A multi-byte sequence: its length from the lead byte, then continuation bytes 10xxxxxx, no
            // overlong forms, no surrogates, nothing above U+10FFFF.
            let length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc2 ? 2 : 0
            var valid = length > 0 && byte <= 0xf4 && end - index >= length
            if valid {
                for offset in 1..<length where bytes[index + offset] & 0xc0 != 0x80 { valid = false }
            }
            if valid && length == 3 {
                let second = bytes[index + 1]
                if (byte == 0xe0 && second < 0xa0) || (byte == 0xed && second >= 0xa0) { valid = false }
            }
            if valid && length == 4 {
                let second = bytes[index + 1]
                if (byte == 0xf0 && second < 0x90) || (byte == 0xf4 && second >= 0x90) { valid = false }
            }
            if valid {
                out.append(contentsOf: bytes[index..<(index + length)])
                index += length
            } else {
                out.append(0xef); out.append(0xbf); out.append(0xbd)
                index += 1
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

/// RFC 3339 with nanoseconds in UTC, as bytes (docker's json-file `time`).
enum LogTime {
    static func now() -> [UInt8] {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var parts = tm()
        gmtime_r(&t, &parts)
        var out: [UInt8] = []
        out.reserveCapacity(30)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            while divisor > 0 { out.append(UInt8(48 + (rest / divisor) % 10)); rest %= divisor; divisor /= 10 }
        }
        digits(Int(parts.tm_year) + 1900, 4); out.append(45)
        digits(Int(parts.tm_mon) + 1, 2); out.append(45)
        digits(Int(parts.tm_mday), 2); out.append(84)
        digits(Int(parts.tm_hour), 2); out.append(58)
        digits(Int(parts.tm_min), 2); out.append(58)
        digits(Int(parts.tm_sec), 2); out.append(46)
        digits(Int(ts.tv_nsec), 9); out.append(90)
        return out
    }
}
