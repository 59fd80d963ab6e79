#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Linux
import OCISpec

/// `update`'s flags (runc's names) and `-r FILE|-`, turned into Resources.
enum UpdateFlags {
    /// runc 1.1.5's flags (kernel-memory* are hidden there, accepted and ignored with a warning).
    static let flags: [ArgumentScanner.FlagSpec] = [
        "blkio-weight", "cpu-period", "cpu-quota", "cpu-share", "cpu-rt-period", "cpu-rt-runtime", "cpuset-cpus",
        "cpuset-mems", "memory", "memory-reservation", "memory-swap", "kernel-memory", "kernel-memory-tcp",
        "pids-limit", "l3-cache-schema", "mem-bw-schema",
    ].map { .init(names: [$0], kind: .value) } + [.init(names: ["resources", "r"], kind: .value)]

    /// As runc 1.1.5: with `-r` every other flag is ignored; a flag left out or given as 0 leaves the
    /// value as it is (runc's zero means "unchanged"), and the messages for bad values are runc's.
    static func resources(from scanned: ArgumentScanner, warn: (String) -> Void) throws -> Resources {
        if let file = scanned.string("resources") {
            let bytes = file == "-" ? try Files.readAll(fd: 0, name: "stdin") : try Files.readBytes(file)
            do {
                return try SpecJSON.decode(Resources.self, from: Data(bytes), file: file == "-" ? "stdin" : file)
            } catch let error as SpecDecodingError {
                throw CommandError("update --resources", error.description)
            }
        }
        var resources = Resources()
        func unsigned(_ name: String) throws -> UInt64? {
            guard let text = scanned.string(name) else { return nil }
            guard let value = UInt64(text) else {
                throw CommandError("invalid value for \(name)", "strconv.ParseUint: parsing \(goQuoted(text)): \(goNumberError(text, signed: false))")
            }
            return value == 0 ? nil : value
        }
        func signed(_ name: String) throws -> Int64? {
            guard let text = scanned.string(name) else { return nil }
            guard let value = Int64(text) else {
                throw CommandError("invalid value for \(name)", "strconv.ParseInt: parsing \(goQuoted(text)): \(goNumberError(text, signed: true))")
            }
            return value == 0 ? nil : value
        }
        // urfave/cli's Int flags: the flag package's own words, for any occurrence (Go parses each).
        func int(_ name: String) throws -> Int64? {
            for text in scanned.strings(name) where Int64(text) == nil {
                throw CommandError("invalid value \(goQuoted(text)) for flag -\(name): parse error", "")
            }
            guard let value = scanned.string(name).flatMap({ Int64($0) }) else { return nil }
            return value == 0 ? nil : value
        }
        func bytes(_ name: String) throws -> Int64? {
            guard let text = scanned.string(name), !text.isEmpty else { return nil }
            if text == "-1" { return -1 }
            guard let value = ByteSize.parse(text) else { throw CommandError("invalid value for \(name)", "invalid size: '\(text)'") }
            return value == 0 ? nil : value
        }
        if let weight = try int("blkio-weight") {
            resources.blockIO = Resources.BlockIO()
            resources.blockIO?.weight = UInt16(truncatingIfNeeded: weight)
        }
        var cpu = Resources.CPU()
        cpu.cpus = scanned.string("cpuset-cpus").flatMap { $0.isEmpty ? nil : $0 }
        cpu.mems = scanned.string("cpuset-mems").flatMap { $0.isEmpty ? nil : $0 }
        cpu.period = try unsigned("cpu-period")
        cpu.realtimePeriod = try unsigned("cpu-rt-period")
        cpu.shares = try unsigned("cpu-share")
        cpu.quota = try signed("cpu-quota")
        cpu.realtimeRuntime = try signed("cpu-rt-runtime")
        if cpu != Resources.CPU() { resources.cpu = cpu }
        var memory = Resources.Memory()
        memory.limit = try bytes("memory")
        memory.swap = try bytes("memory-swap")
        memory.reservation = try bytes("memory-reservation")
        if memory != Resources.Memory() { resources.memory = memory }
        if try bytes("kernel-memory") != nil || bytes("kernel-memory-tcp") != nil {
            warn("Kernel memory settings are ignored and will be removed")
        }
        if let limit = try int("pids-limit") { resources.pids = Resources.Pids(limit: limit) }
        // runc's words; this host has no Intel RDT (resctrl).
        if let schema = scanned.string("l3-cache-schema"), !schema.isEmpty {
            throw CommandError("Intel RDT/CAT: l3 cache schema is not enabled", "")
        }
        if let schema = scanned.string("mem-bw-schema"), !schema.isEmpty {
            throw CommandError("Intel RDT/MBA: memory bandwidth schema is not enabled", "")
        }
        return resources
    }

    /// strconv's reason: a number too large is "value out of range", anything else "invalid syntax".
    static func goNumberError(_ text: String, signed: Bool) -> String {
        let body = signed && (text.hasPrefix("-") || text.hasPrefix("+")) ? text.dropFirst() : Substring(text)
        return !body.isEmpty && body.allSatisfy({ $0.isASCII && $0.isNumber }) ? "value out of range" : "invalid syntax"
    }
}

/// Sizes as docker/go-units' RAMInBytes reads them (what runc's update uses): a decimal number, an
/// optional space, an optional binary unit k/m/g/t/p, optional `i` and `b`, any case: `512m`, `1.5g`,
/// `100MiB`, `64 kb`.
enum ByteSize {
    static func parse(_ text: String) -> Int64? {
        var body = Substring(text.lowercased())
        if body.hasSuffix("b") { body.removeLast() }
        if body.hasSuffix("i") { body.removeLast() }
        let multipliers: [Character: Double] = ["k": 0x1p10, "m": 0x1p20, "g": 0x1p30, "t": 0x1p40, "p": 0x1p50]
        var multiplier = 1.0
        if let last = body.last, let m = multipliers[last] { multiplier = m; body.removeLast() }
        if body.hasSuffix(" ") { body.removeLast() }
        // digits, then groups of "." and digits (the regexp's shape); Double then has the last word.
        guard let first = body.first, first.isASCII, first.isNumber, let last = body.last, last.isNumber,
              body.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "." }), !body.contains(".."),
              let value = Double(body) else { return nil }
        let bytes = value * multiplier
        guard bytes < 0x1p63 else { return nil }
        return Int64(bytes)
    }
}
