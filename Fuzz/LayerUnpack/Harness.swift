// Fuzzes layer unpacking: each input is a layer tar, unpacked by LayerUnpacker into a fresh directory in
// overlay mode (whiteouts as overlayfs markers), then applied again onto the result in apply mode (whiteouts
// delete, entries replace what a lower layer left), as the copying fallback stacks layers.
//
// Asserts the unpacker's safety property, not only "no crash": nothing appears, changes or gets linked outside
// the destination. The scratch directory holds only the destination `root`, the layer file, and a bait
// directory `outside` with one file `bait`; afterwards `outside` must hold exactly `bait`, with its contents and
// a link count of 1 (a hard link from inside the layer would raise it), and `root` must still be a real
// directory. The seeds aim symlinks and hard links at `outside` by relative and absolute paths.
// scripts/fuzz.sh runs this harness in a mount namespace where everything else is read-only.
import Glibc
import Linux
import OCISpec
@testable import Images

let scratch: String = {
    let path = getenv("BERTH_FUZZ_SCRATCH").map { String(cString: $0) } ?? "/tmp/berth-fuzz-layer"
    mkdir(path, 0o755)
    return path
}()
let baitContents: [UInt8] = Array("bait\n".utf8)

func reset() {
    for name in ["root", "outside"] { try? Files.removeTree(scratch + "/" + name) }
    mkdir(scratch + "/root", 0o755)
    mkdir(scratch + "/outside", 0o755)
    let fd = open(scratch + "/outside/bait", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    fuzzCheck(fd >= 0, "cannot write the bait file")
    _ = baitContents.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

func checkNothingEscaped(_ step: String) {
    let names = Set((try? Files.listDirectory(scratch)) ?? [])
    fuzzCheck(names == ["root", "outside", "layer.tar"], "\(step): the scratch directory now holds \(names.sorted())")
    var st = stat()
    fuzzCheck(lstat(scratch + "/root", &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR, "\(step): root is no longer a directory")
    let outside = (try? Files.listDirectory(scratch + "/outside")) ?? []
    fuzzCheck(outside == ["bait"], "\(step): something was written outside the destination: \(outside)")
    fuzzCheck(lstat(scratch + "/outside/bait", &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && st.st_nlink == 1,
              "\(step): the bait file outside was replaced or hard-linked (links: \(st.st_nlink))")
    var buffer = [UInt8](repeating: 0, count: 64)
    let fd = open(scratch + "/outside/bait", O_RDONLY | O_CLOEXEC)
    let count = fd >= 0 ? read(fd, &buffer, buffer.count) : -1
    if fd >= 0 { close(fd) }
    fuzzCheck(count == baitContents.count && Array(buffer.prefix(count)) == baitContents,
              "\(step): the bait file outside was changed")
    fuzzCheck(lstat(scratch + "/layer.tar", &st) == 0 && st.st_nlink == 1, "\(step): the layer file was hard-linked")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    reset()
    let layer = scratch + "/layer.tar"
    let fd = open(layer, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    fuzzCheck(fd >= 0, "cannot write the layer file")
    fuzzCheck(write(fd, bytes, size) == size, "short write of the layer file")
    close(fd)
    for mode in [LayerUnpacker.Mode.overlay, .apply] {
        let unpacker = LayerUnpacker(destination: scratch + "/root", mode: mode)
        do {
            let result = try unpacker.unpack(blobPath: layer, compression: .none, blobDigest: nil, diffID: nil, name: "fuzz")
            fuzzCheck(result.uncompressedSize == Int64(size), "\(mode): hashed \(result.uncompressedSize) of \(size) bytes")
        } catch {
            fuzzCheck(!error.description.contains("\n"), "\(mode): an unpack error spans lines: \(error.description)")
        }
        checkNothingEscaped("\(mode)")
    }
    return 0
}
