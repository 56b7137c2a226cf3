/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the agent keeps between runs, under its state directory
 * ($XDG_STATE_HOME/tessera, or --state-dir): the chains above token
 * certificates (chains/), enrolment records (enrolled/, record.c) and
 * renewal journals (renewals/, journal.c). This module alone knows that
 * layout; everything in it is written by the one atomic write
 * (common/atomicwrite.c) and the directory must be the agent's own.
 */
#ifndef TESSERA_AGENT_STATE_H
#define TESSERA_AGENT_STATE_H

#include "../common/errors.h"
#include "../common/messages.h"

#include <glib.h>

struct agent_state;

/*
 * The state directory, made (0700) if it is missing. Refused, with a
 * sentence saying why, when it is not a directory that belongs to this
 * user, or when others may write to it: whoever can write there could
 * plant the chains the agent serves and the journals it acts on.
 */
struct agent_state *state_open(const char *dir, struct tessera_status *st);
void state_close(struct agent_state *state);
const char *state_dir(const struct agent_state *state);

/* The chain above the certificate of key_id on the token with serial:
 * certs [1, n) kept as PEM (certs[0] is the leaf, kept on the token). */
int state_chain_save(const struct agent_state *state, const char *serial,
                     GBytes *key_id, const struct tessera_blob *certs, size_t n,
                     struct tessera_status *st);
/* Appended to certs (DER GBytes) up to TESSERA_CHAIN_MAX; nothing when
 * there is none, a warning when it cannot be read. */
void state_chain_load(const struct agent_state *state, const char *serial,
                      GBytes *key_id, GPtrArray *certs);
void state_chain_remove(const struct agent_state *state, const char *serial,
                        GBytes *key_id);

/* enrolled/NAME.conf */
char *state_record_path(const struct agent_state *state, const char *name);
/* exported/NAME.conf */
char *state_exports_path(const struct agent_state *state, const char *name);
/* renewals/ */
char *state_journal_dir(const struct agent_state *state);

#endif
