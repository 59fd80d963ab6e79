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

    struct Event<T: Encodable>: Encodable {
        let type: String
        let id: String
        let data: T?
    }

    func run(interval: Double, once: Bool) throws -> Int32 {
        if once {
            Output.json(Event(type: "stats", id: id, data: try runtime.stats(id: id)), pretty: false)
            return 0
        }
        var lastOOM: UInt64 = 0
        while true {
            let state = try runtime.state(id: id)
            if state.status == .stopped { return 0 }
            guard let stats = try? runtime.stats(id: id) else { return 0 }
            let ooms = stats.memory.eventCount.oomKill
            if ooms > lastOOM {
                Output.json(Event<CgroupStats>(type: "oom", id: id, data: nil), pretty: false)
                lastOOM = ooms
            }
            Output.json(Event(type: "stats", id: id, data: stats), pretty: false)
            var remaining = timespec(tv_sec: Int(interval), tv_nsec: Int((interval - Double(Int(interval))) * 1e9))
            var left = timespec()
            while nanosleep(&remaining, &left) != 0 && errno == EINTR { remaining = left }
        }
    }
}
