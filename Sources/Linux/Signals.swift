import Glibc
import CBerth

/// Signal names and numbers, as `kill` accepts them (`KILL`, `SIGKILL`, `9`, `RTMIN+3`).
public enum Signals {
    public static let byName: [String: Int32] = [
        "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8, "KILL": 9,
        "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17,
        "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25,
        "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31,
    ]

    public static func parse(_ text: String) -> Int32? {
        if let number = Int32(text) { return (1...64).contains(number) ? number : nil }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name = String(name.dropFirst(3)) }
        if let number = byName[name] { return number }
        let rtmin: Int32 = 34, rtmax: Int32 = 64  // glibc reserves 32 and 33 for itself
        if name == "RTMIN" { return rtmin }
        if name == "RTMAX" { return rtmax }
        if name.hasPrefix("RTMIN+"), let offset = Int32(name.dropFirst(6)), rtmin + offset <= rtmax { return rtmin + offset }
        if name.hasPrefix("RTMAX-"), let offset = Int32(name.dropFirst(6)), rtmax - offset >= rtmin { return rtmax - offset }
        return nil
    }
}

extension Signals {
    /// `SIGTERM` for 15; the number where there is no name.
    public static func name(of signal: Int32) -> String {
        if let entry = byName.filter({ $0.value == signal && $0.key != "IOT" && $0.key != "POLL" }).first {
            return "SIG" + entry.key
        }
        return "signal \(signal)"
    }

    /// What Go's os/exec says for a death by `signal` ("bad system call" for SIGSYS), which runc's
    /// messages carry: glibc's description, lower-cased as Go's table has it.
    public static func description(of signal: Int32) -> String {
        guard let text = strsignal(signal).map({ String(cString: $0) }), let first = text.first else { return "signal \(signal)" }
        return first.lowercased() + text.dropFirst()
    }

    /// Blocks `signals` and returns a signalfd that reads them (close-on-exec, non-blocking).
    public static func blockIntoDescriptor(_ signals: [Int32]) throws(SystemError) -> Int32 {
        try check("signalfd") { signals.withUnsafeBufferPointer { berth_signalfd_block($0.baseAddress, Int32($0.count)) } }
    }

    /// The next signal read from a signalfd, nil when none is pending.
    public static func next(from fd: Int32) -> Int32? {
        let signal = berth_signalfd_next(fd)
        return signal > 0 ? signal : nil
    }
}

extension Signals {
    /// Default dispositions and an empty mask, before exec'ing something that must not inherit ours.
    @discardableResult
    public static func resetAll() -> Int32 { berth_reset_signal_dispositions() }
}
