#define _GNU_SOURCE
#include "cberth.h"
#include "cberth_seccomp.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <termios.h>
#include <net/if.h>
#include <unistd.h>

pid_t berth_clone(unsigned long flags) {
    return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

pid_t berth_clone3(uint64_t flags, int cgroup_fd) {
    struct {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
    } args;
    memset(&args, 0, sizeof(args));
    args.flags = flags;
    args.exit_signal = SIGCHLD;
    if (cgroup_fd >= 0) {
        args.flags |= 0x200000000ULL; /* CLONE_INTO_CGROUP */
        args.cgroup = (uint64_t)cgroup_fd;
    }
    return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

int berth_unshare(int flags) { return unshare(flags); }
int berth_setns(int fd, int nstype) { return setns(fd, nstype); }
int berth_pivot_root(const char *new_root, const char *put_old) {
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}
int berth_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
int berth_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}
int berth_close_range(unsigned int first, unsigned int last, unsigned int flags) {
    return (int)syscall(SYS_close_range, first, last, flags);
}

int berth_setresuid(uid_t r, uid_t e, uid_t s) { return (int)syscall(SYS_setresuid, r, e, s); }
int berth_setresgid(gid_t r, gid_t e, gid_t s) { return (int)syscall(SYS_setresgid, r, e, s); }
int berth_setgroups(size_t n, const gid_t *list) { return (int)syscall(SYS_setgroups, n, list); }

int berth_capget(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable) {
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &header, data) != 0) return -1;
    *effective = ((uint64_t)data[1].effective << 32) | data[0].effective;
    *permitted = ((uint64_t)data[1].permitted << 32) | data[0].permitted;
    *inheritable = ((uint64_t)data[1].inheritable << 32) | data[0].inheritable;
    return 0;
}

int berth_capset(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    data[0].effective = (uint32_t)effective; data[1].effective = (uint32_t)(effective >> 32);
    data[0].permitted = (uint32_t)permitted; data[1].permitted = (uint32_t)(permitted >> 32);
    data[0].inheritable = (uint32_t)inheritable; data[1].inheritable = (uint32_t)(inheritable >> 32);
    return (int)syscall(SYS_capset, &header, data);
}

int berth_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5) {
    return prctl(option, a2, a3, a4, a5);
}

int berth_openat2_in_root(int dirfd, const char *path, int flags, mode_t mode) {
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)flags | O_CLOEXEC;
    if (flags & O_CREAT) how.mode = mode;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int berth_ioctl_int(int fd, unsigned long request, int *arg) { return ioctl(fd, request, arg); }
int berth_set_winsize(int fd, unsigned short rows, unsigned short cols) {
    struct winsize ws = { rows, cols, 0, 0 };
    return ioctl(fd, TIOCSWINSZ, &ws);
}
int berth_set_ctty(int fd) { return ioctl(fd, TIOCSCTTY, 0); }
int berth_unlockpt(int fd) { int unlock = 0; return ioctl(fd, TIOCSPTLCK, &unlock); }
int berth_ptsname(int fd, char *buf, size_t len) { return ptsname_r(fd, buf, len); }
int berth_get_winsize(int fd, unsigned short *rows, unsigned short *cols) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return -1;
    *rows = ws.ws_row; *cols = ws.ws_col;
    return 0;
}

int berth_send_fd(int sock, int fd, const char *name) {
    return berth_send_with_fd(sock, name, strlen(name), fd);
}

int berth_recv_fd(int sock) {
    char cbuf[CMSG_SPACE(sizeof(int))];
    char name[4096];
    struct iovec iov = { name, sizeof(name) };
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov; msg.msg_iovlen = 1;
    msg.msg_control = cbuf; msg.msg_controllen = sizeof(cbuf);
    if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) < 0) return -1;
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS) { errno = EBADMSG; return -1; }
    int fd; memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
    return fd;
}

int berth_fcntl_setfd(int fd, int flags) { return fcntl(fd, F_SETFD, flags); }
int berth_fcntl_getfd(int fd) { return fcntl(fd, F_GETFD); }
int berth_fcntl_setfl(int fd, int flags) { return fcntl(fd, F_SETFL, flags); }
int berth_fcntl_getfl(int fd) { return fcntl(fd, F_GETFL); }

int berth_mknod(const char *path, mode_t mode, unsigned int major, unsigned int minor) {
    return mknod(path, mode, makedev(major, minor));
}
unsigned int berth_major(uint64_t dev) { return major(dev); }
unsigned int berth_minor(uint64_t dev) { return minor(dev); }

int berth_block_all_signals(void *old_set, size_t old_len) {
    if (old_len < sizeof(sigset_t)) { errno = EINVAL; return -1; }
    sigset_t all; sigfillset(&all);
    return sigprocmask(SIG_SETMASK, &all, (sigset_t *)old_set);
}
int berth_restore_signals(const void *old_set) {
    return sigprocmask(SIG_SETMASK, (const sigset_t *)old_set, NULL);
}
int berth_reset_signal_dispositions(void) {
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        signal(sig, SIG_DFL);
    }
    sigset_t none; sigemptyset(&none);
    return sigprocmask(SIG_SETMASK, &none, NULL);
}

int berth_signalfd(const void *set) {
    return signalfd(-1, (const sigset_t *)set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int berth_errno(void) { return errno; }
int berth_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }

int berth_join_session_keyring(const char *name) {
    return (int)syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, name, 0, 0, 0);
}

int berth_loopback_up(void) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof(request));
    strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    int result = ioctl(sock, SIOCGIFFLAGS, &request);
    if (result == 0 && !(request.ifr_flags & IFF_UP)) {
        request.ifr_flags |= IFF_UP;
        result = ioctl(sock, SIOCSIFFLAGS, &request);
    }
    int saved = errno;
    close(sock);
    errno = saved;
    return result;
}
