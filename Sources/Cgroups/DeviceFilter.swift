import Linux
import OCISpec

/// cgroup v2 device control. v2 has no devices.allow/deny files: access is decided by an eBPF
/// program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup (as runc and crun do).
///
/// The program sees `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`
/// (access_type = access << 16 | type) and returns 1 to allow, 0 to deny.
/// OCI rules are applied in order with the last match winning, exactly like writing them to v1's
/// devices.allow/deny one after the other; so the program tests them last-to-first and the first
/// match decides. No match: deny (the v1 default once "a *:* rwm" is denied).
public enum DeviceFilter {
    /// BPF_DEVCG_DEV_* and BPF_DEVCG_ACC_*.
    static let typeBlock: Int32 = 1, typeChar: Int32 = 2
    static let accessMknod: Int32 = 1, accessRead: Int32 = 2, accessWrite: Int32 = 4

    public static func attach(_ rules: [Resources.DeviceRule], to directory: String) throws(CgroupError) {
        let program = compile(rules)
        let fd: Int32
        do { fd = try BPF.loadDeviceProgram(program) } catch {
            throw CgroupError("load device program for", path: directory, reason: "\(error)")
        }
        defer { _ = Glibc.close(fd) }
        do { try BPF.replaceDevicePrograms(at: directory, with: fd) } catch {
            throw CgroupError("attach device program to", path: directory, reason: "\(error)")
        }
    }

    /// The program for `rules`, as raw 8-byte eBPF instructions.
    public static func compile(_ rules: [Resources.DeviceRule]) -> [UInt64] {
        var program: [UInt64] = [
            // r2 = type, r3 = access, r4 = major, r5 = minor (r1 = ctx)
            ins(0x61, dst: 2, src: 1, off: 0),     // r2 = *(u32 *)(r1 + 0)
            ins(0x54, dst: 2, imm: 0xffff),        // w2 &= 0xffff
            ins(0x61, dst: 3, src: 1, off: 0),     // r3 = *(u32 *)(r1 + 0)
            ins(0x74, dst: 3, imm: 16),            // w3 >>= 16
            ins(0x61, dst: 4, src: 1, off: 4),     // r4 = *(u32 *)(r1 + 4)
            ins(0x61, dst: 5, src: 1, off: 8),     // r5 = *(u32 *)(r1 + 8)
        ]
        for rule in rules.reversed() {
            let (code, unconditional) = block(for: rule)
            program += code
            // The verifier refuses unreachable instructions: nothing may follow a rule matching everything.
            if unconditional { return program }
        }
        program += [ins(0xb7, dst: 0, imm: 0), ins(0x95)] // r0 = 0 (deny); exit
        return program
    }

    /// One rule: a run of "if it does not match, skip to the next rule" tests, then return allow/deny.
    static func block(for rule: Resources.DeviceRule) -> (code: [UInt64], unconditional: Bool) {
        // Each test is a (setup instructions, jump-if-no-match instruction builder).
        var tests: [[(Int16) -> UInt64]] = []
        switch rule.type ?? "a" {
        case "b": tests.append([{ ins(0x55, dst: 2, off: $0, imm: typeBlock) }]) // if r2 != block goto next
        case "c": tests.append([{ ins(0x55, dst: 2, off: $0, imm: typeChar) }])
        default: break
        }
        let access = mask(rule.access ?? "rwm")
        if access != accessMknod | accessRead | accessWrite {
            if rule.allow {
                // allow only if every requested bit is in the rule: (r3 & ~access) == 0
                tests.append([{ _ in ins(0xbc, dst: 1, src: 3) },            // w1 = w3
                              { _ in ins(0x54, dst: 1, imm: ~access & 7) },   // w1 &= ~access
                              { ins(0x55, dst: 1, off: $0, imm: 0) }])         // if r1 != 0 goto next
            } else {
                // deny if any requested bit is in the rule: (r3 & access) != 0
                tests.append([{ _ in ins(0xbc, dst: 1, src: 3) },
                              { _ in ins(0x54, dst: 1, imm: access) },
                              { ins(0x15, dst: 1, off: $0, imm: 0) }])         // if r1 == 0 goto next
            }
        }
        if let major = rule.major, major >= 0 {
            tests.append([{ ins(0x55, dst: 4, off: $0, imm: Int32(truncatingIfNeeded: major)) }])
        }
        if let minor = rule.minor, minor >= 0 {
            tests.append([{ ins(0x55, dst: 5, off: $0, imm: Int32(truncatingIfNeeded: minor)) }])
        }
        let flat = tests.flatMap { $0 }
        let length = flat.count + 2
        var out: [UInt64] = []
        for (index, make) in flat.enumerated() {
            out.append(make(Int16(length - index - 1))) // jump to just past this block
        }
        out += [ins(0xb7, dst: 0, imm: rule.allow ? 1 : 0), ins(0x95)]
        return (out, flat.isEmpty)
    }

    static func mask(_ access: String) -> Int32 {
        var m: Int32 = 0
        if access.contains("m") { m |= accessMknod }
        if access.contains("r") { m |= accessRead }
        if access.contains("w") { m |= accessWrite }
        return m
    }

    /// struct bpf_insn { u8 code; u8 dst:4, src:4; s16 off; s32 imm; }, little-endian.
    static func ins(_ code: UInt8, dst: UInt8 = 0, src: UInt8 = 0, off: Int16 = 0, imm: Int32 = 0) -> UInt64 {
        UInt64(code) | UInt64((src << 4) | (dst & 0xf)) << 8 | UInt64(UInt16(bitPattern: off)) << 16
            | UInt64(UInt32(bitPattern: imm)) << 32
    }
}

import Glibc
