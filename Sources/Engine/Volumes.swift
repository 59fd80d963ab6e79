import Foundation
import Glibc
import Images
import Linux

/// Volumes (docker's local driver: `<root>/volumes/<name>/_data`) and the mounts of a container: named
/// and anonymous volumes, binds, with docker's copy-up of the image's content into a new, empty volume.
extension Engine {
    func volumeDirectory(_ name: String) -> String { root + "/volumes/" + name }

    /// `volume create`: makes it unless it exists (docker returns the existing one).
    @discardableResult
    public func createVolume(name: String?, labels: [String: String] = [:], anonymous: Bool = false) throws(EngineError) -> VolumeRecord {
        let name = name ?? Self.newID()
        let valid = name.utf8.count >= 2 && name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
        }
        guard valid, name.first != ".", name.first != "-" else {
            throw EngineError("create \(name)", "\"\(name)\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed")
        }
        if let existing = try metadata.volume(named: name) { return existing }
        let data = volumeDirectory(name) + "/_data"
        do { try Files.makeDirectories(data, mode: 0o755) } catch { throw EngineError("creating volume \(name)", error.description) }
        let record = VolumeRecord(Name: name, Driver: "local", Mountpoint: data, CreatedAt: Self.now(), Labels: labels,
                                  Scope: "local", Options: [:], Anonymous: anonymous)
        let stored = try metadata.insertVolume(record)
        Events.record(self, type: "volume", action: "create", id: name, attributes: ["driver": "local"])
        return stored
    }

    public func volumes() throws(EngineError) -> [VolumeRecord] { try metadata.volumes() }

    public func volume(_ name: String) throws(EngineError) -> VolumeRecord {
        guard let volume = try metadata.volume(named: name) else { throw EngineError("get \(name)", "no such volume") }
        return volume
    }

    /// The containers that mount `name`.
    func users(ofVolume name: String) throws(EngineError) -> [ContainerInfo] {
        try metadata.containers().filter { $0.Mounts.contains { $0.Type == "volume" && $0.Name == name } }
    }

    /// `volume rm`: refuses a volume in use, as docker does.
    public func removeVolume(_ name: String, force: Bool = false) throws(EngineError) {
        guard try metadata.volume(named: name) != nil else {
            if force { return }
            throw EngineError("get \(name)", "no such volume")
        }
        let users = try users(ofVolume: name)
        if !users.isEmpty {
            throw EngineError("remove \(name)", "volume is in use - [\(users.map(\.Id).joined(separator: ", "))]")
        }
        do { try Files.removeTree(volumeDirectory(name)) } catch { throw EngineError("removing volume \(name)", error.description) }
        try metadata.deleteVolume(named: name)
        Events.record(self, type: "volume", action: "destroy", id: name, attributes: ["driver": "local"])
    }

    /// `volume prune`: unused anonymous volumes (docker 23+), or every unused one with `all`.
    public func pruneVolumes(all: Bool) throws(EngineError) -> [String] {
        var removed: [String] = []
        for volume in try metadata.volumes() where (all || volume.Anonymous) {
            if try users(ofVolume: volume.Name).isEmpty {
                try removeVolume(volume.Name)
                removed.append(volume.Name)
            }
        }
        return removed
    }

    /// Works out every volume and bind of a new container (making volumes as needed) into `record.Mounts`.
    func resolveMounts(_ record: inout ContainerInfo, rootfs: String) throws(EngineError) {
        var points: [MountPoint] = []
        func add(volume name: String?, destination: String, readOnly: Bool, noCopy: Bool) throws(EngineError) {
            let existed = name.flatMap { try? metadata.volume(named: $0) } != nil
            let volume = try createVolume(name: name, anonymous: name == nil)
            if name == nil { record.AnonymousVolumes.append(volume.Name) }
            if !existed && !noCopy { copyUp(rootfs: rootfs, destination: destination, into: volume.Mountpoint) }
            // A new volume of a container in a user namespace belongs to the container's root, as under
            // docker's userns-remap; what copy-up brought in already has the ids the idmapped rootfs showed.
            if !existed, let map = UserNamespaces.map(of: record.HostConfig), Files.isDirectory(volume.Mountpoint),
               (try? Files.listDirectory(volume.Mountpoint))?.isEmpty ?? true,
               let uid = IDMap.hostID(0, in: map.uids), let gid = IDMap.hostID(0, in: map.gids) {
                chown(volume.Mountpoint, uid, gid)
            }
            points.append(MountPoint(Type: "volume", Name: volume.Name, Source: volume.Mountpoint, Destination: destination,
                                     Driver: "local", Mode: readOnly ? "ro" : "z", RW: !readOnly, Propagation: ""))
        }
        for bind in record.HostConfig.Binds {
            let parts = bind.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 2, parts.count <= 3, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw EngineError("invalid volume specification: '\(bind)'", "use SOURCE:DESTINATION[:OPTIONS]")
            }
            let options = parts.count == 3 ? parts[2].split(separator: ",").map(String.init) : []
            for option in options where !["ro", "rw", "z", "Z", "rprivate", "private", "rslave", "slave", "rshared", "shared", "nocopy"].contains(option) {
                throw EngineError("invalid volume specification: '\(bind)'", "unknown option \(option)")
            }
            let readOnly = options.contains("ro")
            let destination = parts[1]
            guard destination.hasPrefix("/") else {
                throw EngineError("invalid volume specification: '\(bind)'", "invalid mount config: the destination \(destination) is not an absolute path")
            }
            if parts[0].hasPrefix("/") {
                if !Files.exists(parts[0]) {
                    do { try Files.makeDirectories(parts[0]) } catch { throw EngineError("creating bind source \(parts[0])", error.description) }
                }
                points.append(MountPoint(Type: "bind", Name: nil, Source: parts[0], Destination: destination, Driver: nil,
                                         Mode: options.filter { $0 != "ro" && $0 != "rw" }.joined(separator: ","),
                                         RW: !readOnly, Propagation: "rprivate"))
            } else if parts[0].contains("/") || parts[0].hasPrefix(".") {
                throw EngineError("invalid volume specification: '\(bind)'",
                                  "\(parts[0]) includes invalid characters for a local volume name; a host path must be absolute")
            } else {
                try add(volume: parts[0], destination: destination, readOnly: readOnly, noCopy: options.contains("nocopy"))
            }
        }
        for mount in record.HostConfig.Mounts {
            guard mount.Target.hasPrefix("/") else {
                throw EngineError("invalid mount config", "the target \(mount.Target) is not an absolute path")
            }
            switch mount.Type {
            case "bind":
                guard mount.Source.hasPrefix("/") else { throw EngineError("invalid mount config for type \"bind\"", "the source must be an absolute path") }
                guard Files.exists(mount.Source) else {
                    throw EngineError("invalid mount config for type \"bind\"", "bind source path does not exist: \(mount.Source)")
                }
                points.append(MountPoint(Type: "bind", Name: nil, Source: mount.Source, Destination: mount.Target, Driver: nil,
                                         Mode: "", RW: !mount.ReadOnly, Propagation: "rprivate"))
            case "volume":
                try add(volume: mount.Source.isEmpty ? nil : mount.Source, destination: mount.Target, readOnly: mount.ReadOnly,
                        noCopy: mount.NoCopy ?? false)
            case "tmpfs":
                break   // in the runtime config only
            default:
                throw EngineError("invalid mount config", "unknown type \(mount.Type)")
            }
        }
        let tmpfsTargets = Set(record.HostConfig.Tmpfs.keys).union(record.HostConfig.Mounts.filter { $0.Type == "tmpfs" }.map(\.Target))
        for destination in (record.Config.Volumes ?? [:]).keys.sorted()
        where !points.contains(where: { $0.Destination == destination }) && !tmpfsTargets.contains(destination) {
            try add(volume: nil, destination: destination, readOnly: false, noCopy: false)
        }
        record.Mounts = points
    }

    /// docker copies what the image has at a volume's destination into a new volume.
    private func copyUp(rootfs: String, destination: String, into data: String) {
        guard let source = try? ScopedPath.resolve(root: rootfs, destination), Files.isDirectory(source) else { return }
        try? TreeCopy.copyContents(of: source, into: data)
        try? TreeCopy.copyAttributes(of: source, to: data)
    }
}
