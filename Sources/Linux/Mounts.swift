import Glibc

/// mount(2) flags and the OCI option names that map to them.
public struct MountFlags: OptionSet, Sendable {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }
    public static let readOnly = MountFlags(rawValue: 1)
    public static let noSuid = MountFlags(rawValue: 2)
    public static let noDev = MountFlags(rawValue: 4)
    public static let noExec = MountFlags(rawValue: 8)
    public static let synchronous = MountFlags(rawValue: 16)
    public static let remount = MountFlags(rawValue: 32)
    public static let mandLock = MountFlags(rawValue: 64)
    public static let dirSync = MountFlags(rawValue: 128)
    public static let noSymfollow = MountFlags(rawValue: 256)
    public static let noAtime = MountFlags(rawValue: 1024)
    public static let noDirAtime = MountFlags(rawValue: 2048)
    public static let bind = MountFlags(rawValue: 4096)
    public static let move = MountFlags(rawValue: 8192)
    public static let recursive = MountFlags(rawValue: 16384)
    public static let silent = MountFlags(rawValue: 32768)
    public static let unbindable = MountFlags(rawValue: 1 << 17)
    public static let `private` = MountFlags(rawValue: 1 << 18)
    public static let slave = MountFlags(rawValue: 1 << 19)
    public static let shared = MountFlags(rawValue: 1 << 20)
    public static let relAtime = MountFlags(rawValue: 1 << 21)
    public static let strictAtime = MountFlags(rawValue: 1 << 24)
    public static let lazyTime = MountFlags(rawValue: 1 << 25)

    public static let propagation: MountFlags = [.shared, .slave, .private, .unbindable]
}

/// One OCI mount's options, split into mount flags, propagation changes and filesystem data.
public struct ParsedMountOptions: Sendable, Equatable {
    public var flags: MountFlags = []
    /// Flags that an option explicitly clears (`rw`, `suid`, `dev`, …): needed to compute a bind remount.
    public var cleared: MountFlags = []
    public var propagation: [MountFlags] = []
    public var data: [String] = []
    public var isBind: Bool { flags.contains(.bind) }
    /// Options this runtime recognises but applies differently (idmap, tmpcopyup).
    public var extensions: [String] = []
    /// `rro`, `rnosuid`, … : mount_setattr(2) attributes (MOUNT_ATTR_*) set or cleared on the whole tree.
    public var recursiveSet: UInt64 = 0
    public var recursiveClear: UInt64 = 0
    public var hasRecursiveAttributes: Bool { recursiveSet != 0 || recursiveClear != 0 }

    public init() {}

    public init(_ options: [String]) {
        for option in options {
            switch option {
            case "ro": flags.insert(.readOnly)
            case "rw": flags.remove(.readOnly); cleared.insert(.readOnly)
            case "nosuid": flags.insert(.noSuid)
            case "suid": flags.remove(.noSuid); cleared.insert(.noSuid)
            case "nodev": flags.insert(.noDev)
            case "dev": flags.remove(.noDev); cleared.insert(.noDev)
            case "noexec": flags.insert(.noExec)
            case "exec": flags.remove(.noExec); cleared.insert(.noExec)
            case "sync": flags.insert(.synchronous)
            case "async": flags.remove(.synchronous)
            case "dirsync": flags.insert(.dirSync)
            case "mand": flags.insert(.mandLock)
            case "nomand": flags.remove(.mandLock)
            case "noatime": flags.insert(.noAtime)
            case "atime": flags.remove(.noAtime); cleared.insert(.noAtime)
            case "nodiratime": flags.insert(.noDirAtime)
            case "diratime": flags.remove(.noDirAtime); cleared.insert(.noDirAtime)
            case "relatime": flags.insert(.relAtime)
            case "norelatime": flags.remove(.relAtime); cleared.insert(.relAtime)
            case "strictatime": flags.insert(.strictAtime)
            case "nostrictatime": flags.remove(.strictAtime); cleared.insert(.strictAtime)
            case "lazytime": flags.insert(.lazyTime)
            case "nolazytime": flags.remove(.lazyTime)
            case "nosymfollow": flags.insert(.noSymfollow)
            case "symfollow": flags.remove(.noSymfollow)
            case "remount": flags.insert(.remount)
            case "bind": flags.insert(.bind)
            case "rbind": flags.formUnion([.bind, .recursive])
            case "silent": flags.insert(.silent)
            case "loud": flags.remove(.silent)
            case "private": propagation.append(.private)
            case "rprivate": propagation.append([.private, .recursive])
            case "shared": propagation.append(.shared)
            case "rshared": propagation.append([.shared, .recursive])
            case "slave": propagation.append(.slave)
            case "rslave": propagation.append([.slave, .recursive])
            case "unbindable": propagation.append(.unbindable)
            case "runbindable": propagation.append([.unbindable, .recursive])
            case "idmap", "ridmap", "tmpcopyup": extensions.append(option)
            case let recursive where Self.recursiveAttributes[recursive] != nil:
                let (set, clear) = Self.recursiveAttributes[recursive] ?? (0, 0)
                recursiveSet = (recursiveSet & ~clear) | set
                recursiveClear = (recursiveClear & ~set) | clear
            case "defaults": break
            default: data.append(option)
            }
        }
    }

    // MOUNT_ATTR_* of <linux/mount.h>. The atime settings are one field (MOUNT_ATTR__ATIME): setting one
    // clears the field first; the negative forms go back to the kernel's default, relatime.
    static let attrReadOnly: UInt64 = 0x1, attrNoSuid: UInt64 = 0x2, attrNoDev: UInt64 = 0x4, attrNoExec: UInt64 = 0x8
    static let attrAtimeField: UInt64 = 0x70, attrRelAtime: UInt64 = 0, attrNoAtime: UInt64 = 0x10, attrStrictAtime: UInt64 = 0x20
    static let attrNoDirAtime: UInt64 = 0x80, attrNoSymfollow: UInt64 = 0x200000
    /// runc's recursive options (set, clear).
    static let recursiveAttributes: [String: (UInt64, UInt64)] = [
        "rro": (attrReadOnly, 0), "rrw": (0, attrReadOnly),
        "rnosuid": (attrNoSuid, 0), "rsuid": (0, attrNoSuid),
        "rnodev": (attrNoDev, 0), "rdev": (0, attrNoDev),
        "rnoexec": (attrNoExec, 0), "rexec": (0, attrNoExec),
        "rnodiratime": (attrNoDirAtime, 0), "rdiratime": (0, attrNoDirAtime),
        "rrelatime": (attrRelAtime, attrAtimeField), "rnorelatime": (attrRelAtime, attrAtimeField),
        "rnoatime": (attrNoAtime, attrAtimeField), "ratime": (attrRelAtime, attrAtimeField),
        "rstrictatime": (attrStrictAtime, attrAtimeField), "rnostrictatime": (attrRelAtime, attrAtimeField),
        "rnosymfollow": (attrNoSymfollow, 0), "rsymfollow": (0, attrNoSymfollow),
    ]

    /// Per-mount-point flags that a bind remount applies (mount(2) ignores them on the first bind).
    public var remountFlags: MountFlags {
        flags.intersection([.readOnly, .noSuid, .noDev, .noExec, .noAtime, .noDirAtime, .relAtime, .strictAtime,
                            .noSymfollow])
    }
}

public enum Mounts {
    public static func mount(source: String?, target: String, type: String?, flags: MountFlags,
                             data: String? = nil) throws(SystemError) {
        let subject = "\(source ?? "none") on \(target)" + (type.map { " type \($0)" } ?? "")
            + (data.map { $0.isEmpty ? "" : " (\($0))" } ?? "")
        try check("mount", subject) {
            Glibc.mount(source, target, type, flags.rawValue, data)
        }
    }

    /// mount_setattr(2) with AT_RECURSIVE on the mount `fd` (an O_PATH fd of its root) and every mount below it.
    public static func setAttributesRecursively(fd: Int32, path: String, set: UInt64, clear: UInt64) throws(SystemError) {
        var attributes = mount_attr()
        attributes.attr_set = set
        attributes.attr_clr = clear
        // AT_EMPTY_PATH (0x1000) | AT_RECURSIVE (0x8000): the Glibc module hides both behind _GNU_SOURCE.
        let result = mount_setattr(fd, "", 0x1000 | 0x8000, &attributes, MemoryLayout<mount_attr>.size)
        if result != 0 {
            let code = errno
            let hint = code == ENOSYS ? " (recursive mount attributes need Linux 5.12 or later)" : ""
            throw SystemError("mount_setattr", path + hint, errno: code)
        }
    }

    public static func unmount(_ target: String, detach: Bool = false) throws(SystemError) {
        try check("umount2", target) { umount2(target, detach ? Int32(MNT_DETACH) : 0) }
    }

    /// The flags of the mount that `path` is on (statvfs), for keeping locked flags on a bind remount.
    public static func currentFlags(of path: String) -> MountFlags {
        var vfs = statvfs()
        guard statvfs(path, &vfs) == 0 else { return [] }
        var flags: MountFlags = []
        let raw = UInt(vfs.f_flag)
        if raw & UInt(ST_RDONLY) != 0 { flags.insert(.readOnly) }
        if raw & UInt(ST_NOSUID) != 0 { flags.insert(.noSuid) }
        if raw & UInt(ST_NODEV) != 0 { flags.insert(.noDev) }
        if raw & UInt(ST_NOEXEC) != 0 { flags.insert(.noExec) }
        if raw & 1024 != 0 { flags.insert(.noAtime) }
        if raw & 2048 != 0 { flags.insert(.noDirAtime) }
        if raw & 4096 != 0 { flags.insert(.relAtime) }
        return flags
    }

    /// Whether `path` is itself a mount point, from /proc/self/mountinfo.
    public static func isMountPoint(_ path: String) -> Bool {
        guard let info = try? Files.read("/proc/self/mountinfo") else { return false }
        for line in info.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 5)
            if fields.count > 4, unescape(String(fields[4])) == path { return true }
        }
        return false
    }

    /// mountinfo escapes space, tab, newline and backslash as octal.
    public static func unescape(_ field: String) -> String {
        guard field.contains("\\") else { return field }
        var out = [UInt8]()
        let bytes = Array(field.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count,
               let value = UInt8(String(decoding: bytes[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(value); i += 4
            } else {
                out.append(bytes[i]); i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
