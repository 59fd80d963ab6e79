import Glibc
import OCISpec

/// The documented v1 ↔ v2 value conversions.
public enum CgroupConversions {
    /// cpu.shares (v1, 2…262144, default 1024) → cpu.weight (v2, 1…10000, default 100).
    ///
    /// A quadratic in log2(shares) through the three points (2 → 1), (1024 → 100), (262144 → 10000),
    /// so the defaults map onto each other (the older linear formula sent 1024 to 39). 0 means unset.
    public static func cpuWeight(fromShares shares: UInt64) -> UInt64 {
        if shares == 0 { return 0 }
        if shares <= 2 { return 1 }
        if shares >= 262_144 { return 10_000 }
        let l = log2(Double(shares))
        let exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0
        return UInt64(ceil(pow(10, exponent)))
    }

    /// cpu.weight → cpu.shares, the inverse (for showing v2 weights in v1 terms).
    public static func cpuShares(fromWeight weight: UInt64) -> UInt64 {
        if weight == 0 { return 0 }
        if weight <= 1 { return 2 }
        if weight >= 10_000 { return 262_144 }
        // Solve l² + 125 l − 612 (log10(w) + 7/34) = 0 for l = log2(shares).
        let c = 612.0 * (log10(Double(weight)) + 7.0 / 34.0)
        let l = (-125.0 + (125.0 * 125.0 + 4 * c).squareRoot()) / 2
        return UInt64(pow(2, l).rounded())
    }

    /// blkio.weight (v1, 10…1000) → io.weight (v2, 1…10000), linear. 0 means unset.
    public static func ioWeight(fromBlkioWeight weight: UInt64) -> UInt64 {
        if weight == 0 { return 0 }
        return 1 + (weight - min(weight, 10)) * 9999 / 990
    }

    /// OCI `memory.swap` is memory+swap (v1 memsw); v2's memory.swap.max is swap alone.
    /// Returns the v2 value (`max`, or bytes), or nil when nothing is to be written.
    public static func swapMax(limit: Int64?, swap: Int64?) throws(CgroupError) -> String? {
        guard let swap else { return nil }
        if swap == -1 { return "max" }
        if swap == 0 { return nil } // unset in most configs; runc treats 0 as "leave as is".
        guard let limit, limit != -1 else {
            throw CgroupError("convert memory.swap", path: "memory.swap.max",
                              reason: "swap \(swap) needs a memory limit on cgroup v2 (swap is memory+swap)")
        }
        guard swap >= limit else {
            throw CgroupError("convert memory.swap", path: "memory.swap.max",
                              reason: "swap \(swap) is smaller than the memory limit \(limit) (swap counts memory+swap)")
        }
        return String(swap - limit)
    }
}

/// Resource checks done before anything is written, so bad input changes nothing.
enum ResourceValidation {
    static func validate(_ r: Resources) throws(CgroupError) {
        if let m = r.memory {
            if let s = m.swappiness, s > 100 {
                throw CgroupError("validate", path: "memory.swappiness", reason: "\(s) is out of range 0-100")
            }
            if let l = m.limit, l < -1 {
                throw CgroupError("validate", path: "memory.limit", reason: "\(l) is negative")
            }
            if let s = m.swap, s < -1 {
                throw CgroupError("validate", path: "memory.swap", reason: "\(s) is negative")
            }
            if let l = m.limit, let s = m.swap, l > 0, s > 0, s < l {
                throw CgroupError("validate", path: "memory.swap",
                                  reason: "memory+swap \(s) is smaller than the memory limit \(l)")
            }
        }
        if let c = r.cpu {
            if let q = c.quota, q < -1 || (q > 0 && q < 1000) {
                throw CgroupError("validate", path: "cpu.quota", reason: "\(q) must be -1 or at least 1000 µs")
            }
            if let p = c.period, p != 0 && (p < 1000 || p > 1_000_000) {
                throw CgroupError("validate", path: "cpu.period", reason: "\(p) is out of range 1000-1000000 µs")
            }
            if let cpus = c.cpus, !CPUList.isValid(cpus) {
                throw CgroupError("validate", path: "cpuset.cpus", reason: "\"\(cpus)\" is not a CPU list like 0-3,5")
            }
            if let mems = c.mems, !CPUList.isValid(mems) {
                throw CgroupError("validate", path: "cpuset.mems", reason: "\"\(mems)\" is not a node list like 0-1")
            }
        }
        if let b = r.blockIO, let w = b.weight, w != 0 && (w < 10 || w > 1000) {
            throw CgroupError("validate", path: "blkio.weight", reason: "\(w) is out of range 10-1000")
        }
        for h in r.hugepageLimits ?? [] where !PageSize.isValid(h.pageSize) {
            throw CgroupError("validate", path: "hugetlb", reason: "\"\(h.pageSize)\" is not a page size like 2MB")
        }
        for d in r.devices ?? [] {
            if let t = d.type, !["a", "b", "c"].contains(t) {
                throw CgroupError("validate", path: "devices", reason: "device type \"\(t)\" is not a, b or c")
            }
            // Access is not checked letter by letter: runc reduces it to the set of r, w, m it names
            // and ignores any other letter (its devices emulator), so "rwa" means "rw" (update.bats
            // relies on it). DeviceState and DeviceFilter read it the same way.
        }
        for (key, _) in r.unified ?? [:] where key.contains("/") || key.hasPrefix(".") || !key.contains(".") {
            throw CgroupError("validate", path: key, reason: "not a cgroup interface file name")
        }
    }
}

/// `0-3,5,7-8` lists (cpuset.cpus / cpuset.mems).
public enum CPUList {
    public static func isValid(_ s: String) -> Bool { parse(s) != nil }

    public static func parse(_ s: String) -> [UInt16]? {
        let text = CgroupFile.trim(s)
        if text.isEmpty { return [] }
        var out: [UInt16] = []
        for part in text.split(separator: ",") {
            let range = part.split(separator: "-", omittingEmptySubsequences: false)
            if range.count == 1, let v = UInt16(range[0]) {
                out.append(v)
            } else if range.count == 2, let a = UInt16(range[0]), let b = UInt16(range[1]), a <= b {
                out.append(contentsOf: a...b)
            } else {
                return nil
            }
        }
        return out
    }
}
