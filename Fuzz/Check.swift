// Shared by every harness (scripts/fuzz.sh compiles it into each): a failed property is a crash libFuzzer
// keeps as a reproducer, with the reason on stderr.
#if canImport(Glibc)
import Glibc
#endif

func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String) {
    guard !condition else { return }
    let line = "FUZZ CHECK FAILED: \(message())\n"
    _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    abort()
}
