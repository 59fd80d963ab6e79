import Foundation
import Glibc
import Linux
import Monitor

/// The caller's end of a monitor's attach socket: copies the container's output to our stdout/stderr and
/// our stdin to the container, the terminal in raw mode (restored on every way out), SIGWINCH as a
/// resize, other signals to `proxy` (docker's --sig-proxy), ctrl-p ctrl-q (or --detach-keys) to detach.
public struct AttachSession {
    public enum Outcome: Sendable, Equatable {
        case exited(Int32)
        case detached
        /// The monitor went away without saying how the container ended.
        case disconnected
    }

    public let socketPath: String
    public var sendStdin: Bool
    public var tty: Bool
    public var detachKeys: [UInt8]
    public var proxy: ((Int32) -> Void)?

    public init(socketPath: String, sendStdin: Bool, tty: Bool, detachKeys: [UInt8] = [0x10, 0x11], proxy: ((Int32) -> Void)? = nil) {
        self.socketPath = socketPath; self.sendStdin = sendStdin; self.tty = tty; self.detachKeys = detachKeys; self.proxy = proxy
    }

    /// Connects (before the container starts, when the monitor waits for us).
    /// With `claimCleanup` the caller promises to run `Engine.cleanup` itself once it has the exit frame, so
    /// the monitor exits without starting its exit command.
    public static func connect(_ path: String, sendStdin: Bool, claimCleanup: Bool = false) throws(EngineError) -> Int32 {
        let fd: Int32
        do { fd = try UnixSocket.connect(path: path, kind: .seqpacket) } catch {
            throw EngineError("attaching to the container", error.description)
        }
        var hello: [UInt8] = [AttachFrame.hello, sendStdin ? UInt8(ascii: "1") : UInt8(ascii: "0")]
        if claimCleanup { hello.append(UInt8(ascii: "c")) }
        _ = hello.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        return fd
    }

    /// Runs the session on a connected socket until the container exits or we detach.
    public func run(socket fd: Int32) -> Outcome {
        defer { close(fd) }
        let signals = SignalPipe.install([SIGWINCH, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2])
        defer { SignalPipe.uninstall() }
        let saved = tty && isatty(0) == 1 ? Terminal.makeRaw(0) : nil
        defer { if let saved { Terminal.restore(0, saved) } }
        if tty { sendResize(fd) }
        var stdinOpen = sendStdin
        var matched = 0
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            var descriptors = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                               pollfd(fd: signals, events: Int16(POLLIN), revents: 0)]
            if stdinOpen { descriptors.append(pollfd(fd: 0, events: Int16(POLLIN), revents: 0)) }
            if poll(&descriptors, nfds_t(descriptors.count), -1) < 0 {
                if errno == EINTR { continue }
                return .disconnected
            }
            if descriptors[1].revents != 0 {
                while let signal = SignalPipe.next() {
                    if signal == SIGWINCH { if tty { sendResize(fd) } } else if !tty { proxy?(signal) }
                }
            }
            if descriptors[0].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { if n < 0 && errno == EINTR { continue }; return .disconnected }
                let payload = buffer[1..<n]
                switch buffer[0] {
                case AttachFrame.stdout: writeAll(1, payload)
                case AttachFrame.stderr: writeAll(2, payload)
                case AttachFrame.exit: return .exited(Int32(String(decoding: payload, as: UTF8.self)) ?? 0)
                default: break
                }
            }
            if stdinOpen && descriptors.count > 2 && descriptors[2].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if n <= 0 {
                    if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                    stdinOpen = false
                    sendFrame(fd, AttachFrame.closeStdin, [])
                    continue
                }
                var bytes = Array(buffer[0..<n])
                if tty && !detachKeys.isEmpty {
                    // The detach sequence is swallowed; a partial match that breaks off is sent on.
                    var out: [UInt8] = []
                    for byte in bytes {
                        if byte == detachKeys[matched] {
                            matched += 1
                            if matched == detachKeys.count { sendFrame(fd, AttachFrame.stdin, out); return .detached }
                        } else {
                            out += detachKeys[0..<matched]
                            matched = byte == detachKeys[0] ? 1 : 0
                            if matched == 0 { out.append(byte) }
                        }
                    }
                    bytes = out
                }
                if !bytes.isEmpty { sendFrame(fd, AttachFrame.stdin, bytes) }
            }
        }
    }

    private func sendResize(_ fd: Int32) {
        guard let size = Terminal.size(of: 0) ?? Terminal.size(of: 1) else { return }
        sendFrame(fd, AttachFrame.resize, Array("\(size.rows) \(size.columns)".utf8))
    }

    private func sendFrame(_ fd: Int32, _ kind: UInt8, _ payload: [UInt8]) {
        let frame = [kind] + payload
        _ = frame.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    private func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) {
        _ = try? Files.writeAll(fd: fd, Array(bytes))
    }

    /// docker's --detach-keys: `ctrl-p,ctrl-q`, `ctrl-a,x`, … → bytes.
    public static func parseDetachKeys(_ text: String) throws(EngineError) -> [UInt8] {
        var keys: [UInt8] = []
        for part in text.split(separator: ",") {
            let key = part.lowercased()
            if key.hasPrefix("ctrl-"), key.count == 6, let c = key.last?.asciiValue {
                switch c {
                case 0x61...0x7a: keys.append(c - 0x60)
                case UInt8(ascii: "@"): keys.append(0)
                case UInt8(ascii: "["): keys.append(27)
                case UInt8(ascii: "\\"): keys.append(28)
                case UInt8(ascii: "]"): keys.append(29)
                case UInt8(ascii: "^"): keys.append(30)
                case UInt8(ascii: "_"): keys.append(31)
                default: throw EngineError("invalid detach keys (\(text))", "unknown key \(part)")
                }
            } else if key.count == 1, let c = key.first?.asciiValue {
                keys.append(c)
            } else {
                throw EngineError("invalid detach keys (\(text))", "unknown key \(part)")
            }
        }
        return keys
    }
}

/// Signals delivered to a pipe, so a multi-threaded CLI can wait for them in poll() with its other fds.
enum SignalPipe {
    nonisolated(unsafe) static var fds: [Int32] = [-1, -1]
    nonisolated(unsafe) static var installed: [Int32] = []

    static func install(_ signals: [Int32]) -> Int32 {
        if fds[0] < 0, let pipe = try? FileDescriptors.pipe() {
            fds = [pipe.read, pipe.write]
            FileDescriptors.setNonBlocking(pipe.read, true)
            FileDescriptors.setNonBlocking(pipe.write, true)
        }
        for signal in signals {
            Glibc.signal(signal) { number in
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(SignalPipe.fds[1], &byte, 1)
            }
        }
        installed = signals
        return fds[0]
    }

    static func next() -> Int32? {
        var byte: UInt8 = 0
        return read(fds[0], &byte, 1) == 1 ? Int32(byte) : nil
    }

    static func uninstall() {
        for signal in installed { Glibc.signal(signal, SIG_DFL) }
        installed = []
    }
}
