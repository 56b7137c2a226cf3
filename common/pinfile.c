/* SPDX-License-Identifier: Apache-2.0 */
#include "pinfile.h"
#include "messages.h"
#include "ownership.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool
tessera_read_pin_fd(int fd, const char *what, char *pin, size_t size,
                    size_t *len, struct tessera_status *st)
{
    /* The longest acceptable content, "\r\n" included, and one byte more
     * to tell that there is more. */
    char raw[TESSERA_PIN_MAX + 3];
    size_t got = 0, end;
    bool ok = false;
    *len = 0;
    while (got < sizeof(raw)) {
        ssize_t n = read(fd, raw + got, sizeof(raw) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            tessera_status_set(st, TESSERA_ERR_INVALID, "cannot read %s: %s",
                               what, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    end = got;
    if (end > 0 && raw[end - 1] == '\n')
        end -= end > 1 && raw[end - 2] == '\r' ? 2 : 1;
    if (got == sizeof(raw) || end > TESSERA_PIN_MAX || end >= size)
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "%s is longer than a PIN (at most %u bytes)", what,
                           TESSERA_PIN_MAX);
    else if (end == 0)
        tessera_status_set(st, TESSERA_ERR_INVALID, "%s holds no PIN", what);
    else if (memchr(raw, '\n', end) != NULL)
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "%s holds more than one line; a PIN is one line",
                           what);
    else
        ok = true;
    if (ok) {
        memcpy(pin, raw, end);
        pin[end] = '\0';
        *len = end;
    }
out:
    explicit_bzero(raw, sizeof(raw));
    return ok;
}

/* Whose the file is and who else may read it, from the open file itself so
 * that nothing can be swapped in between the check and the read. */
static bool
pin_file_private(int fd, const char *path, struct tessera_status *st)
{
    struct stat sb;
    char owner[128];
    if (fstat(fd, &sb) != 0) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "cannot read pin-file %s: %s", path,
                           strerror(errno));
        return false;
    }
    if (!S_ISREG(sb.st_mode)) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "pin-file %s is not a regular file", path);
        return false;
    }
    if (sb.st_uid != geteuid()) {
        tessera_describe_uid(sb.st_uid, owner, sizeof(owner));
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "pin-file %s belongs to uid %s, not to you", path,
                           owner);
        return false;
    }
    if (sb.st_mode & 0077) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "pin-file %s is readable by others (mode %04o); "
                           "chmod 600 it",
                           path, (unsigned)(sb.st_mode & 07777));
        return false;
    }
    if (sb.st_mode & 0100) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "pin-file %s has mode %04o; it must be 0600 or "
                           "stricter",
                           path, (unsigned)(sb.st_mode & 07777));
        return false;
    }
    return true;
}

bool
tessera_read_pin_file(const char *path, char *pin, size_t size, size_t *len,
                      struct tessera_status *st)
{
    char what[1024];
    *len = 0;
    /* O_NONBLOCK: a FIFO planted as the file must not hang the open. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "cannot open pin-file %s: %s", path,
                           strerror(errno));
        return false;
    }
    snprintf(what, sizeof(what), "pin-file %s", path);
    bool ok = pin_file_private(fd, path, st) &&
              tessera_read_pin_fd(fd, what, pin, size, len, st);
    close(fd);
    return ok;
}
