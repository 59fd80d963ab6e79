import Cgroups
import Glibc
import Linux
import OCISpec
import Testing

extension RealCgroups {
    @Suite struct InputTests {
        @Test func detectsThisHost() {
            let mode = Cgroups.detectMode()
            let mounts = Cgroups.mounts()
            switch mode {
            case .unified: #expect(mounts.allSatisfy { $0.version == 2 || $0.subsystems.isEmpty })
            case .hybrid: #expect(mounts.contains { $0.version == 2 } && mounts.contains { $0.version == 1 })
            case .legacy: #expect(!mounts.contains { $0.version == 2 })
            }
        }

        @Test func aPathEscapingTheRootIsRefused() {
            #expect(throws: CgroupError.self) { try Cgroups.manager(path: "../../x") }
            #expect(throws: CgroupError.self) { try Cgroups.manager(path: "/a/../../x") }
        }

        /// "" is the record of a container that has no cgroup (rootless on a host that delegates none): it
        /// must resolve to the detached manager, never to the hierarchy roots.
        @Test func anEmptyPathIsTheDetachedCgroup() throws {
            let manager = try Cgroups.manager(path: "")
            #expect(manager is DetachedCgroup)
            var limited = Resources()
            limited.pids = .init(limit: 10)
            #expect(throws: CgroupError.self) { try manager.apply(limited) }
            #expect(!manager.exists())
        }

        @Test func aMissingPidIsNamed() throws {
            try withTestCgroup { cg in
                do {
                    try cg.addProcess(999_999_999)
                    Issue.record("expected an error")
                } catch {
                    #expect("\(error)".contains("999999999"))
                }
                let pids = try cg.processes()
                #expect(pids.isEmpty)
            }
        }

        @Test func badValuesChangeNothing() throws {
            try withTestCgroup { cg in
                var good = Resources()
                good.pids = .init(limit: 50)
                try cg.apply(good)
                var bad = Resources()
                bad.pids = .init(limit: 10)
                bad.memory = .init(limit: 64 << 20)
                bad.memory?.swappiness = 250
                do {
                    try cg.apply(bad)
                    Issue.record("expected an error")
                } catch {
                    #expect("\(error)".contains("swappiness"))
                    #expect("\(error)".contains("250"))
                }
                let limit = try cg.stats().pids.limit
                #expect(limit == 50)
                var badCPU = Resources()
                badCPU.cpu = .init(cpus: "0-banana")
                #expect(throws: CgroupError.self) { try cg.apply(badCPU) }
            }
        }

        @Test func relativePathsLiveUnderOurOwnCgroup() throws {
            let name = "berth-test-rel-\(getpid())"
            let manager = try Cgroups.manager(path: name)
            try manager.create()
            defer { try? manager.destroy() }
            let mine = try Cgroups.memberships(pid: 0)
            if let v2 = manager as? CgroupV2Manager {
                let own = mine.first { $0.hierarchy == 0 }?.path ?? "/"
                #expect(v2.directory.hasSuffix((own == "/" ? "" : own) + "/" + name))
            } else if let v1 = manager as? CgroupV1Manager {
                let own = mine.first { $0.controllers == ["memory"] }?.path ?? "/"
                #expect(v1.directory(for: "memory")?.hasSuffix((own == "/" ? "" : own) + "/" + name) == true)
            }
            #expect(manager.exists())
        }

        @Test func conversions() throws {
            #expect(CgroupConversions.cpuWeight(fromShares: 1024) == 100)
            #expect(CgroupConversions.cpuWeight(fromShares: 2) == 1)
            #expect(CgroupConversions.cpuWeight(fromShares: 262_144) == 10_000)
            #expect(CgroupConversions.cpuWeight(fromShares: 0) == 0)
            #expect(CgroupConversions.cpuShares(fromWeight: 100) == 1024)
            #expect(CgroupConversions.ioWeight(fromBlkioWeight: 10) == 1)
            #expect(CgroupConversions.ioWeight(fromBlkioWeight: 1000) == 10_000)
            #expect(CgroupConversions.ioWeight(fromBlkioWeight: 500) == 4950)
            #expect(try CgroupConversions.swapMax(limit: 100, swap: 300) == "200")
            #expect(try CgroupConversions.swapMax(limit: 100, swap: -1) == "max")
            #expect(try CgroupConversions.swapMax(limit: 100, swap: 100) == "0")
            #expect(throws: CgroupError.self) { try CgroupConversions.swapMax(limit: 100, swap: 50) }
            #expect(throws: CgroupError.self) { try CgroupConversions.swapMax(limit: nil, swap: 50) }
        }

        @Test func statsEncodeLikeRunc() throws {
            var s = CgroupStats()
            s.cpu.usage.total = 5
            s.cpu.usage.percpu = [2, 3]
            s.memory.usage.limit = 10
            s.pids.current = 2
            s.memory.eventCount.oomKill = 1
            let json = String(decoding: try SpecJSON.encode(s), as: UTF8.self)
            #expect(json.contains("\"percpu\":[2,3]"))
            #expect(json.contains("\"oom_kill\":1"))
            #expect(json.contains("\"kernel\":0"))
            #expect(!json.contains("throttledPeriods"))
            let back = try SpecJSON.decode(CgroupStats.self, from: try SpecJSON.encode(s), file: "stats")
            #expect(back == s)
        }

        @Test func mountinfoEscapes() {
            let text = "0:memory:/a b\n1:cpu,cpuacct:/x\n0::/user.slice\n"
            _ = text
            #expect(CPUList.parse("0-2,5") == [0, 1, 2, 5])
            #expect(CPUList.parse("3-1") == nil)
        }
    }
}

extension RealCgroups {
    @Suite struct SystemdPathTests {
        @Test func systemdFormIsRecognisedAndNeedsSystemd() throws {
            #expect(Cgroups.isSystemdPath("system.slice:berth:abc"))
            #expect(!Cgroups.isSystemdPath("/berth/abc"))
            if Cgroups.systemdIsInit {
                #expect(try Cgroups.systemdCgroupPath("machine-berth.slice:berth:abc") == "/machine.slice/machine-berth.slice/berth-abc.scope")
            } else {
                do {
                    _ = try Cgroups.manager(path: "system.slice:berth:abc")
                    Issue.record("expected an error")
                } catch {
                    #expect("\(error)".contains("systemd is not PID 1"))
                }
            }
        }
    }
}
