/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An identity: a key on a token (its private key once the token is logged
 * in, before that its public key object) with a non-empty CKA_ID, the
 * certificate of the same id if any, and the chain kept for it. Immutable
 * once made and refcounted, so that a registry snapshot can be read by
 * any thread; opaque: the rest of the agent asks it.
 */
#ifndef TESSERA_AGENT_IDENTITY_H
#define TESSERA_AGENT_IDENTITY_H

#include "../common/keyspec.h"
#include "../common/messages.h"
#include "tokens.h"

#include <glib.h>

struct agent_identity;
struct agent_state;

/*
 * The identities on token as the token has them now: all of them, or those
 * of key_ids (GBytes) only; each named from its label (naming.h), its
 * chain read from the state directory. NULL when the token cannot be
 * read.
 */
GPtrArray *agent_identities_read(struct agent_token *token, GPtrArray *key_ids,
                                 const struct agent_state *state);
struct agent_identity *agent_identity_ref(struct agent_identity *id);
void agent_identity_unref(struct agent_identity *id);
/* Before it is in a registry only: a second identity of the same name. */
void agent_identity_rename(struct agent_identity *id, const char *name);

const char *agent_identity_name(const struct agent_identity *id);
struct agent_token *agent_identity_token(const struct agent_identity *id);
GBytes *agent_identity_key_id(const struct agent_identity *id);
enum tessera_key_type agent_identity_key_type(const struct agent_identity *id);
unsigned agent_identity_key_bits(const struct agent_identity *id);
/* DER SubjectPublicKeyInfo. */
GBytes *agent_identity_spki(const struct agent_identity *id);
/* Whether hash (SHA-256 of the SPKI, as a SIGN carries) is this key's;
 * an empty hash matches any. */
gboolean agent_identity_holds_key(const struct agent_identity *id,
                                  const uint8_t *hash, size_t len);
/* GBytes DER, leaf first; empty without a certificate. */
GPtrArray *agent_identity_certs(const struct agent_identity *id);
/* The leaf's DER, or NULL. */
GBytes *agent_identity_leaf(const struct agent_identity *id);
/* RFC 2253; "" without a certificate. */
const char *agent_identity_subject(const struct agent_identity *id);
const char *agent_identity_issuer(const struct agent_identity *id);
/* Seconds since the epoch; 0 without a certificate. */
guint64 agent_identity_not_before(const struct agent_identity *id);
guint64 agent_identity_not_after(const struct agent_identity *id);
/* The key as the token layer signs with it (tokens.h). */
void agent_identity_signing_key(struct agent_identity *id,
                                struct token_key *out);

/* For the wire and D-Bus: what `tessera list` shows, and everything. */
void agent_identity_summary(const struct agent_identity *id,
                            struct tessera_identity_summary *out);
void agent_identity_export(const struct agent_identity *id,
                           struct tessera_identity *out);

#endif
