import Foundation
import Testing
import OCISpec

/// What berth-runtime prints, byte for byte as runc 1.1.5 prints it: fixed expected text, and the host's
/// runc on the same bundle where it is installed (values that differ by nature are masked first).
@Suite("Output: state, list, ps, events, features and spec as runc prints them")
struct OutputFormatTests {
    func started(_ bundle: Bundle) throws -> Int32 {
        try #require(try bundle.create().succeeded)
        try #require(try bundle.runtime(["start", bundle.id]).succeeded)
        return try #require(try bundle.state()).pid
    }

    @Test func specIsRuncsDefaultConfig() throws {
        let dir = NSTemporaryDirectory() + "berth-spec-text-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for rootless in [false, true] {
            let ours = dir + "/ours-\(rootless)", theirs = dir + "/runc-\(rootless)"
            try FileManager.default.createDirectory(atPath: ours, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: theirs, withIntermediateDirectories: true)
            #expect(try runCommand(runtimeBinary, ["spec", "--bundle", ours] + (rootless ? ["--rootless"] : [])).succeeded)
            let text = try String(contentsOfFile: ours + "/config.json", encoding: .utf8)
            #expect(text.hasPrefix("{\n\t\"ociVersion\": \"1.0.2-dev\",\n\t\"process\": {\n\t\t\"terminal\": true,\n"))
            #expect(text.hasSuffix("\n\t}\n}"), "no newline after the last brace, as json.MarshalIndent")
            // runc's template has a cgroup namespace only where /sys/fs/cgroup is cgroup2.
            let unified = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")
            #expect(text.contains("\"type\": \"cgroup\"\n") == unified, "cgroup namespace on a cgroup2-only host only")
            if let runc = Runc.path {
                #expect(try runCommand(runc, ["spec", "--bundle", theirs] + (rootless ? ["--rootless"] : [])).succeeded)
                #expect(text == (try String(contentsOfFile: theirs + "/config.json", encoding: .utf8)), "rootless: \(rootless)")
            }
        }
        let again = try runCommand(runtimeBinary, ["spec", "--bundle", dir + "/ours-false"])
        #expect(errorLine(again) == "berth: File config.json exists. Remove it first")
    }

    /// The default config plus a cgroup namespace (which runc's template lacks on v1 and hybrid hosts)
    /// is a valid config.
    @Test func specPlusACgroupNamespaceRuns() throws {
        let bundle = try Bundle(args: ["sh", "-c", "cat /proc/self/cgroup | head -1"])
        defer { bundle.destroy() }
        bundle.addCgroupNamespace()
        let result = try bundle.run()
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stdout.hasSuffix(":/\n"), "\(result.stdout)")
    }

    @Test func stateIsRuncsText() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        bundle.spec.annotations = ["z.last": "1", "a.first": "<&>"]
        let pid = try started(bundle)
        let text = try bundle.runtime(["state", bundle.id]).stdout
        let created = try #require(text.firstMatch(of: /"created": "([^"]+)"/)).1
        #expect(text == """
            {
              "ociVersion": "1.0.2-dev",
              "id": "\(bundle.id)",
              "pid": \(pid),
              "status": "running",
              "bundle": "\(bundle.directory)",
              "rootfs": "\(sharedRootfs)",
              "created": "\(created)",
              "annotations": {
                "a.first": "\\u003c\\u0026\\u003e",
                "z.last": "1"
              },
              "owner": ""
            }
            """, "two-space MarshalIndent, runc's field order, Go's escapes, no newline at the end")
        // RFC 3339 as Go writes a time.Time: UTC, the fraction without trailing zeros.
        #expect(created.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z/) != nil, "\(created)")
        if let runc = Runc.path {
            let runcID = bundle.id + "-runc"
            let root = bundle.directory + "/runc-state"
            defer { _ = try? runCommand(runc, ["--root", root, "delete", "--force", runcID]) }
            try #require(try runCommand(runc, ["--root", root, "run", "-d", "--bundle", bundle.directory, runcID]).succeeded)
            let theirs = try runCommand(runc, ["--root", root, "state", runcID]).stdout
            #expect(Self.masked(text, ids: [bundle.id]) == Self.masked(theirs, ids: [runcID, bundle.id]), "\(theirs)")
        }
    }

    @Test func stateWithoutAnnotationsHasNoAnnotationsKey() throws {
        let bundle = try Bundle(args: ["true"])
        defer { bundle.destroy() }
        try #require(try bundle.create().succeeded)
        let text = try bundle.runtime(["state", bundle.id]).stdout
        #expect(text.contains("\n  \"status\": \"created\",\n"))
        #expect(!text.contains("annotations"))
        #expect(text.hasSuffix("\n  \"owner\": \"\"\n}"))
    }

    @Test func listIsRuncsTableAndJSON() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        // A root of its own: the list holds exactly this container.
        let root = bundle.directory + "/list-root"
        let empty = try runCommand(runtimeBinary, ["--root", root, "list"])
        #expect(empty.stdout == "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n")
        #expect(try runCommand(runtimeBinary, ["--root", root, "list", "-f", "json"]).stdout == "null\n")
        try bundle.writeConfig()
        try #require(try runCommand(runtimeBinary, ["--root", root, "create", "--bundle", bundle.directory, bundle.id]).succeeded)
        defer { _ = try? runCommand(runtimeBinary, ["--root", root, "delete", "--force", bundle.id]) }
        let state = try JSONDecoder().decode(ContainerState.self, from: Data(try runCommand(runtimeBinary, ["--root", root, "state", bundle.id]).stdout.utf8))
        let created = state.created ?? ""
        let json = try runCommand(runtimeBinary, ["--root", root, "list", "-f", "json"]).stdout
        #expect(json == "[{\"ociVersion\":\"1.0.2-dev\",\"id\":\"\(bundle.id)\",\"pid\":\(state.pid),\"status\":\"created\","
                + "\"bundle\":\"\(bundle.directory)\",\"rootfs\":\"\(sharedRootfs)\",\"created\":\"\(created)\",\"owner\":\"root\"}]\n")
        let table = try runCommand(runtimeBinary, ["--root", root, "list"]).stdout
        // Go's tabwriter as runc sets it up: minwidth 12, padding 3, the last column unpadded.
        let rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
                    [bundle.id, "\(state.pid)", "created", bundle.directory, created, "root"]]
        var expected = ""
        for row in rows {
            for (column, text) in row.enumerated() {
                guard column < 5 else { expected += text + "\n"; continue }
                let width = max(12, rows.map { $0[column].count }.max()! + 3)
                expected += text + String(repeating: " ", count: width - text.count)
            }
        }
        #expect(table == expected, "\(table)")
        if let runc = Runc.path {
            let runcRoot = bundle.directory + "/runc-list-root"
            #expect(try runCommand(runc, ["--root", runcRoot, "list"]).stdout == empty.stdout)
            #expect(try runCommand(runc, ["--root", runcRoot, "list", "-f", "json"]).stdout == "null\n")
            try #require(try runCommand(runc, ["--root", runcRoot, "create", "--bundle", bundle.directory, bundle.id]).succeeded)
            defer { _ = try? runCommand(runc, ["--root", runcRoot, "delete", "--force", bundle.id]) }
            let theirs = try runCommand(runc, ["--root", runcRoot, "list", "-f", "json"]).stdout
            #expect(Self.masked(json, ids: [bundle.id]) == Self.masked(theirs, ids: [bundle.id]), "\(theirs)")
        }
    }

    @Test func psJSONIsOneLineOfPids() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        let pid = try started(bundle)
        #expect(try bundle.runtime(["ps", "-f", "json", bundle.id]).stdout == "[\(pid)]\n")
        let bad = try bundle.runtime(["ps", "-f", "yaml", bundle.id])
        #expect(bad.status == 1 && errorLine(bad) == "berth: invalid format option")
    }

    @Test func eventsStatsHaveRuncsKeysInRuncsOrder() throws {
        let bundle = try Bundle(args: ["sleep", "100"])
        defer { bundle.destroy() }
        _ = try started(bundle)
        let line = try bundle.runtime(["events", "--stats", bundle.id]).stdout
        #expect(line.hasPrefix("{\"type\":\"stats\",\"id\":\"\(bundle.id)\",\"data\":{\"cpu\":{\"usage\":{"), "\(line.prefix(80))")
        #expect(line.hasSuffix(",\"intel_rdt\":{},\"network_interfaces\":null}}\n"))
        #expect(line.split(separator: "\n").count == 1)
        let paths = JSONKeys.paths(line)
        #expect(paths.filter { $0.hasPrefix("/data/") && $0.split(separator: "/").count == 2 }
                == ["/data/cpu", "/data/cpuset", "/data/memory", "/data/pids", "/data/blkio", "/data/hugetlb", "/data/intel_rdt", "/data/network_interfaces"])
        #expect(!paths.contains { $0.hasSuffix("/psi") || $0.hasSuffix("/event_count") }, "not in runc 1.1.5's stats")
        if let runc = Runc.path {
            let runcID = bundle.id + "-runc"
            let root = bundle.directory + "/runc-state"
            defer { _ = try? runCommand(runc, ["--root", root, "delete", "--force", runcID]) }
            try #require(try runCommand(runc, ["--root", root, "run", "-d", "--bundle", bundle.directory, runcID]).succeeded)
            let theirs = JSONKeys.paths(try runCommand(runc, ["--root", root, "events", "--stats", runcID]).stdout)
            // Zero counters are left out by both (omitempty), so compare the keys both have, in order.
            #expect(paths.filter(theirs.contains) == theirs.filter(paths.contains))
            let onlyTheirs = Set(theirs).subtracting(paths), onlyOurs = Set(paths).subtracting(theirs)
            #expect(onlyTheirs.allSatisfy(Self.omittedWhenZero), "\(onlyTheirs)")
            #expect(onlyOurs.allSatisfy(Self.omittedWhenZero), "\(onlyOurs)")
        }
    }

    @Test func eventsOfAStoppedContainerIsRuncsError() throws {
        let bundle = try Bundle(args: ["true"])
        defer { bundle.destroy() }
        _ = try bundle.create()
        #expect(try bundle.runtime(["start", bundle.id]).succeeded)
        #expect(try bundle.waitForStatus(.stopped))
        let result = try bundle.runtime(["events", "--stats", bundle.id])
        #expect(result.status == 1 && errorLine(result) == "berth: container with id \(bundle.id) is not running", "\(result.stderr)")
    }

    @Test func featuresAreRuncsLayout() throws {
        let text = try runCommand(runtimeBinary, ["features"]).stdout
        #expect(text.hasPrefix("{\n    \"ociVersionMin\": \"1.0.0\",\n    \"ociVersionMax\": \"1.2.0\",\n    \"hooks\": [\n        \"prestart\",\n"))
        #expect(text.hasSuffix("\n    }\n}\n"))
        let paths = JSONKeys.paths(text)
        #expect(paths.filter { $0.split(separator: "/").count == 1 } == ["/ociVersionMin", "/ociVersionMax", "/hooks", "/mountOptions", "/linux", "/annotations"])
        if let runc = Runc.path {
            let theirs = JSONKeys.paths(try runCommand(runc, ["features"]).stdout)
            #expect(paths.filter(theirs.contains) == theirs.filter(paths.contains), "the fields runc 1.1.5 has come in its order")
        }
    }

    /// Values that differ between any two containers masked: id, pid, created.
    static func masked(_ text: String, ids: [String]) -> String {
        ids.reduce(text) { $0.replacingOccurrences(of: $1, with: "ID") }
            .replacing(/"pid": ?\d+/, with: "\"pid\":N")
            .replacing(/"created": ?"[^"]*"/, with: "\"created\":T")
    }

    /// runc 1.1.5 leaves these out when they are zero or empty, so one side may lack them.
    static func omittedWhenZero(_ path: String) -> Bool {
        let last = path.split(separator: "/").last.map(String.init) ?? ""
        return ["total", "percpu", "percpu_kernel", "percpu_user", "periods", "throttledPeriods", "throttledTime", "cpus", "mems",
                "cache", "usage", "max", "current", "limit", "raw", "ioServiceBytesRecursive", "ioServicedRecursive",
                "major", "minor", "op", "value"].contains(last) || path.hasPrefix("/data/hugetlb/") || path.hasPrefix("/data/memory/raw/")
    }
}

/// The key paths of a JSON document in the order they appear (`/data/cpu/usage`); array elements
/// share their array's path. JSONSerialization loses the order, which is what is being tested.
enum JSONKeys {
    static func paths(_ text: String) -> [String] {
        var paths: [String] = []
        var stack: [(isObject: Bool, key: String?)] = []
        var expectingKey = false
        var index = text.unicodeScalars.startIndex
        let scalars = text.unicodeScalars
        func prefix() -> String { stack.compactMap(\.key).map { "/" + $0 }.joined() }
        while index < scalars.endIndex {
            let c = scalars[index]
            switch c {
            case "{": stack.append((true, nil)); expectingKey = true
            case "[": stack.append((false, nil)); expectingKey = false
            case "}", "]":
                stack.removeLast()
                if let last = stack.indices.last, stack[last].isObject { stack[last].key = nil }
            case ",": if let last = stack.last, last.isObject { stack[stack.count - 1].key = nil; expectingKey = true }
            case "\"":
                var string = ""
                index = scalars.index(after: index)
                while scalars[index] != "\"" {
                    if scalars[index] == "\\" { index = scalars.index(after: index) }
                    string.unicodeScalars.append(scalars[index])
                    index = scalars.index(after: index)
                }
                if expectingKey, let last = stack.indices.last, stack[last].isObject {
                    stack[last].key = string
                    paths.append(prefix())
                    expectingKey = false
                }
            default: break
            }
            index = scalars.index(after: index)
        }
        return paths
    }
}
