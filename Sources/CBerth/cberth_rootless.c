// The rootless engine's namespaces (docs/rootless.md). An ordinary user's `berth` keeps one "pause process"
// that holds a user namespace (mapped by newuidmap/newgidmap) and a mount namespace, where the images'
// overlays and every container live; each `berth` command joins both before it does anything.
#define _GNU_SOURCE
#include "cberth.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

// C because it is a raw clone of the multi-threaded `berth`: the child makes only raw system calls
// (read, setsid, close_range, pause), which are safe in a copy of one thread of a threaded process.
pid_t berth_pause_process(int *release) {
    int gate[2];
    if (pipe2(gate, O_CLOEXEC) < 0) return -1;
    pid_t child = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD, NULL, NULL, NULL, NULL);
    if (child < 0) { int saved = errno; close(gate[0]); close(gate[1]); errno = saved; return -1; }
    if (child == 0) {
        char byte = 0;
        close(gate[1]);
        ssize_t got;
        while ((got = read(gate[0], &byte, 1)) < 0 && errno == EINTR) {}
        if (got != 1 || byte != 'g') _exit(1);   // the maps could not be written: nothing to hold
        // Its own session and no fds: no terminal's signals reach it, and no caller waits on a pipe it holds.
        setsid();
        syscall(SYS_prctl, PR_SET_NAME, (unsigned long)"berth-pause", 0UL, 0UL, 0UL);   // how ps shows it
        syscall(SYS_close_range, 0U, ~0U, 0U);
        for (;;) pause();
    }
    close(gate[0]);
    *release = gate[1];
    return child;
}

// Runs before main, while the process has one thread: setns(CLONE_NEWUSER) refuses a threaded caller, and
// Swift's runtime starts threads before any Swift code could do it. It acts only when the rootless `berth`
// re-executes itself with _BERTH_ROOTLESS_JOIN=PID (the pause process it checked); the variable is removed,
// so nothing started later (monitor, runtime, hooks) joins again.
__attribute__((constructor)) static void berth_rootless_join(void) {
    const char *value = getenv("_BERTH_ROOTLESS_JOIN");
    if (value == NULL) return;
    char *end = NULL;
    long pid = strtol(value, &end, 10);
    char cwd[PATH_MAX];
    int haveCwd = getcwd(cwd, sizeof(cwd)) != NULL;
    const char *failed = NULL;
    if (end == value || *end != 0 || pid <= 0) { errno = EINVAL; failed = "reading _BERTH_ROOTLESS_JOIN"; }
    const char *kinds[2] = {"user", "mnt"};
    int types[2] = {CLONE_NEWUSER, CLONE_NEWNS};
    // The user namespace first: joining the mount namespace needs CAP_SYS_ADMIN in its owner, which
    // the user has only inside it.
    for (int i = 0; i < 2 && failed == NULL; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%ld/ns/%s", pid, kinds[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) { failed = kinds[i]; break; }
        if (setns(fd, types[i]) < 0) failed = kinds[i];
        int saved = errno;
        close(fd);
        errno = saved;
    }
    if (failed != NULL) {
        fprintf(stderr, "berth: joining the rootless %s namespace of pause process %s: %s\n", failed, value, strerror(errno));
        _exit(125);
    }
    // The user's supplementary groups are not mapped (they show as 65534): drop them, as a new login would.
    syscall(SYS_setgroups, 0, NULL);
    // setns(CLONE_NEWNS) moved the cwd to the namespace's root; the same path names the same directory here.
    if (!haveCwd || chdir(cwd) < 0) { if (chdir("/") < 0) {} }
    unsetenv("_BERTH_ROOTLESS_JOIN");
}
