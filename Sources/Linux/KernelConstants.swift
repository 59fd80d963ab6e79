/// Kernel constants that Glibc's Swift module does not export (they live behind _GNU_SOURCE or in
/// linux/ headers). Values from include/uapi/linux/prctl.h and statvfs.h.
let PR_SET_PDEATHSIG: Int32 = 1
let PR_SET_DUMPABLE: Int32 = 4
let PR_SET_KEEPCAPS: Int32 = 8
let PR_CAPBSET_DROP: Int32 = 24
let PR_SET_CHILD_SUBREAPER: Int32 = 36
let PR_SET_NO_NEW_PRIVS: Int32 = 38
let PR_CAP_AMBIENT: Int32 = 47
let PR_CAP_AMBIENT_RAISE: Int32 = 2
let ST_NODEV: Int = 4
let ST_NOEXEC: Int = 8
