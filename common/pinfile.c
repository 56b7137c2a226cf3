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

const struct tessera_secret_kind tessera_secret_pin = {"pin-file", "PIN",
                                                       TESSERA_PIN_MAX};

static bool
read_secret_fd(int fd, const char *what, const struct tessera_secret_kind *kind,
               char *out, size_t size, size_t *len, struct tessera_status *st)
{
    /* The longest acceptable content, "\r\n" included, and one byte more
     * to tell that there is more. */
    char raw[TESSERA_SECRET_LINE_MAX + 3];
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
    if (got == sizeof(raw) || end > kind->max || end >= size)
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "%s is longer than a %s (at most %zu bytes)", what,
                           kind->noun, kind->max);
    else if (end == 0)
        tessera_status_set(st, TESSERA_ERR_INVALID, "%s holds no %s", what,
                           kind->noun);
    else if (memchr(raw, '\n', end) != NULL)
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "%s holds more than one line; a %s is one line",
                           what, kind->noun);
    else
        ok = true;
    if (ok) {
        memcpy(out, raw, end);
        out[end] = '\0';
        *len = end;
    }
out:
    explicit_bzero(raw, sizeof(raw));
    return ok;
}

bool
tessera_read_pin_fd(int fd, const char *what, char *pin, size_t size,
                    size_t *len, struct tessera_status *st)
{
    return read_secret_fd(fd, what, &tessera_secret_pin, pin, size, len, st);
}

/* Whose the file is and who else may read it, from the open file itself so
 * that nothing can be swapped in between the check and the read. */
static bool
secret_file_private(int fd, const char *path, const char *key,
                    struct tessera_status *st)
{
    struct stat sb;
    char owner[128];
    if (fstat(fd, &sb) != 0) {
        tessera_status_set(st, TESSERA_ERR_INVALID, "cannot read %s %s: %s",
                           key, path, strerror(errno));
        return false;
    }
    if (!S_ISREG(sb.st_mode)) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "%s %s is not a regular file", key, path);
        return false;
    }
    if (sb.st_uid != geteuid()) {
        tessera_describe_uid(sb.st_uid, owner, sizeof(owner));
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "%s %s belongs to uid %s, not to you", key, path,
                           owner);
        return false;
    }
    if (sb.st_mode & 0077) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "%s %s is readable by others (mode %04o); "
                           "chmod 600 it",
                           key, path, (unsigned)(sb.st_mode & 07777));
        return false;
    }
    if (sb.st_mode & 0100) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "%s %s has mode %04o; it must be 0600 or "
                           "stricter",
                           key, path, (unsigned)(sb.st_mode & 07777));
        return false;
    }
    return true;
}

bool
tessera_read_secret_file(const char *path,
                         const struct tessera_secret_kind *kind, char *out,
                         size_t size, size_t *len, struct tessera_status *st)
{
    char what[1024];
    *len = 0;
    /* O_NONBLOCK: a FIFO planted as the file must not hang the open. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        tessera_status_set(st, TESSERA_ERR_INVALID, "cannot open %s %s: %s",
                           kind->key, path, strerror(errno));
        return false;
    }
    snprintf(what, sizeof(what), "%s %s", kind->key, path);
    bool ok = secret_file_private(fd, path, kind->key, st) &&
              read_secret_fd(fd, what, kind, out, size, len, st);
    close(fd);
    return ok;
}

bool
tessera_read_pin_file(const char *path, char *pin, size_t size, size_t *len,
                      struct tessera_status *st)
{
    return tessera_read_secret_file(path, &tessera_secret_pin, pin, size, len,
                                    st);
}
