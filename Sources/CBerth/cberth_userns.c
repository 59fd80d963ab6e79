#define _GNU_SOURCE
#include "cberth.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_map(pid_t pid, const char *file, const char *map) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t length = strlen(map);
    ssize_t written = write(fd, map, length);
    int saved = errno;
    close(fd);
    if (written != (ssize_t)length) { errno = written < 0 ? saved : EIO; return -1; }
    return 0;
}

// Starts `path` in a new user namespace with these mappings, as its uid/gid 0, with fds 0-2 from `fds`
// (-1 keeps the caller's). Returns the child's pid. Same constraint as below: the raw clone child of a
// multi-threaded parent calls only async-signal-safe functions (read, dup2, raw setres[ug]id, execve).
pid_t berth_spawn_in_userns(const char *path, char *const argv[], char *const envp[], const int fds[3],
                            const char *uid_map, const char *gid_map) {
    int gate[2];
    if (pipe2(gate, O_CLOEXEC) < 0) return -1;
    pid_t child = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
    if (child < 0) { int saved = errno; close(gate[0]); close(gate[1]); errno = saved; return -1; }
    if (child == 0) {
        char byte = 0;
        close(gate[1]);
        ssize_t got;
        while ((got = read(gate[0], &byte, 1)) < 0 && errno == EINTR) {}
        if (got != 1 || byte != 'g') _exit(125);   // the parent could not write the mappings
        for (int i = 0; i < 3; i++) {
            if (fds[i] >= 0 && fds[i] != i && dup2(fds[i], i) < 0) _exit(125);
            if (fds[i] == i) { int flags = fcntl(i, F_GETFD); if (flags >= 0) fcntl(i, F_SETFD, flags & ~FD_CLOEXEC); }
        }
        if (syscall(SYS_setresgid, 0, 0, 0) < 0 || syscall(SYS_setgroups, 0, NULL) < 0 || syscall(SYS_setresuid, 0, 0, 0) < 0) _exit(125);
        execve(path, argv, envp);
        _exit(127);
    }
    close(gate[0]);
    int saved = 0;
    char go = (write_map(child, "uid_map", uid_map) == 0 && write_map(child, "gid_map", gid_map) == 0) ? 'g' : 'x';
    if (go != 'g') saved = errno;
    ssize_t written;
    while ((written = write(gate[1], &go, 1)) < 0 && errno == EINTR) {}
    close(gate[1]);
    if (go != 'g') {
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
        errno = saved;
        return -1;
    }
    return child;
}

// A child in new namespaces (`flags`) that waits until `*release` is closed: a raw clone of a (possibly
// multi-threaded) process, so it does nothing but read the pipe and _exit, both async-signal-safe. It exists
// only so that its namespace can be set up and opened; the namespace outlives it through the fd.
static pid_t namespace_holder(int flags, int *release, int (*setup)(void)) {
    int gate[2];
    if (pipe2(gate, O_CLOEXEC) < 0) return -1;
    pid_t child = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
    if (child < 0) { int saved = errno; close(gate[0]); close(gate[1]); errno = saved; return -1; }
    if (child == 0) {
        char byte;
        close(gate[1]);
        int failed = setup != NULL && setup() < 0;
        while (read(gate[0], &byte, 1) < 0 && errno == EINTR) {}
        _exit(failed ? 1 : 0);
    }
    close(gate[0]);
    *release = gate[1];
    return child;
}

// Opens /proc/CHILD/ns/NAME, then lets the holder go and reaps it; errno is the open's. A holder whose setup
// failed exits 1: the namespace is then refused (EIO).
static int open_and_release(pid_t child, int release, const char *name, int ok) {
    int result = -1;
    if (ok) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)child, name);
        result = open(path, O_RDONLY | O_CLOEXEC);
    }
    int saved = errno;
    close(release);
    int status = 0;
    while (waitpid(child, &status, __WALL) < 0 && errno == EINTR) {}
    if (result >= 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        close(result);
        result = -1;
        saved = EIO;
    }
    errno = saved;
    return result;
}

int berth_userns_fd(const char *uid_map, const char *gid_map) {
    int release;
    pid_t child = namespace_holder(CLONE_NEWUSER, &release, NULL);
    if (child < 0) return -1;
    int mapped = write_map(child, "uid_map", uid_map) == 0 && write_map(child, "gid_map", gid_map) == 0;
    return open_and_release(child, release, "user", mapped);
}

// The engine bind-mounts a new network namespace to a file before the container exists, so that CNI can set
// it up and tear it down independently of the container's processes. Its `lo` is brought up by the holder
// (what CNI's loopback plugin would do, without a process of its own): two ioctls, async-signal-safe.
static int loopback_up(void) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof(request));
    strcpy(request.ifr_name, "lo");
    int result = ioctl(sock, SIOCGIFFLAGS, &request);
    if (result == 0) {
        request.ifr_flags |= IFF_UP;
        result = ioctl(sock, SIOCSIFFLAGS, &request);
    }
    close(sock);
    return result;
}

int berth_netns_fd(void) {
    int release;
    pid_t child = namespace_holder(CLONE_NEWNET, &release, loopback_up);
    if (child < 0) return -1;
    return open_and_release(child, release, "net", 1);
}
