// Loading a precompiled seccomp program, and the SCM_RIGHTS message that carries a notify fd.
// C because seccomp(2) has no glibc wrapper (and Swift cannot call the variadic syscall(2)), the
// cmsg macros are not importable, and struct seccomp_notif's ioctls are variadic.
#ifndef CBERTH_SECCOMP_H
#define CBERTH_SECCOMP_H
#include <stdint.h>
#include <sys/types.h>

// seccomp(SECCOMP_SET_MODE_FILTER, flags, {count, program}): `program` is `count` raw struct
// sock_filter (8 bytes each). Returns the listener fd with SECCOMP_FILTER_FLAG_NEW_LISTENER, else 0; -1/errno.
int berth_seccomp_set_filter(unsigned int flags, unsigned short count, const void *program);
// Whether the kernel knows a SECCOMP_FILTER_FLAG_*: probed with a NULL program, which fails with
// EFAULT for a known flag and EINVAL for an unknown one (how runc and crun probe too).
int berth_seccomp_flag_supported(unsigned int flag);

// sendmsg of `data` (len bytes) with one fd as SCM_RIGHTS; 0 or -1/errno.
int berth_send_with_fd(int sock, const void *data, size_t len, int fd);
// recvmsg into buf; *fd gets a received fd (close-on-exec) or -1. Returns the byte count, -1/errno.
ssize_t berth_recv_with_fd(int sock, void *buf, size_t len, int *fd);

// For a seccomp agent (the tests' own): receives one notification on a listener fd and answers
// it with -error (0 lets the syscall continue). Returns the syscall number answered, or -1/errno.
int berth_seccomp_notify_answer(int listener, int error);
#endif
