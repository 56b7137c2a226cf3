/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The registry: the tokens and the identities on them, as one immutable,
 * refcounted snapshot that a rescan replaces and never changes. Any thread
 * takes the current snapshot (one mutex acquire) and reads it as long as
 * it holds the reference; the signing path does exactly that. Opaque.
 *
 * One rescan at a time; a renewal's token steps hold the same lock
 * (agent_registry_change_begin) so that no snapshot shows a half-done
 * switch.
 */
#ifndef TESSERA_AGENT_REGISTRY_H
#define TESSERA_AGENT_REGISTRY_H

#include "../common/errors.h"
#include "identity.h"
#include "tokens.h"

#include <glib.h>

struct agent;
struct agent_registry;

void agent_registry_init(struct agent *agent);
/* From now on rescans do nothing (the agent is stopping). */
void agent_registry_stop(struct agent *agent);
void agent_registry_finish(struct agent *agent);

/* The current snapshot, referenced. */
struct agent_registry *agent_registry_get(struct agent *agent);
void agent_registry_unref(struct agent_registry *reg);
/* The identities `tessera list` shows, in discovery order (NAME~next,
 * NAME~old and ACME account keys are not among them: naming.h). */
guint agent_registry_n_identities(const struct agent_registry *reg);
struct agent_identity *agent_registry_identity(const struct agent_registry *reg,
                                               guint i);
guint agent_registry_n_tokens(const struct agent_registry *reg);
struct agent_token *agent_registry_token(const struct agent_registry *reg,
                                         guint i);
/* By name, unlisted keys included; borrowed from reg, or NULL. */
struct agent_identity *agent_registry_lookup(const struct agent_registry *reg,
                                             const char *name);
/* The one token that spec names (a label or a pkcs11: URI; "" when there
 * is one token); borrowed from reg, or NULL with st. */
struct agent_token *agent_registry_find_token(const struct agent_registry *reg,
                                              const char *spec,
                                              struct tessera_status *st);

/* The same in the current snapshot, with a reference the caller drops. */
struct agent_identity *agent_identity_find(struct agent *agent,
                                           const char *name);
struct agent_token *agent_token_find(struct agent *agent, const char *spec,
                                     struct tessera_status *st);
/* The DER of NAME's certificate, or NULL; or copied into out. */
GBytes *agent_leaf_of(struct agent *agent, const char *name);
void agent_leaf_copy(struct agent *agent, const char *name,
                     struct tessera_blob *out);

/*
 * Reads every token again: the known tokens keep their sessions and
 * login, tokens that appeared are added, a token that came back logs in
 * from its pin-file (pin-source=file). An absent token's identities stay
 * listed, so clients hear "not present" rather than "no such identity".
 */
void agent_rescan(struct agent *agent);
/* Logs in every token whose pin-source is its file; TRUE when any did. */
gboolean agent_registry_login_from_files(struct agent *agent);
/* A renewal step changes objects on a token between these; end publishes
 * a snapshot in which only the identities of key_ids (GBytes) were read
 * again (NULL: none). */
void agent_registry_change_begin(struct agent *agent);
void agent_registry_change_end(struct agent *agent, struct agent_token *token,
                               GPtrArray *key_ids);

#endif
