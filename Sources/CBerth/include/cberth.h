// CBerth: the few kernel entry points Swift's Glibc module does not expose.
// Each function is a thin wrapper; the reason it is C is written next to it.
#ifndef CBERTH_H
#define CBERTH_H
#include <sys/types.h>
#include <stdint.h>

// clone(2) with namespace flags, fork-style (the child continues on a copy of the caller's stack).
// Swift cannot call the variadic syscall(2), and glibc's clone() wrapper needs a separate stack and
// a function pointer. Only safe from a single-threaded caller, which berth-runtime is.
pid_t berth_clone(unsigned long flags);

// clone3(2), fork-style, with CLONE_INTO_CGROUP when cgroup_fd >= 0: the child is born in that
// cgroup2 cgroup, so no migration (and no RCU grace period) is needed. -1/ENOSYS on old kernels.
pid_t berth_clone3(uint64_t flags, int cgroup_fd);

// A user namespace with the given uid_map/gid_map contents ("inside outside count" lines), as an open
// fd of its nsfs file: what mount_setattr(MOUNT_ATTR_IDMAP) needs to make an idmapped mount. C because
// it must fork a child in a multi-threaded caller (see cberth_userns.c).
int berth_userns_fd(const char *uid_map, const char *gid_map);
// Runs a program as uid/gid 0 of a new user namespace with these mappings (fds: stdin/stdout/stderr, -1 to
// inherit): how the engine reads and writes a user-namespaced container's files with the ids it sees.
// A new network namespace, as an open fd of its nsfs file (see cberth_userns.c).
int berth_netns_fd(void);
pid_t berth_spawn_in_userns(const char *path, char *const argv[], char *const envp[], const int fds[3],
                            const char *uid_map, const char *gid_map);

// The rootless engine's pause process: a child in a new user and mount namespace that waits for 'g' on
// *release (written once newuidmap/newgidmap have mapped it; anything else makes it exit), then holds the
// namespaces until killed. See cberth_rootless.c.
pid_t berth_pause_process(int *release);

int berth_unshare(int flags);
int berth_setns(int fd, int nstype);
int berth_pivot_root(const char *new_root, const char *put_old);
int berth_pidfd_open(pid_t pid);
int berth_pidfd_send_signal(int pidfd, int sig);
int berth_close_range(unsigned int first, unsigned int last, unsigned int flags);

// setresuid/setresgid/setgroups as raw syscalls: glibc's versions broadcast to all threads (setxid
// signal) and can hang in a clone child; raw syscalls affect only the calling thread, which is all
// there is.
int berth_setresuid(uid_t r, uid_t e, uid_t s);
int berth_setresgid(gid_t r, gid_t e, gid_t s);
int berth_setgroups(size_t n, const gid_t *list);

// capget/capset (no glibc wrapper without libcap). Sets are 64-bit masks.
int berth_capget(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable);
int berth_capset(uint64_t effective, uint64_t permitted, uint64_t inheritable);

// prctl is variadic in glibc's header, which Swift cannot call.
int berth_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5);

// openat2(2) with RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS: resolves a path as if `dirfd` were "/",
// so a symlink in a container rootfs can never lead outside it. Returns -1/ENOSYS where unsupported.
int berth_openat2_in_root(int dirfd, const char *path, int flags, mode_t mode);

// ioctl is variadic.
int berth_ioctl_int(int fd, unsigned long request, int *arg);
int berth_set_winsize(int fd, unsigned short rows, unsigned short cols);
int berth_set_ctty(int fd);
int berth_unlockpt(int fd);
int berth_ptsname(int fd, char *buf, size_t len);
int berth_get_winsize(int fd, unsigned short *rows, unsigned short *cols);

// sendmsg/recvmsg with SCM_RIGHTS: the cmsg macros are not importable into Swift.
int berth_send_fd(int sock, int fd, const char *name);
int berth_recv_fd(int sock);

// fcntl is variadic.
int berth_fcntl_setfd(int fd, int flags);
int berth_fcntl_getfd(int fd);
int berth_fcntl_setfl(int fd, int flags);
int berth_fcntl_getfl(int fd);

// mknod's dev_t packing (makedev is a macro).
int berth_mknod(const char *path, mode_t mode, unsigned int major, unsigned int minor);
unsigned int berth_major(uint64_t dev);
unsigned int berth_minor(uint64_t dev);

// Signal helpers: sigset_t manipulation is macro-based in glibc.
int berth_block_all_signals(void *old_set, size_t old_len);
int berth_restore_signals(const void *old_set);
int berth_reset_signal_dispositions(void);
// signalfd(2) (close-on-exec, non-blocking) for `set`: <sys/signalfd.h> is not in Swift's Glibc module.
// It lets a single-threaded runtime wait for signals in the same poll(2) as its terminal fds.
int berth_signalfd(const void *set);

int berth_pipe2(int fds[2], int flags);

// keyctl(KEYCTL_JOIN_SESSION_KEYRING): no glibc wrapper (libkeyutils is not linked).
int berth_join_session_keyring(const char *name);
// Sets IFF_UP on the loopback interface of the calling process's network namespace (struct ifreq
// and SIOCSIFFLAGS are not importable cleanly). A new network namespace starts with lo down.
int berth_loopback_up(void);

// errno as a function (the Swift Glibc overlay exposes it, but CBerth callers want one place).
int berth_errno(void);
#endif
