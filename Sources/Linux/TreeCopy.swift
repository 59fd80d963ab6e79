import Glibc

/// Copies a directory's contents (files, directories, symlinks, device nodes, fifos) with their modes,
/// owners and times, without following symlinks. Used for `tmpcopyup`.
public enum TreeCopy {
    public static func copyContents(of source: String, into destination: String) throws(SystemError) {
        for name in try Files.listDirectory(source) {
            try copy(source + "/" + name, to: destination + "/" + name)
        }
    }

    /// Gives `destination` (a directory) the mode and owner of `source`.
    public static func copyAttributes(of source: String, to destination: String) throws(SystemError) {
        var st = stat()
        try check("stat", source) { stat(source, &st) }
        try check("chown", destination) { chown(destination, st.st_uid, st.st_gid) }
        try check("chmod", destination) { chmod(destination, st.st_mode & 0o7777) }
    }

    static func copy(_ source: String, to destination: String) throws(SystemError) {
        var st = stat()
        try check("lstat", source) { lstat(source, &st) }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            if mkdir(destination, st.st_mode & 0o7777) != 0 && errno != EEXIST { throw SystemError("mkdir", destination) }
            try copyContents(of: source, into: destination)
        case S_IFREG:
            let bytes = try Files.readBytes(source)
            try Files.create(destination, bytes, mode: st.st_mode & 0o7777)
        case S_IFLNK:
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(source, &buffer, Int(PATH_MAX))
            if length < 0 { throw SystemError("readlink", source) }
            buffer[length] = 0
            try check("symlink", destination) { symlink(buffer, destination) }
        default:
            try check("mknod", destination) { mknod(destination, st.st_mode, st.st_rdev) }
        }
        try check("lchown", destination) { lchown(destination, st.st_uid, st.st_gid) }
        if (st.st_mode & S_IFMT) != S_IFLNK {
            try check("chmod", destination) { chmod(destination, st.st_mode & 0o7777) }
            var times = [st.st_atim, st.st_mtim]
            _ = utimensat(AT_FDCWD, destination, &times, 0)
        }
    }
}
