import Glibc
import Linux

/// A foreground terminal without --console-socket (runc's `run` and `exec -t`): the container's
/// process made a pty in its devpts and sent us the master over an internal socket pair; we copy our
/// stdin to it and it to our stdout, with our own terminal (if any) in raw mode meanwhile.
public final class ConsoleRelay {
    public let master: Int32
    public let host: HostConsole
    private var toContainer: [UInt8] = []
    private var stdinOpen = true
    private var masterOpen = true
    private var stdoutOpen = true
    private var finished = false

    /// Input held back while the container does not read: beyond this we stop reading stdin.
    private static let inputLimit = 65536

    /// Takes over `master` (its ONLCR already cleared by the process that made it), non-blocking: we
    /// never wait on it.
    init(master: Int32, host: HostConsole) {
        self.master = master
        self.host = host
        FileDescriptors.setNonBlocking(master, true)
    }

    /// Our terminal in raw mode, the container's terminal our size. Undone by `finish()`.
    public func begin() throws(RuntimeError) {
        resize()
        try step("putting the terminal in raw mode") { try host.makeRaw() }
    }

    /// Restores our terminal and closes the master. Every exit path of `run`/`exec` calls it.
    public func finish() {
        guard !finished else { return }
        finished = true
        host.restore()
        host.close()
        close(master)
    }

    /// The container's terminal takes our terminal's size (SIGWINCH). A 0x0 size is what an unsized
    /// pty reports; it would only wipe out process.consoleSize, so it is not passed on.
    func resize() {
        guard let size = host.size, size.rows > 0 || size.columns > 0 else { return }
        try? Terminal.setSize(master, rows: size.rows, columns: size.columns)
    }

    func addPollRequests(to fds: inout [pollfd]) {
        if stdinOpen && toContainer.count < Self.inputLimit {
            fds.append(pollfd(fd: 0, events: Int16(POLLIN), revents: 0))
        }
        if masterOpen {
            fds.append(pollfd(fd: master, events: Int16(POLLIN) | (toContainer.isEmpty ? 0 : Int16(POLLOUT)), revents: 0))
        }
    }

    func handle(_ results: [pollfd]) {
        for result in results where result.revents != 0 {
            if result.fd == 0 { readInput(result.revents) } else { serviceMaster(result.revents) }
        }
    }

    /// After the process exited: what it wrote is still in the pty; copy it until nothing is left.
    func drain() {
        while masterOpen && copyOutput() {}
    }

    private func readInput(_ events: Int16) {
        if events & Int16(POLLNVAL) != 0 { stdinOpen = false; return }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if n > 0 {
            toContainer.append(contentsOf: buffer[0..<n])
            writeInput()
        } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
            // End of input is not passed on (runc neither): the container's terminal stays open.
            stdinOpen = false
        }
    }

    private func serviceMaster(_ events: Int16) {
        if events & Int16(POLLOUT) != 0 { writeInput() }
        if events & Int16(POLLIN | POLLHUP | POLLERR) != 0 { _ = copyOutput() }
    }

    private func writeInput() {
        guard !toContainer.isEmpty else { return }
        let n = toContainer.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
        if n > 0 {
            toContainer.removeFirst(n)
        } else if n < 0 && errno != EAGAIN && errno != EINTR {
            toContainer.removeAll()
        }
    }

    /// One read from the master to stdout. False when nothing was there (or the pty is gone: EIO once
    /// no process holds the container's side).
    private func copyOutput() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16384)
        let n = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
        if n <= 0 {
            if n == 0 || (errno != EAGAIN && errno != EINTR) { masterOpen = false }
            return n < 0 && errno == EINTR
        }
        if stdoutOpen { stdoutOpen = Self.writeOut(Array(buffer[0..<n])) }
        return true
    }

    /// Writes everything to stdout, waiting if the caller made it non-blocking; false once it is broken
    /// (the output is then read and dropped, so the container never blocks on a full pty).
    private static func writeOut(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(1, $0.baseAddress! + offset, bytes.count - offset) }
            if n > 0 { offset += n; continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN {
                var descriptor = pollfd(fd: 1, events: Int16(POLLOUT), revents: 0)
                _ = poll(&descriptor, 1, -1)
                continue
            }
            return false
        }
        return true
    }
}
