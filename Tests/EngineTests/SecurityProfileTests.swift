import Foundation
import Testing
@testable import Engine

/// docker's default security profile: the built-in seccomp allow-list, `seccomp=unconfined`, a profile file,
/// `--privileged`, `no-new-privileges`, capability-gated rules, exec, and bad `--security-opt` values.
extension EngineSuite {
    @Suite struct SecurityProfileTests {
        /// A static helper that calls add_key(2) and keyctl(2), which the default profile refuses whatever
        /// the capabilities and which root may call without it (busybox has no keyctl applet).
        static let keyringHelperDirectory: String = {
            let directory = NSTemporaryDirectory() + "berth-keyring-helper-\(getpid())"
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let source = """
            #include <errno.h>
            #include <stdio.h>
            #include <string.h>
            #include <sys/syscall.h>
            #include <unistd.h>
            int main(void) {
                long key = syscall(SYS_add_key, "user", "berth-test", "x", 1, -2 /* KEY_SPEC_PROCESS_KEYRING */);
                printf("add_key: %s\\n", key >= 0 ? "ok" : strerror(errno));
                long ring = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* KEY_SPEC_SESSION_KEYRING */, 0);
                printf("keyctl: %s\\n", ring >= 0 ? "ok" : strerror(errno));
                return 0;
            }
            """
            try? source.write(toFile: directory + "/keys.c", atomically: true, encoding: .utf8)
            let built = try? runCommand("/usr/bin/cc", ["-static", "-O2", "-o", directory + "/keys", directory + "/keys.c"])
            precondition(built?.succeeded == true, "building the keyring helper failed (gcc, libc6-dev): \(built?.stderr ?? "")")
            atexit { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "berth-keyring-helper-\(getpid())") }
            return directory
        }()

        /// unshare(CLONE_NEWUSER) needs no capability, only the profile's CAP_SYS_ADMIN rule stops it.
        static let probe = "unshare -U true 2>&1; echo \"unshare=$?\"; /helper/keys"

        func run(_ flags: [String], _ script: String = SecurityProfileTests.probe) throws -> CommandResult {
            try berth(["run", "--rm", "-v", Self.keyringHelperDirectory + ":/helper:ro"] + flags + [TestEngine.image, "sh", "-c", script])
        }

        @Test func defaultProfileBlocksUnshareAndKeyrings() throws {
            let confined = try run([])
            #expect(confined.stdout.contains("Operation not permitted"), "\(confined.stdout)")
            #expect(confined.stdout.contains("unshare=1"), "\(confined.stdout)")
            #expect(confined.stdout.contains("add_key: Operation not permitted\nkeyctl: Operation not permitted\n"), "\(confined.stdout)")
            #expect(try run([], "grep '^Seccomp:' /proc/self/status").stdout == "Seccomp:\t2\n")

            let unconfined = try run(["--security-opt", "seccomp=unconfined"])
            #expect(unconfined.stdout == "unshare=0\nadd_key: ok\nkeyctl: ok\n", "\(unconfined.stdout) \(unconfined.stderr)")
            #expect(try run(["--security-opt", "seccomp=unconfined"], "grep '^Seccomp:' /proc/self/status").stdout == "Seccomp:\t0\n")
            // `builtin` names the default profile explicitly.
            #expect(try run(["--security-opt", "seccomp=builtin"]).stdout.contains("unshare=1"))
        }

        @Test func capAddSysAdminLetsTheAdminGatedRulesThrough() throws {
            let admin = try run(["--cap-add", "SYS_ADMIN"])
            #expect(admin.stdout == "unshare=0\nadd_key: Operation not permitted\nkeyctl: Operation not permitted\n", "\(admin.stdout)")
            // Dropping the capability again (docker: drops before adds, ALL as a word) takes the rule away.
            #expect(try run(["--cap-drop", "ALL", "--cap-add", "SYS_ADMIN"]).stdout.hasPrefix("unshare=0\n"))
            #expect(try run(["--cap-add", "ALL", "--cap-drop", "SYS_ADMIN"]).stdout.contains("unshare=1"))
            // A gated rule that does not need SYS_ADMIN: chroot (CAP_SYS_CHROOT, in the default set).
            #expect(try run([], "chroot / true && echo chroot-ok").stdout == "chroot-ok\n")
        }

        @Test func privilegedHasAllCapabilitiesNoMaskedPathsNoSeccompAndTheHostsDevices() throws {
            let hostStatus = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
            let hostBounding = hostStatus.split(separator: "\n").first { $0.hasPrefix("CapBnd") }?.split(separator: "\t").last.map(String.init)
            let script = "grep -E '^(CapEff|Seccomp):' /proc/self/status; grep -cE ' /proc/(keys|interrupts|sys) ' /proc/self/mountinfo; " +
                         "test -c /dev/kmsg && echo kmsg; unshare -U true && echo unshare-ok"
            let privileged = try run(["--privileged"], script)
            #expect(privileged.stdout == "CapEff:\t\(hostBounding ?? "?")\nSeccomp:\t0\n0\nkmsg\nunshare-ok\n", "\(privileged.stdout) \(privileged.stderr)")

            let normal = try run([], script)
            #expect(normal.stdout.hasPrefix("CapEff:\t00000000a80425fb\nSeccomp:\t2\n3\n"), "\(normal.stdout)")
            #expect(!normal.stdout.contains("kmsg"))
            // A profile asked for by name still applies to a privileged container, as with docker.
            #expect(try run(["--privileged", "--security-opt", "seccomp=builtin"], "grep '^Seccomp:' /proc/self/status").stdout == "Seccomp:\t2\n")
        }

        @Test func noNewPrivilegesInItsSpellings() throws {
            let probe = "grep '^NoNewPrivs:' /proc/self/status"
            #expect(try run([], probe).stdout == "NoNewPrivs:\t0\n")
            let plain = uniqueName()
            defer { _ = try? berth(["rm", "-f", plain]) }
            #expect(try berth(["create", "--name", plain, TestEngine.image, "true"]).succeeded)
            #expect(try inspect(plain, "{{json .HostConfig.SecurityOpt}}") == "null")
            for spelling in ["no-new-privileges", "no-new-privileges=true", "no-new-privileges:true", "no-new-privileges=1"] {
                #expect(try run(["--security-opt", spelling], probe).stdout == "NoNewPrivs:\t1\n", "\(spelling)")
            }
            #expect(try run(["--security-opt", "no-new-privileges=false"], probe).stdout == "NoNewPrivs:\t0\n")
            // With no_new_privs the profile is loaded last, just before execve: it still applies.
            #expect(try run(["--security-opt", "no-new-privileges"]).stdout.contains("unshare=1"))
        }

        @Test func writableCgroupsAsDocker() throws {
            let probe = "grep ' /sys/fs/cgroup ' /proc/self/mountinfo | cut -d' ' -f6 | cut -d, -f1"
            #expect(try run([], probe).stdout == "ro\n")
            #expect(try run(["--security-opt", "writable-cgroups"], probe).stdout == "rw\n")
            #expect(try run(["--privileged"], probe).stdout == "rw\n")
            #expect(try run(["--privileged", "--security-opt", "writable-cgroups=false"], probe).stdout == "ro\n")
        }

        @Test func execGetsTheContainersProfile() throws {
            let confined = uniqueName(), unconfined = uniqueName()
            defer { _ = try? berth(["rm", "-f", confined]); _ = try? berth(["rm", "-f", unconfined]) }
            #expect(try berth(["run", "-d", "--name", confined, TestEngine.image, "sleep", "100"]).succeeded)
            #expect(try berth(["run", "-d", "--name", unconfined, "--security-opt", "seccomp=unconfined", TestEngine.image, "sleep", "100"]).succeeded)
            let blocked = try berth(["exec", confined, "sh", "-c", "grep '^Seccomp:' /proc/self/status; unshare -U true 2>&1; echo $?"])
            #expect(blocked.stdout.hasPrefix("Seccomp:\t2\n") && blocked.stdout.contains("Operation not permitted") && blocked.stdout.hasSuffix("1\n"),
                    "\(blocked.stdout)")
            let allowed = try berth(["exec", unconfined, "sh", "-c", "grep '^Seccomp:' /proc/self/status; unshare -U true; echo $?"])
            #expect(allowed.stdout == "Seccomp:\t0\n0\n", "\(allowed.stdout)")
            // `--cap-add ALL` is docker's word for every capability; exec must not pass it on as one.
            let everything = uniqueName()
            defer { _ = try? berth(["rm", "-f", everything]) }
            #expect(try berth(["run", "-d", "--name", everything, "--cap-add", "ALL", TestEngine.image, "sleep", "100"]).succeeded)
            let admin = try berth(["exec", everything, "sh", "-c", "unshare -U true && echo unshare-ok"])
            #expect(admin.stdout == "unshare-ok\n", "\(admin.stdout) \(admin.stderr)")
        }

        @Test func aProfileFileTravelsInSecurityOptAsDockerShowsIt() throws {
            let profile = NSTemporaryDirectory() + "berth-seccomp-\(UUID().uuidString).json"
            try """
            {
              "defaultAction": "SCMP_ACT_ALLOW",
              "syscalls": [ { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 } ]
            }
            """.write(toFile: profile, atomically: true, encoding: .utf8)
            let name = uniqueName()
            defer { unlink(profile); _ = try? berth(["rm", "-f", name]) }
            #expect(try berth(["create", "--name", name, "--security-opt", "seccomp=" + profile, "--security-opt", "no-new-privileges",
                               TestEngine.image, "sh", "-c", "mkdir /x 2>/dev/null && echo made || echo blocked"]).succeeded)
            #expect(try inspect(name, "{{json .HostConfig.SecurityOpt}}")
                    == #"["seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}","no-new-privileges"]"#)
            #expect(try inspect(name, "{{json .HostConfig.CapAdd}}") == "null")
            // The container keeps the profile it was created with, not the file's later fate.
            unlink(profile)
            let started = try berth(["start", "-a", name])
            #expect(started.stdout == "blocked\n", "\(started.stdout) \(started.stderr)")
        }

        @Test func badSecurityOptIsOneLineAndCreatesNothing() throws {
            let malformed = NSTemporaryDirectory() + "berth-seccomp-bad-\(UUID().uuidString).json"
            let notAProfile = NSTemporaryDirectory() + "berth-seccomp-odd-\(UUID().uuidString).json"
            try "{\"defaultAction\": \"SCMP_ACT_ALLOW\",".write(toFile: malformed, atomically: true, encoding: .utf8)
            try "{\"syscalls\": []}".write(toFile: notAProfile, atomically: true, encoding: .utf8)
            defer { unlink(malformed); unlink(notAProfile) }
            let cases: [(String, String)] = [
                ("foo=bar", "berth: invalid --security-opt \"foo=bar\": unknown option foo"),
                ("bogus", "berth: invalid --security-opt \"bogus\": use KEY=VALUE"),
                ("no-new-privileges=maybe", "berth: invalid --security-opt \"no-new-privileges=maybe\": no-new-privileges takes true or false"),
                ("seccomp=/no/such/profile.json", "berth: opening seccomp profile (/no/such/profile.json) failed: No such file or directory"),
                ("seccomp=" + malformed, "berth: compacting json for seccomp profile (\(malformed)) failed: not valid JSON"),
                ("seccomp=" + notAProfile, "berth: decoding seccomp profile (--security-opt) failed: missing .defaultAction"),
                ("seccomp={\"defaultAction\":1}", "berth: decoding seccomp profile (--security-opt) failed: wrong type at .defaultAction"),
            ]
            let before = try berth(["ps", "-aq", "--no-trunc"]).stdout
            for (option, message) in cases {
                let name = uniqueName()
                let result = try berth(["run", "--rm", "--name", name, "--security-opt", option, TestEngine.image, "true"])
                #expect(result.status == 125, "\(option)")
                #expect(result.stderr.hasPrefix(message) && result.stderr.split(separator: "\n").count == 1, "\(option): \(result.stderr)")
                #expect(try !berth(["inspect", name]).succeeded)
            }
            #expect(try berth(["ps", "-aq", "--no-trunc"]).stdout == before)
        }

        @Test func theBuiltinProfileFollowsDockersRules() throws {
            let profile = SeccompProfile.builtin
            #expect(profile.defaultAction == "SCMP_ACT_ERRNO" && profile.defaultErrnoRet == 1)
            let plain = profile.oci(capabilities: SpecBuilder.defaultCapabilities, arch: "amd64", kernelAtLeast: { _ in true })
            #expect(plain.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
            let allowed = Set(plain.syscalls?.filter { $0.action == "SCMP_ACT_ALLOW" && $0.args == nil }.flatMap(\.names) ?? [])
            #expect(allowed.contains("read") && allowed.contains("arch_prctl") && allowed.contains("chroot") && allowed.contains("ptrace"))
            for blocked in ["unshare", "mount", "setns", "keyctl", "add_key", "request_key", "reboot", "swapon", "init_module", "bpf", "arm_fadvise64_64"] {
                #expect(!allowed.contains(blocked), "\(blocked)")
            }
            // clone only without namespace flags, clone3 ENOSYS, personality and socket by argument.
            let clone = plain.syscalls?.filter { $0.names == ["clone"] } ?? []
            #expect(clone.count == 1 && clone.first?.args?.first?.op == "SCMP_CMP_MASKED_EQ" && clone.first?.args?.first?.index == 0)
            #expect(plain.syscalls?.contains { $0.names == ["clone3"] && $0.action == "SCMP_ACT_ERRNO" && $0.errnoRet == 38 } == true)
            #expect(plain.syscalls?.filter { $0.names == ["personality"] }.count == 5)
            #expect(plain.syscalls?.contains { $0.names == ["socket"] && $0.args?.first?.value == 40 && $0.args?.first?.op == "SCMP_CMP_NE" } == true)
            // An old kernel does not get ptrace without CAP_SYS_PTRACE.
            let old = profile.oci(capabilities: SpecBuilder.defaultCapabilities, arch: "amd64", kernelAtLeast: { _ in false })
            #expect(!(old.syscalls?.flatMap(\.names).contains("ptrace") ?? true))

            let admin = profile.oci(capabilities: SpecBuilder.defaultCapabilities + ["CAP_SYS_ADMIN"], arch: "amd64", kernelAtLeast: { _ in true })
            let adminAllowed = Set(admin.syscalls?.filter { $0.action == "SCMP_ACT_ALLOW" && $0.args == nil }.flatMap(\.names) ?? [])
            #expect(adminAllowed.isSuperset(of: ["unshare", "mount", "setns", "clone", "clone3"]))
            #expect(admin.syscalls?.contains { $0.names == ["clone3"] && $0.action == "SCMP_ACT_ERRNO" } == false)
            #expect(!adminAllowed.contains("keyctl"))

            let arm = profile.oci(capabilities: [], arch: "arm64", kernelAtLeast: { _ in true })
            #expect(arm.syscalls?.flatMap(\.names).contains("arm_fadvise64_64") == true)
            #expect(arm.syscalls?.flatMap(\.names).contains("arch_prctl") == false)
        }
    }
}
