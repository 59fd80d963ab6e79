import Glibc
import OCISpec

/// Compiled seccomp programs kept between runtime invocations, keyed by `SeccompFilter.cacheKey`.
/// libseccomp spends ~20 ms building docker's default profile for three architectures, and every
/// engine container carries it; the cached program is one read.
///
/// Trust: the directory must be a real directory owned by the runtime's euid with no group/other
/// access, and each entry a single-link regular file owned by the euid, not group/other writable.
/// Anything else is ignored (compiled afresh, never written). An entry holds its own key and a
/// SHA-256 of its contents, so a torn, truncated or altered file is detected and recompiled; entries
/// are written to a temporary name and renamed, so readers never see half of one.
public struct SeccompCache: Sendable {
    public let directory: String
    static let magic = Array("BSECCMP1".utf8)
    static let maxEntries = 64

    public init(directory: String) { self.directory = directory }

    /// The compiled program for `profile`: from the cache when a valid entry exists, else compiled
    /// and stored. Cache trouble never fails a container; only compiling can.
    public func program(for profile: Spec.Seccomp) throws(SeccompFilter.ProfileError) -> SeccompProgram {
        let key = SeccompFilter.cacheKey(profile)
        let name = SHA256Digest.hex(key)
        let trusted = prepareDirectory()
        if trusted {
            switch read(name: name, key: key) {
            case .hit(let program):
                Trace.log("seccomp cache: hit \(name)")
                return program
            case .missing:
                Trace.log("seccomp cache: miss \(name)")
            case .rejected(let why):
                Trace.log("seccomp cache: entry \(name) rejected (\(why)); recompiling")
            }
        }
        let program = try SeccompFilter.compile(profile)
        if trusted { write(program, name: name, key: key) }
        return program
    }

    enum Lookup { case hit(SeccompProgram), missing, rejected(String) }

    /// Makes the directory (0700) if needed; true if it may be trusted.
    private func prepareDirectory() -> Bool {
        var st = stat()
        if lstat(directory, &st) != 0 {
            guard errno == ENOENT, mkdir(directory, 0o700) == 0 || errno == EEXIST, lstat(directory, &st) == 0 else {
                Trace.log("seccomp cache: \(directory) unusable: \(SystemError.message(errno))")
                return false
            }
        }
        let ok = (st.st_mode & S_IFMT) == S_IFDIR && st.st_uid == geteuid() && (st.st_mode & 0o077) == 0
        if !ok { Trace.log("seccomp cache: \(directory) not trusted (owner \(st.st_uid), mode \(String(st.st_mode & 0o7777, radix: 8)))") }
        return ok
    }

    func read(name: String, key: [UInt8]) -> Lookup {
        let path = directory + "/" + name
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { return errno == ENOENT ? .missing : .rejected("open: \(SystemError.message(errno))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_uid == geteuid(),
              (st.st_mode & 0o022) == 0, st.st_nlink == 1 else { return .rejected("not a private regular file") }
        let headerSize = Self.magic.count + 32 + 8
        guard st.st_size >= headerSize + 8 + 32, st.st_size <= headerSize + 4096 * 8 + 32 else {
            return .rejected("size \(st.st_size)")
        }
        guard let bytes = try? Files.readAll(fd: fd, name: path), bytes.count == Int(st.st_size) else {
            return .rejected("short read")
        }
        let body = Array(bytes[..<(bytes.count - 32)])
        guard SHA256Digest.sha256(body) == Array(bytes[(bytes.count - 32)...]) else { return .rejected("checksum mismatch") }
        guard Array(body[..<Self.magic.count]) == Self.magic,
              Array(body[Self.magic.count..<(Self.magic.count + 32)]) == key else { return .rejected("wrong key") }
        let flags = Self.uint32(body, at: Self.magic.count + 32)
        let count = Int(Self.uint32(body, at: Self.magic.count + 36))
        guard count > 0, count <= 4096, body.count == headerSize + count * 8 else { return .rejected("bad length") }
        return .hit(SeccompProgram(instructions: Array(body[headerSize...]), flags: flags))
    }

    private func write(_ program: SeccompProgram, name: String, key: [UInt8]) {
        var body = Self.magic + key
        withUnsafeBytes(of: program.flags.littleEndian) { body += $0 }
        withUnsafeBytes(of: UInt32(program.count).littleEndian) { body += $0 }
        body += program.instructions
        let content = body + SHA256Digest.sha256(body)
        pruneIfFull()
        let temporary = directory + "/.tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { Trace.log("seccomp cache: \(temporary): \(SystemError.message(errno))"); return }
        let written = (try? Files.writeAll(fd: fd, content, name: temporary)) != nil
        close(fd)
        if !written || rename(temporary, directory + "/" + name) != 0 {
            unlink(temporary)
            Trace.log("seccomp cache: storing \(name) failed")
            return
        }
        Trace.log("seccomp cache: stored \(name) (\(program.count) instructions)")
    }

    /// A bound on the directory: past `maxEntries` (profiles change rarely) it is emptied and refills.
    private func pruneIfFull() {
        guard let names = try? Files.listDirectory(directory), names.count >= Self.maxEntries else { return }
        for name in names { unlink(directory + "/" + name) }
    }

    // Entries are read on the machine that wrote them, but the format says little-endian anyway.
    private static func uint32(_ bytes: [UInt8], at index: Int) -> UInt32 {
        UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2]) << 16 | UInt32(bytes[index + 3]) << 24
    }
}
