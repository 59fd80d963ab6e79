import Glibc

/// A failed system call: which call, on what, and the errno. Prints as `mount(/proc): Operation not permitted`.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public let operation: String
    public let subject: String
    public let errno: Int32

    public init(_ operation: String, _ subject: String = "", errno: Int32 = Glibc.errno) {
        self.operation = operation; self.subject = subject; self.errno = errno
    }

    public var description: String {
        let what = subject.isEmpty ? operation : "\(operation) \(subject)"
        return "\(what): \(SystemError.message(errno))"
    }

    public static func message(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }
}

/// The `--debug` syscall trail: when enabled, every wrapped syscall is written to stderr (or the log).
public enum Trace {
    nonisolated(unsafe) public static var enabled = false
    nonisolated(unsafe) public static var sink: Int32 = 2
    /// Turns `berth[PID]: call(subject) = result` into the line written (berth-runtime: a logrus line).
    nonisolated(unsafe) public static var format: (String) -> String = { $0 + "\n" }

    @inline(__always)
    public static func log(_ message: @autoclosure () -> String) {
        guard enabled else { return }
        // One write(2) per line: the init and the runtime share the sink.
        let line = format("berth[\(getpid())]: \(message())")
        _ = line.withCString { write(sink, $0, strlen($0)) }
    }
}

/// Runs a syscall returning -1 on failure; retries EINTR; throws a SystemError naming the call.
@discardableResult
public func check(_ operation: String, _ subject: String = "", _ body: () -> Int32) throws(SystemError) -> Int32 {
    while true {
        let result = body()
        if result >= 0 {
            Trace.log("\(operation)(\(subject)) = \(result)")
            return result
        }
        let code = Glibc.errno
        if code == EINTR { continue }
        Trace.log("\(operation)(\(subject)) = -1 \(SystemError.message(code))")
        throw SystemError(operation, subject, errno: code)
    }
}
