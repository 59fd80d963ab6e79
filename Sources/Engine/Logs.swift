import Foundation
import Glibc
import Linux

/// One entry of a json-file log.
public struct LogEntry: Sendable {
    public let stream: String
    public let text: String
    public let time: String
    /// Seconds since the epoch, for --since/--until.
    public let timestamp: Double
}

private struct JSONFileLine: Decodable {
    let log: String
    let stream: String
    let time: String
}

extension Engine {
    public struct LogOptions: Sendable {
        public var follow = false
        public var tail: Int? = nil
        public var since: Double? = nil
        public var until: Double? = nil
        public init() {}
    }

    /// `logs`: the container's log entries (rotated files first), then with `follow` new ones until the
    /// container stops.
    public func logs(_ reference: String, options: LogOptions, handler: (LogEntry) -> Bool) throws(EngineError) {
        let record = try container(reference)
        guard record.HostConfig.LogConfig.Type != "none" else {
            throw EngineError("configured logging driver does not support reading", "the container was started with --log-driver none")
        }
        let path = record.LogPath
        var files: [String] = []
        var index = 1
        while Files.exists("\(path).\(index)") { files.insert("\(path).\(index)", at: 0); index += 1 }
        let decoder = JSONDecoder()
        func decode(_ line: ArraySlice<UInt8>) -> LogEntry? {
            guard let entry = try? decoder.decode(JSONFileLine.self, from: Data(line)) else { return nil }
            let stamp = Timestamps.parse(entry.time) ?? 0
            if let since = options.since, stamp < since { return nil }
            if let until = options.until, stamp > until { return nil }
            return LogEntry(stream: entry.stream, text: entry.log, time: entry.time, timestamp: stamp)
        }
        var entries: [LogEntry] = []
        for file in files {
            guard let bytes = try? Files.readBytes(file) else { continue }
            for line in bytes.split(separator: 10) { if let entry = decode(line) { entries.append(entry) } }
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        func readCurrent() -> [LogEntry] {
            guard fd >= 0 else { return [] }
            var found: [LogEntry] = []
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                pending += buffer[0..<n]
            }
            while let newline = pending.firstIndex(of: 10) {
                if let entry = decode(pending[..<newline]) { found.append(entry) }
                pending.removeSubrange(...newline)
            }
            return found
        }
        defer { if fd >= 0 { close(fd) } }
        entries += readCurrent()
        if let tail = options.tail { entries = Array(entries.suffix(max(0, tail))) }
        for entry in entries where !handler(entry) { return }
        guard options.follow else { return }
        while true {
            let running = withLiveState(record).State.Running
            for entry in readCurrent() where !handler(entry) { return }
            if !running {
                for entry in readCurrent() where !handler(entry) { return }
                return
            }
            if let until = options.until, Date().timeIntervalSince1970 > until { return }
            usleep(50_000)
        }
    }
}

/// RFC 3339 times (with nanoseconds) and docker's relative forms for --since/--until.
public enum Timestamps {
    /// `2024-01-02T03:04:05.123456789Z` → seconds since the epoch.
    public static func parse(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20 else { return nil }
        func number(_ range: Range<Int>) -> Int? { Int(String(decoding: bytes[range], as: UTF8.self)) }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900); parts.tm_mon = Int32(month - 1); parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour); parts.tm_min = Int32(minute); parts.tm_sec = Int32(second)
        var seconds = Double(timegm(&parts))
        var index = 19
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            var fraction = 0.0, scale = 0.1
            index += 1
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                fraction += Double(bytes[index] - 0x30) * scale; scale /= 10; index += 1
            }
            seconds += fraction
        }
        if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) && bytes.count >= index + 6 {
            let sign: Double = bytes[index] == UInt8(ascii: "+") ? -1 : 1
            if let h = number(index + 1..<index + 3), let m = number(index + 4..<index + 6) { seconds += sign * Double(h * 3600 + m * 60) }
        }
        return seconds
    }

    /// docker's --since/--until: an RFC 3339 time, a Unix timestamp, or a duration before now (`10m`, `1h30m`).
    public static func parseUserTime(_ text: String, now: Double = Date().timeIntervalSince1970) -> Double? {
        if let value = Double(text) { return value }
        if let time = parse(text) { return time }
        if text.count == 10, let time = parse(text + "T00:00:00Z") { return time }
        if let duration = Durations.parse(text) { return now - duration }
        return nil
    }
}

/// Go durations: `300ms`, `1.5s`, `10m`, `1h30m`.
public enum Durations {
    public static func parse(_ text: String) -> Double? {
        var total = 0.0
        var number = ""
        var unit = ""
        var any = false
        func flush() -> Bool {
            guard let value = Double(number) else { return false }
            let scale: Double
            switch unit {
            case "ns": scale = 1e-9
            case "us", "µs": scale = 1e-6
            case "ms": scale = 1e-3
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            default: return false
            }
            total += value * scale
            number = ""; unit = ""; any = true
            return true
        }
        for character in text {
            if character.isNumber || character == "." {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(character)
            } else {
                unit.append(character)
            }
        }
        if !number.isEmpty || !unit.isEmpty { guard flush() else { return nil } }
        return any ? total : nil
    }
}
