import Glibc
import Linux
import Cgroups
import OCISpec
import Runtime

/// `events`: stats events every interval (or one with --stats), and an `oom` event when the memory
/// controller reports a new OOM kill; ends when the container stops.
struct EventStream {
    let runtime: Runtime
    let id: String

    func run(interval: Double, once: Bool) throws -> Int32 {
        // runc refuses a stopped container before printing anything, --stats included.
        if try runtime.state(id: id).status == .stopped {
            throw CommandError("container with id \(id) is not running", "")
        }
        if once {
            Output.print(RuncOutput.event(type: "stats", id: id, stats: try runtime.stats(id: id)))
            return 0
        }
        var lastOOM: UInt64 = 0
        while true {
            let state = try runtime.state(id: id)
            if state.status == .stopped { return 0 }
            guard let stats = try? runtime.stats(id: id) else { return 0 }
            let ooms = stats.memory.eventCount.oomKill
            if ooms > lastOOM {
                Output.print(RuncOutput.event(type: "oom", id: id, stats: nil))
                lastOOM = ooms
            }
            Output.print(RuncOutput.event(type: "stats", id: id, stats: stats))
            var remaining = timespec(tv_sec: Int(interval), tv_nsec: Int((interval - Double(Int(interval))) * 1e9))
            var left = timespec()
            while nanosleep(&remaining, &left) != 0 && errno == EINTR { remaining = left }
        }
    }
}
