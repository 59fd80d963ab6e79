// See cberth_tty.h for why this is C.
#include "cberth_tty.h"
#include <sys/ioctl.h>

int berth_tty_get_winsize(int fd, unsigned short *rows, unsigned short *cols) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return -1;
    *rows = ws.ws_row;
    *cols = ws.ws_col;
    return 0;
}
