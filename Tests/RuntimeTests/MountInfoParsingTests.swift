import Foundation
import Linux
import Testing

/// /proc/self/mountinfo as the runtime parses it (on bytes): optional fields, escaped spaces, every line.
@Suite struct MountInfoParsingTests {
    @Test func fieldsEscapesAndOptionalFields() {
        let text = """
            22 27 0:21 / /proc rw,relatime shared:13 master:2 - proc proc rw
            31 22 8:1 /a\\040b /mnt/with\\040space ro - ext4 /dev/vda rw,errors=remount-ro
            40 31 0:5 / /x rw - tmpfs tmpfs\\011tab rw,size=10k

            """
        let entries = MountInfoEntry.all(text)
        #expect(entries.count == 3)
        #expect(entries[0].mountID == 22 && entries[0].parentID == 27 && entries[0].root == "/" && entries[0].mountPoint == "/proc")
        #expect(entries[0].options == "rw,relatime" && entries[0].fsType == "proc" && entries[0].source == "proc" && entries[0].superOptions == "rw")
        #expect(entries[1].root == "/a b" && entries[1].mountPoint == "/mnt/with space" && entries[1].options == "ro")
        #expect(entries[1].fsType == "ext4" && entries[1].source == "/dev/vda" && entries[1].superOptions == "rw,errors=remount-ro")
        #expect(entries[2].source == "tmpfs\ttab")
        // This process's own table: one entry per line.
        let own = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        #expect(MountInfoEntry.all().count == own.split(separator: "\n").count)
    }
}
