// Fuzzes config validation: each input that decodes as a config.json is checked by SpecValidation (as
// `create` does before it makes anything), against a fixed bundle whose `rootfs` exists; the capability
// filter runs on its process too.
//
// Validation reads the host (does a namespace path exist, is this a cgroup v2 host) but changes nothing, so it
// is safe to run on arbitrary input. Asserts: no crash, and every refusal is one line, as the runtime prints it
// (`berth: <what failed>: <why>`), whatever strings the config carries.
import FoundationEssentials
import Glibc
import OCISpec
@testable import Runtime

let bundle: String = {
    let path = "/tmp/berth-fuzz-validation"
    mkdir(path, 0o755)
    mkdir(path + "/rootfs", 0o755)
    return path
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard var spec = try? SpecJSON.decode(Spec.self, from: Data(bytes: bytes, count: size), file: "config.json") else {
        return 0
    }
    if var process = spec.process {
        let unknown = SpecValidation.droppingUnknownCapabilities(&process)
        let warning = SpecValidation.unknownCapabilitiesWarning(unknown)
        fuzzCheck(!warning.contains("\n"), "the capability warning spans lines: \(warning)")
        spec.process = process
    }
    for requireProcess in [true, false] {
        do {
            let rootfs = try SpecValidation(spec: spec, bundle: bundle).validate(requireProcess: requireProcess)
            fuzzCheck(rootfs.hasPrefix("/"), "validation accepted a relative rootfs \(rootfs)")
        } catch {
            fuzzCheck(!error.description.contains("\n") && !error.description.contains("\r"),
                      "a validation error spans lines: \(error.description)")
        }
    }
    return 0
}
