import Glibc
import OCISpec

/// Picks the manifest for a platform out of an OCI index or Docker manifest list.
enum PlatformSelection {
    /// The platform this process runs on, in OCI/Go terms (`linux/amd64`, `linux/arm64/v8`…).
    static var host: Platform {
        var names = utsname()
        uname(&names)
        let machine = withUnsafePointer(to: &names.machine) {
            $0.withMemoryRebound(to: CChar.self, capacity: 65) { String(cString: $0) }
        }
        switch machine {
        case "x86_64": return Platform(architecture: "amd64", os: "linux")
        case "aarch64": return Platform(architecture: "arm64", os: "linux", variant: "v8")
        case "armv7l": return Platform(architecture: "arm", os: "linux", variant: "v7")
        case "i686", "i386": return Platform(architecture: "386", os: "linux")
        default: return Platform(architecture: machine, os: "linux")
        }
    }

    static func choose(from manifests: [Descriptor], platform: Platform?, subject: String) throws(ImageError) -> Descriptor {
        let wanted = platform ?? host
        let candidates = manifests.filter { descriptor in
            guard let p = descriptor.platform else { return false }
            guard p.os == wanted.os && p.architecture == wanted.architecture else { return false }
            if let variant = wanted.variant, let other = p.variant { return variant == other }
            return true
        }
        // An exact variant match first; then the first of the architecture.
        if let exact = candidates.first(where: { $0.platform?.variant == wanted.variant }) { return exact }
        if let first = candidates.first { return first }
        if platform == nil, manifests.count == 1, manifests[0].platform == nil { return manifests[0] }
        let available = manifests.compactMap { $0.platform?.description }.joined(separator: ", ")
        throw ImageError("select platform", subject, "no manifest for \(wanted.description) (available: \(available.isEmpty ? "none" : available))")
    }
}
