import Glibc
import CBerth

/// Changing user and groups with raw syscalls (see cberth.h for why not glibc's wrappers).
public enum Identity {
    public static func setGroups(_ groups: [UInt32]) throws(SystemError) {
        var list = groups.map { gid_t($0) }
        try check("setgroups", groups.map(String.init).joined(separator: ",")) {
            list.withUnsafeMutableBufferPointer { berth_setgroups($0.count, $0.baseAddress) }
        }
    }

    public static func setGID(_ gid: UInt32) throws(SystemError) {
        try check("setresgid", "\(gid)") { berth_setresgid(gid, gid, gid) }
    }

    public static func setUID(_ uid: UInt32) throws(SystemError) {
        try check("setresuid", "\(uid)") { berth_setresuid(uid, uid, uid) }
    }

    /// Keeps permitted capabilities across the uid change (PR_SET_KEEPCAPS).
    public static func keepCapabilities(_ keep: Bool) throws(SystemError) {
        try check("prctl(PR_SET_KEEPCAPS)") { berth_prctl(PR_SET_KEEPCAPS, keep ? 1 : 0, 0, 0, 0) }
    }

    public static func setNoNewPrivileges() throws(SystemError) {
        try check("prctl(PR_SET_NO_NEW_PRIVS)") { berth_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }
    }
}
