import CBerth
import Glibc

/// The bpf(2) calls of the cgroup v2 device controller: load a BPF_PROG_TYPE_CGROUP_DEVICE
/// program, attach it to a cgroup directory, and replace the programs attached before.
public enum BPF {
    /// Loads a device program; the verifier's complaint, if any, is in the error's subject.
    public static func loadDeviceProgram(_ instructions: [UInt64]) throws(SystemError) -> Int32 {
        // Without a log first: with one, a verifier trace longer than the buffer fails the load
        // (ENOSPC) even for a good program. The log is only asked for to explain a refusal.
        let fd = instructions.withUnsafeBufferPointer { insns in
            berth_bpf_load_device_program(insns.baseAddress, UInt32(insns.count), "Apache-2.0", nil, 0)
        }
        if fd >= 0 {
            Trace.log("bpf(BPF_PROG_LOAD, \(instructions.count) insns) = \(fd)")
            return fd
        }
        let code = errno
        var log = [CChar](repeating: 0, count: 1 << 20)
        let retried = instructions.withUnsafeBufferPointer { insns in
            log.withUnsafeMutableBufferPointer { buffer in
                berth_bpf_load_device_program(insns.baseAddress, UInt32(insns.count), "Apache-2.0",
                                              buffer.baseAddress, UInt32(buffer.count))
            }
        }
        if retried >= 0 { return retried }
        let verifier = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let lastLines = verifier.split(separator: "\n").suffix(3).joined(separator: "; ")
        throw SystemError("bpf(BPF_PROG_LOAD)",
                          lastLines.isEmpty ? "cgroup device program" : "cgroup device program: \(lastLines)",
                          errno: code)
    }

    /// Attaches `program` to the cgroup at `directory` and detaches every device program that was
    /// attached there before, so exactly the new rules apply (there is no moment with no program).
    public static func replaceDevicePrograms(at directory: String, with program: Int32) throws(SystemError) {
        let cgroup = try check("open", directory) { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(cgroup) }
        var ids = [UInt32](repeating: 0, count: 64)
        var count = UInt32(ids.count)
        try check("bpf(BPF_PROG_QUERY)", directory) { berth_bpf_query_device_programs(cgroup, &ids, &count) }
        try check("bpf(BPF_PROG_ATTACH)", directory) { berth_bpf_attach_device_program(cgroup, program) }
        for id in ids.prefix(Int(min(count, UInt32(ids.count)))) {
            let old = try check("bpf(BPF_PROG_GET_FD_BY_ID)", "\(id)") { berth_bpf_program_fd_by_id(id) }
            defer { close(old) }
            try check("bpf(BPF_PROG_DETACH)", directory) { berth_bpf_detach_device_program(cgroup, old) }
        }
    }

    /// How many device programs are attached directly to the cgroup.
    public static func devicePrograms(at directory: String) throws(SystemError) -> Int {
        let cgroup = try check("open", directory) { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(cgroup) }
        var ids = [UInt32](repeating: 0, count: 64)
        var count = UInt32(ids.count)
        try check("bpf(BPF_PROG_QUERY)", directory) { berth_bpf_query_device_programs(cgroup, &ids, &count) }
        return Int(count)
    }
}
