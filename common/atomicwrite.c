/* SPDX-License-Identifier: Apache-2.0 */
#include "atomicwrite.h"
#include "ownership.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* Tries of a fresh temp name before giving up (each collides with odds of
 * 2^-64 unless someone plants every name). */
#define TEMP_NAME_TRIES 16

/* The directory part of path ("." for a bare name) and where the name
 * starts; false for a path that names no file ("", "dir/"). */
static bool
split_path(const char *path, char *dir, size_t size, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (**base == '\0')
        return false;
    int n = slash == NULL ? snprintf(dir, size, ".")
            : slash == path
                ? snprintf(dir, size, "/")
                : snprintf(dir, size, "%.*s", (int)(slash - path), path);
    return n > 0 && (size_t)n < size;
}

/* /dev, /proc and /sys hold devices and the kernel's views, whose names
 * (/dev/stdout, /proc/self/fd/1) a rename would replace for everyone. */
static bool
system_directory(const char *dir)
{
    static const char *const roots[] = {"/dev", "/proc", "/sys"};
    char real[PATH_MAX];
    if (realpath(dir, real) == NULL)
        return false;
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        size_t n = strlen(roots[i]);
        if (strncmp(real, roots[i], n) == 0 &&
            (real[n] == '\0' || real[n] == '/'))
            return true;
    }
    return false;
}

static int
open_directory(const char *path, const char *dir, struct tessera_status *st)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat sb;
    uid_t trusted[] = {geteuid(), 0};
    struct tessera_status why = {0};
    if (fd < 0) {
        tessera_status_set(st, TESSERA_ERR_INVALID, "cannot write %s: %s: %s",
                           path, dir, strerror(errno));
        return -1;
    }
    if (fstat(fd, &sb) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        tessera_status_set(st, TESSERA_ERR_INTERNAL, "cannot write %s: %s",
                           path, strerror(errno));
        return -1;
    }
    if (!tessera_directory_trusted(&sb, dir, trusted, 2, &why)) {
        close(fd);
        errno = EPERM;
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "refusing to write %s: %s, so another user could "
                           "replace what is written there",
                           path, why.message);
        return -1;
    }
    return fd;
}

/* A new file of a random name beside base, created by this call and no
 * other: never an existing file, never through a symlink. */
static int
create_temp(int dirfd, const char *base, char *name, size_t size)
{
    for (int i = 0; i < TEMP_NAME_TRIES; i++) {
        uint64_t nonce;
        if (getrandom(&nonce, sizeof(nonce), 0) != sizeof(nonce))
            return -1;
        snprintf(name, size, ".%.200s.%016llx.tmp", base,
                 (unsigned long long)nonce);
        int fd =
            openat(dirfd, name,
                   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

static bool
write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

bool
tessera_write_file_atomic(const char *path, const void *data, size_t len,
                          mode_t mode, struct tessera_status *st)
{
    char dir[PATH_MAX], temp[NAME_MAX + 1];
    const char *base;
    if (!split_path(path, dir, sizeof(dir), &base)) {
        errno = EINVAL;
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "cannot write %s: it names no file", path);
        return false;
    }
    if (system_directory(dir)) {
        errno = EPERM;
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "refusing to replace %s: %s holds devices and "
                           "the kernel's files, not files to write",
                           path, dir);
        return false;
    }
    int dirfd = open_directory(path, dir, st);
    if (dirfd < 0)
        return false;
    struct stat target;
    if (fstatat(dirfd, base, &target, AT_SYMLINK_NOFOLLOW) == 0 &&
        !S_ISREG(target.st_mode) && !S_ISLNK(target.st_mode)) {
        /* A rename would replace a device or a FIFO (/dev/null) with a
         * regular file. */
        close(dirfd);
        errno = EINVAL;
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "refusing to replace %s: it is not a regular file",
                           path);
        return false;
    }
    int fd = create_temp(dirfd, base, temp, sizeof(temp));
    bool ok = fd >= 0 && fchmod(fd, mode) == 0 && write_all(fd, data, len) &&
              fsync(fd) == 0;
    if (fd >= 0)
        ok = close(fd) == 0 && ok;
    ok = ok && renameat(dirfd, temp, dirfd, base) == 0;
    int err = errno;
    if (!ok && fd >= 0)
        unlinkat(dirfd, temp, 0);
    /* Only now is the rename itself durable. */
    if (ok && fsync(dirfd) != 0) {
        ok = false;
        err = errno;
    }
    close(dirfd);
    errno = err;
    if (!ok)
        tessera_status_set(st, TESSERA_ERR_INTERNAL, "cannot write %s: %s",
                           path, strerror(err));
    return ok;
}
