// cberth_events: eventfd(2), which Swift's Glibc module does not import (sys/eventfd.h is not in
// its module map). Used for cgroup v1 OOM notification (cgroup.event_control).
#ifndef CBERTH_EVENTS_H
#define CBERTH_EVENTS_H

// eventfd(initval, EFD_CLOEXEC | EFD_NONBLOCK). Returns the fd or -1 with errno.
int berth_eventfd_nonblocking(unsigned int initval);

// signalfd(2) (sys/signalfd.h is not in Swift's Glibc module map either), with the signals blocked
// first, as signalfd requires. The monitor's poll loop waits on it next to its other fds: no signal
// handler runs, so nothing async-signal-unsafe can happen. Returns the fd or -1 with errno.
int berth_signalfd_block(const int *signals, int count);
// Reads one signalfd_siginfo; returns the signal number, 0 when none is pending, -1 on error.
int berth_signalfd_next(int fd);
#endif
