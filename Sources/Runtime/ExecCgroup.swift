import Glibc
import Linux
import Cgroups

/// Where an exec'd process goes: the container's cgroup in every hierarchy it lives in (each v1
/// hierarchy, name=systemd, and the unified tree of a hybrid host, as runc), or the sub-cgroups named
/// with `exec --cgroup`.
struct ExecCgroup {
    struct Target {
        var directory: String
        /// The unified tree of a hybrid host when nothing was asked of it: a container made before
        /// berth joined it has no directory there, and that is no reason to fail.
        var optional: Bool
        /// v2: the container's own cgroup, which may refuse processes once it has delegated controllers
        /// to sub-cgroups ("no internal processes"); runc then joins the init's cgroup instead.
        var mayFallBack: Bool
    }

    let targets: [Target]

    /// runc's `--cgroup` grammar: one `PATH` (every hierarchy), or any number of
    /// `CONTROLLER[,CONTROLLER]:PATH`. The key "" stands for "every hierarchy", and on a hybrid host
    /// also names the unified tree.
    static func parse(_ arguments: [String]) throws(RuntimeError) -> [String: String] {
        var paths: [String: String] = [:]
        for argument in arguments {
            let parts = argument.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            if parts.count > 2 { throw RuntimeError("invalid --cgroup argument: \(argument)", "") }
            if parts.count == 1 {
                guard arguments.count == 1 else {
                    throw RuntimeError("invalid --cgroup argument: \(argument) (missing <controller>: prefix)", "")
                }
                paths[""] = argument
            } else {
                for controller in parts[0].split(separator: ",", omittingEmptySubsequences: false) {
                    paths[String(controller)] = String(parts[1])
                }
            }
        }
        return paths
    }

    /// Resolves `sub` against the container's cgroup; every failure here comes before anything is made.
    init(manager: any CgroupManager, sub: [String: String]) throws(RuntimeError) {
        // (names a hierarchy answers to, its directory, whether it is the unified tree of a hybrid host)
        var hierarchies: [(names: Set<String>, directory: String, hybridUnified: Bool)] = []
        if let v1 = manager as? CgroupV1Manager {
            for placement in v1.placements {
                var names = Set(placement.mount.subsystems)
                if let name = placement.mount.name { names.insert("name=" + name) }
                if placement.mount.version == 2 { names.insert("") }
                hierarchies.append((names, placement.directory, placement.mount.version == 2))
            }
        } else if let v2 = manager as? CgroupV2Manager {
            hierarchies.append(([""], v2.directory, false))
        }
        var chosen: [String?] = Array(repeating: nil, count: hierarchies.count)
        if let all = sub[""] {
            for index in hierarchies.indices { chosen[index] = all }
        } else {
            for (controller, path) in sub.sorted(by: { $0.key < $1.key }) {
                guard let index = hierarchies.firstIndex(where: { $0.names.contains(controller) }) else {
                    throw RuntimeError("unknown controller \(controller) in SubCgroupPaths", "")
                }
                if let earlier = chosen[index], earlier != path {
                    throw RuntimeError("invalid --cgroup argument: \(controller):\(path)",
                                       "its hierarchy is already given \(earlier) (controllers mounted together share one path)")
                }
                chosen[index] = path
            }
        }
        var targets: [Target] = []
        for (index, hierarchy) in hierarchies.enumerated() {
            let directory = try Self.join(hierarchy.directory, chosen[index] ?? "")
            let optional = hierarchy.hybridUnified && chosen[index] == nil
            if !Files.isDirectory(directory) {
                if optional { continue }
                // runc's words (its write of cgroup.procs fails), found here before anything is made.
                throw RuntimeError("unable to start container process",
                                   "error adding pid to cgroups: openat2 \(directory)/cgroup.procs: no such file or directory")
            }
            targets.append(Target(directory: directory, optional: optional,
                                  mayFallBack: manager is CgroupV2Manager && sub.isEmpty))
        }
        self.targets = targets
    }

    /// `base` + `sub`, which may not climb out of `base` (runc: "X is not a sub cgroup path").
    static func join(_ base: String, _ sub: String) throws(RuntimeError) -> String {
        var parts: [Substring] = []
        for component in sub.split(separator: "/") where component != "." {
            if component == ".." {
                guard !parts.isEmpty else { throw RuntimeError("\(sub) is not a sub cgroup path", "") }
                parts.removeLast()
            } else {
                parts.append(component)
            }
        }
        return parts.isEmpty ? base : base + "/" + parts.joined(separator: "/")
    }

    /// Moves `pid` into every target.
    func join(_ pid: Int32, initPid: Int32) throws(RuntimeError) {
        for target in targets {
            let procs = target.directory + "/cgroup.procs"
            do { try Files.write(procs, String(pid)) } catch {
                if target.optional { continue }
                if target.mayFallBack, error.errno == EBUSY, let own = Self.unifiedCgroup(of: initPid),
                   (try? Files.write(own + "/cgroup.procs", String(pid))) != nil {
                    continue
                }
                throw RuntimeError("unable to start container process",
                                   "error adding pid \(pid) to cgroups: write \(procs): \(RuntimeError.goMessage(error.errno))")
            }
        }
    }

    /// The init's cgroup2 directory, from /proc/PID/cgroup.
    static func unifiedCgroup(of pid: Int32) -> String? {
        guard let line = (try? Cgroups.memberships(pid: pid))?.first(where: { $0.hierarchy == 0 && $0.controllers.isEmpty }),
              let mount = Cgroups.mounts().first(where: { $0.version == 2 }) else { return nil }
        return mount.directory(for: line.path)
    }
}
