import Glibc
import Linux
import Cgroups
import OCISpec
import Runtime

/// `events`: a stats event every interval (the first one interval after the start, as runc's ticker;
/// none for an interval of 0),
/// or one at once with --stats; an `oom` event as soon as the memory controller records an OOM kill
/// (an eventfd on v1, inotify on v2, so an OOM between two stats is never missed or late). Ends when
/// the container stops.
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
        let record = try runtime.record(id: id)
        let watcher = (try? Cgroups.manager(path: record.cgroupPath)).flatMap { try? OOMWatcher($0) }
        func reportOOMs() {
            guard let watcher else { return }
            for _ in 0..<watcher.check() { Output.print(RuncOutput.event(type: "oom", id: id, stats: nil)) }
        }
        // A zero or negative interval means no stats at all (Go's time.Tick gives no ticker then).
        let period: Int64? = interval > 0 ? max(Int64(interval * 1000), 1) : nil
        var next = OOMWatcher.milliseconds() + (period ?? 0)
        while true {
            // A stop is noticed within a quarter of a second even with a long interval.
            let wait = max(0, min(period == nil ? 250 : next - OOMWatcher.milliseconds(), 250))
            if let watcher {
                var pfd = pollfd(fd: watcher.fd, events: Int16(POLLIN), revents: 0)
                _ = poll(&pfd, 1, Int32(wait))
            } else {
                usleep(UInt32(wait) * 1000)
            }
            reportOOMs()
            if (try? runtime.state(id: id).status) ?? .stopped == .stopped {
                reportOOMs()
                return 0
            }
            guard let period, OOMWatcher.milliseconds() >= next else { continue }
            next += period
            if let stats = try? runtime.stats(id: id) {
                Output.print(RuncOutput.event(type: "stats", id: id, stats: stats))
            }
        }
    }
}
