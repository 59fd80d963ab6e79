// libarchive (libarchive-dev): tar reading and writing, gzip/zstd/xz decompression, safe extraction to disk.
#include <archive.h>
#include <archive_entry.h>
// Extended attributes next to it: Glibc's module map lacks <sys/xattr.h>, and layers need the overlayfs markers.
#include <sys/xattr.h>
