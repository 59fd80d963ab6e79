import Foundation
import Glibc
import Images
import Linux
import Monitor
import OCISpec
import Runtime

/// The container's files from the host: `diff` (the overlay upper directory), `export` and `cp`. Paths in
/// the container are resolved inside its root (symlinks re-rooted, never followed out); a running
/// container is reached through /proc/PID/root, so its volumes and tmpfs mounts are seen as it sees them.
extension Engine {
    /// The directory that is the container's `/` as seen from the host.
    func rootView(_ record: ContainerInfo) throws(EngineError) -> String {
        let live = withLiveState(record)
        if live.State.Running, live.State.Pid > 0 { return "/proc/\(live.State.Pid)/root" }
        do { try ImageBundle.ensureMounted(store: images, image: record.Image, bundle: bundlePath(record.Id), idMap: UserNamespaces.map(of: record.HostConfig)) } catch {
            throw EngineError("mounting the container's root filesystem", error.description)
        }
        return bundlePath(record.Id) + "/rootfs"
    }

    /// `diff`: what changed against the image — `A` added, `C` changed, `D` deleted — as docker lists it.
    public func diff(_ reference: String) throws(EngineError) -> [(kind: Character, path: String)] {
        let record = try container(reference)
        let upper = bundlePath(record.Id) + "/overlay/upper"
        var changes: [(Character, String)] = []
        let image: ImageRecord
        do { image = try images.resolve(record.Image) } catch { throw EngineError("image of \(reference)", error.description) }
        let lowers = image.diffIDs.map { images.snapshots.path($0) }
        func inImage(_ path: String) -> Bool {
            lowers.contains { var st = stat(); return lstat($0 + path, &st) == 0 }
        }
        func walk(_ relative: String) {
            let directory = upper + relative
            guard let names = try? Files.listDirectory(directory) else { return }
            for name in names.sorted() {
                let path = relative + "/" + name
                var st = stat()
                guard lstat(upper + path, &st) == 0 else { continue }
                let kind = st.st_mode & S_IFMT
                if kind == S_IFCHR && st.st_rdev == 0 {   // an overlayfs whiteout
                    changes.append(("D", path))
                    continue
                }
                changes.append((inImage(path) ? "C" : "A", path))
                if kind == S_IFDIR { walk(path) }
            }
        }
        walk("")
        let own = Set(engineMountpoints(upper: upper, inImage: inImage).map { "/" + $0 })
        return changes.filter { change in
            if own.contains(change.1) { return false }
            // A directory of the image that changed only by holding those mountpoints (/etc) did not change.
            guard change.0 == "C", own.contains(where: { $0.hasPrefix(change.1 + "/") }) else { return true }
            return changes.contains { $0.1.hasPrefix(change.1 + "/") && !own.contains($0.1) }
        }
    }

    /// The empty files the runtime made in the upper directory to bind the engine's /etc/hostname, /etc/hosts and
    /// /etc/resolv.conf over, where the image has none: docker keeps those in an init layer below the container's
    /// own, so neither `diff` nor `commit` sees them. Paths relative to the upper directory (`etc/hosts`).
    func engineMountpoints(upper: String, inImage: (String) -> Bool) -> [String] {
        ["etc/hostname", "etc/hosts", "etc/resolv.conf"].filter { path in
            var st = stat()
            guard lstat(upper + "/" + path, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_size == 0 else { return false }
            return !inImage("/" + path)
        }
    }

    /// `export`: the container's filesystem as a tar stream on `fd`.
    public func export(_ reference: String, to fd: Int32) throws(EngineError) {
        let record = try container(reference)
        let root = bundlePath(record.Id) + "/rootfs"
        do { try ImageBundle.ensureMounted(store: images, image: record.Image, bundle: bundlePath(record.Id), idMap: UserNamespaces.map(of: record.HostConfig)) } catch {
            throw EngineError("mounting the container's root filesystem", error.description)
        }
        try runTool(["/bin/tar", "--numeric-owner", "--xattrs", "-C", root, "-cf", "-", "."], stdout: fd, what: "exporting \(reference)",
                    as: UserNamespaces.map(of: record.HostConfig))
    }

    /// `cp CONTAINER:SRC DEST` (DEST `-`: a tar stream on `fd`).
    public func copyOut(_ reference: String, path: String, to destination: String, archive: Bool, fd: Int32 = 1) throws(EngineError) {
        let record = try container(reference)
        let root = try rootView(record)
        let source = try resolveInside(root: root, path)
        guard Files.exists(source) else {
            throw EngineError("Could not find the file \(path) in container \(reference)", "")
        }
        let contentsOnly = path.hasSuffix("/.")
        if destination == "-" {
            let parent = contentsOnly ? source : (source as NSString).deletingLastPathComponent
            let name = contentsOnly ? "." : (source as NSString).lastPathComponent
            try runTool(["/bin/tar", "--numeric-owner", "-C", parent, "-cf", "-", name], stdout: fd, what: "copying \(path)",
                        as: UserNamespaces.map(of: record.HostConfig))
            return
        }
        try copy(from: contentsOnly ? source + "/." : source, to: destination, archive: archive, contentsOnly: contentsOnly)
        // With -a the copy keeps the ids the container sees, as docker's cp does under userns-remap.
        if archive, let map = UserNamespaces.map(of: record.HostConfig) {
            Self.shiftOwners(of: copiedPath(source: source, destination: destination, contentsOnly: contentsOnly), map: map, toContainer: true)
        }
    }

    /// `cp SRC CONTAINER:DEST` (SRC `-`: a tar stream on `fd`, unpacked into the directory DEST).
    public func copyIn(_ reference: String, from source: String, path: String, archive: Bool, fd: Int32 = 0) throws(EngineError) {
        let record = try container(reference)
        let root = try rootView(record)
        let destination = try resolveInside(root: root, path)
        if source == "-" {
            guard Files.isDirectory(destination) else {
                throw EngineError("destination \"\(reference):\(path)\" must be a directory", "")
            }
            // GNU tar follows a symlink it finds in the middle of an entry's path, and it runs on the host: an entry
            // `abs/etc/x` under a container's `abs -> /` would write the host's /etc/x. So the stream is kept and
            // listed first, and an entry through any symlink already in the container is refused.
            let staging = NSTemporaryDirectory() + "berth-cp-\(UUID().uuidString)"
            do { try Files.makeDirectories(staging, mode: 0o700) } catch { throw EngineError("copying into \(path)", error.description) }
            defer { try? Files.removeTree(staging) }
            let archive = try Self.createFile(staging + "/stream.tar"), listing = try Self.createFile(staging + "/entries")
            defer { close(archive); close(listing) }
            try runTool(["/bin/cat"], stdin: fd, stdout: archive, what: "reading the archive for \(path)")
            try runTool(["/bin/tar", "-tf", staging + "/stream.tar"], stdout: listing, what: "listing the archive for \(path)")
            let entries = ((try? Files.read(staging + "/entries")) ?? "").split(separator: "\n").map(String.init)
            for entry in entries {
                let components = entry.split(separator: "/").filter { $0 != "." }.map(String.init)
                for depth in 0..<max(components.count - 1, 0) {
                    let prefix = components[0...depth].joined(separator: "/")
                    if Files.fileType(destination + "/" + prefix) == S_IFLNK {
                        throw EngineError("copying into \(path)", "\(entry) goes through the symbolic link \(prefix) in the container")
                    }
                }
            }
            try runTool(["/bin/tar", "--no-same-owner", "--no-overwrite-dir", "-C", destination, "-xf", staging + "/stream.tar"],
                        what: "copying into \(path)", as: UserNamespaces.map(of: record.HostConfig))
            return
        }
        guard Files.exists(source) else { throw EngineError("could not find the file \(source)", "no such file or directory") }
        let parent = (destination as NSString).deletingLastPathComponent
        if !Files.isDirectory(destination) && !Files.isDirectory(parent) {
            throw EngineError("Could not find the file \(path) in container \(reference)", "its parent directory does not exist")
        }
        let contentsOnly = source.hasSuffix("/.")
        try copy(from: source, to: destination, archive: archive, contentsOnly: contentsOnly)
        // What root copied in belongs to the container's root (or, with -a, keeps its ids as the container's).
        if let map = UserNamespaces.map(of: record.HostConfig) {
            let copied = copiedPath(source: source, destination: destination, contentsOnly: contentsOnly)
            if archive {
                Self.shiftOwners(of: copied, map: map, toContainer: false)
            } else if let uid = IDMap.hostID(0, in: map.uids), let gid = IDMap.hostID(0, in: map.gids) {
                Self.setOwners(of: copied, uid: uid, gid: gid)
            }
        }
    }

    private static func createFile(_ path: String) throws(EngineError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 { throw EngineError("creating \(path)", SystemError.message(errno)) }
        return fd
    }

    /// Where `cp -R SOURCE DESTINATION` put SOURCE.
    private func copiedPath(source: String, destination: String, contentsOnly: Bool) -> String {
        if contentsOnly || !Files.isDirectory(destination) { return destination }
        return destination + "/" + ((source as NSString).lastPathComponent)
    }

    /// Every entry under `path` (not following symlinks) owned by `uid`/`gid`.
    static func setOwners(of path: String, uid: uid_t, gid: gid_t) {
        walk(path) { entry, _ in lchown(entry, uid, gid) }
    }

    /// Every entry's ids moved through `map`: host ids to the container's (`toContainer`), or the container's to the host's.
    static func shiftOwners(of path: String, map: IDMap, toContainer: Bool) {
        func shift(_ id: UInt32, _ ranges: [IDRange]) -> UInt32 {
            (toContainer ? IDMap.containerID(id, in: ranges) : IDMap.hostID(id, in: ranges)) ?? 65534
        }
        walk(path) { entry, info in lchown(entry, shift(info.st_uid, map.uids), shift(info.st_gid, map.gids)) }
    }

    private static func walk(_ path: String, _ visit: (String, stat) -> Void) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        visit(path, info)
        if (info.st_mode & S_IFMT) == S_IFDIR, let entries = try? Files.listDirectory(path) {
            for entry in entries { walk(path + "/" + entry, visit) }
        }
    }

    private func copy(from source: String, to destination: String, archive: Bool, contentsOnly: Bool) throws(EngineError) {
        var arguments = ["/bin/cp", "-R", "-P"]
        // docker: `-a` keeps uid/gid; without it the copy belongs to the caller (root here).
        arguments.append(archive ? "--preserve=all" : "--preserve=mode,timestamps,links")
        if contentsOnly && !Files.exists(destination) {
            do { try Files.makeDirectories(destination) } catch { throw EngineError("creating \(destination)", error.description) }
        }
        arguments += ["--", source, destination]
        try runTool(arguments, what: "copying \(source) to \(destination)")
    }

    /// Resolves `path` inside `root` the way the container would (symlinks re-rooted at `root`).
    func resolveInside(root: String, _ path: String) throws(EngineError) -> String {
        let trimmed = path.hasSuffix("/.") ? String(path.dropLast(2)) : path
        do { return try ScopedPath.resolve(root: root, trimmed.isEmpty ? "/" : trimmed) } catch {
            throw EngineError("resolving \(path) in the container", error.description)
        }
    }

    /// Runs a tool; `as` a container's mapping, in a user namespace like the container's, so that it reads and
    /// writes the container's files with the ids the container sees.
    private func runTool(_ arguments: [String], stdin: Int32? = nil, stdout: Int32? = nil, what: String,
                         as map: IDMap? = nil) throws(EngineError) {
        var files: [Int32: Int32] = [2: 2]
        if let stdin { files[0] = stdin }
        if let stdout { files[1] = stdout }
        let pid: pid_t
        let environment = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
        do {
            if let map {
                pid = try Spawn.spawnInUserNamespace(path: arguments[0], args: arguments, env: environment, files: files, map: map)
            } else {
                pid = try Spawn.spawn(path: arguments[0], args: arguments, env: environment, files: files)
            }
        } catch {
            throw EngineError(what, error.description)
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = Processes.exitCode(status)
        if code != 0 { throw EngineError(what, "\(arguments[0]) exited with \(code)") }
    }

    /// `update`: new limits for a container (applied at once when it runs) and its restart policy.
    public func update(_ reference: String, change: (inout HostConfig) throws(EngineError) -> Void) throws(EngineError) {
        let found = try container(reference)
        try locked(found.Id) { () throws(EngineError) in
            var record = try container(found.Id)
            try change(&record.HostConfig)
            try Self.validate(record.HostConfig)
            let live = withLiveState(record)
            if live.State.Running {
                let resources = SpecBuilder.limits(record.HostConfig)
                do throws(RuntimeError) { try runtime.update(id: record.Id, resources: resources) } catch {
                    throw EngineError("Cannot update container \(record.Id)", error.description)
                }
                // The monitor reads its restart policy again on SIGHUP.
                let paths = monitorPaths(record.Id)
                if var config = try? JSONDecoder().decode(MonitorConfig.self, from: Data(contentsOf: URL(fileURLWithPath: paths.config))),
                   let policy = RestartPolicy(parsing: record.HostConfig.RestartPolicy.Name == "on-failure" && record.HostConfig.RestartPolicy.MaximumRetryCount > 0
                    ? "on-failure:\(record.HostConfig.RestartPolicy.MaximumRetryCount)" : record.HostConfig.RestartPolicy.Name) {
                    config.restart = policy
                    if let bytes = try? JSONEncoder().encode(config) { try? Files.replace(paths.config, Array(bytes), mode: 0o600) }
                    if let state = paths.readState(), Processes.isAlive(pid: state.monitorPid, startTime: state.monitorStartTime) {
                        Glibc.kill(state.monitorPid, SIGHUP)
                    }
                }
            }
            try metadata.update(record)
        }
    }
}

extension Engine {
    /// `commit`: a new image from the container's changes (its overlay upper directory) on top of its image,
    /// with the container's config (and `changes`, Dockerfile-style: CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL)
    /// as the image config. A running container is paused meanwhile, as docker does.
    public func commit(_ reference: String, repository: String?, author: String?, message: String, changes: [String],
                       pause: Bool) async throws -> ImageRecord {
        let record = withLiveState(try container(reference))
        var execution = ImageConfig.Execution(Env: record.Config.Env, Entrypoint: record.Config.Entrypoint, Cmd: record.Config.Cmd,
                                              WorkingDir: record.Config.WorkingDir.isEmpty ? nil : record.Config.WorkingDir,
                                              User: record.Config.User.isEmpty ? nil : record.Config.User)
        execution.Labels = record.Config.Labels.isEmpty ? nil : record.Config.Labels
        execution.ExposedPorts = record.Config.ExposedPorts
        execution.Volumes = record.Config.Volumes
        execution.StopSignal = record.Config.StopSignal
        for change in changes { try Self.apply(change: change, to: &execution) }
        let paused = pause && record.State.Running && !record.State.Paused
        if paused { try self.pause(record.Id) }
        defer { if paused { try? unpause(record.Id) } }
        let upper = bundlePath(record.Id) + "/overlay/upper"
        let lowers = try images.resolve(record.Image).diffIDs.map { images.snapshots.path($0) }
        let skipping = engineMountpoints(upper: upper) { path in lowers.contains { var st = stat(); return lstat($0 + path, &st) == 0 } }
        let image = try await images.commit(base: record.Image, upper: upper, reference: repository,
                                            execution: execution, comment: message, author: author,
                                            createdBy: "berth commit \(record.Name)", idMap: UserNamespaces.map(of: record.HostConfig),
                                            skipping: Set(skipping))
        Events.record(self, type: "container", action: "commit", record: record)
        return image
    }

    static func apply(change: String, to execution: inout ImageConfig.Execution) throws(EngineError) {
        let trimmed = change.trimmingCharacters(in: .whitespaces)
        guard let space = trimmed.firstIndex(of: " ") else { throw EngineError("invalid --change \(change)", "use INSTRUCTION ARGUMENTS") }
        let instruction = trimmed[..<space].uppercased()
        let argument = trimmed[trimmed.index(after: space)...].trimmingCharacters(in: .whitespaces)
        func list() -> [String] {
            if argument.hasPrefix("["), let data = argument.data(using: .utf8), let array = try? JSONDecoder().decode([String].self, from: data) {
                return array
            }
            return ["/bin/sh", "-c", argument]
        }
        switch instruction {
        case "CMD": execution.Cmd = list()
        case "ENTRYPOINT": execution.Entrypoint = list()
        case "ENV":
            let parts = argument.contains("=") ? argument.split(separator: "=", maxSplits: 1).map(String.init)
                                                : argument.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw EngineError("invalid --change \(change)", "ENV NAME=VALUE") }
            execution.Env = mergeEnvironment(execution.Env ?? [], [parts[0] + "=" + parts[1]])
        case "WORKDIR": execution.WorkingDir = argument
        case "USER": execution.User = argument
        case "LABEL":
            let parts = argument.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
            guard parts.count == 2 else { throw EngineError("invalid --change \(change)", "LABEL KEY=VALUE") }
            var labels = execution.Labels ?? [:]
            labels[parts[0]] = parts[1]
            execution.Labels = labels
        case "STOPSIGNAL": execution.StopSignal = argument
        case "EXPOSE":
            var ports = execution.ExposedPorts ?? [:]
            for port in argument.split(separator: " ") { ports[port.contains("/") ? String(port) : port + "/tcp"] = EmptyObject() }
            execution.ExposedPorts = ports
        default:
            throw EngineError("\(instruction) is not a valid change command", "use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER or WORKDIR")
        }
    }
}
