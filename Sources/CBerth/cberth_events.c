// See cberth_events.h for why this is C.
#define _GNU_SOURCE
#include "cberth_events.h"
#include <sys/eventfd.h>

int berth_eventfd_nonblocking(unsigned int initval) {
    return eventfd(initval, EFD_CLOEXEC | EFD_NONBLOCK);
}
