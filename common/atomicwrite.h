/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one way Tessera (agent and CLI) writes a file: whole or not at all,
 * durable once it returns, and never through a name another user could have
 * planted. libc only.
 */
#ifndef TESSERA_ATOMICWRITE_H
#define TESSERA_ATOMICWRITE_H

#include "errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Replaces path with data, mode `mode`: a temp file of a fresh random name
 * in path's directory, created O_EXCL|O_NOFOLLOW (a symlink planted there is
 * never followed), written, fsynced, renamed over path (a symlink at path is
 * replaced, not followed), and the directory fsynced so the rename survives
 * a power cut. The directory must exist and belong to this user or root and
 * be writable by neither group nor others (where others can write they can
 * swap the file between two steps), and must not be in /dev, /proc or
 * /sys (a rename there would replace /dev/stdout for everyone); otherwise
 * nothing is written. False
 * with st and errno set on failure; the temp file is then gone.
 */
bool tessera_write_file_atomic(const char *path, const void *data, size_t len,
                               mode_t mode, struct tessera_status *st);

#endif
