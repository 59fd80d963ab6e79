/// One line of /proc/self/mountinfo.
public struct MountInfoEntry: Sendable, Equatable {
    public let mountID: Int
    public let parentID: Int
    public let root: String
    public let mountPoint: String
    public let options: String
    public let fsType: String
    public let source: String
    public let superOptions: String

    /// Parses /proc/self/mountinfo (or the given text). On bytes: every runtime command and the init read the
    /// table, and String splitting by a multi-character separator was its largest cost.
    public static func all(_ text: String? = nil) -> [MountInfoEntry] {
        let bytes: [UInt8]
        if let text { bytes = Array(text.utf8) } else {
            guard let read = try? Files.readBytes("/proc/self/mountinfo") else { return [] }
            bytes = read
        }
        return parse(bytes)
    }

    static func parse(_ bytes: [UInt8]) -> [MountInfoEntry] {
        var entries: [MountInfoEntry] = []
        let space = UInt8(ascii: " "), newline = UInt8(ascii: "\n"), dash = UInt8(ascii: "-")
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != newline { lineEnd += 1 }
            defer { lineStart = lineEnd + 1 }
            // Fields are single-space separated; optional fields end at a lone "-".
            var fields: [Range<Int>] = []
            var start = lineStart
            for i in lineStart...lineEnd where i == lineEnd || bytes[i] == space {
                if i > start { fields.append(start..<i) }
                start = i + 1
            }
            guard let separator = fields.indices.first(where: { $0 >= 6 && fields[$0].count == 1 && bytes[fields[$0].lowerBound] == dash }),
                  fields.count >= separator + 4 else { continue }
            func text(_ index: Int) -> String { String(decoding: bytes[fields[index]], as: UTF8.self) }
            func number(_ index: Int) -> Int {
                var value = 0
                for byte in bytes[fields[index]] {
                    guard byte >= 0x30 && byte <= 0x39 else { return 0 }
                    value = value * 10 + Int(byte - 0x30)
                }
                return value
            }
            entries.append(MountInfoEntry(
                mountID: number(0), parentID: number(1),
                root: Mounts.unescape(text(3)), mountPoint: Mounts.unescape(text(4)),
                options: text(5), fsType: text(separator + 1), source: Mounts.unescape(text(separator + 2)),
                superOptions: text(separator + 3)))
        }
        return entries
    }
}
