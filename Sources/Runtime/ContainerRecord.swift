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
public struct ContainerRecord: Codable, Sendable {
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
            try Files.replace(statePath(of: record.id), Array(try SpecJSON.encode(record)), mode: 0o600)
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
        return try step("reading state of \(id)") {
            try SpecJSON.decode(ContainerRecord.self, from: Data(bytes), file: path)
        }
    }

    public func ids() -> [String] {
        ((try? Files.listDirectory(root)) ?? []).filter { !$0.hasPrefix("@") && Files.isDirectory(directory(of: $0)) }.sorted()
    }

    func remove(_ id: String) throws(RuntimeError) {
        try step("removing state of \(id)") { try Files.removeTree(directory(of: id)) }
    }
}
