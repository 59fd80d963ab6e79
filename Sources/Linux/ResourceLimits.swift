import Glibc

/// RLIMIT_* by their OCI names.
public enum ResourceLimits {
    public static let byName: [String: Int32] = [
        "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
        "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
        "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
        "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
    ]

    public static func set(_ name: String, soft: UInt64, hard: UInt64) throws(SystemError) {
        guard let resource = byName[name] else { throw SystemError("setrlimit", name, errno: EINVAL) }
        var limit = rlimit(rlim_cur: rlim_t(soft), rlim_max: rlim_t(hard))
        try check("setrlimit", "\(name) soft=\(soft) hard=\(hard)") {
            setrlimit(__rlimit_resource_t(UInt32(resource)), &limit)
        }
    }
}
