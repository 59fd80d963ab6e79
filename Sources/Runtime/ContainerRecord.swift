#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Linux
import OCISpec

/// What the runtime remembers about a container between invocations: `<root>/<id>/state.json`.
/// Written first (with pid 0) before anything else is made, so that a `create` killed at any
/// point leaves a record that `delete --force` can clean up from. It is small on purpose: start,
/// state, kill and delete decode it on every call; the config itself is kept verbatim in
/// `<root>/<id>/config.json` and decoded only by exec and update.
public struct ContainerRecord: Sendable {
    public var id: String
    public var bundle: String
    public var rootfs: String
    public var created: String
    public var owner: String
    public var initPid: Int32
    public var initStartTime: UInt64?
    public var cgroupPath: String
    public var annotations: [String: String]?
    /// The hooks that run after create (the full config is kept beside, in `config.json`).
    public var poststart: [Spec.Hook]?
    public var poststop: [Spec.Hook]?
    /// Set once `create` has finished successfully.
    public var createCompleted: Bool
    /// The config's ociVersion, which `state` reports as runc does (nil in records of older versions).
    public var ociVersion: String?

    init(id: String, bundle: String, rootfs: String, created: String, owner: String, cgroupPath: String, spec: Spec) {
        self.id = id; self.bundle = bundle; self.rootfs = rootfs; self.created = created; self.owner = owner
        self.initPid = 0; self.initStartTime = nil; self.cgroupPath = cgroupPath; self.annotations = spec.annotations
        self.poststart = spec.hooks?.poststart; self.poststop = spec.hooks?.poststop; self.createCompleted = false
        self.ociVersion = spec.ociVersion
    }
}

/// The runtime's state directory (`--root`, default /run/berth): one directory per container.
public struct ContainerStore: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public func directory(of id: String) -> String { root + "/" + id }
    /// Compiled seccomp programs (`SeccompCache`). "@" is no container ID character, so no container
    /// can own this name, and `ids()` skips it.
    public var seccompCacheDirectory: String { root + "/@seccomp" }
    func statePath(of id: String) -> String { directory(of: id) + "/state.json" }
    func configPath(of id: String) -> String { directory(of: id) + "/config.json" }
    func fifoPath(of id: String) -> String { directory(of: id) + "/exec.fifo" }

    /// Container IDs as runc accepts them: letters, digits, `_ + - .`, not `.` or `..`, at most 255 bytes
    /// (it is a directory name).
    /// Refused with runc's words, whatever the reason (empty, too long for a directory name, `.`/`..`, a
    /// character outside the set).
    public static func validate(id: String) throws(RuntimeError) {
        let invalid = RuntimeError("invalid container ID format", "")
        if id.isEmpty || id.utf8.count > 255 || id == "." || id == ".." { throw invalid }
        for byte in id.utf8 {
            let ok = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: ".")
            if !ok { throw invalid }
        }
    }

    /// Makes `<root>/<id>` exclusively: fails if the container exists.
    func makeDirectory(for id: String) throws(RuntimeError) {
        do {
            try Files.makeDirectories(root, mode: 0o711)
        } catch {
            throw RuntimeError("creating state directory \(root)", error.description)
        }
        if mkdir(directory(of: id), 0o711) != 0 {
            let code = errno
            if code == EEXIST { throw RuntimeError(RuntimeError.exists, "") }
            throw RuntimeError("creating state directory \(directory(of: id))", SystemError.message(code))
        }
    }

    func save(_ record: ContainerRecord) throws(RuntimeError) {
        try step("saving state of \(record.id)") {
            try Files.replace(statePath(of: record.id), record.json, mode: 0o600)
        }
    }

    /// Keeps the config exactly as create read it.
    func saveConfig(_ bytes: [UInt8], of id: String) throws(RuntimeError) {
        try step("saving config of \(id)") { try Files.replace(configPath(of: id), bytes, mode: 0o600) }
    }

    func saveConfig(_ spec: Spec, of id: String) throws(RuntimeError) {
        try saveConfig(try step("encoding config of \(id)") { Array(try SpecJSON.encode(spec)) }, of: id)
    }

    public func loadConfig(_ id: String) throws(RuntimeError) -> Spec {
        try ContainerStore.validate(id: id)
        guard exists(id) else { throw RuntimeError(RuntimeError.notExist, "") }
        let path = configPath(of: id)
        return try step("reading config of \(id)") {
            try SpecJSON.decode(Spec.self, from: Data(try Files.readBytes(path)), file: path)
        }
    }

    public func exists(_ id: String) -> Bool { Files.exists(directory(of: id)) }

    public func load(_ id: String) throws(RuntimeError) -> ContainerRecord {
        try ContainerStore.validate(id: id)
        let path = statePath(of: id)
        guard let bytes = try? Files.readBytes(path) else {
            if !exists(id) { throw RuntimeError(RuntimeError.notExist, "") }
            throw RuntimeError("container \(id)", "its state is incomplete (a create was interrupted); `delete --force` removes it")
        }
        do { return try ContainerRecord(json: bytes, file: path) } catch {
            throw RuntimeError("reading state of \(id)", error.description)
        }
    }

    public func ids() -> [String] {
        ((try? Files.listDirectory(root)) ?? []).filter { !$0.hasPrefix("@") && Files.isDirectory(directory(of: $0)) }.sorted()
    }

    func remove(_ id: String) throws(RuntimeError) {
        try step("removing state of \(id)") { try Files.removeTree(directory(of: id)) }
    }
}

/// state.json without Codable (`JSONValue`; the record has no Codable conformance at all): `start`, `kill`, `state` and `delete` each read it in a new
/// process, and `create` writes it twice. The keys are the properties' names, as Codable wrote them, so records
/// of either kind read back alike.
extension ContainerRecord {
    init(json bytes: [UInt8], file: String) throws(SpecDecodingError) {
        let root: JSONValue
        do { root = try JSONValue.parse(bytes) } catch { throw SpecDecodingError(file: file, fieldPath: "", reason: error.description) }
        guard case .object = root else { throw SpecDecodingError(file: file, fieldPath: "", reason: "not a JSON object") }
        func fail(_ key: String, _ reason: String) -> SpecDecodingError { SpecDecodingError(file: file, fieldPath: key, reason: reason) }
        func string(_ key: String) throws(SpecDecodingError) -> String {
            guard let value = root[key]?.string else { throw fail(key, root[key] == nil ? "missing" : "expected a string") }
            return value
        }
        func optional<T>(_ key: String, _ read: (JSONValue) -> T?, _ kind: String) throws(SpecDecodingError) -> T? {
            guard let value = root[key], !value.isNull else { return nil }
            guard let read = read(value) else { throw fail(key, "expected \(kind)") }
            return read
        }
        func strings(_ value: JSONValue) -> [String]? {
            guard let items = value.array else { return nil }
            var out: [String] = []
            for item in items { guard let s = item.string else { return nil }; out.append(s) }
            return out
        }
        func hooks(_ value: JSONValue) -> [Spec.Hook]? {
            guard let items = value.array else { return nil }
            var out: [Spec.Hook] = []
            for item in items {
                guard let path = item["path"]?.string else { return nil }
                var hook = Spec.Hook(path: path)
                if let args = item["args"], !args.isNull { guard let list = strings(args) else { return nil }; hook.args = list }
                if let env = item["env"], !env.isNull { guard let list = strings(env) else { return nil }; hook.env = list }
                if let timeout = item["timeout"], !timeout.isNull { guard let n = timeout.int64 else { return nil }; hook.timeout = Int(n) }
                out.append(hook)
            }
            return out
        }
        id = try string("id")
        bundle = try string("bundle")
        rootfs = try string("rootfs")
        created = try string("created")
        owner = try string("owner")
        guard let pid = root["initPid"]?.int64, let narrow = Int32(exactly: pid) else { throw fail("initPid", "expected a pid") }
        initPid = narrow
        initStartTime = try optional("initStartTime", { $0.uint64 }, "a number")
        cgroupPath = try string("cgroupPath")
        annotations = try optional("annotations", { value -> [String: String]? in
            guard case .object(let members) = value else { return nil }
            var out: [String: String] = [:]
            for (key, member) in members { guard let s = member.string else { return nil }; out[key] = s }
            return out
        }, "an object of strings")
        poststart = try optional("poststart", hooks, "a list of hooks")
        poststop = try optional("poststop", hooks, "a list of hooks")
        guard let completed = root["createCompleted"]?.bool else { throw fail("createCompleted", "expected a boolean") }
        createCompleted = completed
        ociVersion = try optional("ociVersion", { $0.string }, "a string")
    }

    var json: [UInt8] {
        func strings(_ list: [String]) -> JSONValue { .array(list.map { .string($0) }) }
        func hooks(_ list: [Spec.Hook]) -> JSONValue {
            .array(list.map { hook in
                var members: [(String, JSONValue)] = [("path", .string(hook.path))]
                if let args = hook.args { members.append(("args", strings(args))) }
                if let env = hook.env { members.append(("env", strings(env))) }
                if let timeout = hook.timeout { members.append(("timeout", .number(String(timeout)))) }
                return .object(members)
            })
        }
        var members: [(String, JSONValue)] = [
            ("id", .string(id)), ("bundle", .string(bundle)), ("rootfs", .string(rootfs)), ("created", .string(created)),
            ("owner", .string(owner)), ("initPid", .number(String(initPid))),
        ]
        if let initStartTime { members.append(("initStartTime", .number(String(initStartTime)))) }
        members.append(("cgroupPath", .string(cgroupPath)))
        if let annotations {
            members.append(("annotations", .object(annotations.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        if let poststart { members.append(("poststart", hooks(poststart))) }
        if let poststop { members.append(("poststop", hooks(poststop))) }
        members.append(("createCompleted", .bool(createCompleted)))
        if let ociVersion { members.append(("ociVersion", .string(ociVersion))) }
        return Array(JSONValue.object(members).compact.utf8)
    }
}
