import Cgroups
import Glibc
import Linux
import OCISpec
import Testing

extension RealCgroups {
    /// The four functions on real cgroups of this host: limit, prioritise, account, control.
    @Suite(.serialized)
    struct LimitTests {
        @Test func createAndDestroyLeaveNothing() throws {
            let path = "/berth-test-\(getpid())-lifecycle"
            let manager = try Cgroups.manager(path: path)
            #expect(!manager.exists())
            try manager.create()
            #expect(manager.exists())
            try manager.create() // existing is fine
            try manager.destroy()
            #expect(!manager.exists())
            try manager.destroy() // gone is fine
        }

        @Test func processJoinsAndChildrenFollow() throws {
            try withTestCgroup { cg in
                let child = try Child("sleep 30 & echo $! > /dev/null; wait")
                try cg.addProcess(child.pid)
                child.release()
                // the forked `sleep` starts in its parent's cgroup
                var pids: [Int32] = []
                for _ in 0..<200 {
                    pids = try cg.processes()
                    if pids.count >= 2 { break }
                    usleep(10_000)
                }
                #expect(pids.contains(child.pid))
                #expect(pids.count == 2)
                for pid in pids {
                    let lines = try Cgroups.memberships(pid: pid)
                    #expect(lines.contains { $0.path.hasSuffix(cg.path) })
                }
                try cg.killAll(signal: SIGKILL)
                #expect(termSignal(child.wait() ?? 0) == SIGKILL)
            }
        }

        @Test func forkBombIsStoppedByPidsMax() throws {
            try #require(hasController("pids"))
            try withTestCgroup { cg in
                var r = Resources()
                r.pids = .init(limit: 16)
                try cg.apply(r)
                // a real fork bomb: every shell forks copies of itself forever (bash retries a failed
                // fork instead of exiting, so the bomb keeps pushing against the limit).
                let child = try Child("exec /bin/bash -c 'b() { while :; do b & done; }; b' 2>/dev/null")
                try cg.addProcess(child.pid)
                child.release()
                sleepSeconds(1.5)
                let stats = try cg.stats()
                #expect(stats.pids.limit == 16)
                #expect(stats.pids.current <= 16)
                #expect(stats.pids.current >= 8, "\(stats.pids)")
                #expect(try cg.processes().count <= 16)
                try cg.killAll(signal: SIGKILL)
                #expect(child.wait() != nil)
                for _ in 0..<200 where !(try cg.processes()).isEmpty { usleep(10_000) }
                #expect(try cg.processes().isEmpty)
            }
        }

        @Test func overAllocationIsOOMKilledAndReported() throws {
            try #require(hasController("memory"))
            try withTestCgroup { cg in
                var r = Resources()
                r.memory = .init(limit: 32 << 20, swap: 32 << 20)
                try cg.apply(r)
                let watcher = try OOMWatcher(cg)
                #expect(watcher.check() == 0)
                // tail keeps the whole "line" in memory: /dev/zero has no newline.
                let child = try Child("exec tail /dev/zero")
                try cg.addProcess(child.pid)
                child.release()
                let status = try #require(child.wait(seconds: 20))
                #expect(termSignal(status) == SIGKILL)
                #expect(watcher.wait(milliseconds: 5000) >= 1) // the notification arrived
                #expect(watcher.check() == 0)                   // and is reported once
                let stats = try cg.stats()
                #expect(stats.memory.eventCount.oomKill >= 1)
                #expect(stats.memory.usage.limit == 32 << 20)
                // the group reached its limit (v1 kernels without swap leave failcnt at 0)
                #expect(stats.memory.eventCount.max > 0 || stats.memory.usage.max >= (32 << 20) * 9 / 10)
            }
        }

        @Test func cpuQuotaShowsAsThrottling() throws {
            try #require(hasController("cpu"))
            try withTestCgroup { cg in
                var r = Resources()
                r.cpu = .init(quota: 10_000, period: 100_000) // 10% of one CPU
                try cg.apply(r)
                let child = try Child("while :; do :; done")
                try cg.addProcess(child.pid)
                child.release()
                let start = now()
                sleepSeconds(1.2)
                let stats = try cg.stats()
                let wall = now() - start
                #expect(stats.cpu.throttling.periods > 0)
                #expect(stats.cpu.throttling.throttledPeriods > 0)
                #expect(stats.cpu.throttling.throttledTime > 0)
                // 10% of the wall time, with generous slack for accounting granularity.
                #expect(Double(stats.cpu.usage.total) / 1e9 < wall * 0.3)
                #expect(stats.cpu.usage.total > 0)
            }
        }

        @Test func statsMoveUnderLoad() throws {
            try withTestCgroup { cg in
                // new processes are charged to the cgroup's memory as they start
                let child = try Child("while :; do /bin/true; done")
                try cg.addProcess(child.pid)
                child.release()
                sleepSeconds(0.3)
                let a = try cg.stats()
                sleepSeconds(0.3)
                let b = try cg.stats()
                #expect(b.cpu.usage.total > a.cpu.usage.total)
                #expect(b.cpu.usage.user + b.cpu.usage.kernel > 0)
                #expect(b.pids.current >= 1)
                #expect(b.memory.usage.usage > 0)
            // the busy loop waits for CPU now and then: pressure is accounted (where the kernel has PSI)
            if let psi = b.cpu.psi { #expect(psi.some.total >= (a.cpu.psi?.some.total ?? 0)) }
            }
        }

        @Test func freezeStopsABusyLoop() throws {
            try withTestCgroup { cg in
                let child = try Child("while :; do :; done")
                try cg.addProcess(child.pid)
                child.release()
                sleepSeconds(0.2)
                try cg.freeze()
                #expect(try cg.isFrozen())
                let a = try cg.stats().cpu.usage.total
                sleepSeconds(0.4)
                let b = try cg.stats().cpu.usage.total
                #expect(b - a < 20_000_000) // < 20 ms of CPU while frozen
                #expect(procState(child.pid) != "R")
                try cg.thaw()
                #expect(try !cg.isFrozen())
                sleepSeconds(0.3)
                let c = try cg.stats().cpu.usage.total
                #expect(c - b > 20_000_000)
            }
        }

        @Test func killAllSignalsEveryTask() throws {
            try withTestCgroup { cg in
                let child = try Child("sleep 60 & sleep 60 & wait")
                try cg.addProcess(child.pid)
                child.release()
                for _ in 0..<200 where (try cg.processes()).count < 3 { usleep(10_000) }
                #expect(try cg.processes().count == 3)
                try cg.killAll(signal: SIGTERM)
                #expect(termSignal(child.wait() ?? 0) == SIGTERM)
                for _ in 0..<200 where !(try cg.processes()).isEmpty { usleep(10_000) }
                #expect(try cg.processes().isEmpty)
            }
        }

        @Test func aDeniedDeviceCannotBeOpened() throws {
            try withTestCgroup { cg in
                var r = Resources()
                // deny everything, then allow /dev/zero only: /dev/null (c 1:3) is denied.
                r.devices = [.init(allow: false, access: "rwm"),
                             .init(allow: true, type: "c", major: 1, minor: 5, access: "rwm")]
                try cg.apply(r)
                let denied = try Child("exec 3>/dev/null")
                try cg.addProcess(denied.pid)
                denied.release()
                let status = try #require(denied.wait())
                #expect(exitCode(status) != 0)
                let allowed = try Child("exec 3</dev/zero")
                try cg.addProcess(allowed.pid)
                allowed.release()
                #expect(exitCode(try #require(allowed.wait())) == 0)
            }
        }

        @Test func sharesAndWeightsArePrioritised() throws {
            try #require(hasController("cpu"))
            try withTestCgroup { cg in
                var r = Resources()
                r.cpu = .init(shares: 512)
                try cg.apply(r)
                let mgr = try Cgroups.manager(path: cg.path)
                if let v2 = mgr as? CgroupV2Manager {
                    #expect(try Files.read(v2.directory + "/cpu.weight").hasPrefix("\(CgroupConversions.cpuWeight(fromShares: 512))"))
                } else if let v1 = mgr as? CgroupV1Manager, let dir = v1.directory(for: "cpu") {
                    #expect(try Files.read(dir + "/cpu.shares") == "512\n")
                }
            }
        }
    }
}

func procState(_ pid: Int32) -> String {
    guard let text = try? Files.read("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return "?" }
    return String(text[text.index(close, offsetBy: 2)])
}

extension RealCgroups {
    /// The v2 device controller (an eBPF program); on a hybrid host it is tested on the unified tree,
    /// which the kernel consults alongside v1's devices controller.
    @Suite(.serialized)
    struct DeviceProgramTests {
        func unifiedDirectory(_ cg: any CgroupManager) -> String? {
            (cg as? CgroupV2Manager)?.directory ?? (cg as? CgroupV1Manager)?.unifiedDirectory
        }

        func run(_ cg: any CgroupManager, _ script: String) throws -> Int32? {
            let child = try Child(script)
            try cg.addProcess(child.pid)
            child.release()
            return exitCode(try #require(child.wait()))
        }

        @Test func aDeviceProgramDeniesAndAllows() throws {
            try withTestCgroup { cg in
                let dir = try #require(unifiedDirectory(cg))
                try DeviceFilter.attach([.init(allow: false, access: "rwm"),
                                         .init(allow: true, type: "c", major: 1, minor: 5, access: "rwm"),
                                         .init(allow: true, type: "c", major: 1, minor: 3, access: "r")], to: dir)
                #expect(try BPF.devicePrograms(at: dir) == 1)
                #expect(try run(cg, "exec 3</dev/zero") == 0)
                #expect(try run(cg, "exec 3</dev/null") == 0)
                #expect(try run(cg, "exec 3>/dev/null 2>/dev/zero") != 0)
                #expect(try run(cg, "exec 3</dev/urandom 2>/dev/zero") != 0)

                // replacing the rules leaves exactly one program: now everything is allowed but c 1:5 writes
                try DeviceFilter.attach([.init(allow: true, access: "rwm"),
                                         .init(allow: false, type: "c", major: 1, minor: 5, access: "w")], to: dir)
                #expect(try BPF.devicePrograms(at: dir) == 1)
                #expect(try run(cg, "exec 3</dev/urandom") == 0)
                #expect(try run(cg, "exec 3</dev/zero") == 0)
                #expect(try run(cg, "exec 3>/dev/zero 2>/dev/null") != 0)
            }
        }

        @Test func programShape() {
            let program = DeviceFilter.compile([.init(allow: true, access: "rwm")])
            // 6 loads and one unconditional "return 1": nothing unreachable after it
            #expect(program.count == 8)
            #expect(program.last == 0x95)
        }
    }
}

extension RealCgroups {
    @Suite struct PausedKillTests {
        @Test func killingAPausedGroup() throws {
            try withTestCgroup { cg in
                let child = try Child("sleep 60")
                try cg.addProcess(child.pid)
                child.release()
                usleep(100_000)
                try cg.freeze()
                // a polite signal leaves the group paused. (v1 keeps it pending until thawed; the v2
                // freezer lets a fatal signal through at once.)
                try cg.killAll(signal: SIGTERM)
                if let v2 = cg as? CgroupV2Manager {
                    #expect(try Files.read(v2.directory + "/cgroup.freeze") == "1\n")
                } else {
                    #expect(try cg.isFrozen())
                    #expect(child.wait(seconds: 0.3) == nil)
                }
                // SIGKILL ends it even though it is paused
                try cg.killAll(signal: SIGKILL)
                #expect(child.wait(seconds: 5) != nil)
                for _ in 0..<200 where !(try cg.processes()).isEmpty { usleep(10_000) }
                #expect(try cg.processes().isEmpty)
                try? cg.thaw()
            }
        }
    }
}
