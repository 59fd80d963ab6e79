import Linux
import OCISpec

/// The state of a v1 devices cgroup, as the kernel keeps it: a default (allow or deny everything) and
/// exceptions keyed by exact type/major/minor, each with a subset of `rwm`.
///
/// Writing the OCI rules one by one to devices.allow/deny would start with `a` (deny all) and then allow
/// again: a running container would see every device refused for a moment (a shell loop reading
/// /dev/null fails). So the target state is computed here, the current one read from devices.list, and
/// only the difference is written; the deny-all reset happens only when the default itself changes
/// (or the group is allow-all now, whose deny exceptions devices.list cannot show). This is what
/// runc's devices emulator does.
struct DeviceState: Equatable {
    struct Key: Hashable, Comparable {
        var type: UInt8          // b or c
        var major: Int64         // -1: any
        var minor: Int64
        static func < (a: Key, b: Key) -> Bool {
            (a.type, a.major, a.minor) < (b.type, b.major, b.minor)
        }
    }

    /// Access bits: r=1, w=2, m=4.
    typealias Access = UInt8

    var defaultAllow: Bool
    var exceptions: [Key: Access] = [:]

    /// What the target of a config starts from: deny everything (then the rules open it), as runc and
    /// the v2 device program do, whatever the group allowed before.
    static var denyAll: DeviceState { DeviceState(defaultAllow: false) }

    /// The state `rules` describe, applied in order to a deny-all group.
    static func target(_ rules: [Resources.DeviceRule]) throws(CgroupError) -> DeviceState {
        var state = DeviceState.denyAll
        for rule in rules { try state.apply(rule) }
        return state
    }

    /// devices.list shows `a *:* rwm` for an allow-all group and the allow exceptions otherwise.
    init(list: String) {
        self.init(defaultAllow: false)
        for line in list.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count == 3, let type = f[0].utf8.first else { continue }
            if type == UInt8(ascii: "a") { self = DeviceState(defaultAllow: true); continue }
            let numbers = f[1].split(separator: ":", omittingEmptySubsequences: false)
            guard numbers.count == 2 else { continue }
            let key = Key(type: type, major: numbers[0] == "*" ? -1 : Int64(numbers[0]) ?? -1,
                          minor: numbers[1] == "*" ? -1 : Int64(numbers[1]) ?? -1)
            exceptions[key, default: 0] |= Self.access(String(f[2]))
        }
    }

    init(defaultAllow: Bool) { self.defaultAllow = defaultAllow }

    static func access(_ text: String) -> Access {
        var bits: Access = 0
        for c in text.utf8 {
            switch c {
            case UInt8(ascii: "r"): bits |= 1
            case UInt8(ascii: "w"): bits |= 2
            case UInt8(ascii: "m"): bits |= 4
            default: break
            }
        }
        return bits
    }

    static func accessText(_ bits: Access) -> String {
        (bits & 1 != 0 ? "r" : "") + (bits & 2 != 0 ? "w" : "") + (bits & 4 != 0 ? "m" : "")
    }

    /// Applies one rule the way the kernel applies a write to devices.allow (allow) or devices.deny.
    /// Type `a` (or none) resets the whole group whatever the numbers say: that is how the kernel
    /// reads any line starting with `a`.
    mutating func apply(_ rule: Resources.DeviceRule) throws(CgroupError) {
        let type = rule.type ?? "a"
        guard type != "a", let t = type.utf8.first else {
            self = DeviceState(defaultAllow: rule.allow)
            return
        }
        let key = Key(type: t, major: rule.major ?? -1, minor: rule.minor ?? -1)
        let bits = rule.access.map { $0.isEmpty ? 7 : Self.access($0) } ?? 7
        // allow on a deny-all group and deny on an allow-all group add an exception; the others remove one.
        if rule.allow != defaultAllow {
            exceptions[key, default: 0] |= bits
            return
        }
        // The kernel removes access only from the exception with exactly these numbers: a narrower rule
        // under a wildcard exception would be silently ignored, so it is refused (as runc does).
        for wider in [Key(type: t, major: -1, minor: key.minor), Key(type: t, major: key.major, minor: -1),
                      Key(type: t, major: -1, minor: -1)] where wider != key {
            if let held = exceptions[wider], held & bits != 0 {
                throw CgroupError("set device rules", path: "devices",
                                  reason: "the rule \(Cgroups.deviceRuleLine(rule)) cannot narrow the wider rule "
                                      + "\(Self.line(wider, held)) on cgroup v1 (the kernel would ignore it)")
            }
        }
        let left = (exceptions[key] ?? 0) & ~bits
        exceptions[key] = left == 0 ? nil : left
    }

    static func line(_ key: Key, _ bits: Access) -> String {
        let major = key.major < 0 ? "*" : String(key.major)
        let minor = key.minor < 0 ? "*" : String(key.minor)
        return "\(Character(Unicode.Scalar(key.type))) \(major):\(minor) \(accessText(bits))"
    }

    /// The writes (`allow`: to devices.allow, else devices.deny) that take a group from this state to
    /// `target`, with the least disruption: exceptions that stay are not touched.
    func transition(to target: DeviceState) -> [(allow: Bool, line: String)] {
        var out: [(allow: Bool, line: String)] = []
        var old = exceptions
        if defaultAllow || defaultAllow != target.defaultAllow {
            out.append((target.defaultAllow, "a *:* rwm"))
            old = [:]
        }
        for key in old.keys.sorted() {
            let dropped = old[key]! & ~(target.exceptions[key] ?? 0)
            if dropped != 0 { out.append((target.defaultAllow, Self.line(key, dropped))) }
        }
        for key in target.exceptions.keys.sorted() {
            let gained = target.exceptions[key]! & ~(old[key] ?? 0)
            if gained != 0 { out.append((!target.defaultAllow, Self.line(key, gained))) }
        }
        return out
    }
}

extension CgroupV1Manager {
    /// Brings the devices cgroup to exactly `target`, writing only the difference from what it holds
    /// now, then checks the kernel agrees.
    func applyDevices(_ target: DeviceState) throws(CgroupError) {
        let dir = try require("devices", for: "device rules")
        let current = DeviceState(list: try CgroupFile.read(dir, "devices.list"))
        for write in current.transition(to: target) {
            try CgroupFile.write(dir, write.allow ? "devices.allow" : "devices.deny", write.line)
        }
        let after = DeviceState(list: try CgroupFile.read(dir, "devices.list"))
        // An allow-all group lists only `a *:* rwm`, so only its mode can be compared.
        if target.defaultAllow ? !after.defaultAllow : after != target {
            throw CgroupError("set device rules", path: CgroupFile.path(dir, "devices.list"),
                              reason: "the kernel's device list does not match the rules after writing them")
        }
    }
}
