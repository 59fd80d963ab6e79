// See cberth_events.h for why this is C.
#define _GNU_SOURCE
#include "cberth_events.h"
#include <sys/eventfd.h>

int berth_eventfd_nonblocking(unsigned int initval) {
    return eventfd(initval, EFD_CLOEXEC | EFD_NONBLOCK);
}

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <errno.h>

int berth_signalfd_block(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int berth_signalfd_next(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n == (ssize_t)sizeof info) return (int)info.ssi_signo;
    if (n < 0 && errno == EAGAIN) return 0;
    return -1;
}
