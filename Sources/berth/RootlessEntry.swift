import CBerth
import Foundation
import Glibc
import Linux

/// An ordinary user's `berth` (docs/rootless.md): before any command runs, the process makes sure the user's
/// pause process exists (a user namespace mapped with newuidmap/newgidmap, 0 → the user and 1… → their
/// /etc/subuid range, plus a mount namespace) and re-executes itself with _BERTH_ROOTLESS_JOIN=PID, which the
/// C constructor in cberth_rootless.c turns into setns(2) before Swift starts. The command then runs as root
/// of that user namespace, on stores under the user's own directories.
enum RootlessEntry {
    struct Failure: Error, CustomStringConvertible {
        let what: String
        let why: String
        var description: String { "\(what): \(why)" }
    }

    /// The user's stores, as podman's rootless defaults: `$XDG_DATA_HOME/berth` (~/.local/share/berth) and
    /// `$XDG_RUNTIME_DIR/berth`. Without XDG_RUNTIME_DIR: /run/user/UID when it is the user's, else
    /// /tmp/berth-run-UID (podman falls back to a directory of its own under /tmp too).
    struct Paths {
        let root: String
        let runtimeDirectory: String
        var runroot: String { runtimeDirectory + "/berth" }
        var pidFile: String { runroot + "/pause.pid" }
        var lockFile: String { runroot + "/pause.lock" }
    }

    /// Runs before the arguments are parsed. Returns only as host root, or as root already inside (the
    /// re-executed command, and every `berth` the monitor runs there).
    static func enterIfNeeded() {
        guard geteuid() != 0 else { return }
        do {
            let paths = try Self.paths()
            let environment = ProcessInfo.processInfo.environment
            let pid = try pauseProcess(paths)
            var env = environment.filter { $0.key != "_BERTH_ROOTLESS_JOIN" }
            if (env["BERTH_ROOT"] ?? "").isEmpty { env["BERTH_ROOT"] = paths.root }
            if (env["BERTH_RUNROOT"] ?? "").isEmpty { env["BERTH_RUNROOT"] = paths.runroot }
            env["_BERTH_ROOTLESS_JOIN"] = String(pid)
            Spawn.execWithStrings(path: "/proc/self/exe", args: CommandLine.arguments,
                                  env: env.map { "\($0.key)=\($0.value)" })
            throw Failure(what: "re-executing /proc/self/exe", why: SystemError.message(errno))
        } catch {
            FileHandle.standardError.write(Data("berth: rootless: \(error)\n".utf8))
            Glibc.exit(125)
        }
    }

    static func paths() throws -> Paths {
        let uid = getuid()
        let environment = ProcessInfo.processInfo.environment
        guard let entry = getpwuid(uid) else { throw Failure(what: "user \(uid)", why: "not in the password database") }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? String(cString: entry.pointee.pw_dir)
        let dataHome = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.local/share"
        var runtime = environment["XDG_RUNTIME_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        if runtime == nil, isPrivateDirectory("/run/user/\(uid)", owner: uid) { runtime = "/run/user/\(uid)" }
        if runtime == nil {
            let fallback = "/tmp/berth-run-\(uid)"
            if mkdir(fallback, 0o700) != 0 && errno != EEXIST {
                throw Failure(what: "creating \(fallback)", why: SystemError.message(errno))
            }
            // Anyone may create a name in /tmp: a directory someone else made there (or a symlink) is refused.
            guard isPrivateDirectory(fallback, owner: uid) else {
                throw Failure(what: fallback, why: "not a directory of user \(uid) with mode 0700; set XDG_RUNTIME_DIR")
            }
            runtime = fallback
        }
        let paths = Paths(root: dataHome + "/berth", runtimeDirectory: runtime!)
        for directory in [paths.runtimeDirectory, paths.runroot] {
            if mkdir(directory, 0o700) != 0 && errno != EEXIST {
                throw Failure(what: "creating \(directory)", why: SystemError.message(errno))
            }
        }
        return paths
    }

    static func isPrivateDirectory(_ path: String, owner: uid_t) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR && st.st_uid == owner && st.st_mode & 0o077 == 0
    }

    /// The live pause process of this user, made if there is none. Under a lock, so that two first commands
    /// at once make one.
    static func pauseProcess(_ paths: Paths) throws -> pid_t {
        let lock = open(paths.lockFile, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw Failure(what: "opening \(paths.lockFile)", why: SystemError.message(errno)) }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 {
            if errno != EINTR { throw Failure(what: "locking \(paths.lockFile)", why: SystemError.message(errno)) }
        }
        if let pid = livePauseProcess(paths) { return pid }
        return try makePauseProcess(paths)
    }

    /// The recorded pause process if it is still the same process (pid and start time) and still ours.
    static func livePauseProcess(_ paths: Paths) -> pid_t? {
        guard let text = try? Files.read(paths.pidFile) else { return nil }
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, let pid = Int32(fields[0]), let start = UInt64(fields[1]),
              Processes.isAlive(pid: pid, startTime: start) else { return nil }
        var st = stat()
        guard stat("/proc/\(pid)", &st) == 0, st.st_uid == getuid() else { return nil }
        return pid
    }

    static func makePauseProcess(_ paths: Paths) throws -> pid_t {
        guard let entry = getpwuid(getuid()) else { throw Failure(what: "user \(getuid())", why: "not in the password database") }
        let user = String(cString: entry.pointee.pw_name)
        let uids = try subordinateRanges("/etc/subuid", user: user, id: getuid(), kind: "uids")
        let gids = try subordinateRanges("/etc/subgid", user: user, id: getgid(), kind: "gids")
        let newuidmap = try helper("newuidmap"), newgidmap = try helper("newgidmap")

        var release: Int32 = -1
        let pid = berth_pause_process(&release)
        guard pid > 0 else { throw Failure(what: "creating the user namespace", why: SystemError.message(errno)) }
        var mapped = false
        defer {
            var byte: UInt8 = mapped ? UInt8(ascii: "g") : UInt8(ascii: "x")
            _ = write(release, &byte, 1)
            close(release)
            if !mapped { var status: Int32 = 0; _ = waitpid(pid, &status, 0) }
        }
        try runMapper(newuidmap, pid: pid, own: getuid(), ranges: uids)
        try runMapper(newgidmap, pid: pid, own: getgid(), ranges: gids)
        let start = Processes.startTime(of: pid) ?? 0
        do { try Files.replace(paths.pidFile, Array("\(pid) \(start)\n".utf8), mode: 0o600) } catch {
            throw Failure(what: "writing \(paths.pidFile)", why: "\(error)")
        }
        mapped = true
        return pid
    }

    /// Container id 0 is the user; 1… are the subordinate ranges, one after another.
    static func runMapper(_ path: String, pid: pid_t, own: UInt32, ranges: [(start: UInt32, count: UInt32)]) throws {
        var args = [path, String(pid), "0", String(own), "1"]
        var next: UInt64 = 1
        for range in ranges {
            args += [String(next), String(range.start), String(range.count)]
            next += UInt64(range.count)
        }
        let output = try FileDescriptors.pipe()
        let child: pid_t
        do {
            child = try Spawn.spawn(path: path, args: args, env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], files: [2: output.write])
        } catch {
            close(output.read); close(output.write)
            throw Failure(what: "running \(path)", why: "\(error)")
        }
        close(output.write)
        let message = String(decoding: (try? Files.readAll(fd: output.read)) ?? [], as: UTF8.self)
        close(output.read)
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        guard Processes.exitCode(status) == 0 else {
            let line = message.split(separator: "\n").last.map(String.init) ?? "exit status \(Processes.exitCode(status))"
            throw Failure(what: "\((path as NSString).lastPathComponent) \(args.dropFirst().joined(separator: " "))", why: line)
        }
    }

    /// The user's lines in /etc/subuid or /etc/subgid (by name or by number, as shadow's tools accept).
    static func subordinateRanges(_ file: String, user: String, id: UInt32, kind: String) throws -> [(start: UInt32, count: UInt32)] {
        let text = (try? Files.read(file)) ?? ""
        let ranges = text.split(separator: "\n").compactMap { line -> (start: UInt32, count: UInt32)? in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3, fields[0] == user || fields[0] == String(id),
                  let start = UInt32(fields[1]), let count = UInt32(fields[2]), count > 0 else { return nil }
            return (start, count)
        }
        guard !ranges.isEmpty else {
            let option = kind == "uids" ? "--add-subuids" : "--add-subgids"
            throw Failure(what: "no subordinate \(kind) for user \(user) in \(file)",
                          why: "add a range, e.g. usermod \(option) 100000-165535 \(user)")
        }
        return ranges
    }

    /// newuidmap/newgidmap (Debian's uidmap package): setuid helpers that may write the maps /etc/subuid allows.
    static func helper(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        for directory in path.split(separator: ":").map(String.init) where directory.hasPrefix("/") {
            let candidate = directory + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw Failure(what: "\(name) not found in PATH", why: "install the uidmap package (apt-get install uidmap)")
    }
}
