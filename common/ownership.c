/* SPDX-License-Identifier: Apache-2.0 */
#include "ownership.h"

#include <pwd.h>
#include <stdio.h>
#include <unistd.h>

void
tessera_describe_uid(uid_t uid, char *buf, size_t size)
{
    struct passwd pw, *found = NULL;
    char scratch[1024];
    if (getpwuid_r(uid, &pw, scratch, sizeof(scratch), &found) == 0 &&
        found != NULL)
        snprintf(buf, size, "%u (%s)", (unsigned)uid, found->pw_name);
    else
        snprintf(buf, size, "%u", (unsigned)uid);
}

bool
tessera_uid_in(uid_t uid, const uid_t *uids, size_t n_uids)
{
    for (size_t i = 0; i < n_uids; i++) {
        if (uids[i] == uid)
            return true;
    }
    return false;
}

bool
tessera_directory_trusted(const struct stat *sb, const char *dir,
                          const uid_t *uids, size_t n_uids,
                          struct tessera_status *st)
{
    char owner[128];
    if (!S_ISDIR(sb->st_mode)) {
        tessera_status_set(st, TESSERA_ERR_INVALID, "%s is not a directory",
                           dir);
        return false;
    }
    if (!tessera_uid_in(sb->st_uid, uids, n_uids)) {
        tessera_describe_uid(sb->st_uid, owner, sizeof(owner));
        tessera_status_set(st, TESSERA_ERR_UNTRUSTED,
                           "the directory %s belongs to uid %s", dir, owner);
        return false;
    }
    if (sb->st_mode & (S_IWGRP | S_IWOTH)) {
        tessera_status_set(st, TESSERA_ERR_UNTRUSTED,
                           "the directory %s is writable by %s (mode %04o)",
                           dir,
                           (sb->st_mode & S_IWOTH) ? "others" : "its group",
                           (unsigned)(sb->st_mode & 07777));
        return false;
    }
    return true;
}
