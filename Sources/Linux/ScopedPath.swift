import Glibc
import CBerth

/// Paths inside a container rootfs, resolved as if the rootfs were "/": a symlink, absolute or full of
/// `..`, can never lead out of it. This is what keeps a hostile image from redirecting a mount onto the host.
public enum ScopedPath {
    private static let openPath: Int32 = 0o10000000  // O_PATH

    /// Lexically cleans `path` into absolute form: `a/../b//c/.` → `/b/c`.
    public static func clean(_ path: String) -> String {
        var parts: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            if component == "." { continue }
            if component == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(component)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Resolves `path` within `root` by walking it component by component and re-rooting every symlink
    /// (the algorithm of filepath-securejoin). Missing components are kept as they are.
    public static func resolve(root: String, _ path: String) throws(SystemError) -> String {
        var pending = clean(path).split(separator: "/").map(String.init)
        var resolved: [String] = []
        var links = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            if component == "." { continue }
            if component == ".." { if !resolved.isEmpty { resolved.removeLast() }; continue }
            let candidate = root + "/" + (resolved + [component]).joined(separator: "/")
            var st = stat()
            if lstat(candidate, &st) != 0 || (st.st_mode & S_IFMT) != S_IFLNK {
                resolved.append(component)
                continue
            }
            links += 1
            if links > 255 { throw SystemError("resolve", path, errno: ELOOP) }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(candidate, &buffer, Int(PATH_MAX))
            if length < 0 { throw SystemError("readlink", candidate) }
            let target = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if target.hasPrefix("/") { resolved = [] }
            pending = target.split(separator: "/").map(String.init) + pending
        }
        return root + (resolved.isEmpty ? "" : "/" + resolved.joined(separator: "/"))
    }

    /// Opens `path` inside the directory `rootFd` with RESOLVE_IN_ROOT; before openat2 existed (ENOSYS),
    /// falls back to `resolve` plus O_NOFOLLOW on the last component.
    public static func open(rootFd: Int32, rootPath: String, _ path: String, flags: Int32,
                            mode: mode_t = 0) throws(SystemError) -> Int32 {
        let relative = String(clean(path).dropFirst())
        let target = relative.isEmpty ? "." : relative
        let fd = berth_openat2_in_root(rootFd, target, flags, mode)
        if fd >= 0 {
            Trace.log("openat2(\(rootPath), \(target), RESOLVE_IN_ROOT) = \(fd)")
            return fd
        }
        if errno != ENOSYS { throw SystemError("openat2", "\(rootPath)/\(target)") }
        let resolved = try resolve(root: rootPath, path)
        return try check("open", resolved) { Glibc.open(resolved, flags | O_NOFOLLOW | O_CLOEXEC, mode) }
    }

    /// mkdir -p of `path` inside the rootfs; every component is created relative to a directory fd
    /// that was itself opened in-root, so a symlink swapped in cannot redirect the creation.
    public static func makeDirectories(rootFd: Int32, rootPath: String, _ path: String,
                                       mode: mode_t = 0o755, depth: Int = 0) throws(SystemError) {
        let components = clean(path).split(separator: "/").map(String.init)
        var prefix = ""
        for component in components {
            let parent = prefix.isEmpty ? "/" : prefix
            prefix += "/" + component
            if let fd = try? open(rootFd: rootFd, rootPath: rootPath, prefix, flags: openPath | O_DIRECTORY) {
                close(fd)
                continue
            }
            let parentFd = try open(rootFd: rootFd, rootPath: rootPath, parent, flags: openPath | O_DIRECTORY)
            defer { close(parentFd) }
            if mkdirat(parentFd, component, mode) != 0 {
                guard errno == EEXIST, depth < 40 else { throw SystemError("mkdir", rootPath + prefix) }
                // A dangling symlink: create what it points to, resolved inside the rootfs.
                let resolved = try resolve(root: rootPath, prefix)
                let inner = String(resolved.dropFirst(rootPath.count))
                guard inner != prefix else { throw SystemError("mkdir", rootPath + prefix, errno: EEXIST) }
                try makeDirectories(rootFd: rootFd, rootPath: rootPath, inner.isEmpty ? "/" : inner, mode: mode, depth: depth + 1)
            }
            let fd = try open(rootFd: rootFd, rootPath: rootPath, prefix, flags: openPath | O_DIRECTORY)
            close(fd)
        }
    }

    /// Makes sure `path` exists inside the rootfs as a directory (or as an empty file when `asFile`),
    /// and returns an O_PATH fd to it. Mount onto `/proc/self/fd/N` of that fd: the kernel mounts on
    /// exactly the inode that was checked.
    public static func prepareMountTarget(rootFd: Int32, rootPath: String, _ path: String,
                                          asFile: Bool) throws(SystemError) -> Int32 {
        let cleaned = clean(path)
        if asFile {
            let parent = String(cleaned[..<(cleaned.lastIndex(of: "/") ?? cleaned.startIndex)])
            try makeDirectories(rootFd: rootFd, rootPath: rootPath, parent.isEmpty ? "/" : parent)
            if let fd = try? open(rootFd: rootFd, rootPath: rootPath, cleaned, flags: openPath) { return fd }
            let created = try open(rootFd: rootFd, rootPath: rootPath, cleaned,
                                   flags: O_CREAT | O_WRONLY | O_EXCL, mode: 0o644)
            close(created)
            return try open(rootFd: rootFd, rootPath: rootPath, cleaned, flags: openPath)
        }
        try makeDirectories(rootFd: rootFd, rootPath: rootPath, cleaned)
        return try open(rootFd: rootFd, rootPath: rootPath, cleaned, flags: openPath | O_DIRECTORY)
    }

    public static func procPath(of fd: Int32) -> String { "/proc/self/fd/\(fd)" }
}
