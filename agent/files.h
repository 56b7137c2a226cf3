/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Files the agent keeps: written so that a crash leaves the old content or
 * the new, and read back only when nobody else could have written them.
 */
#ifndef TESSERA_AGENT_FILES_H
#define TESSERA_AGENT_FILES_H

#include "../common/errors.h"

#include <glib.h>
#include <sys/types.h>

/* tessera_write_file_atomic (common/atomicwrite.h), after making the
 * missing parent directories (0700). */
int agent_write_file_atomic(const char *path, const void *data, size_t len,
                            mode_t mode, struct tessera_status *st);

/* A GKeyFile's text, written as above, mode 0600 (the agent's state). */
int agent_write_key_file(const char *path, GKeyFile *kf,
                         struct tessera_status *st);
/* Removes path; a path that is not there is not an error. */
int agent_remove_file(const char *path, struct tessera_status *st);

/*
 * Whether path (not followed if a symbolic link) is a directory (directory
 * TRUE) or a regular file owned by this process's user that nobody else
 * may write. FALSE with st saying why.
 */
gboolean agent_path_private(const char *path, gboolean directory,
                            struct tessera_status *st);

#endif
