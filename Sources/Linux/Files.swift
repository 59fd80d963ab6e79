import Glibc

/// Small, allocation-light file helpers over raw fds (no Foundation on the runtime's hot path).
public enum Files {
    public static func read(_ path: String) throws(SystemError) -> String {
        let bytes = try readBytes(path)
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func readBytes(_ path: String) throws(SystemError) -> [UInt8] {
        let fd = try check("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        return try readAll(fd: fd, name: path)
    }

    public static func readAll(fd: Int32, name: String = "") throws(SystemError) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read", name)
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// Writes `content` with a single write(2), as cgroup and proc files require.
    public static func write(_ path: String, _ content: String, flags: Int32 = O_WRONLY | O_TRUNC,
                             mode: mode_t = 0o644) throws(SystemError) {
        let fd = try check("open", path) { open(path, flags | O_CLOEXEC, mode) }
        defer { close(fd) }
        try writeAll(fd: fd, Array(content.utf8), name: path)
    }

    public static func create(_ path: String, _ content: [UInt8], mode: mode_t = 0o644) throws(SystemError) {
        let fd = try check("open", path) { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        defer { close(fd) }
        try writeAll(fd: fd, content, name: path)
    }

    /// Writes to a temporary file and renames it over `path`, so readers never see half a file.
    public static func replace(_ path: String, _ content: [UInt8], mode: mode_t = 0o600) throws(SystemError) {
        let temporary = path + ".tmp.\(getpid())"
        try create(temporary, content, mode: mode)
        try check("rename", temporary) { rename(temporary, path) }
    }

    public static func writeAll(fd: Int32, _ bytes: [UInt8], name: String = "") throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("write", name)
            }
            offset += n
        }
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public static func fileType(_ path: String) -> mode_t? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return st.st_mode & S_IFMT
    }

    /// mkdir -p. Existing directories are fine.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        if isDirectory(path) { return }
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, mode) != 0 && errno != EEXIST {
                throw SystemError("mkdir", prefix)
            }
        }
    }

    public static func listDirectory(_ path: String) throws(SystemError) -> [String] {
        guard let dir = opendir(path) else { throw SystemError("opendir", path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// rm -rf without crossing mount points or following symlinks.
    public static func removeTree(_ path: String) throws(SystemError) {
        var st = stat()
        if lstat(path, &st) != 0 {
            if errno == ENOENT { return }
            throw SystemError("lstat", path)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in try listDirectory(path) {
                try removeTree(path + "/" + name)
            }
            if rmdir(path) != 0 && errno != ENOENT { throw SystemError("rmdir", path) }
        } else if unlink(path) != 0 && errno != ENOENT {
            throw SystemError("unlink", path)
        }
    }
}

extension Files {
    /// The target of a symbolic link.
    public static func readLink(_ path: String) throws(SystemError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = try check("readlink", path) { Int32(readlink(path, &buffer, buffer.count - 1)) }
        return String(decoding: buffer[0..<Int(n)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
