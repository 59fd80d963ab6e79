import CArchive   // getxattr (sys/xattr.h)
import Glibc
import Linux

/// fuse-overlayfs for a rootless container in a user namespace of its own (`--userns keep-id`). The kernel's
/// idmapped mounts cannot shift the layers there: they live on the host's filesystem, and idmapping a mount
/// needs CAP_SYS_ADMIN over the user namespace that filesystem belongs to (the host's). fuse-overlayfs shows
/// each file with its id passed through `map` (stored id = the id the container sees; shown id = what that id
/// is in the engine's namespace), the same view an idmapped mount gives, and maps back what the container
/// writes, so the upper directory holds the ids the container sees, as an image layer does. podman does the same.
public enum FuseOverlayMount {
    /// `lowers` top first. Returns once the mount is in place (fuse-overlayfs then serves it from the background
    /// and exits when it is unmounted).
    static func mount(lowers: [String], upper: String, work: String, target: String, map: IDMap) throws(ImageError) {
        guard let program = Executables.find("fuse-overlayfs") else {
            throw ImageError("mount the rootfs", target, "fuse-overlayfs not found in PATH: a rootless container in its own user namespace needs it (apt-get install fuse-overlayfs)")
        }
        for path in lowers + [upper, work] where path.contains(",") || path.contains(":") {
            throw ImageError("mount the rootfs", path, "fuse-overlayfs cannot take a path with ',' or ':'")
        }
        let options = "lowerdir=\(lowers.joined(separator: ":")),upperdir=\(upper),workdir=\(work)"
            + ",uidmapping=\(Self.mapping(map.uids)),gidmapping=\(Self.mapping(map.gids))"
        let log = work + ".fuse-overlayfs.log"
        defer { unlink(log) }
        let fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ImageError("mount the rootfs", log, SystemErrorText.current) }
        let pid: pid_t
        do { pid = try Spawn.spawn(path: program, args: [program, "-o", options, target], env: ["PATH=/usr/bin:/bin"], files: [1: fd, 2: fd]) } catch {
            close(fd)
            throw ImageError("mount the rootfs", target, "running fuse-overlayfs: \(error)")
        }
        close(fd)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard Processes.exitCode(status) == 0, Mounts.isMountPoint(target) else {
            // Its first line is a harmless "unknown argument ignored: lazytime"; the cause is the last.
            let output = ((try? Files.read(log)) ?? "").split(separator: "\n").last.map(String.init)
            throw ImageError("mount the rootfs", target, "fuse-overlayfs: \(output ?? "exit status \(Processes.exitCode(status))")")
        }
    }

    /// fuse-overlayfs's `STORED:SHOWN:COUNT:…` list: a container's mapping read as CONTAINER:ENGINE:COUNT.
    static func mapping(_ ranges: [IDRange]) -> String {
        ranges.map { "\($0.inside):\($0.outside):\($0.count)" }.joined(separator: ":")
    }

    /// What fuse-overlayfs leaves in an upper directory besides the kernel's marks: an opaque directory holds
    /// `.wh..wh..opq` (and `.wh..opq`) files and has `user.fuseoverlayfs.opaque`. Readers of an upper directory
    /// (commit, diff) skip these names and take either mark as opaque.
    public static let markerNames: Set<String> = [".wh..wh..opq", ".wh..opq"]

    /// Whether `directory`, in an upper directory written by overlayfs or fuse-overlayfs, hides what is below it.
    public static func isOpaque(_ directory: String) -> Bool {
        var value = [UInt8](repeating: 0, count: 2)
        for name in [OverlayMount.xattrPrefix + "opaque", "user.fuseoverlayfs.opaque"]
        where getxattr(directory, name, &value, 2) == 1 && value[0] == UInt8(ascii: "y") {
            return true
        }
        return access(directory + "/.wh..wh..opq", F_OK) == 0
    }
}
