import OCISpec

/// The device cgroup rules a container gets: the config's own rules, then the devices every container
/// needs (as runc does). A node in `linux.devices` is made in /dev but gets no rule of its own: as
/// with runc, `linux.resources.devices` decides whether it may be used (dev.bats makes /dev/kmsg and
/// denies it).
enum DeviceRules {
    /// /dev/null, zero, full, random, urandom, tty: created in every container's /dev.
    static let defaultDevices: [Spec.Device] = [
        Spec.Device(type: "c", path: "/dev/null", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0),
        Spec.Device(type: "c", path: "/dev/zero", major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0),
        Spec.Device(type: "c", path: "/dev/full", major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0),
        Spec.Device(type: "c", path: "/dev/random", major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0),
        Spec.Device(type: "c", path: "/dev/urandom", major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0),
        Spec.Device(type: "c", path: "/dev/tty", major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0),
    ]

    static let alwaysAllowed: [Resources.DeviceRule] = [
        .init(allow: true, type: "c", major: nil, minor: nil, access: "m"),
        .init(allow: true, type: "b", major: nil, minor: nil, access: "m"),
        .init(allow: true, type: "c", major: 1, minor: 3, access: "rwm"),
        .init(allow: true, type: "c", major: 1, minor: 5, access: "rwm"),
        .init(allow: true, type: "c", major: 1, minor: 7, access: "rwm"),
        .init(allow: true, type: "c", major: 1, minor: 8, access: "rwm"),
        .init(allow: true, type: "c", major: 1, minor: 9, access: "rwm"),
        .init(allow: true, type: "c", major: 5, minor: 0, access: "rwm"),
        .init(allow: true, type: "c", major: 5, minor: 2, access: "rwm"),
        .init(allow: true, type: "c", major: 136, minor: nil, access: "rwm"),
        .init(allow: true, type: "c", major: 10, minor: 200, access: "rwm"),
    ]

    /// `linux.resources` with the device list completed. /dev/console (c 5:1) is not among them, as in
    /// runc 1.1: a container's console is a pty, whose own numbers (136:*) are allowed.
    static func effectiveResources(_ spec: Spec) -> Resources {
        var resources = spec.linux?.resources ?? Resources()
        let rules = resources.devices ?? []
        // Always, as runc: the rules are applied to a deny-all group (v1 and v2 alike), so a config
        // without rules still gets the devices every container needs, and no others.
        resources.devices = rules + alwaysAllowed
        return resources
    }
}
