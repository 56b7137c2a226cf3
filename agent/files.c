/* SPDX-License-Identifier: Apache-2.0 */
#include "files.h"
#include "../common/atomicwrite.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

int
agent_write_file_atomic(const char *path, const void *data, size_t len,
                        mode_t mode, struct tessera_status *st)
{
    char *dir = g_path_get_dirname(path);
    gboolean ok = g_mkdir_with_parents(dir, 0700) == 0;
    if (!ok)
        tessera_status_set(st, TESSERA_ERR_INTERNAL, "cannot write %s: %s",
                           path, g_strerror(errno));
    else
        ok = tessera_write_file_atomic(path, data, len, mode, st);
    g_free(dir);
    return ok ? 0 : -1;
}

int
agent_write_key_file(const char *path, GKeyFile *kf, struct tessera_status *st)
{
    gsize len;
    char *data = g_key_file_to_data(kf, &len, NULL);
    int rc = agent_write_file_atomic(path, data, len, 0600, st);
    g_free(data);
    return rc;
}

int
agent_remove_file(const char *path, struct tessera_status *st)
{
    if (unlink(path) == 0 || errno == ENOENT)
        return 0;
    tessera_status_set(st, TESSERA_ERR_INTERNAL, "cannot remove %s: %s", path,
                       g_strerror(errno));
    return -1;
}

gboolean
agent_path_private(const char *path, gboolean directory,
                   struct tessera_status *st)
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
        tessera_status_set(st, TESSERA_ERR_UNTRUSTED, "%s: %s", path, problem);
    return problem == NULL;
}
