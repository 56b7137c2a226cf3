/* SPDX-License-Identifier: Apache-2.0 */
#include "files.h"
#include "../common/atomicwrite.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

gboolean
agent_write_file_atomic(const char *path, const void *data, size_t len,
                        mode_t mode, GError **error)
{
    char *dir = g_path_get_dirname(path);
    struct tessera_status st = {0};
    gboolean ok = g_mkdir_with_parents(dir, 0700) == 0;
    if (!ok)
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "cannot write %s: %s", path, g_strerror(errno));
    else if (!(ok = tessera_write_file_atomic(path, data, len, mode, &st)))
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s",
                    st.message);
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
