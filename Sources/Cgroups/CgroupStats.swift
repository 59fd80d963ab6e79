/// A cgroup's accounting, in the JSON shape of the `data` object of `runc events --stats`
/// (runc's types.Stats): zero counters that runc omits are omitted here too.
public struct CgroupStats: Codable, Sendable, Equatable {
    public var cpu = CPU()
    public var cpuset = CPUSet()
    public var memory = Memory()
    public var pids = Pids()
    public var blkio = Blkio()
    /// Keyed by page size (`2MB`, `1GB`).
    public var hugetlb: [String: Hugetlb] = [:]

    public init() {}

    /// Pressure stall information (v2 `cpu.pressure`, `memory.pressure`, `io.pressure`).
    public struct PSIData: Codable, Sendable, Equatable {
        public var avg10: Double = 0
        public var avg60: Double = 0
        public var avg300: Double = 0
        /// Microseconds.
        public var total: UInt64 = 0
        public init() {}
    }

    public struct PSIStats: Codable, Sendable, Equatable {
        public var some = PSIData()
        public var full = PSIData()
        public init() {}

        /// Parses `some avg10=… avg60=… avg300=… total=…` / `full …` lines.
        public init?(text: String) {
            var found = false
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard let kind = fields.first else { continue }
                var data = PSIData()
                for pair in fields.dropFirst() {
                    let kv = pair.split(separator: "=")
                    guard kv.count == 2 else { continue }
                    switch kv[0] {
                    case "avg10": data.avg10 = Double(kv[1]) ?? 0
                    case "avg60": data.avg60 = Double(kv[1]) ?? 0
                    case "avg300": data.avg300 = Double(kv[1]) ?? 0
                    case "total": data.total = UInt64(kv[1]) ?? 0
                    default: break
                    }
                }
                if kind == "some" { some = data; found = true } else if kind == "full" { full = data; found = true }
            }
            if !found { return nil }
        }
    }

    public struct CPU: Codable, Sendable, Equatable {
        public var usage = Usage()
        public var throttling = Throttling()
        public var psi: PSIStats?
        public init() {}

        /// Nanoseconds.
        public struct Usage: Codable, Sendable, Equatable {
            public var total: UInt64 = 0
            public var percpu: [UInt64] = []
            public var percpuKernel: [UInt64] = []
            public var percpuUser: [UInt64] = []
            public var kernel: UInt64 = 0
            public var user: UInt64 = 0
            public init() {}
            enum CodingKeys: String, CodingKey {
                case total, percpu, percpuKernel = "percpu_kernel", percpuUser = "percpu_user", kernel, user
            }
            public init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                total = try c.decodeIfPresent(UInt64.self, forKey: .total) ?? 0
                percpu = try c.decodeIfPresent([UInt64].self, forKey: .percpu) ?? []
                percpuKernel = try c.decodeIfPresent([UInt64].self, forKey: .percpuKernel) ?? []
                percpuUser = try c.decodeIfPresent([UInt64].self, forKey: .percpuUser) ?? []
                kernel = try c.decodeIfPresent(UInt64.self, forKey: .kernel) ?? 0
                user = try c.decodeIfPresent(UInt64.self, forKey: .user) ?? 0
            }
            public func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                if total != 0 { try c.encode(total, forKey: .total) }
                if !percpu.isEmpty { try c.encode(percpu, forKey: .percpu) }
                if !percpuKernel.isEmpty { try c.encode(percpuKernel, forKey: .percpuKernel) }
                if !percpuUser.isEmpty { try c.encode(percpuUser, forKey: .percpuUser) }
                try c.encode(kernel, forKey: .kernel)
                try c.encode(user, forKey: .user)
            }
        }

        public struct Throttling: Codable, Sendable, Equatable {
            public var periods: UInt64 = 0
            public var throttledPeriods: UInt64 = 0
            /// Nanoseconds.
            public var throttledTime: UInt64 = 0
            public init() {}
            enum CodingKeys: String, CodingKey { case periods, throttledPeriods, throttledTime }
            public init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                periods = try c.decodeIfPresent(UInt64.self, forKey: .periods) ?? 0
                throttledPeriods = try c.decodeIfPresent(UInt64.self, forKey: .throttledPeriods) ?? 0
                throttledTime = try c.decodeIfPresent(UInt64.self, forKey: .throttledTime) ?? 0
            }
            public func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                if periods != 0 { try c.encode(periods, forKey: .periods) }
                if throttledPeriods != 0 { try c.encode(throttledPeriods, forKey: .throttledPeriods) }
                if throttledTime != 0 { try c.encode(throttledTime, forKey: .throttledTime) }
            }
        }
    }

    /// The v1 cpuset files as runc reports them (cpuset.cpus, cpuset.cpu_exclusive, …); on v2 only
    /// cpus and mems (the effective sets), the rest 0.
    public struct CPUSet: Codable, Sendable, Equatable {
        public var cpus: [UInt16] = []
        public var cpuExclusive: UInt64 = 0
        public var mems: [UInt16] = []
        public var memHardwall: UInt64 = 0
        public var memExclusive: UInt64 = 0
        public var memoryMigrate: UInt64 = 0
        public var memorySpreadPage: UInt64 = 0
        public var memorySpreadSlab: UInt64 = 0
        public var memoryPressure: UInt64 = 0
        public var schedLoadBalance: UInt64 = 0
        public var schedRelaxDomainLevel: Int64 = 0
        public init() {}
        enum CodingKeys: String, CodingKey {
            case cpus, cpuExclusive = "cpu_exclusive", mems, memHardwall = "mem_hardwall", memExclusive = "mem_exclusive"
            case memoryMigrate = "memory_migrate", memorySpreadPage = "memory_spread_page", memorySpreadSlab = "memory_spread_slab"
            case memoryPressure = "memory_pressure", schedLoadBalance = "sched_load_balance"
            case schedRelaxDomainLevel = "sched_relax_domain_level"
        }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            cpus = try c.decodeIfPresent([UInt16].self, forKey: .cpus) ?? []
            cpuExclusive = try c.decodeIfPresent(UInt64.self, forKey: .cpuExclusive) ?? 0
            mems = try c.decodeIfPresent([UInt16].self, forKey: .mems) ?? []
            memHardwall = try c.decodeIfPresent(UInt64.self, forKey: .memHardwall) ?? 0
            memExclusive = try c.decodeIfPresent(UInt64.self, forKey: .memExclusive) ?? 0
            memoryMigrate = try c.decodeIfPresent(UInt64.self, forKey: .memoryMigrate) ?? 0
            memorySpreadPage = try c.decodeIfPresent(UInt64.self, forKey: .memorySpreadPage) ?? 0
            memorySpreadSlab = try c.decodeIfPresent(UInt64.self, forKey: .memorySpreadSlab) ?? 0
            memoryPressure = try c.decodeIfPresent(UInt64.self, forKey: .memoryPressure) ?? 0
            schedLoadBalance = try c.decodeIfPresent(UInt64.self, forKey: .schedLoadBalance) ?? 0
            schedRelaxDomainLevel = try c.decodeIfPresent(Int64.self, forKey: .schedRelaxDomainLevel) ?? 0
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            if !cpus.isEmpty { try c.encode(cpus, forKey: .cpus) }
            try c.encode(cpuExclusive, forKey: .cpuExclusive)
            if !mems.isEmpty { try c.encode(mems, forKey: .mems) }
            try c.encode(memHardwall, forKey: .memHardwall)
            try c.encode(memExclusive, forKey: .memExclusive)
            try c.encode(memoryMigrate, forKey: .memoryMigrate)
            try c.encode(memorySpreadPage, forKey: .memorySpreadPage)
            try c.encode(memorySpreadSlab, forKey: .memorySpreadSlab)
            try c.encode(memoryPressure, forKey: .memoryPressure)
            try c.encode(schedLoadBalance, forKey: .schedLoadBalance)
            try c.encode(schedRelaxDomainLevel, forKey: .schedRelaxDomainLevel)
        }
    }

    public struct MemoryEntry: Codable, Sendable, Equatable {
        /// Bytes; 0 on v2 and unlimited on v1 is reported as the kernel shows it (v1: a huge number; v2: 0 for "max").
        public var limit: UInt64 = 0
        public var usage: UInt64 = 0
        public var max: UInt64 = 0
        public var failcnt: UInt64 = 0
        public init() {}
        enum CodingKeys: String, CodingKey { case limit, usage, max, failcnt }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            limit = try c.decodeIfPresent(UInt64.self, forKey: .limit) ?? 0
            usage = try c.decodeIfPresent(UInt64.self, forKey: .usage) ?? 0
            max = try c.decodeIfPresent(UInt64.self, forKey: .max) ?? 0
            failcnt = try c.decodeIfPresent(UInt64.self, forKey: .failcnt) ?? 0
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(limit, forKey: .limit)
            if usage != 0 { try c.encode(usage, forKey: .usage) }
            if max != 0 { try c.encode(max, forKey: .max) }
            try c.encode(failcnt, forKey: .failcnt)
        }
    }

    /// Counts from v2 memory.events (v1: oom and oom_kill from memory.oom_control, max from failcnt).
    public struct MemoryEventCount: Codable, Sendable, Equatable {
        public var low: UInt64 = 0
        public var high: UInt64 = 0
        public var max: UInt64 = 0
        public var oom: UInt64 = 0
        public var oomKill: UInt64 = 0
        public init() {}
        enum CodingKeys: String, CodingKey { case low, high, max, oom, oomKill = "oom_kill" }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            low = try c.decodeIfPresent(UInt64.self, forKey: .low) ?? 0
            high = try c.decodeIfPresent(UInt64.self, forKey: .high) ?? 0
            max = try c.decodeIfPresent(UInt64.self, forKey: .max) ?? 0
            oom = try c.decodeIfPresent(UInt64.self, forKey: .oom) ?? 0
            oomKill = try c.decodeIfPresent(UInt64.self, forKey: .oomKill) ?? 0
        }
    }

    public struct Memory: Codable, Sendable, Equatable {
        public var cache: UInt64 = 0
        public var usage = MemoryEntry()
        public var swap = MemoryEntry()
        public var kernel = MemoryEntry()
        public var kernelTCP = MemoryEntry()
        /// memory.stat, verbatim.
        public var raw: [String: UInt64] = [:]
        public var psi: PSIStats?
        public var eventCount = MemoryEventCount()
        public init() {}
        enum CodingKeys: String, CodingKey {
            case cache, usage, swap, kernel, kernelTCP, raw, psi, eventCount = "event_count"
        }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            cache = try c.decodeIfPresent(UInt64.self, forKey: .cache) ?? 0
            usage = try c.decodeIfPresent(MemoryEntry.self, forKey: .usage) ?? MemoryEntry()
            swap = try c.decodeIfPresent(MemoryEntry.self, forKey: .swap) ?? MemoryEntry()
            kernel = try c.decodeIfPresent(MemoryEntry.self, forKey: .kernel) ?? MemoryEntry()
            kernelTCP = try c.decodeIfPresent(MemoryEntry.self, forKey: .kernelTCP) ?? MemoryEntry()
            raw = try c.decodeIfPresent([String: UInt64].self, forKey: .raw) ?? [:]
            psi = try c.decodeIfPresent(PSIStats.self, forKey: .psi)
            eventCount = try c.decodeIfPresent(MemoryEventCount.self, forKey: .eventCount) ?? MemoryEventCount()
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            if cache != 0 { try c.encode(cache, forKey: .cache) }
            try c.encode(usage, forKey: .usage)
            try c.encode(swap, forKey: .swap)
            try c.encode(kernel, forKey: .kernel)
            try c.encode(kernelTCP, forKey: .kernelTCP)
            if !raw.isEmpty { try c.encode(raw, forKey: .raw) }
            try c.encodeIfPresent(psi, forKey: .psi)
            try c.encode(eventCount, forKey: .eventCount)
        }
    }

    public struct Pids: Codable, Sendable, Equatable {
        public var current: UInt64 = 0
        /// 0 means no limit.
        public var limit: UInt64 = 0
        public init() {}
        enum CodingKeys: String, CodingKey { case current, limit }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            current = try c.decodeIfPresent(UInt64.self, forKey: .current) ?? 0
            limit = try c.decodeIfPresent(UInt64.self, forKey: .limit) ?? 0
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            if current != 0 { try c.encode(current, forKey: .current) }
            if limit != 0 { try c.encode(limit, forKey: .limit) }
        }
    }

    public struct BlkioEntry: Codable, Sendable, Equatable {
        public var major: UInt64 = 0
        public var minor: UInt64 = 0
        /// `Read`, `Write`, `Sync`, `Async`, `Discard`, `Total`.
        public var op: String = ""
        public var value: UInt64 = 0
        public init(major: UInt64, minor: UInt64, op: String, value: UInt64) {
            self.major = major; self.minor = minor; self.op = op; self.value = value
        }
        enum CodingKeys: String, CodingKey { case major, minor, op, value }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            major = try c.decodeIfPresent(UInt64.self, forKey: .major) ?? 0
            minor = try c.decodeIfPresent(UInt64.self, forKey: .minor) ?? 0
            op = try c.decodeIfPresent(String.self, forKey: .op) ?? ""
            value = try c.decodeIfPresent(UInt64.self, forKey: .value) ?? 0
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            if major != 0 { try c.encode(major, forKey: .major) }
            if minor != 0 { try c.encode(minor, forKey: .minor) }
            if !op.isEmpty { try c.encode(op, forKey: .op) }
            if value != 0 { try c.encode(value, forKey: .value) }
        }
    }

    public struct Blkio: Codable, Sendable, Equatable {
        public var ioServiceBytesRecursive: [BlkioEntry] = []
        public var ioServicedRecursive: [BlkioEntry] = []
        public var psi: PSIStats?
        public init() {}
        enum CodingKeys: String, CodingKey { case ioServiceBytesRecursive, ioServicedRecursive, psi }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            ioServiceBytesRecursive = try c.decodeIfPresent([BlkioEntry].self, forKey: .ioServiceBytesRecursive) ?? []
            ioServicedRecursive = try c.decodeIfPresent([BlkioEntry].self, forKey: .ioServicedRecursive) ?? []
            psi = try c.decodeIfPresent(PSIStats.self, forKey: .psi)
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            if !ioServiceBytesRecursive.isEmpty { try c.encode(ioServiceBytesRecursive, forKey: .ioServiceBytesRecursive) }
            if !ioServicedRecursive.isEmpty { try c.encode(ioServicedRecursive, forKey: .ioServicedRecursive) }
            try c.encodeIfPresent(psi, forKey: .psi)
        }
    }

    public struct Hugetlb: Codable, Sendable, Equatable {
        public var usage: UInt64 = 0
        public var max: UInt64 = 0
        public var failcnt: UInt64 = 0
        public init() {}
        enum CodingKeys: String, CodingKey { case usage, max, failcnt }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            usage = try c.decodeIfPresent(UInt64.self, forKey: .usage) ?? 0
            max = try c.decodeIfPresent(UInt64.self, forKey: .max) ?? 0
            failcnt = try c.decodeIfPresent(UInt64.self, forKey: .failcnt) ?? 0
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            if usage != 0 { try c.encode(usage, forKey: .usage) }
            if max != 0 { try c.encode(max, forKey: .max) }
            try c.encode(failcnt, forKey: .failcnt)
        }
    }
}
