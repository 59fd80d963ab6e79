import Glibc

/// Keeps the binary that puts processes into containers out of their reach (CVE-2019-5736).
///
/// A container's process is execve'd by a runtime process, whose /proc/self/exe is the runtime's (or the
/// monitor's) binary on the host. A program in the container whose first line is `#!/proc/self/exe` makes
/// that very execve run the host binary again, now as a dumpable process of the container; anything else
/// in the container can then open /proc/PID/exe, wait for the binary to stop running (ETXTBSY until then)
/// and write through /proc/self/fd/N. The init being undumpable does not help: execve resets that.
///
/// So before such a process does anything it re-executes itself from a private, read-only clone of its
/// own file (open_tree(OPEN_TREE_CLONE) of /proc/self/exe: a detached bind mount of the one file, no
/// mount anywhere, nothing to clean up: it goes with the last process that runs it). Whatever the
/// container later reaches through /proc/PID/exe is then that read-only mount, and every open for
/// writing fails with EROFS. runc copies itself into a sealed memfd (or an overlay) on every start for
/// the same reason; the clone costs one execve and no copy.
public enum ExecutableSeal {
    /// Whether this process's executable sits on a read-only mount (a sealed re-exec, or an installation
    /// on a read-only filesystem: either way no write can reach it).
    public static var isSealed: Bool {
        var vfs = statvfs()
        return statvfs("/proc/self/exe", &vfs) == 0 && vfs.f_flag & UInt(ST_RDONLY) != 0
    }

    /// Re-executes this process (same arguments, same environment) from a read-only clone of its binary,
    /// unless it already runs from a read-only mount. Returns only when no re-exec was needed or none
    /// was possible (no CAP_SYS_ADMIN, a kernel before 5.12): then `Trace` says why.
    public static func reexecIfWritable() {
        guard !isSealed else { return }
        let clone = open_tree(AT_FDCWD, "/proc/self/exe", UInt32(OPEN_TREE_CLONE) | UInt32(OPEN_TREE_CLOEXEC))
        guard clone >= 0 else {
            Trace.log("open_tree(/proc/self/exe): \(SystemError.message(errno)); running from a writable binary")
            return
        }
        var attributes = mount_attr()
        attributes.attr_set = UInt64(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)
        // AT_EMPTY_PATH (0x1000): hidden from Swift's Glibc module behind _GNU_SOURCE.
        guard mount_setattr(clone, "", 0x1000, &attributes, MemoryLayout<mount_attr>.size) == 0 else {
            Trace.log("mount_setattr(MOUNT_ATTR_RDONLY) on the binary's clone: \(SystemError.message(errno)); running from a writable binary")
            close(clone)
            return
        }
        let argv = CommandLine.arguments.map { strdup($0) } + [nil]
        // fexecve is execveat(fd, "", AT_EMPTY_PATH): fine for a close-on-exec fd of an ELF file.
        fexecve(clone, argv, environ)
        Trace.log("fexecve of the binary's read-only clone: \(SystemError.message(errno)); running from a writable binary")
        for pointer in argv { free(pointer) }
        close(clone)
    }
}
