import Cgroups
import FoundationEssentials
import Glibc
import Linux
import OCISpec
import Testing

extension RealCgroups {
    /// `berth cgroup` logic on real cgroups, and the hierarchy rules.
    @Suite(.serialized)
    struct ToolkitTests {
        func uniquePath() -> String { "/berth-test-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))" }

        @Test func createSetGetRemove() throws {
            let path = uniquePath()
            let dirs = try CgroupToolkit.create(path: path, controllers: ["pids"])
            defer { try? CgroupToolkit.remove(path: path, force: true) }
            #expect(dirs.count == 1)
            try CgroupToolkit.set(path: path, [("pids.max", "7")])
            #expect(try CgroupToolkit.get(path: path, keys: ["pids.max"]).first?.value == "7")
            let all = try CgroupToolkit.get(path: path, keys: [])
            #expect(all.contains { $0.key == "pids.max" && $0.value == "7" })
            let tree = try CgroupToolkit.tree(path: path, controller: "pids")
            #expect(tree.first?.values["pids.max"] == "7")
            try CgroupToolkit.remove(path: path, force: false)
            #expect(throws: CgroupError.self) { try CgroupToolkit.get(path: path, keys: ["pids.max"]) }
        }

        @Test func aBadValueChangesNothingAndIsNamed() throws {
            let path = uniquePath()
            try CgroupToolkit.create(path: path, controllers: ["pids", "memory"])
            defer { try? CgroupToolkit.remove(path: path, force: true) }
            try CgroupToolkit.set(path: path, [("pids.max", "9")])
            let memoryKey = isUnified ? "memory.max" : "memory.limit_in_bytes"
            do {
                try CgroupToolkit.set(path: path, [("pids.max", "3"), (memoryKey, "banana")])
                Issue.record("expected an error")
            } catch {
                #expect("\(error)".contains("banana"))
                #expect("\(error)".contains(memoryKey))
            }
            #expect(try CgroupToolkit.get(path: path, keys: ["pids.max"]).first?.value == "9")
            // an unknown key is refused before anything is written
            #expect(throws: CgroupError.self) { try CgroupToolkit.set(path: path, [("pids.max", "4"), ("pids.maxx", "1")]) }
            #expect(try CgroupToolkit.get(path: path, keys: ["pids.max"]).first?.value == "9")
        }

        @Test func unknownControllerEscapingPathAndMissingPid() throws {
            #expect(throws: CgroupError.self) { try CgroupToolkit.create(path: uniquePath(), controllers: ["nosuchcontroller"]) }
            #expect(throws: CgroupError.self) { try CgroupToolkit.create(path: "../../x", controllers: nil) }
            #expect(throws: CgroupError.self) { try CgroupToolkit.set(path: "/a/../../x", [("pids.max", "1")]) }
            let path = uniquePath()
            try CgroupToolkit.create(path: path, controllers: ["pids"])
            defer { try? CgroupToolkit.remove(path: path, force: true) }
            do {
                try CgroupToolkit.move(pids: [999_999_998], path: path, thread: false)
                Issue.record("expected an error")
            } catch {
                #expect("\(error)".contains("999999998"))
            }
        }

        @Test func aBusyCgroupIsRemovedOnlyWithForce() throws {
            let path = uniquePath()
            try CgroupToolkit.create(path: path, controllers: nil)
            defer { try? CgroupToolkit.remove(path: path, force: true) }
            let child = try Child("sleep 60")
            try CgroupToolkit.move(pids: [child.pid], path: path, thread: false)
            child.release()
            #expect(throws: CgroupError.self) { try CgroupToolkit.remove(path: path, force: false) }
            #expect(try CgroupToolkit.processes(path: path).contains(child.pid))
            try CgroupToolkit.remove(path: path, force: true)
            #expect(termSignal(child.wait() ?? 0) == SIGKILL)
            #expect(!(try Cgroups.manager(path: path)).exists())
        }

        /// A task is in exactly one cgroup per hierarchy; a child starts in its parent's cgroup; moving
        /// it changes only its own membership.
        @Test func hierarchyRules() throws {
            let a = uniquePath(), b = uniquePath()
            try CgroupToolkit.create(path: a, controllers: nil)
            try CgroupToolkit.create(path: b, controllers: nil)
            defer { try? CgroupToolkit.remove(path: a, force: true); try? CgroupToolkit.remove(path: b, force: true) }
            let parent = try Child("sleep 60 & echo $! > /dev/null; wait")
            try CgroupToolkit.move(pids: [parent.pid], path: a, thread: false)
            parent.release()
            var pids: [Int32] = []
            for _ in 0..<200 {
                pids = try CgroupToolkit.processes(path: a)
                if pids.count == 2 { break }
                usleep(10_000)
            }
            let forked = try #require(pids.first { $0 != parent.pid })
            // the forked child started in its parent's cgroup, in every hierarchy
            let lines = try CgroupToolkit.which(pid: forked)
            let hierarchies = lines.map(\.hierarchy)
            #expect(Set(hierarchies).count == hierarchies.count) // one line per hierarchy
            #expect(lines.filter { $0.directory != nil && !$0.controllers.contains(where: { $0.hasPrefix("name=") }) }
                .allSatisfy { $0.path == a })
            // it can be moved on its own
            try CgroupToolkit.move(pids: [forked], path: b, thread: false)
            #expect(try CgroupToolkit.processes(path: b) == [forked])
            #expect(try CgroupToolkit.processes(path: a) == [parent.pid])
            #expect(try CgroupToolkit.which(pid: forked).filter { $0.path == b }.count >= 1)
        }

        /// On v1 a subsystem already in a hierarchy cannot be attached to another one; on v2 there are
        /// no named hierarchies. Either way the error says why.
        @Test func attachingASubsystemTwiceIsExplained() throws {
            let dir = "/tmp/berth-test-mount-\(getpid())"
            defer { _ = umount2(dir, 0); _ = rmdir(dir) }
            if isUnified {
                do {
                    try CgroupToolkit.mountNamed(name: "berthtest", directory: dir)
                    Issue.record("expected an error")
                } catch {
                    #expect("\(error)".contains("one hierarchy"))
                }
                return
            }
            // two subsystems that live in different hierarchies cannot be mounted together
            let subs = Cgroups.subsystems().filter { $0.hierarchy > 0 }
            guard let first = subs.first, let other = subs.first(where: { $0.hierarchy != first.hierarchy }) else { return }
            do {
                try CgroupToolkit.mountNamed(name: "berthtest\(getpid())", directory: dir, subsystems: [first.name, other.name])
                Issue.record("expected an error")
            } catch {
                #expect("\(error)".contains("already in hierarchy"))
            }
            // a named hierarchy without subsystems is fine
            try CgroupToolkit.mountNamed(name: "berthtest\(getpid())", directory: dir)
            #expect(CgroupToolkit.hierarchies().contains { $0.name == "berthtest\(getpid())" })
        }

        @Test func lsAndWhichDescribeThisProcess() throws {
            let all = CgroupToolkit.hierarchies()
            #expect(!all.isEmpty)
            let mine = try CgroupToolkit.which(pid: getpid())
            #expect(!mine.isEmpty)
            for line in mine where line.directory != nil {
                #expect(Files.isDirectory(line.directory ?? ""))
            }
            #expect(throws: CgroupError.self) { try CgroupToolkit.which(pid: 999_999_997) }
        }
    }
}

extension RealCgroups {
    /// Every commonly used linux.resources field lands in the right file, converted, on v1 and v2.
    @Suite(.serialized)
    struct ResourceFieldTests {
        /// The first real block device (not loop/zram/ram), as major:minor.
        func blockDevice() -> (Int64, Int64)? {
            for name in ((try? Files.listDirectory("/sys/block")) ?? []).sorted()
                where !name.hasPrefix("loop") && !name.hasPrefix("zram") && !name.hasPrefix("ram") {
                let text = ((try? Files.read("/sys/block/\(name)/dev")) ?? "").split(separator: "\n").first ?? ""
                let parts = text.split(separator: ":")
                if parts.count == 2, let major = Int64(parts[0]), let minor = Int64(parts[1]) { return (major, minor) }
            }
            return nil
        }

        @Test func fieldsAreWrittenAndConverted() throws {
            try withTestCgroup { cg in
                var r = Resources()
                r.memory = .init(limit: 64 << 20, reservation: 32 << 20, swap: 64 << 20)
                r.cpu = .init(shares: 512, quota: 50_000, period: 100_000)
                if hasController("cpuset") { r.cpu?.cpus = "0"; r.cpu?.mems = "0" }
                r.pids = .init(limit: 100)
                let device = blockDevice()
                if let (major, minor) = device {
                    let json = "{\"throttleReadBpsDevice\":[{\"major\":\(major),\"minor\":\(minor),\"rate\":1048576}]}"
                    r.blockIO = try SpecJSON.decode(Resources.BlockIO.self, from: Data(json.utf8), file: "blockIO")
                }
                let hasUnified = Cgroups.mounts().contains { $0.version == 2 }
                if hasUnified { r.unified = ["cgroup.max.descendants": "5"] }
                try cg.apply(r)

                func get(_ key: String) throws -> String { try CgroupToolkit.get(path: cg.path, keys: [key]).first?.value ?? "" }
                #expect(try get("memory.max") == String(64 << 20))
                #expect(try get("memory.low") == String(32 << 20))
                #expect(try get("cpu.weight") == String(CgroupConversions.cpuWeight(fromShares: 512)))
                #expect(try get("cpu.max") == "50000 100000")
                #expect(try get("pids.max") == "100")
                if hasController("cpuset") { #expect(try get("cpuset.cpus") == "0") }
                if let (major, minor) = device {
                    let key = isUnified ? "io.max" : "blkio.throttle.read_bps_device"
                    #expect(try get(key).contains("\(major):\(minor)"))
                    #expect(try get(key).contains("1048576"))
                }
                if hasUnified { #expect(try get("cgroup.max.descendants") == "5") }

                // update: quota off, limit raised (swap raised first on v1), pids unlimited
                var update = Resources()
                update.memory = .init(limit: 128 << 20, swap: 128 << 20)
                update.cpu = .init(quota: -1)
                update.pids = .init(limit: 0)
                try cg.apply(update)
                #expect(try get("memory.max") == String(128 << 20))
                #expect(try get("cpu.max") == "max 100000")
                #expect(try get("pids.max") == "max")
            }
        }
    }
}
