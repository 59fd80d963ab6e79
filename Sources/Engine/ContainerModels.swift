import Foundation
import Monitor
import OCISpec

/// A container as the engine stores it, in the shape of docker's `ContainerJSON` (the field names are
/// docker's, so `inspect`, `--format '{{.State.Status}}'` and later the Engine API read them unchanged).
public struct ContainerInfo: Codable, Sendable {
    public var Id: String
    /// Without docker's leading slash (inspect adds it).
    public var Name: String
    public var Created: String
    public var Path: String
    public var Args: [String]
    public var State: ContainerStateInfo
    /// The image as the user named it, and its ID (config digest).
    public var ImageName: String
    public var Image: String
    public var RestartCount: Int
    public var Config: ContainerConfig
    public var HostConfig: HostConfig
    public var Mounts: [MountPoint]
    /// Volumes made for this container only (`-v /path`, the image's VOLUMEs), removed with `rm -v`.
    public var AnonymousVolumes: [String]
    public var LogPath: String
    /// The container's place on its networks while it has one (berth's own field; inspect shows it as
    /// docker's NetworkSettings).
    public var Network: ContainerNetworkState?
    /// The networks the container is connected to, in interface order (eth0, eth1, …): docker's
    /// EndpointsConfig. Nil until `network connect`/`disconnect` first changes them; until then they follow
    /// from `--network`, `--ip`, `--network-alias` and `--mac-address` (`endpoints`).
    public var Endpoints: [EndpointConfig]?

    public var endpoints: [EndpointConfig] {
        if let Endpoints { return Endpoints }
        let mode = HostConfig.NetworkMode
        if mode == "none" || mode == "host" || mode.hasPrefix("container:") || mode == PastaNetwork.mode { return [] }
        return [EndpointConfig(Network: mode == "default" ? "bridge" : mode, Aliases: HostConfig.NetworkAliases,
                               IPv4Address: HostConfig.RequestedIPv4, MacAddress: Config.MacAddress)]
    }
}

/// One network of a container as configured (docker's EndpointSettings, the part a user sets).
public struct EndpointConfig: Codable, Sendable, Equatable {
    public var Network: String
    public var Aliases: [String]?
    public var IPv4Address: String?
    public var MacAddress: String?

    public init(Network: String, Aliases: [String]? = nil, IPv4Address: String? = nil, MacAddress: String? = nil) {
        self.Network = Network; self.Aliases = Aliases; self.IPv4Address = IPv4Address; self.MacAddress = MacAddress
    }
}

/// docker's `State`, plus why the container last stopped, in words.
public struct ContainerStateInfo: Codable, Sendable, Equatable {
    public var Status: String
    public var Running: Bool
    public var Paused: Bool
    public var Restarting: Bool
    public var OOMKilled: Bool
    public var Dead: Bool
    public var Pid: Int32
    public var ExitCode: Int32
    public var Error: String
    public var StartedAt: String
    public var FinishedAt: String
    public var Health: Health?
    /// Berth's own: why it last stopped (`exited with code 1`, `OOM-killed by the kernel (PID 1) …`).
    public var Reason: String?

    public struct Health: Codable, Sendable, Equatable {
        public var Status: String
        public var FailingStreak: Int
        public var Log: [HealthLog]
    }

    public struct HealthLog: Codable, Sendable, Equatable {
        public var Start: String
        public var End: String
        public var ExitCode: Int32
        public var Output: String
    }

    public static let zeroTime = "0001-01-01T00:00:00Z"

    static var created: ContainerStateInfo {
        ContainerStateInfo(Status: "created", Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
                       Pid: 0, ExitCode: 0, Error: "", StartedAt: zeroTime, FinishedAt: zeroTime, Health: nil, Reason: nil)
    }
}

/// docker's `Config` (the container's own, not the image's).
public struct ContainerConfig: Codable, Sendable {
    public var Hostname: String
    public var Domainname: String
    public var User: String
    public var AttachStdin: Bool
    public var AttachStdout: Bool
    public var AttachStderr: Bool
    public var ExposedPorts: [String: EmptyObject]?
    public var Tty: Bool
    public var OpenStdin: Bool
    public var StdinOnce: Bool
    public var Env: [String]
    public var Cmd: [String]?
    public var Healthcheck: HealthcheckJSON?
    public var Image: String
    public var Volumes: [String: EmptyObject]?
    public var WorkingDir: String
    public var Entrypoint: [String]?
    public var Labels: [String: String]
    public var StopSignal: String?
    public var StopTimeout: Int?
    /// `--mac-address` (docker keeps it here too) of the first network's interface.
    public var MacAddress: String?

    public init(image: String) {
        Hostname = ""; Domainname = ""; User = ""; AttachStdin = false; AttachStdout = true; AttachStderr = true
        Tty = false; OpenStdin = false; StdinOnce = false; Env = []; Image = image; WorkingDir = ""; Labels = [:]
    }
}

/// docker's `Healthcheck` (durations in nanoseconds).
public struct HealthcheckJSON: Codable, Sendable, Equatable {
    public var Test: [String]?
    public var Interval: Int64?
    public var Timeout: Int64?
    public var StartPeriod: Int64?
    public var Retries: Int?
    public init(Test: [String]?) { self.Test = Test }
}

/// docker's `HostConfig`: how the container is run on this host.
public struct HostConfig: Codable, Sendable {
    public var Binds: [String]
    public var NetworkMode: String
    public var RestartPolicy: RestartPolicyJSON
    public var AutoRemove: Bool
    public var Mounts: [MountRequest]
    public var Tmpfs: [String: String]
    public var CapAdd: [String]
    public var CapDrop: [String]
    public var GroupAdd: [String]
    public var IpcMode: String
    public var PidMode: String
    public var UTSMode: String
    public var CgroupnsMode: String
    public var Privileged: Bool
    public var ReadonlyRootfs: Bool
    public var SecurityOpt: [String]
    public var ShmSize: Int64
    public var Sysctls: [String: String]
    public var Init: Bool?
    public var Memory: Int64
    public var MemorySwap: Int64
    public var MemoryReservation: Int64
    public var NanoCpus: Int64
    public var CpuShares: Int64
    public var CpusetCpus: String
    public var CpusetMems: String
    public var PidsLimit: Int64?
    public var BlkioWeight: UInt16
    public var Devices: [DeviceMapping]
    public var Ulimits: [Ulimit]
    public var OomKillDisable: Bool
    public var OomScoreAdj: Int
    public var LogConfig: LogConfig
    public var ExtraHosts: [String]
    /// `--userns` as given ("" is the host's user namespace).
    public var UsernsMode: String?
    /// The resolved mappings (podman's field); nil in the host's user namespace.
    public var IDMappings: IDMappingsJSON?
    /// `-p`: "80/tcp" → [{HostIp, HostPort}] (HostPort "" for a random port), docker's shape.
    public var PortBindings: [String: [PortBindingJSON]]?
    /// `-P`: every port of the image's EXPOSE on a random host port.
    public var PublishAllPorts: Bool?
    /// `--ip` (docker keeps it in NetworkingConfig; one network per container here).
    public var RequestedIPv4: String?
    /// `--network-alias`: more names on a user network (docker's EndpointSettings.Aliases).
    public var NetworkAliases: [String]?
    /// `--dns`, `--dns-search`, `--dns-option`: the container's resolv.conf instead of the host's.
    public var Dns: [String]?
    public var DnsSearch: [String]?
    public var DnsOptions: [String]?

    public init() {
        Binds = []; NetworkMode = "bridge"; RestartPolicy = RestartPolicyJSON(Name: "no", MaximumRetryCount: 0)
        AutoRemove = false; Mounts = []; Tmpfs = [:]; CapAdd = []; CapDrop = []; GroupAdd = []; IpcMode = "private"
        PidMode = ""; UTSMode = ""; CgroupnsMode = ""; Privileged = false; ReadonlyRootfs = false; SecurityOpt = []
        ShmSize = 64 * 1024 * 1024; Sysctls = [:]; Init = nil; Memory = 0; MemorySwap = 0; MemoryReservation = 0
        NanoCpus = 0; CpuShares = 0; CpusetCpus = ""; CpusetMems = ""; PidsLimit = nil; BlkioWeight = 0; Devices = []
        Ulimits = []; OomKillDisable = false; OomScoreAdj = 0
        self.LogConfig = .init(Type: "json-file", Config: [:]); ExtraHosts = []; UsernsMode = ""
    }
}

public struct PortBindingJSON: Codable, Sendable, Equatable {
    public var HostIp: String
    public var HostPort: String
    public init(HostIp: String, HostPort: String) { self.HostIp = HostIp; self.HostPort = HostPort }
}

public struct RestartPolicyJSON: Codable, Sendable, Equatable {
    public var Name: String
    public var MaximumRetryCount: Int
    public init(Name: String, MaximumRetryCount: Int) { self.Name = Name; self.MaximumRetryCount = MaximumRetryCount }
}

public struct LogConfig: Codable, Sendable, Equatable {
    public var `Type`: String
    public var Config: [String: String]
    public init(Type: String, Config: [String: String]) { self.Type = Type; self.Config = Config }
}

public struct DeviceMapping: Codable, Sendable, Equatable {
    public var PathOnHost: String
    public var PathInContainer: String
    public var CgroupPermissions: String
    public init(PathOnHost: String, PathInContainer: String, CgroupPermissions: String) {
        self.PathOnHost = PathOnHost; self.PathInContainer = PathInContainer; self.CgroupPermissions = CgroupPermissions
    }
}

public struct Ulimit: Codable, Sendable, Equatable {
    public var Name: String
    public var Soft: Int64
    public var Hard: Int64
    public init(Name: String, Soft: Int64, Hard: Int64) { self.Name = Name; self.Soft = Soft; self.Hard = Hard }
}

/// `--mount` / `-v` as given, in docker's `Mount` shape.
public struct MountRequest: Codable, Sendable, Equatable {
    public var `Type`: String
    public var Source: String
    public var Target: String
    public var ReadOnly: Bool
    public var TmpfsSize: Int64?
    public var TmpfsMode: UInt32?
    public var NoCopy: Bool?
    public init(Type: String, Source: String, Target: String, ReadOnly: Bool) {
        self.Type = Type; self.Source = Source; self.Target = Target; self.ReadOnly = ReadOnly
    }
}

/// docker's `MountPoint` (inspect's `Mounts`).
public struct MountPoint: Codable, Sendable, Equatable {
    public var `Type`: String
    public var Name: String?
    public var Source: String
    public var Destination: String
    public var Driver: String?
    public var Mode: String
    public var RW: Bool
    public var Propagation: String
}

/// A named or anonymous volume (local driver).
public struct VolumeRecord: Codable, Sendable, Equatable {
    public var Name: String
    public var Driver: String
    public var Mountpoint: String
    public var CreatedAt: String
    public var Labels: [String: String]
    public var Scope: String
    public var Options: [String: String]
    public var Anonymous: Bool
}
