/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's parts, one pointer each, owned by the module named beside
 * it; every module keeps its own state opaque and declares what it offers
 * in its own header (docs/architecture.md has the layers).
 *
 * Threads: the GLib main loop accepts connections and handles signals; each
 * connection has one thread that reads a request, does the work (a signature
 * included) and writes the reply, so a signature costs no thread hand-off.
 * Shared state is a refcounted, immutable registry snapshot swapped under a
 * mutex, and one session pool per token; no lock is held across C_Sign.
 *
 * Errors, at every module boundary: a function that can fail returns 0 or
 * -1 (or a pointer, NULL on failure) and fills a struct tessera_status, the
 * code and the sentence that reach the wire and D-Bus unchanged; a question
 * answered with a reason returns gboolean and fills the status when the
 * answer is no (agent_claim_take, agent_unlock_allowed); a lookup returns
 * NULL for "none", which is not an error. CK_RV stays inside the PKCS#11
 * layer (p11.c, modules.c, tokens.c, objects.c); a GError is turned into a
 * status in the function GLib handed it to; the CA protocols' outcome and
 * reason (enroll/enroll.h) become a status in enroll/certify.c.
 */
#ifndef TESSERA_AGENT_H
#define TESSERA_AGENT_H

#include "config.h"
#include "events.h"

#include <glib.h>

struct agent {
    GMutex config_lock;
    struct agent_config *config;      /* in force: agent_config_get */
    struct agent_state *state;        /* state.c: $XDG_STATE_HOME/tessera */
    struct agent_events *events;      /* events.c */
    struct agent_modules *modules;    /* modules.c */
    struct registry_keeper *registry; /* registry.c */
    struct agent_builtin *builtin;    /* builtin.c */
    struct agent_renewals *renewals;  /* renewals.c */
    struct agent_claims *claims;      /* claims.c: one owner per identity */
    GThreadPool *ca_pool;             /* tasks.c */
    /* tessera-agent --system: the machine's identities, for root and whom
     * [agent] allows; PINs from pin-files or empty, never asked for. */
    gboolean system;
    struct agent_session *session; /* session.c: where prompts go */
    struct agent_prompts *prompts; /* prompt.c: questions on screen */
    struct agent_policy *policy;   /* policy.c: confirmed programs */
    struct agent_uses *uses;       /* uses.c: the record of uses */
};

/* The configuration in force, referenced: it stays as it is for as long
 * as the caller holds it, whatever a reload does meanwhile. */
struct agent_config *agent_config_get(struct agent *agent);
/* cfg (the reference is taken) is in force from now on; tells
 * AGENT_EVENT_CONFIG_CHANGED. */
void agent_config_set(struct agent *agent, struct agent_config *cfg);
/* The renewal policy of NAME, enrolled with CA, in force now. */
struct renewal_policy agent_renewal_policy_of(struct agent *agent,
                                              const char *name, const char *ca);

#endif
