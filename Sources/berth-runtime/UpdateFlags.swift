#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Linux
import OCISpec

/// `update`'s flags (runc's names) and `-r FILE|-`, turned into Resources.
enum UpdateFlags {
    static let flags: [ArgumentScanner.FlagSpec] = [
        "resources", "r", "blkio-weight", "cpu-period", "cpu-quota", "cpu-burst", "cpu-share", "cpu-rt-period",
        "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems", "memory", "memory-reservation", "memory-swap", "pids-limit",
        "l3-cache-schema", "mem-bw-schema", "cpu-idle",
    ].map { .init(names: $0 == "r" ? ["resources", "r"] : [$0], kind: .value) }.filter { $0.names != ["resources"] }

    static func resources(from scanned: ArgumentScanner) throws -> Resources {
        var resources = Resources()
        if let file = scanned.string("resources") {
            let bytes = file == "-" ? try Files.readAll(fd: 0, name: "stdin") : try Files.readBytes(file)
            do {
                resources = try SpecJSON.decode(Resources.self, from: Data(bytes), file: file == "-" ? "stdin" : file)
            } catch let error as SpecDecodingError {
                throw CommandError("update --resources", error.description)
            }
        }
        func number<T: FixedWidthInteger>(_ name: String, _ type: T.Type) throws -> T? {
            guard let text = scanned.string(name) else { return nil }
            guard let value = T(text) else { throw CommandError("update --\(name)", "\(text) is not a valid number") }
            return value
        }
        func bytes(_ name: String) throws -> Int64? {
            guard let text = scanned.string(name) else { return nil }
            if text == "-1" { return -1 }
            guard let value = ByteSize.parse(text) else { throw CommandError("update --\(name)", "\(text) is not a size (like 512m or 1g)") }
            return value
        }
        if let weight = try number("blkio-weight", UInt16.self) {
            var blockIO = resources.blockIO ?? Resources.BlockIO(); blockIO.weight = weight; resources.blockIO = blockIO
        }
        var cpu = resources.cpu ?? Resources.CPU()
        var touchedCPU = resources.cpu != nil
        if let v = try number("cpu-period", UInt64.self) { cpu.period = v; touchedCPU = true }
        if let v = try number("cpu-quota", Int64.self) { cpu.quota = v; touchedCPU = true }
        if let v = try number("cpu-burst", UInt64.self) { cpu.burst = v; touchedCPU = true }
        if let v = try number("cpu-share", UInt64.self) { cpu.shares = v; touchedCPU = true }
        if let v = try number("cpu-rt-period", UInt64.self) { cpu.realtimePeriod = v; touchedCPU = true }
        if let v = try number("cpu-rt-runtime", Int64.self) { cpu.realtimeRuntime = v; touchedCPU = true }
        if let v = try number("cpu-idle", Int64.self) { cpu.idle = v; touchedCPU = true }
        if let v = scanned.string("cpuset-cpus") { cpu.cpus = v; touchedCPU = true }
        if let v = scanned.string("cpuset-mems") { cpu.mems = v; touchedCPU = true }
        if touchedCPU { resources.cpu = cpu }
        var memory = resources.memory ?? Resources.Memory()
        var touchedMemory = resources.memory != nil
        if let v = try bytes("memory") { memory.limit = v; touchedMemory = true }
        if let v = try bytes("memory-reservation") { memory.reservation = v; touchedMemory = true }
        if let v = try bytes("memory-swap") { memory.swap = v; touchedMemory = true }
        if touchedMemory { resources.memory = memory }
        if let v = try number("pids-limit", Int64.self) { resources.pids = Resources.Pids(limit: v) }
        if scanned.string("l3-cache-schema") != nil || scanned.string("mem-bw-schema") != nil {
            throw CommandError("update", "Intel RDT is not supported by berth-runtime")
        }
        return resources
    }
}

/// Sizes like docker's: `1024`, `512k`, `64m`, `1g` (binary multiples), case-insensitive, optional `b`.
enum ByteSize {
    static func parse(_ text: String) -> Int64? {
        var body = text.lowercased()
        if body.hasSuffix("b") && body.count > 1 && Int64(body) == nil { body.removeLast() }
        let multipliers: [Character: Int64] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40]
        if let last = body.last, let multiplier = multipliers[last] {
            guard let value = Double(body.dropLast()), value >= 0 else { return nil }
            return Int64(value * Double(multiplier))
        }
        return Int64(body)
    }
}
