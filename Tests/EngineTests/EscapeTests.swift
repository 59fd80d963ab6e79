import Foundation
import Testing

/// Escapes through the engine: the monitor's binary, `cp` and `export` through symlinks the container made, and the
/// host's kernel knobs under docker's default settings. Each attack runs in a real container; the test then looks
/// at the host.
extension EngineSuite {
    @Suite struct EscapeTests {
        /// The container's init is cloned from berth-monitor, so the init's `/proc/self/exe` at its execve is the
        /// monitor's binary (CVE-2019-5736): the monitor runs from a read-only clone of its file, which even the
        /// host's root cannot open for writing.
        @Test func monitorRunsFromAReadOnlyBinary() throws {
            let name = uniqueName()
            let monitorBinary = buildDirectory + "/berth-monitor"
            let hashBefore = try runCommand("/usr/bin/sha256sum", [monitorBinary]).stdout.prefix(64)
            #expect(try berth(["run", "-d", "--name", name, TestEngine.image, "sleep", "1000"]).succeeded)
            defer { _ = try? berth(["rm", "-f", name]) }
            let initPid = try #require(Int32(try inspect(name, "{{.State.Pid}}")))
            let status = try String(contentsOfFile: "/proc/\(initPid)/status", encoding: .utf8)
            let monitorPid = try #require(status.split(separator: "\n").first { $0.hasPrefix("PPid:") }
                .flatMap { Int32($0.dropFirst(5).trimmingCharacters(in: .whitespaces)) })
            #expect(try String(contentsOfFile: "/proc/\(monitorPid)/cmdline", encoding: .utf8).contains("monitor"))
            var vfs = statvfs()
            #expect(statvfs("/proc/\(monitorPid)/exe", &vfs) == 0)
            #expect(vfs.f_flag & UInt(ST_RDONLY) != 0, "the monitor's executable is on a read-only mount")
            let fd = open("/proc/\(monitorPid)/exe", O_WRONLY | O_APPEND)
            let code = errno
            if fd >= 0 { close(fd) }
            // ETXTBSY while it runs (the kernel checks that first), EROFS through the read-only mount after.
            #expect(fd < 0 && (code == EROFS || code == ETXTBSY), "opening the monitor's exe for writing: errno \(code)")
            #expect(try runCommand("/usr/bin/sha256sum", [monitorBinary]).stdout.prefix(64) == hashBefore)
        }

        /// docker's defaults (no --privileged): /proc/sys, /proc/sysrq-trigger and /sys cannot be written, and the
        /// host's core_pattern and uevent_helper (programs the host kernel runs as root) keep their values.
        @Test func hostKernelKnobsAreReadOnlyByDefault() throws {
            let knobs = ["/proc/sys/kernel/core_pattern", "/sys/kernel/uevent_helper", "/proc/sys/vm/overcommit_ratio"]
            let before = knobs.map { try? String(contentsOfFile: $0, encoding: .utf8) }
            defer {
                for (knob, value) in zip(knobs, before) where (try? String(contentsOfFile: knob, encoding: .utf8)) != value {
                    if let value { try? value.write(toFile: knob, atomically: false, encoding: .utf8) }
                }
            }
            let script = """
                echo '|/tmp/evil' > /proc/sys/kernel/core_pattern && echo core_pattern-WRITTEN
                echo /tmp/evil > /sys/kernel/uevent_helper && echo uevent_helper-WRITTEN
                echo 77 > /proc/sys/vm/overcommit_ratio && echo overcommit-WRITTEN
                echo h > /proc/sysrq-trigger && echo sysrq-WRITTEN
                mount -o remount,rw /sys 2>/dev/null && echo sys-REMOUNTED
                mount -t proc proc /mnt 2>/dev/null && echo proc-MOUNTED
                echo done
                """
            let result = try berth(["run", "--rm", TestEngine.image, "sh", "-c", script])
            #expect(result.stdout == "done\n", "\(result.stdout) \(result.stderr)")
            #expect(knobs.map { try? String(contentsOfFile: $0, encoding: .utf8) } == before)
        }

        /// `cp` both ways through symlinks the container made, absolute and full of `..`: whatever they name is
        /// looked up inside the container, never on the host.
        @Test func cpThroughSymlinksStaysInsideTheContainer() throws {
            let name = uniqueName()
            let work = NSTemporaryDirectory() + "berth-cp-escape-\(UUID().uuidString)"
            let hostDirectory = work + "/host"
            try FileManager.default.createDirectory(atPath: hostDirectory, withIntermediateDirectories: true)
            try "host secret\n".write(toFile: hostDirectory + "/secret", atomically: true, encoding: .utf8)
            try "payload\n".write(toFile: work + "/payload", atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: work) }
            let links = "mkdir -p \(hostDirectory) && echo container > \(hostDirectory)/secret && ln -s / /abs && ln -s ../../../../../.. /rel"
                + " && ln -s \(hostDirectory)/secret /leak && ln -s \(hostDirectory) /dirlink; sleep 1000"
            #expect(try berth(["run", "-d", "--name", name, TestEngine.image, "sh", "-c", links]).succeeded)
            defer { _ = try? berth(["rm", "-f", name]) }
            #expect(try eventually { try berth(["exec", name, "test", "-L", "/dirlink"]).succeeded })
            // Out of the container: every route to "secret" reads the container's file.
            for (index, path) in ["/abs\(hostDirectory)/secret", "/rel\(hostDirectory)/secret", "/leak", "/dirlink/secret"].enumerated() {
                let out = work + "/out-\(index)"
                let copied = try berth(["cp", "\(name):\(path)", out])
                #expect(copied.succeeded, "\(path): \(copied.stderr)")
                let content = (try? String(contentsOfFile: out, encoding: .utf8))
                    ?? (try? FileManager.default.destinationOfSymbolicLink(atPath: out)) ?? ""
                #expect(!content.contains("host secret"), "\(path) gave the host's file")
            }
            // Into the container: the payload lands in the container's directory of that name, never the host's.
            for path in ["/abs\(hostDirectory)/", "/rel\(hostDirectory)/", "/dirlink/"] {
                #expect(try berth(["cp", work + "/payload", "\(name):\(path)"]).succeeded, "\(path)")
            }
            let stream = try runCommand("/bin/sh", ["-c", "tar -C '\(work)' -cf - payload | '\(berthBinary)' --root '\(TestEngine.root)' --runroot '\(TestEngine.runroot)' cp - \(name):/dirlink"])
            #expect(stream.succeeded, "\(stream.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: hostDirectory) == ["secret"])
            #expect(try String(contentsOfFile: hostDirectory + "/secret", encoding: .utf8) == "host secret\n")
            #expect(try berth(["exec", name, "cat", "\(hostDirectory)/payload"]).stdout == "payload\n")
        }

        /// A tar stream for `cp -` whose entries go through a symlink the container made (`abs -> /`): GNU tar
        /// follows an existing symlink in the middle of an entry's path, so unpacked on the host it would write the
        /// host's files.
        @Test func cpStreamThroughAContainerSymlinkStaysInside() throws {
            let name = uniqueName()
            let work = NSTemporaryDirectory() + "berth-cp-stream-\(UUID().uuidString)"
            let hostDirectory = work + "/host"
            try FileManager.default.createDirectory(atPath: work + "/tree/abs" + hostDirectory, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: hostDirectory, withIntermediateDirectories: true)
            try "payload\n".write(toFile: work + "/tree/abs" + hostDirectory + "/planted", atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: work) }
            #expect(try berth(["run", "-d", "--name", name, TestEngine.image, "sh", "-c", "ln -s / /abs; sleep 1000"]).succeeded)
            defer { _ = try? berth(["rm", "-f", name]) }
            #expect(try eventually { try berth(["exec", name, "test", "-L", "/abs"]).succeeded })
            let copied = try runCommand("/bin/sh", ["-c", "tar -C '\(work)/tree' -cf - abs\(hostDirectory)/planted | '\(berthBinary)' --root '\(TestEngine.root)' --runroot '\(TestEngine.runroot)' cp - \(name):/"])
            #expect(copied.status != 0)
            #expect(copied.stderr.hasPrefix("berth: ") && copied.stderr.contains("goes through the symbolic link abs"), "\(copied.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: hostDirectory).isEmpty, "the host directory stays empty")
        }

        /// A `cp -` stream that makes a symlink out (`a -> HOST`) and then writes `a/file` through it: refused as a
        /// whole before anything is written, so neither the host nor the container gets any of it.
        @Test func cpStreamWritingThroughItsOwnSymlinkIsRefusedWhole() throws {
            let name = uniqueName()
            let work = NSTemporaryDirectory() + "berth-cp-ownlink-\(UUID().uuidString)"
            let victim = work + "/victim"
            try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: work + "/links", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: work + "/files/a", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: work + "/links/a", withDestinationPath: victim)
            try "planted\n".write(toFile: work + "/files/a/file", atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: work) }
            #expect(try berth(["run", "-d", "--name", name, TestEngine.image, "sh", "-c", "mkdir /drop; sleep 1000"]).succeeded)
            defer { _ = try? berth(["rm", "-f", name]) }
            #expect(try eventually { try berth(["exec", name, "test", "-d", "/drop"]).succeeded })
            let copied = try runCommand("/bin/sh", ["-c", "tar -cf - -C '\(work)/links' a -C '\(work)/files' a/file | '\(berthBinary)' --root '\(TestEngine.root)' --runroot '\(TestEngine.runroot)' cp - \(name):/drop"])
            #expect(copied.status != 0)
            #expect(copied.stderr.hasPrefix("berth: ") && copied.stderr.contains("a/file"), "\(copied.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: victim).isEmpty)
            #expect(try berth(["exec", name, "ls", "-A", "/drop"]).stdout == "")
        }

        /// CVE-2018-15664: the container swaps `/w/d` between a directory and a symlink to `/` as fast as it can while
        /// the host copies through `/w/d` in both directions, as files and as tar streams. A path checked first and
        /// copied after would, now and then, be followed on the host: the host's bait would be read or written.
        @Test func cpRacingASymlinkSwapStaysInside() throws {
            let name = uniqueName()
            let work = NSTemporaryDirectory() + "berth-cp-race-\(UUID().uuidString)"
            let bait = work + "/bait"
            try FileManager.default.createDirectory(atPath: bait, withIntermediateDirectories: true)
            try "host secret\n".write(toFile: bait + "/secret", atomically: true, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: work + "/tree", withIntermediateDirectories: true)
            try "payload\n".write(toFile: work + "/payload", atomically: true, encoding: .utf8)
            try "streamed\n".write(toFile: work + "/tree/streamed", atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: work) }
            // /w/real holds the container's own bait at the same path; /w/d is by turns that directory, nothing,
            // and a symlink to /.
            let swapper = "mkdir -p /w/real\(bait) && echo container > /w/real\(bait)/secret && ln -s / /w/link && touch /w/ready;"
                + " while :; do mv /w/real /w/d; mv /w/d /w/real; mv /w/link /w/d; mv /w/d /w/link; done"
            #expect(try berth(["run", "-d", "--name", name, TestEngine.image, "sh", "-c", swapper]).succeeded)
            defer { _ = try? berth(["rm", "-f", name]) }
            #expect(try eventually { try berth(["exec", name, "test", "-e", "/w/ready"]).succeeded })
            let engine = "'\(berthBinary)' --root '\(TestEngine.root)' --runroot '\(TestEngine.runroot)'"
            var copiedOut = 0, copiedIn = 0
            // At least 25 rounds, and on until each direction has landed inside at least once: which state of
            // the swap a copy meets is luck, and a slow machine can miss one of them for 25 rounds (bounded at 300).
            var round = 0
            while round < 25 || ((copiedOut == 0 || copiedIn == 0) && round < 300) {
                defer { round += 1 }
                let out = work + "/out-\(round)"
                if try berth(["cp", "\(name):/w/d\(bait)/secret", out]).succeeded { copiedOut += 1 }
                let read = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
                #expect(!read.contains("host secret"), "round \(round): cp out read the host's file")
                let streamed = try runCommand("/bin/sh", ["-c", "\(engine) cp \(name):/w/d\(bait)/secret - | tar -xOf - 2>/dev/null"])
                #expect(!streamed.stdout.contains("host secret"), "round \(round): cp out to a stream read the host's file")
                if try berth(["cp", work + "/payload", "\(name):/w/d\(bait)/"]).succeeded { copiedIn += 1 }
                _ = try runCommand("/bin/sh", ["-c", "tar -C '\(work)/tree' -cf - streamed | \(engine) cp - \(name):/w/d\(bait)"])
            }
            // The copies did happen (inside the container), and the host's bait is as it was.
            #expect(copiedOut > 0 && copiedIn > 0, "out \(copiedOut), in \(copiedIn)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: bait) == ["secret"])
            #expect(try String(contentsOfFile: bait + "/secret", encoding: .utf8) == "host secret\n")
        }

        /// `export` carries the container's symlinks as symlinks: none of the host's files end up in the archive.
        @Test func exportDoesNotFollowContainerSymlinks() throws {
            let name = uniqueName()
            let marker = NSTemporaryDirectory() + "berth-export-marker-\(UUID().uuidString)"
            try "host secret\n".write(toFile: marker, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: marker) }
            #expect(try berth(["run", "--name", name, TestEngine.image, "sh", "-c", "ln -s / /abs; ln -s ../../../../.. /rel; ln -s \(marker) /leak"]).succeeded)
            defer { _ = try? berth(["rm", "-f", name]) }
            let listing = try runCommand("/bin/sh", ["-c", "'\(berthBinary)' --root '\(TestEngine.root)' --runroot '\(TestEngine.runroot)' export \(name) | tar -tvf -"])
            #expect(listing.stdout.contains("./abs -> /"), "\(listing.stdout.prefix(300))")
            #expect(listing.stdout.contains("./leak -> \(marker)"))
            let contents = try runCommand("/bin/sh", ["-c", "'\(berthBinary)' --root '\(TestEngine.root)' --runroot '\(TestEngine.runroot)' export \(name) | tar -xOf - 2>/dev/null | grep -c 'host secret'"])
            #expect(contents.stdout == "0\n")
        }
    }
}
