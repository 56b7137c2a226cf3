/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where `tessera export` wrote an identity's files, so that the agent
 * rewrites them at every certificate change:
 * $XDG_STATE_HOME/tessera/exported/NAME.conf, one list of absolute paths
 * per content.
 */
#ifndef TESSERA_AGENT_EXPORTS_H
#define TESSERA_AGENT_EXPORTS_H

#include "../common/errors.h"

#include <glib.h>

struct agent_state;

enum export_content {
    EXPORT_LEAF,           /* the certificate alone (a chain file beside) */
    EXPORT_LEAF_AND_CHAIN, /* the certificate, then its CA certificates */
    EXPORT_CHAIN,          /* the CA certificates */
    EXPORT_KEY_REF,        /* a key-reference file (common/keyref.h) */
};
#define EXPORT_N_CONTENTS 4

struct export_file {
    char *path;
    enum export_content content;
};

/* The file names the content in the record ("leaf+chain"). */
const char *export_content_name(enum export_content content);

/* NAME's exported files (struct export_file *, owned), empty if none. An
 * unreadable record is said in the log and read as none. */
GPtrArray *exports_read(const struct agent_state *state, const char *name);
/* Adds files (struct export_file *) to NAME's record; a path already there
 * takes the new content. */
int exports_add(const struct agent_state *state, const char *name,
                GPtrArray *files, struct tessera_status *st);
/* Whether one of files (struct export_file *) is path. */
gboolean exports_listed(GPtrArray *files, const char *path);
/* Removes NAME's record (the files stay); none is not an error. */
int exports_remove(const struct agent_state *state, const char *name,
                   struct tessera_status *st);
struct export_file *export_file_new(const char *path,
                                    enum export_content content);
void export_file_free(struct export_file *file);

#endif
