import Glibc
import Linux
import OCISpec

/// Where a process's terminal goes, decided as runc's `checkTerminal` and `setupIO` do: a detached
/// process (create, run -d, exec -d) sends the pty master to the caller's --console-socket; a foreground
/// one (run, exec without -d) sends it to us over an internal socket pair and we relay it.
struct TerminalSetup {
    /// What the container's process sends the master over, -1 for no terminal.
    private(set) var socket: Int32 = -1
    /// Our end of the internal pair, -1 unless we relay.
    private(set) var relayEnd: Int32 = -1
    private(set) var host: HostConsole?

    static let detachedWithoutSocket = "cannot allocate tty if runc will detach without setting console socket"
    static let socketWithoutDetach = "cannot use console socket if runc will not detach or allocate tty"

    init(terminal: Bool, foreground: Bool, consoleSocket: String?) throws(RuntimeError) {
        if terminal && !foreground && consoleSocket == nil { throw RuntimeError(Self.detachedWithoutSocket, "") }
        if (foreground || !terminal) && consoleSocket != nil { throw RuntimeError(Self.socketWithoutDetach, "") }
        guard terminal else { return }
        if let path = consoleSocket {
            if !Files.exists(path) { throw RuntimeError("console socket \(path)", "does not exist") }
            socket = try step("connecting to console socket \(path)") { try Terminal.connect(socketPath: path) }
            return
        }
        // Before anything exists: without a terminal of our own there is nothing to relay to (runc fails alike).
        let host: HostConsole
        do { host = try HostConsole.find() } catch { throw RuntimeError(error.description, "") }
        do {
            (relayEnd, socket) = try Terminal.socketPair()
        } catch {
            host.close()
            throw RuntimeError("creating the console socket pair", error.description)
        }
        self.host = host
    }

    /// The size the new pty starts with: the caller's terminal, when we relay and it has one, else
    /// process.consoleSize. (runc resizes just after start; starting at the right size avoids the race.)
    func initialSize(_ configured: Spec.ConsoleSize?) -> Spec.ConsoleSize? {
        guard let size = host?.size, size.rows > 0 || size.columns > 0 else { return configured }
        return Spec.ConsoleSize(height: size.rows, width: size.columns)
    }

    /// Once the process has made its terminal: the relay over the master it sent. Closes the socket ends.
    mutating func takeRelay() throws(RuntimeError) -> ConsoleRelay? {
        guard let host, relayEnd >= 0 else { closeSockets(); return nil }
        // Our copy of the process's end goes first, so a process that sent nothing reads as end-of-file.
        close(socket)
        socket = -1
        defer { closeSockets() }
        let master = try step("receiving the container's terminal") { try Terminal.receiveMaster(from: relayEnd) }
        self.host = nil
        return ConsoleRelay(master: master, host: host)
    }

    /// Closes whatever is still open (after a failure, or once the process has its terminal).
    mutating func closeSockets() {
        if socket >= 0 { close(socket); socket = -1 }
        if relayEnd >= 0 { close(relayEnd); relayEnd = -1 }
        host?.close()
        host = nil
    }
}
