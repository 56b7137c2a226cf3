/* SPDX-License-Identifier: Apache-2.0 */
#include "pin.h"
#include "../common/pinfile.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

int
pin_prompt(const char *token, char *buf, size_t size)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "tessera: no terminal to ask for the PIN; use "
                        "--pin-file\n");
        return -1;
    }
    struct termios saved, quiet;
    bool restore = tcgetattr(fd, &saved) == 0;
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    if (restore)
        tcsetattr(fd, TCSANOW, &quiet);
    dprintf(fd, "PIN for token %s: ", token[0] ? token : "(the only one)");
    size_t len = 0;
    char ch;
    ssize_t n;
    while ((n = read(fd, &ch, 1)) == 1 && ch != '\n' && ch != '\r') {
        if (len + 1 < size)
            buf[len++] = ch;
    }
    buf[len] = '\0';
    ch = 0;
    if (restore)
        tcsetattr(fd, TCSANOW, &saved);
    dprintf(fd, "\n");
    close(fd);
    return n < 0 ? -1 : (int)len;
}

int
pin_from_option(const char *path, char *buf, size_t size)
{
    struct tessera_status st = {0};
    size_t len = 0;
    bool ok;
    if (strcmp(path, "-") != 0) {
        ok = tessera_read_pin_file(path, buf, size, &len, &st);
    } else if (isatty(STDIN_FILENO)) {
        tessera_status_set(&st, TESSERA_ERR_INVALID,
                           "--pin-file -: standard input is a terminal; "
                           "leave --pin-file out to be asked without echo");
        ok = false;
    } else {
        ok = tessera_read_pin_fd(STDIN_FILENO, "standard input", buf, size,
                                 &len, &st);
    }
    if (!ok)
        fprintf(stderr, "tessera: %s\n", st.message);
    return ok ? (int)len : -1;
}
