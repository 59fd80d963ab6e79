// Fuzzes config.json decoding: SpecJSON.decode of a runtime-spec Spec.
//
// Asserts, beyond "no crash": a failure is always a SpecDecodingError (the path-naming error every caller
// prints), whose description is one line; a config that decodes re-encodes and decodes to the same value,
// so what `berth-runtime spec`/`state` write back is what was read.
import FoundationEssentials
import OCISpec

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let data = Data(bytes: bytes, count: size)
    let spec: Spec
    do {
        spec = try SpecJSON.decode(Spec.self, from: data, file: "config.json")
    } catch let error as SpecDecodingError {
        fuzzCheck(!error.description.contains("\n"), "a decoding error spans lines: \(error.description)")
        return 0
    } catch {
        fuzzCheck(false, "SpecJSON.decode threw something other than SpecDecodingError: \(error)")
        return 0
    }
    let again: Spec
    do {
        again = try SpecJSON.decode(Spec.self, from: try SpecJSON.encode(spec), file: "config.json")
    } catch {
        fuzzCheck(false, "a decoded config does not survive re-encoding: \(error)")
        return 0
    }
    fuzzCheck(again == spec, "a decoded config changes when re-encoded")
    return 0
}
