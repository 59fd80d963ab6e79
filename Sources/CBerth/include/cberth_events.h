// cberth_events: eventfd(2), which Swift's Glibc module does not import (sys/eventfd.h is not in
// its module map). Used for cgroup v1 OOM notification (cgroup.event_control).
#ifndef CBERTH_EVENTS_H
#define CBERTH_EVENTS_H

// eventfd(initval, EFD_CLOEXEC | EFD_NONBLOCK). Returns the fd or -1 with errno.
int berth_eventfd_nonblocking(unsigned int initval);
#endif
