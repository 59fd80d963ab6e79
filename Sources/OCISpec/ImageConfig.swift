/// The image configuration (OCI `config.md`; Docker's image JSON is a superset with the same field names).
/// Fields this struct does not name are ignored on decode, as the spec allows.
public struct ImageConfig: Codable, Sendable, Equatable {
    public var created: String?
    public var author: String?
    public var architecture: String
    public var os: String
    public var osVersion: String?
    public var variant: String?
    public var config: Execution?
    public var rootfs: RootFS
    public var history: [History]?

    enum CodingKeys: String, CodingKey {
        case created, author, architecture, os, variant, config, rootfs, history
        case osVersion = "os.version"
    }

    public init(architecture: String, os: String, config: Execution? = nil, rootfs: RootFS,
                history: [History]? = nil, created: String? = nil) {
        self.architecture = architecture; self.os = os; self.config = config; self.rootfs = rootfs
        self.history = history; self.created = created
    }

    /// How a container of this image runs (`config` in the image JSON).
    public struct Execution: Codable, Sendable, Equatable {
        public var User: String?
        public var ExposedPorts: [String: EmptyObject]?
        public var Env: [String]?
        public var Entrypoint: [String]?
        public var Cmd: [String]?
        public var Volumes: [String: EmptyObject]?
        public var WorkingDir: String?
        public var Labels: [String: String]?
        public var StopSignal: String?
        public var ArgsEscaped: Bool?

        public init(Env: [String]? = nil, Entrypoint: [String]? = nil, Cmd: [String]? = nil, WorkingDir: String? = nil,
                    User: String? = nil) {
            self.Env = Env; self.Entrypoint = Entrypoint; self.Cmd = Cmd; self.WorkingDir = WorkingDir; self.User = User
        }
    }

    public struct RootFS: Codable, Sendable, Equatable {
        public var type: String
        public var diff_ids: [String]
        public init(diffIDs: [String]) { self.type = "layers"; self.diff_ids = diffIDs }
    }

    public struct History: Codable, Sendable, Equatable {
        public var created: String?
        public var created_by: String?
        public var author: String?
        public var comment: String?
        public var empty_layer: Bool?
        public init(created: String? = nil, createdBy: String? = nil, comment: String? = nil, emptyLayer: Bool? = nil) {
            self.created = created; self.created_by = createdBy; self.comment = comment; self.empty_layer = emptyLayer
        }
    }
}

/// `{}`: the value type of the image config's set-like maps (ExposedPorts, Volumes).
public struct EmptyObject: Codable, Sendable, Equatable {
    public init() {}
    public init(from decoder: any Decoder) throws {}
    public func encode(to encoder: any Encoder) throws {
        _ = encoder.container(keyedBy: EmptyKey.self)
    }
    private struct EmptyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
