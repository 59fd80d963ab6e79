import Cgroups
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
            for name in names.sorted() where !FuseOverlayMount.markerNames.contains(name) {
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

    /// `cp CONTAINER:SRC DEST` (DEST `-`: a tar stream on `fd`). The container's side is read only through fds
    /// pinned inside its root (`ScopedArchive`); a local DEST is unpacked by the host's tar from that stream, as
    /// docker does: what the host's tar sees is a stream, not the container's tree.
    public func copyOut(_ reference: String, path: String, to destination: String, archive: Bool, fd: Int32 = 1) throws(EngineError) {
        let record = try container(reference)
        let root = try rootView(record)
        let rootFd = try openRoot(root)
        defer { close(rootFd) }
        let inner = innerPath(path)
        var st = stat()
        guard let probe = try? ScopedPath.open(rootFd: rootFd, rootPath: root, inner, flags: Self.openPath) else {
            throw EngineError("Could not find the file \(path) in container \(reference)", "")
        }
        fstat(probe, &st)
        close(probe)
        let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
        // The name the container would give it, a final symlink followed (a name only: the copy itself does not
        // go by it).
        let full = (try? ScopedPath.resolve(root: root, inner)) ?? root + inner
        let resolved = ScopedPath.clean(String(full.dropFirst(root.count))) as NSString
        let contentsOnly = path.hasSuffix("/.") && isDirectory || resolved == "/"
        let map = UserNamespaces.map(of: record.HostConfig)
        func stream(as name: String, to output: Int32) throws(EngineError) {
            do { try ScopedArchive.write(rootFd: rootFd, rootPath: root, path: inner, as: name, to: output, idMap: map) } catch {
                throw EngineError("copying \(path)", error.description)
            }
        }
        if destination == "-" {
            try stream(as: contentsOnly ? "." : resolved.lastPathComponent, to: fd)
            return
        }
        // docker's cp: into an existing directory under the source's name, else as DEST itself.
        let into: String, name: String
        if contentsOnly {
            if !Files.exists(destination) {
                do { try Files.makeDirectories(destination) } catch { throw EngineError("creating \(destination)", error.description) }
            }
            (into, name) = (destination, ".")
        } else if Files.isDirectory(destination) {
            (into, name) = (destination, resolved.lastPathComponent)
        } else {
            let parent = (destination as NSString).deletingLastPathComponent
            (into, name) = (parent.isEmpty ? "." : parent, (destination as NSString).lastPathComponent)
        }
        // With -a the copy keeps the ids the container sees (the stream carries them), as docker's cp does
        // under userns-remap; without, it belongs to the caller.
        let owners = archive ? ["--same-owner", "--numeric-owner"] : ["--no-same-owner"]
        try pipeThrough(["/bin/tar", "-x", "--no-overwrite-dir"] + owners + ["-C", into, "-f", "-"], toolReads: true,
                        what: "copying \(path) to \(destination)") { (output) throws(EngineError) in try stream(as: name, to: output) }
    }

    /// `cp SRC CONTAINER:DEST` (SRC `-`: a tar stream on `fd`, unpacked into the directory DEST). The host's tar
    /// packs SRC (the host's side is the caller's to trust); the stream is unpacked into the container one name at
    /// a time from fds pinned inside its root (`ScopedArchive`), so a symlink swapped in cannot lead out.
    public func copyIn(_ reference: String, from source: String, path: String, archive: Bool, fd: Int32 = 0) throws(EngineError) {
        let record = try container(reference)
        let root = try rootView(record)
        let rootFd = try openRoot(root)
        defer { close(rootFd) }
        let inner = innerPath(path)
        let map = UserNamespaces.map(of: record.HostConfig)
        func isDirectory(_ inner: String) -> Bool {
            guard let fd = try? ScopedPath.open(rootFd: rootFd, rootPath: root, inner, flags: Self.openPath) else { return false }
            defer { close(fd) }
            var st = stat()
            return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
        }
        func unpack(_ input: Int32, into directory: String, _ placement: ScopedArchive.Placement) throws(EngineError) {
            do { try ScopedArchive.extract(from: input, rootFd: rootFd, rootPath: root, directory: directory, placement: placement) } catch {
                throw EngineError("copying into \(path)", error.description)
            }
        }
        if source == "-" {
            guard isDirectory(inner) else {
                throw EngineError("destination \"\(reference):\(path)\" must be a directory", "")
            }
            // The stream is kept and checked whole first: an entry through a symlink already in the container
            // is refused before anything is written. The unpack checks again as it goes (the container may
            // change meanwhile).
            let staging = NSTemporaryDirectory() + "berth-cp-\(UUID().uuidString)"
            do { try Files.makeDirectories(staging, mode: 0o700) } catch { throw EngineError("copying into \(path)", error.description) }
            defer { try? Files.removeTree(staging) }
            let kept = try Self.createFile(staging + "/stream.tar")
            defer { close(kept) }
            try runTool(["/bin/cat"], stdin: fd, stdout: kept, what: "reading the archive for \(path)")
            for checkOnly in [true, false] {
                let input = open(staging + "/stream.tar", O_RDONLY | O_CLOEXEC)
                if input < 0 { throw EngineError("copying into \(path)", SystemError.message(errno)) }
                defer { close(input) }
                try unpack(input, into: inner, .init(keepOwners: archive, idMap: map, checkOnly: checkOnly))
            }
            return
        }
        guard Files.exists(source) else { throw EngineError("could not find the file \(source)", "no such file or directory") }
        let contentsOnly = source.hasSuffix("/.")
        let into: String
        var placement = ScopedArchive.Placement(keepOwners: archive, idMap: map)
        if isDirectory(inner) {
            into = inner
        } else {
            let parent = (inner as NSString).deletingLastPathComponent
            guard isDirectory(parent) else {
                throw EngineError("Could not find the file \(path) in container \(reference)", "its parent directory does not exist")
            }
            // DEST does not exist (or is a file): the source becomes it.
            let base = (inner as NSString).lastPathComponent
            into = parent
            if contentsOnly {
                placement.rename = { components in [base] + components }
            } else {
                placement.rename = { components in components.isEmpty ? [] : [base] + Array(components.dropFirst()) }
            }
        }
        let hostSource = contentsOnly ? String(source.dropLast(2)) : source
        let pack = contentsOnly ? ["-C", hostSource.isEmpty ? "/" : hostSource, "."]
            : ["-C", (hostSource as NSString).deletingLastPathComponent.isEmpty ? "." : (hostSource as NSString).deletingLastPathComponent,
               (hostSource as NSString).lastPathComponent]
        try pipeThrough(["/bin/tar", "--numeric-owner", "-cf", "-"] + pack, toolReads: false, what: "copying \(source) into \(path)") {
            (input) throws(EngineError) in try unpack(input, into: into, placement)
        }
    }

    private static let openPath: Int32 = 0o10000000   // O_PATH, missing from Swift's Glibc module

    private func openRoot(_ root: String) throws(EngineError) -> Int32 {
        let fd = open(root, Self.openPath | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw EngineError("opening the container's root filesystem", SystemError.message(errno)) }
        return fd
    }

    /// A container path as an absolute, clean path in its root (`/.` is docker's "the contents", not a name).
    private func innerPath(_ path: String) -> String {
        let trimmed = path.hasSuffix("/.") ? String(path.dropLast(2)) : path
        return ScopedPath.clean(trimmed.isEmpty ? "/" : trimmed)
    }

    /// Runs a host tool with one end of a pipe as its stdin (`toolReads`) or stdout, and `body` on the other end
    /// in this process. Both must succeed; the body's failure is the one reported.
    private func pipeThrough(_ arguments: [String], toolReads: Bool, what: String,
                             _ body: (Int32) throws(EngineError) -> Void) throws(EngineError) {
        let ends: (read: Int32, write: Int32)
        do { ends = try FileDescriptors.pipe() } catch { throw EngineError(what, error.description) }
        // A tool that dies early must give us EPIPE, not a SIGPIPE that kills the CLI half-way.
        signal(SIGPIPE, SIG_IGN)
        let pid: pid_t
        let files: [Int32: Int32] = toolReads ? [0: ends.read, 2: 2] : [1: ends.write, 2: 2]
        do { pid = try Spawn.spawn(path: arguments[0], args: arguments, env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], files: files) } catch {
            close(ends.read); close(ends.write)
            throw EngineError(what, error.description)
        }
        let mine = toolReads ? ends.write : ends.read
        close(toolReads ? ends.read : ends.write)
        var failure: EngineError?
        do { try body(mine) } catch { failure = error }
        close(mine)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if let failure { throw failure }
        let code = Processes.exitCode(status)
        if code != 0 { throw EngineError(what, "\(arguments[0]) exited with \(code)") }
    }

    private static func createFile(_ path: String) throws(EngineError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 { throw EngineError("creating \(path)", SystemError.message(errno)) }
        return fd
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
        let paused = try pauseForCommit(record, asked: pause)
        defer { if paused { try? unpause(record.Id) } }
        let upper = bundlePath(record.Id) + "/overlay/upper"
        let lowers = try images.resolve(record.Image).diffIDs.map { images.snapshots.path($0) }
        let skipping = engineMountpoints(upper: upper) { path in lowers.contains { var st = stat(); return lstat($0 + path, &st) == 0 } }
        // An idmapped rootfs writes host ids into the upper directory; fuse-overlayfs (rootless keep-id) writes
        // the container's own, so only the first is mapped back.
        let image = try await images.commit(base: record.Image, upper: upper, reference: repository,
                                            execution: execution, comment: message, author: author,
                                            createdBy: "berth commit \(record.Name)", idMap: Rootless.isActive ? nil : UserNamespaces.map(of: record.HostConfig),
                                            skipping: Set(skipping))
        Events.record(self, type: "container", action: "commit", record: record)
        return image
    }

    /// Pauses a running container for `commit` and says whether it did. A rootless container without a cgroup
    /// cannot be frozen: it is committed running, as podman commits by default.
    private func pauseForCommit(_ record: ContainerInfo, asked: Bool) throws(EngineError) -> Bool {
        guard asked && record.State.Running && !record.State.Paused else { return false }
        do { try self.pause(record.Id) } catch {
            if Rootless.isActive && error.description.contains(DetachedCgroup.reason) { return false }
            throw error
        }
        return true
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
