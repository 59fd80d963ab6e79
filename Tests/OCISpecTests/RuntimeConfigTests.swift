import Foundation
import Testing
@testable import OCISpec

/// The runtime spec's own config.md example (abridged to the Linux parts), decoded field by field.
let specExample = """
{
  "ociVersion": "1.0.1",
  "process": {
    "terminal": true,
    "user": {"uid": 1, "gid": 1, "additionalGids": [5, 6], "umask": 18},
    "args": ["sh"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/",
    "capabilities": {"bounding": ["CAP_AUDIT_WRITE", "CAP_KILL"], "permitted": ["CAP_KILL"]},
    "rlimits": [{"type": "RLIMIT_CORE", "hard": 1024, "soft": 1024}, {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true,
    "oomScoreAdj": 100,
    "someFutureField": {"ignored": true}
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "slartibartfast",
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
             {"destination": "/data", "type": "bind", "source": "/volumes/testing", "options": ["rbind", "rw"]}],
  "hooks": {"prestart": [{"path": "/usr/bin/fix-mounts", "args": ["fix-mounts", "arg1"], "env": ["key1=value1"], "timeout": 5}]},
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "network", "path": "/var/run/netns/neta"}, {"type": "user"}],
    "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 32000}],
    "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 32000}],
    "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}],
    "resources": {
      "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}],
      "memory": {"limit": 536870912, "reservation": 536870912, "swap": -1, "swappiness": 0, "disableOOMKiller": false},
      "cpu": {"shares": 1024, "quota": 1000000, "period": 500000, "cpus": "2-3", "mems": "0-7"},
      "pids": {"limit": 32771},
      "blockIO": {"weight": 10, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}]},
      "hugepageLimits": [{"pageSize": "2MB", "limit": 9223372036854772000}],
      "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]}
    },
    "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
                "syscalls": [{"names": ["getcwd", "chmod"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]},
    "timeOffsets": {"monotonic": {"secs": 172800, "nanosecs": 0}},
    "sysctl": {"net.ipv4.ip_forward": "1"},
    "maskedPaths": ["/proc/kcore"],
    "readonlyPaths": ["/proc/sys"],
    "rootfsPropagation": "slave",
    "cgroupsPath": "/myRuntime/myContainer"
  },
  "annotations": {"com.example.key1": "value1"}
}
"""

@Suite("OCISpec: runtime config and state")
struct RuntimeConfigTests {
    /// A decoding error quotes the bad value; a value with line breaks must not break the error's one line.
    @Test func decodingErrorQuotingALineBreakIsOneLine() throws {
        let json = Data(#"["sha256:0\nberth: forged\r"]"#.utf8)
        do {
            _ = try SpecJSON.decode([Digest].self, from: json, file: "index.json")
            Issue.record("an invalid digest decoded")
        } catch let error as SpecDecodingError {
            #expect(!error.description.contains("\n") && !error.description.contains("\r"), "\(error)")
            #expect(error.description.contains(#"sha256:0\nberth: forged\r"#), "\(error)")
        }
    }

    @Test func decodesTheSpecExample() throws {
        let spec = try SpecJSON.decode(Spec.self, from: Data(specExample.utf8), file: "config.json")
        #expect(spec.process?.user.additionalGids == [5, 6])
        #expect(spec.process?.user.umask == 18)
        #expect(spec.process?.rlimits?.count == 2)
        #expect(spec.process?.oomScoreAdj == 100)
        #expect(spec.root == Spec.Root(path: "rootfs", readonly: true))
        #expect(spec.mounts?[1].options == ["rbind", "rw"])
        #expect(spec.hooks?.prestart?.first?.timeout == 5)
        #expect(spec.linux?.namespaces?[1] == Spec.Namespace(type: "network", path: "/var/run/netns/neta"))
        #expect(spec.linux?.uidMappings?.first == IDMapping(containerID: 0, hostID: 1000, size: 32000))
        #expect(spec.linux?.resources?.memory?.swap == -1)
        #expect(spec.linux?.resources?.cpu?.cpus == "2-3")
        #expect(spec.linux?.resources?.pids?.limit == 32771)
        #expect(spec.linux?.resources?.blockIO?.throttleReadBpsDevice?.first?.rate == 600)
        #expect(spec.linux?.resources?.network?.priorities?.first?.name == "eth0")
        #expect(spec.linux?.seccomp?.syscalls?.first?.args?.first?.op == "SCMP_CMP_EQ")
        #expect(spec.linux?.timeOffsets?["monotonic"]?.secs == 172800)
        #expect(spec.annotations?["com.example.key1"] == "value1")
    }

    @Test func roundTripsWithoutLoss() throws {
        let spec = try SpecJSON.decode(Spec.self, from: Data(specExample.utf8), file: "config.json")
        let again = try SpecJSON.decode(Spec.self, from: try SpecJSON.encode(spec), file: "config.json")
        #expect(again == spec)
    }

    @Test(arguments: [
        ("{\"ociVersion\":\"1.2.0\",\"process\":{\"user\":{\"uid\":\"root\",\"gid\":0},\"cwd\":\"/\"}}", "process.user.uid"),
        ("{\"ociVersion\":\"1.2.0\",\"process\":{\"user\":{\"uid\":0},\"cwd\":\"/\"}}", "process.user.gid"),
        ("{\"ociVersion\":\"1.2.0\",\"mounts\":[{\"destination\":\"/a\"},{\"type\":\"tmpfs\"}]}", "mounts[1].destination"),
        ("{\"ociVersion\":\"1.2.0\",\"linux\":{\"resources\":{\"memory\":{\"limit\":\"lots\"}}}}", "linux.resources.memory.limit"),
    ])
    func decodingErrorsNameTheField(_ json: String, _ field: String) throws {
        do {
            _ = try SpecJSON.decode(Spec.self, from: Data(json.utf8), file: "config.json")
            Issue.record("decoded invalid JSON")
        } catch let error as SpecDecodingError {
            #expect(error.fieldPath == field, "\(error)")
            #expect(error.description.hasPrefix("config.json: field \(field)"))
        }
    }

    @Test func notJSONAtAll() throws {
        let error = #expect(throws: SpecDecodingError.self) {
            try SpecJSON.decode(Spec.self, from: Data("{\"ociVersion\": ".utf8), file: "config.json")
        }
        #expect(error?.description.contains("not valid JSON") == true)
    }

    @Test func stateForHooksLeavesOutRuncExtras() throws {
        let state = ContainerState(id: "a", pid: 7, status: .running, bundle: "/b", rootfs: "/b/rootfs",
                                   created: "2026-01-01T00:00:00Z", owner: "root")
        let json = String(decoding: try SpecJSON.encode(state.specState), as: UTF8.self)
        #expect(json.contains("\"status\":\"running\""))
        #expect(!json.contains("rootfs"))
        #expect(!json.contains("owner"))
    }
}
