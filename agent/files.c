/* SPDX-License-Identifier: Apache-2.0 */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* The rename itself survives a crash only once its directory is synced. */
static gboolean
sync_directory(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    gboolean ok = fd >= 0 && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

gboolean
agent_write_file_atomic(const char *path, const void *data, size_t len,
                        mode_t mode, GError **error)
{
    char *dir = g_path_get_dirname(path);
    /* A name of its own: two writers of one path never share a file. */
    char *tmp = g_strdup_printf("%s.tessera-tmp-XXXXXX", path);
    gboolean ok = g_mkdir_with_parents(dir, 0700) == 0;
    int fd = ok ? g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600) : -1;
    ok = fd >= 0 && fchmod(fd, mode) == 0 &&
         write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
    if (fd >= 0)
        ok = close(fd) == 0 && ok;
    ok = ok && rename(tmp, path) == 0 && sync_directory(dir);
    if (!ok) {
        int saved = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
                    "cannot write %s: %s", path, g_strerror(saved));
        if (fd >= 0)
            unlink(tmp);
    }
    g_free(tmp);
    g_free(dir);
    return ok;
}

gboolean
agent_path_private(const char *path, gboolean directory, GError **error)
{
    GStatBuf sb;
    const char *problem = NULL;
    if (g_lstat(path, &sb) != 0)
        problem = g_strerror(errno);
    else if (directory ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode))
        problem = directory ? "not a directory" : "not a regular file";
    else if (sb.st_uid != geteuid())
        problem = "owned by another user";
    else if (sb.st_mode & (S_IWGRP | S_IWOTH))
        problem = "writable by others";
    if (problem != NULL)
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "%s: %s",
                    path, problem);
    return problem == NULL;
}
