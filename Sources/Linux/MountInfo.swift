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

    /// Parses /proc/self/mountinfo (or the given text).
    public static func all(_ text: String? = nil) -> [MountInfoEntry] {
        guard let content = text ?? (try? Files.read("/proc/self/mountinfo")) else { return [] }
        var entries: [MountInfoEntry] = []
        for line in content.split(separator: "\n") {
            let halves = line.split(separator: " - ", maxSplits: 1)
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " ")
            let right = halves[1].split(separator: " ")
            guard left.count >= 6, right.count >= 3 else { continue }
            entries.append(MountInfoEntry(
                mountID: Int(left[0]) ?? 0, parentID: Int(left[1]) ?? 0,
                root: Mounts.unescape(String(left[3])), mountPoint: Mounts.unescape(String(left[4])),
                options: String(left[5]), fsType: String(right[0]), source: Mounts.unescape(String(right[1])),
                superOptions: String(right[2])))
        }
        return entries
    }
}
