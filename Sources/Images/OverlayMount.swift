import Glibc
import Linux

/// Mounts overlayfs. With few layers, one mount(2) whose options name every lower directory; when those options
/// would not fit the page mount(2) copies (about 40 layers under the default root), the new mount API
/// (fsopen/fsconfig/fsmount/move_mount) adds the lower directories one `lowerdir+` at a time (Linux 6.8+).
enum OverlayMount {
    static let optionLimit = 4000

    /// Root of a user namespace may not set `trusted.` xattrs, so there (a rootless store) overlayfs is told
    /// to keep its metadata, and the unpacker writes opaque markers, under `user.overlay.` (`userxattr`).
    /// A store is only ever used from one kind of namespace: its owner's.
    static let userXattr = !UserNamespaceFacts.isInitial
    static var xattrPrefix: String { userXattr ? "user.overlay." : "trusted.overlay." }

    /// `lowers` top first.
    static func mount(lowers: [String], upper: String, work: String, target: String) throws(ImageError) {
        let options = "lowerdir=\(lowers.joined(separator: ":")),upperdir=\(upper),workdir=\(work)" + (userXattr ? ",userxattr" : "")
        if options.utf8.count < optionLimit {
            try sys { () throws(SystemError) in
                try Mounts.mount(source: "overlay", target: target, type: "overlay", flags: [], data: options)
            }
            return
        }
        try mountIncrementally(lowers: lowers, upper: upper, work: work, target: target)
    }

    static func mountIncrementally(lowers: [String], upper: String, work: String, target: String) throws(ImageError) {
        let context = try sys { () throws(SystemError) in
            try check("fsopen", "overlay") { fsopen("overlay", UInt32(FSOPEN_CLOEXEC)) }
        }
        defer { close(context) }
        func set(_ key: String, _ value: String) throws(ImageError) {
            do throws(SystemError) {
                try check("fsconfig", "\(key)=\(value)") {
                    fsconfig(context, UInt32(FSCONFIG_SET_STRING.rawValue), key, value, 0)
                }
            } catch {
                let hint = key == "lowerdir+" && error.errno == EINVAL
                    ? " (this kernel cannot add lower layers one by one: \(lowers.count) layers are too many)" : ""
                throw ImageError("mount overlay", target, "\(error)\(hint)")
            }
        }
        for lower in lowers { try set("lowerdir+", lower) }
        if userXattr {
            try sys { () throws(SystemError) in
                try check("fsconfig", "userxattr") { fsconfig(context, UInt32(FSCONFIG_SET_FLAG.rawValue), "userxattr", nil, 0) }
            }
        }
        try set("upperdir", upper)
        try set("workdir", work)
        try sys { () throws(SystemError) in
            try check("fsconfig", "create overlay") {
                fsconfig(context, UInt32(FSCONFIG_CMD_CREATE.rawValue), nil, nil, 0)
            }
        }
        let mount = try sys { () throws(SystemError) in
            try check("fsmount", "overlay") { fsmount(context, UInt32(FSMOUNT_CLOEXEC), 0) }
        }
        defer { close(mount) }
        try sys { () throws(SystemError) in
            try check("move_mount", target) {
                move_mount(mount, "", AT_FDCWD, target, UInt32(MOVE_MOUNT_F_EMPTY_PATH))
            }
        }
    }
}
