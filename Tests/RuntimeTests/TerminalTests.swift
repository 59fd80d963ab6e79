import Foundation
import Testing
import OCISpec

/// `run` and `exec -t` in the foreground without --console-socket, as runc: the runtime allocates the
/// pty itself, relays it to the caller's terminal (raw meanwhile), follows its size, and passes the
/// exit code on. Each test plays the caller's terminal with a PtySession.
@Suite("Terminal: foreground run and exec -t relay the container's pty")
struct TerminalTests {
    func terminalBundle(_ name: String = #function, args: [String] = ["sh"]) throws -> Bundle {
        let bundle = try Bundle(name, args: args)
        bundle.spec.process?.terminal = true
        try bundle.writeConfig()
        return bundle
    }

    func runArguments(_ bundle: Bundle, _ extra: [String] = []) -> [String] {
        [runtimeBinary, "--root", bundle.stateRoot, "run"] + extra + ["--bundle", bundle.directory, bundle.id]
    }

    @Test func runIsAnInteractiveShellOnTheCallersTerminal() throws {
        let bundle = try terminalBundle()
        defer { bundle.destroy() }
        let session = try PtySession(rows: 40, columns: 100, runArguments(bundle))
        let before = session.attributes()
        try #require(session.read(until: "# "), "a prompt: \(session.text)")
        #expect(session.attributes().isRaw, "the caller's terminal is raw while the container runs")
        // $((…)) tells the command's output from the terminal's echo of it.
        session.send("tty; stty size; echo out-$((6*7)); exit 3\r")
        #expect(session.wait() == 3, "\(session.text)")
        #expect(session.text.contains("/dev/pts/0\r\n"), "\(session.text)")
        #expect(session.text.contains("40 100\r\n"), "the container's terminal has the caller's size")
        #expect(session.text.contains("out-42\r\n"))
        #expect(!session.text.contains("\r\r\n"), "plain NL on the container's side; our terminal adds the CR")
        let after = session.attributes()
        #expect(after.c_lflag == before.c_lflag && after.c_iflag == before.c_iflag && after.c_oflag == before.c_oflag,
                "the caller's terminal is restored")
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    @Test func resizingTheCallersTerminalResizesTheContainers() throws {
        let bundle = try terminalBundle()
        defer { bundle.destroy() }
        let session = try PtySession(rows: 40, columns: 100, runArguments(bundle))
        try #require(session.read(until: "# "))
        session.send("stty size\r")
        #expect(session.read(until: "40 100\r\n"))
        // The kernel sends SIGWINCH to the runtime before this call returns, so the new size is in place
        // before the input below reaches the container (the runtime handles signals before input).
        session.resize(rows: 50, columns: 120)
        session.send("stty size; exit\r")
        #expect(session.wait() == 0)
        #expect(session.text.contains("50 120\r\n"), "\(session.text)")
    }

    @Test func controlCGoesToTheContainerNotTheRuntime() throws {
        let bundle = try terminalBundle()
        defer { bundle.destroy() }
        let session = try PtySession(rows: 24, columns: 80, runArguments(bundle))
        try #require(session.read(until: "# "))
        session.send("sleep 1000\r")
        // Until sleep runs, a ^C would only reach the shell and the sleep after it would last.
        try #require(waitFor {
            let pids = (try? bundle.runtime(["ps", "-f", "json", bundle.id]).stdout).flatMap { try? JSONDecoder().decode([Int32].self, from: Data($0.utf8)) } ?? []
            return pids.contains { (try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8)) == "sleep\n" }
        })
        // Raw mode: ^C is a byte for the container's terminal, which interrupts the sleep there.
        session.send("\u{03}")
        session.send("echo after-$((1+1)); exit 7\r")
        #expect(session.wait() == 7, "\(session.text)")
        #expect(session.text.contains("after-2\r\n"))
    }

    @Test func consoleSizeAppliesWhenTheCallersTerminalHasNone() throws {
        let bundle = try terminalBundle(args: ["stty", "size"])
        defer { bundle.destroy() }
        bundle.spec.process?.consoleSize = Spec.ConsoleSize(height: 33, width: 111)
        try bundle.writeConfig()
        let session = try PtySession(runArguments(bundle))
        #expect(session.wait() == 0)
        #expect(session.text.contains("33 111\r\n"), "\(session.text)")
    }

    @Test func stdinThatIsNotATerminalIsCopied() throws {
        let bundle = try terminalBundle()
        defer { bundle.destroy() }
        let input = bundle.directory + "/input"
        try "tty; echo in-$((2+3)); exit 4\n".write(toFile: input, atomically: true, encoding: .utf8)
        let session = try PtySession(rows: 24, columns: 80, runArguments(bundle), stdin: input)
        #expect(session.wait() == 4, "\(session.text)")
        #expect(session.text.contains("/dev/pts/0\r\n"))
        #expect(session.text.contains("in-5\r\n"), "\(session.text)")
    }

    @Test func redirectedStdioUsesTheControllingTerminal() throws {
        let bundle = try terminalBundle()
        defer { bundle.destroy() }
        let input = bundle.directory + "/input", output = bundle.directory + "/output"
        try "tty; echo in-$((2+3)); exit 4\n".write(toFile: input, atomically: true, encoding: .utf8)
        // stdin, stdout and stderr all redirected: the terminal is found as /dev/tty, as runc finds it.
        let command = runArguments(bundle).map { "'\($0)'" }.joined(separator: " ") + " < \(input) > \(output) 2>&1; echo status=$?"
        let session = try PtySession(rows: 24, columns: 80, ["/bin/sh", "-c", command])
        #expect(session.wait() == 0)
        #expect(session.text.contains("status=4"), "\(session.text)")
        let written = try String(contentsOfFile: output, encoding: .utf8)
        #expect(written.contains("/dev/pts/0\nin-5\n"), "\(written)")
        #expect(!written.contains("\r"), "a file gets the container's plain NL: \(written.debugDescription)")
    }

    @Test func withoutAnyTerminalRunFailsAsRunc() throws {
        let bundle = try terminalBundle()
        defer { bundle.destroy() }
        // A new session with stdio on files: no terminal to relay to, and no /dev/tty.
        let result = try runWithoutTerminal(runArguments(bundle))
        #expect(result.status == 1)
        #expect(result.stderr.lowercased().contains("open /dev/tty: no such device or address"), "\(result.stderr)")
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
        if let runc = Runc.path {
            let runcRoot = bundle.directory + "/runc-state"
            let theirs = try runWithoutTerminal([runc, "--root", runcRoot, "run", "--bundle", bundle.directory, bundle.id])
            #expect(theirs.status == 1 && theirs.stderr.contains("open /dev/tty: no such device or address"), "runc: \(theirs.stderr)")
        }
    }

    @Test func theTerminalBelongsToTheProcessUser() throws {
        let bundle = try terminalBundle(args: ["sh", "-c", "stat -c '%u %g %a' $(tty)"])
        defer { bundle.destroy() }
        bundle.spec.process?.user = Spec.User(uid: 1000, gid: 1000)
        try bundle.writeConfig()
        let session = try PtySession(rows: 24, columns: 80, runArguments(bundle))
        #expect(session.wait() == 0)
        // runc: owner the process's uid; group and mode from the devpts mount (gid=5, mode=0620).
        #expect(session.text.contains("1000 5 620\r\n"), "\(session.text)")
    }

    @Test func execWithATerminalInTheForeground() throws {
        let bundle = try Bundle(args: ["sleep", "1000"])
        defer { bundle.destroy() }
        try #require(try bundle.create().succeeded)
        try #require(try bundle.runtime(["start", bundle.id]).succeeded)
        let session = try PtySession(rows: 30, columns: 90, [runtimeBinary, "--root", bundle.stateRoot, "exec", "-t", "--user", "1000",
                                                             bundle.id, "sh", "-c", "tty; stty size; stat -c %u $(tty); exit 6"])
        #expect(session.wait() == 6, "\(session.text)")
        #expect(session.text.contains("/dev/pts/0\r\n30 90\r\n1000\r\n"), "\(session.text)")
        #expect(try bundle.state()?.status == .running, "the container goes on")
    }

    @Test func execConsoleSizeAppliesWhenTheCallersTerminalHasNone() throws {
        let bundle = try Bundle(args: ["sleep", "1000"])
        defer { bundle.destroy() }
        bundle.spec.process?.consoleSize = Spec.ConsoleSize(height: 21, width: 77)
        try #require(try bundle.create().succeeded)
        try #require(try bundle.runtime(["start", bundle.id]).succeeded)
        let session = try PtySession([runtimeBinary, "--root", bundle.stateRoot, "exec", "-t", bundle.id, "stty", "size"])
        #expect(session.wait() == 0)
        #expect(session.text.contains("21 77\r\n"), "\(session.text)")
    }

    @Test func killedContainerStillRestoresTheTerminal() throws {
        let bundle = try terminalBundle()
        defer { bundle.destroy() }
        let session = try PtySession(rows: 24, columns: 80, runArguments(bundle))
        let before = session.attributes()
        try #require(session.read(until: "# "))
        #expect(try bundle.runtime(["kill", bundle.id, "KILL"]).succeeded)
        #expect(session.wait() == 137, "128 + SIGKILL, as runc")
        #expect(session.attributes().c_lflag == before.c_lflag)
        #expect(bundle.leftovers().isEmpty, "\(bundle.leftovers())")
    }

    /// The README's first steps: a fresh bundle, the default spec, and `run` gives an interactive sh.
    @Test func readmeFirstExperience() throws {
        let directory = NSTemporaryDirectory() + "berth-readme-\(UInt32.random(in: 0...UInt32.max))"
        let stateRoot = directory + "-state"
        let id = "readme-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory); try? FileManager.default.removeItem(atPath: stateRoot) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let script = "cd \(directory) && \(packageRoot)/scripts/make-busybox-rootfs.sh rootfs && \(runtimeBinary) --root \(stateRoot) spec"
            + " && exec \(runtimeBinary) --root \(stateRoot) run \(id)"
        let session = try PtySession(rows: 24, columns: 80, ["/bin/sh", "-c", script])
        // Making the rootfs comes first: minutes on the emulated cgroup-v2 kernel, a second here.
        try #require(session.read(until: "# ", guardSeconds: 300), "\(session.text)")
        session.send("echo hello-$((6*7)); hostname; exit\r")
        #expect(session.wait() == 0, "\(session.text)")
        #expect(session.text.contains("hello-42\r\nrunc\r\n"), "\(session.text)")
        #expect(!FileManager.default.fileExists(atPath: stateRoot + "/" + id))
    }

    /// Detached processes need the caller's console socket; a foreground one must not be given one
    /// (runc's checkTerminal, word for word). Nothing is left behind.
    @Test func consoleSocketRulesAreRuncs() throws {
        let bundle = try terminalBundle()
        defer { bundle.destroy() }
        let detached = "cannot allocate tty if runc will detach without setting console socket"
        let notDetached = "cannot use console socket if runc will not detach or allocate tty"
        let socket = bundle.directory + "/console.sock"
        let listener = try ConsoleListener(path: socket)
        defer { listener.close() }
        for (arguments, message) in [(["create"], detached), (["run", "-d"], detached), (["run", "--console-socket", socket], notDetached)] {
            let result = try bundle.runtime(arguments + ["--bundle", bundle.directory, bundle.id])
            #expect(result.status == 1, "\(arguments)")
            #expect(errorLine(result) == "berth: " + message, "\(arguments): \(result.stderr)")
            #expect(bundle.leftovers().isEmpty, "\(arguments): \(bundle.leftovers())")
        }
        bundle.spec.process?.terminal = false
        try bundle.writeConfig()
        let noTerminal = try bundle.runtime(["create", "--console-socket", socket, "--bundle", bundle.directory, bundle.id])
        #expect(errorLine(noTerminal) == "berth: " + notDetached, "\(noTerminal.stderr)")

        bundle.spec.process?.args = ["sleep", "1000"]
        try #require(try bundle.create().succeeded)
        try #require(try bundle.runtime(["start", bundle.id]).succeeded)
        // exec's failures are "exec failed: …" with status 255, as runc's.
        for (arguments, message) in [(["-t", "-d"], detached), (["-t", "--console-socket", socket], notDetached)] {
            let result = try bundle.runtime(["exec"] + arguments + [bundle.id, "true"])
            #expect(result.status == 255 && errorLine(result) == "berth: exec failed: " + message, "\(arguments): \(result.stderr)")
        }
    }

    /// runc passes on every signal but SIGCHLD and SIGWINCH (which only resizes a terminal). SIGPWR
    /// is one berth-runtime used to drop. The container exits 7 if a SIGWINCH reached it, 9 on SIGPWR;
    /// when both are pending sh runs the lower-numbered trap (WINCH) first, so the order is certain.
    @Test func signalsArePassedOnAsRuncDoes() throws {
        let bundle = try Bundle(args: ["sh", "-c", "trap 'exit 7' WINCH; trap 'exit 9' PWR; echo ready; while :; do sleep 1; done"])
        defer { bundle.destroy() }
        try bundle.writeConfig()
        let output = bundle.directory + "/out"
        let runtime = try spawnInBackground(runtimeBinary, ["--root", bundle.stateRoot, "run", "--bundle", bundle.directory, bundle.id], stdout: output)
        var status: Int32 = 0
        defer { if waitpid(runtime, &status, WNOHANG) == 0 { kill(runtime, SIGKILL); waitpid(runtime, &status, 0) } }
        try #require(waitFor { (try? String(contentsOfFile: output, encoding: .utf8))?.contains("ready") == true })
        kill(runtime, SIGWINCH)
        // The runtime has taken SIGWINCH (and done whatever it does with it) once it is no longer pending.
        try #require(waitFor { !pendingSignals(runtime).contains(SIGWINCH) })
        kill(runtime, SIGPWR)
        try #require(waitFor { waitpid(runtime, &status, WNOHANG) == runtime })
        #expect((status >> 8) & 0xff == 9, "exit status \((status >> 8) & 0xff): 7 means SIGWINCH was passed on")
    }
}

/// Runs a program in a new session with stdio on files: it has no terminal at all.
func runWithoutTerminal(_ argv: [String]) throws -> CommandResult {
    try runCommand("/usr/bin/setsid", ["--wait"] + argv)
}

/// Waits (bounded, as a guard against a hang) until `condition` holds.
func waitFor(guardSeconds: TimeInterval = 30, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(guardSeconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// The signals pending for a process (shared and thread-directed), from /proc/PID/status.
func pendingSignals(_ pid: pid_t) -> [Int32] {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return [] }
    var mask: UInt64 = 0
    for line in status.split(separator: "\n") where line.hasPrefix("ShdPnd:") || line.hasPrefix("SigPnd:") {
        mask |= UInt64(line.split(separator: "\t").last.map(String.init) ?? "", radix: 16) ?? 0
    }
    return (1...64).filter { mask & (1 << UInt64($0 - 1)) != 0 }.map(Int32.init)
}

/// The host's runc, to compare with where a test can.
enum Runc {
    static let path: String? = ["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc"].first { access($0, X_OK) == 0 }
}
