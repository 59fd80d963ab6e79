#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Linux
import Monitor

// berth-monitor CONFIG.json: supervises one container (see Supervisor). The engine starts it detached
// (its own session) with fd 3 as the pipe on which it reports `created`/`started <pid>`/`error <why>`.
let arguments = CommandLine.arguments
guard arguments.count == 2, arguments[1] != "--help" else {
    let usage = "usage: berth-monitor MONITOR.json (started by the berth engine, not by hand)\n"
    _ = usage.withCString { write(2, $0, strlen($0)) }
    exit(2)
}
// The container's init is cloned from this process: it must never be able to reach a writable copy of
// this binary through /proc/self/exe (CVE-2019-5736, see ExecutableSeal).
ExecutableSeal.reexecIfWritable()
func fail(_ message: String) -> Never {
    let line = "error berth-monitor: \(message)\n"
    _ = line.withCString { write(3, $0, strlen($0)) }
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(1)
}
let config: MonitorConfig
do {
    config = try JSONDecoder().decode(MonitorConfig.self, from: Data(try Files.readBytes(arguments[1])))
} catch {
    fail("reading \(arguments[1]): \(error)")
}
let readyFd: Int32 = fcntl(3, F_GETFD) >= 0 ? 3 : -1
if readyFd >= 0 { FileDescriptors.setCloseOnExec(readyFd, true) }
do {
    try Supervisor(config: config, readyFd: readyFd).run()
} catch {
    fail(error.description)
}
