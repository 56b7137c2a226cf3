/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who owns a directory, and whether only someone Tessera trusts can change
 * what is in it: the check a client makes of the agent's socket directory
 * and the atomic write makes of its target's. libc only.
 */
#ifndef TESSERA_OWNERSHIP_H
#define TESSERA_OWNERSHIP_H

#include "errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* "1001 (mallory)", or "1001" when the user database has no name for it. */
void tessera_describe_uid(uid_t uid, char *buf, size_t size);

bool tessera_uid_in(uid_t uid, const uid_t *uids, size_t n_uids);

/*
 * Whether the directory dir (sb: its stat) can be changed only by one of
 * uids: owned by one of them and writable by neither its group nor others.
 * If not, st says why as a clause naming the directory and its owner ("the
 * directory /x belongs to uid 1001 (mallory)"), for the caller's sentence.
 */
bool tessera_directory_trusted(const struct stat *sb, const char *dir,
                               const uid_t *uids, size_t n_uids,
                               struct tessera_status *st);

#endif
