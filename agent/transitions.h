/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The token side of a renewal or enrolment, one step each. Every step is
 * idempotent (run again after a crash, it ends in the same place), changes
 * only objects with the key ids it is given and, apart from the switch
 * itself, only those labelled NAME~next or NAME~old, and then reads those
 * keys again into the registry instead of rescanning every token.
 */
#ifndef TESSERA_AGENT_TRANSITIONS_H
#define TESSERA_AGENT_TRANSITIONS_H

#include "../common/transport.h"
#include "objects.h"

#include <glib.h>

struct agent;
struct agent_token;
struct tessera_keyspec;

/* A key pair NAME~next with next_id, made unless it is there. */
int transition_make_next(struct agent *agent, struct agent_token *token,
                         const char *name, const struct tessera_keyspec *spec,
                         enum objects_key_use use, GBytes *next_id,
                         struct tessera_status *st);

/*
 * The chain's leaf stored beside the key key_id, unless that certificate is
 * there already; the leaf must be for that key. same_key (rekey=false): the
 * key is NAME and its previous certificates go once the new one is stored;
 * otherwise the key is NAME~next.
 */
int transition_store(struct agent *agent, struct agent_token *token,
                     const char *name, GBytes *key_id, gboolean same_key,
                     GPtrArray *chain, struct tessera_status *st);

/* The switch, seen by the registry as one change: old_id's NAME objects
 * become NAME~old (no old_id: an enrolment), next_id's NAME~next become
 * NAME. The next key must have its certificate. */
int transition_switch(struct agent *agent, struct agent_token *token,
                      const char *name, GBytes *old_id, GBytes *next_id,
                      struct tessera_status *st);

/* An enrolment kept pending: next_id's NAME~next objects become NAME, a
 * key without a certificate, listed as such until the CA decides. */
int transition_name_pending(struct agent *agent, struct agent_token *token,
                            const char *name, GBytes *next_id,
                            struct tessera_status *st);

/* Roll back: next_id's NAME~next objects and kept chain destroyed. */
int transition_discard_next(struct agent *agent, struct agent_token *token,
                            const char *name, GBytes *next_id,
                            struct tessera_status *st);
/* Roll back a pending enrolment: next_id's NAME objects destroyed, unless
 * that key has a certificate (then it is an identity, and stays). */
int transition_discard_pending(struct agent *agent, struct agent_token *token,
                               const char *name, GBytes *next_id,
                               struct tessera_status *st);

/* End of grace: old_id's NAME~old objects and kept chain destroyed. */
int transition_retire_old(struct agent *agent, struct agent_token *token,
                          const char *name, GBytes *old_id,
                          struct tessera_status *st);

#endif
