// cberth_tty: the caller's terminal size, for the engine's attach (ioctl is variadic, which Swift cannot call).
#ifndef CBERTH_TTY_H
#define CBERTH_TTY_H
// TIOCGWINSZ on fd; returns 0 and fills rows/cols, or -1 with errno.
int berth_tty_get_winsize(int fd, unsigned short *rows, unsigned short *cols);
#endif
