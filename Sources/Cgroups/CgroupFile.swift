import Glibc
import Linux

/// Reading and writing the interface files of one cgroup directory. Every error names the file and,
/// for writes, the value: `write "banana" to /sys/fs/cgroup/x/memory.max: Invalid argument`.
struct CgroupFile {
    static func path(_ dir: String, _ name: String) -> String { dir + "/" + name }

    static func exists(_ dir: String, _ name: String) -> Bool { Files.exists(path(dir, name)) }

    static func write(_ dir: String, _ name: String, _ value: String) throws(CgroupError) {
        let file = path(dir, name)
        do {
            try Files.write(file, value)
        } catch {
            throw CgroupError("write \"\(value)\" to", path: file, reason: explain(error.errno, file: name))
        }
    }

    static func read(_ dir: String, _ name: String) throws(CgroupError) -> String {
        let file = path(dir, name)
        do {
            return try Files.read(file)
        } catch {
            throw CgroupError("read", path: file, reason: explain(error.errno, file: name))
        }
    }

    static func readTrimmed(_ dir: String, _ name: String) throws(CgroupError) -> String {
        trim(try read(dir, name))
    }

    /// A single number; `max` reads as nil.
    static func readNumber(_ dir: String, _ name: String) throws(CgroupError) -> UInt64? {
        let text = try readTrimmed(dir, name)
        if text == "max" { return nil }
        guard let value = UInt64(text) ?? Int64(text).map({ UInt64(bitPattern: $0) }) else {
            throw CgroupError("parse", path: path(dir, name), reason: "not a number: \"\(text)\"")
        }
        return value
    }

    /// A number, or 0 when the file is absent or unreadable (stats tolerate missing files).
    static func number(_ dir: String, _ name: String) -> UInt64 {
        guard let text = try? Files.read(path(dir, name)) else { return 0 }
        return UInt64(trim(text)) ?? 0
    }

    /// `key value` lines (memory.stat, cpu.stat, memory.events, memory.oom_control).
    static func keyValues(_ dir: String, _ name: String) -> [String: UInt64] {
        guard let text = try? Files.read(path(dir, name)) else { return [:] }
        var out: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 2, let v = UInt64(f[1]) { out[String(f[0])] = v }
        }
        return out
    }

    /// Space-separated numbers (cpuacct.usage_percpu).
    static func numbers(_ dir: String, _ name: String) -> [UInt64] {
        guard let text = try? Files.read(path(dir, name)) else { return [] }
        return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { UInt64($0) }
    }

    static func trim(_ s: String) -> String {
        var sub = Substring(s)
        while let last = sub.last, last == "\n" || last == " " || last == "\t" { sub = sub.dropLast() }
        while let first = sub.first, first == " " || first == "\t" { sub = sub.dropFirst() }
        return String(sub)
    }

    static func explain(_ code: Int32, file: String) -> String {
        let base = SystemError.message(code)
        switch code {
        case ENOENT: return "\(base) (no such interface file: is the controller enabled for this cgroup?)"
        case EINVAL: return "\(base) (the kernel rejected the value)"
        case EBUSY: return "\(base) (the cgroup is in use)"
        case EOPNOTSUPP: return "\(base) (\(file) is not supported by this kernel)"
        default: return base
        }
    }
}

/// Parses `2MB`, `1GB`, `64KB` page-size names (as OCI hugepageLimits use).
enum PageSize {
    static func isValid(_ s: String) -> Bool {
        let units = ["KB", "MB", "GB"]
        guard let unit = units.first(where: { s.hasSuffix($0) }) else { return false }
        return UInt64(s.dropLast(unit.count)) != nil
    }
}
