import Foundation
import Glibc

/// docker's events, kept as podman's `file` backend keeps them: one JSON object per line, appended to
/// `<root>/engine/events.jsonl` (O_APPEND: concurrent writers never interleave a line).
public struct EngineEvent: Codable, Sendable {
    public struct Actor: Codable, Sendable {
        public var ID: String
        public var Attributes: [String: String]
    }
    public var status: String?
    public var id: String?
    public var from: String?
    public var `Type`: String
    public var Action: String
    public var Actor: Actor
    public var scope: String
    public var time: Int64
    public var timeNano: Int64
}

enum Events {
    static func path(_ engine: Engine) -> String { engine.root + "/engine/events.jsonl" }

    static func record(_ engine: Engine, type: String, action: String, record: ContainerInfo, extra: [String: String] = [:]) {
        var attributes = record.Config.Labels
        attributes["image"] = record.ImageName
        attributes["name"] = record.Name
        for (key, value) in extra { attributes[key] = value }
        Self.record(engine, type: type, action: action, id: record.Id, attributes: attributes, from: record.ImageName)
    }

    static func record(_ engine: Engine, type: String, action: String, id: String, attributes: [String: String], from: String? = nil) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let nanos = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
        let event = EngineEvent(status: type == "container" ? action : nil, id: type == "container" ? id : nil, from: from,
                                Type: type, Action: action, Actor: .init(ID: id, Attributes: attributes), scope: "local",
                                time: Int64(now.tv_sec), timeNano: nanos)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard var line = try? encoder.encode(event) else { return }
        line.append(10)
        let fd = open(path(engine), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}

extension Engine {
    /// Events between `since` and `until` (Unix seconds); with `follow`, new ones as they are appended, until
    /// `until` passes or `handler` returns false.
    public func events(since: Double?, until: Double?, follow: Bool, handler: (EngineEvent) -> Bool) {
        let fd = open(Events.path(self), O_RDONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let decoder = JSONDecoder()
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                pending += buffer[0..<n]
                while let newline = pending.firstIndex(of: 10) {
                    let line = Data(pending[..<newline])
                    pending.removeSubrange(...newline)
                    guard let event = try? decoder.decode(EngineEvent.self, from: line) else { continue }
                    let time = Double(event.timeNano) / 1e9
                    if let since, time < since { continue }
                    if let until, time > until { return }
                    if !handler(event) { return }
                }
                continue
            }
            if !follow { return }
            if let until, Date().timeIntervalSince1970 > until { return }
            usleep(100_000)
        }
    }
}
