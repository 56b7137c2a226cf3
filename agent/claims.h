/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One owner per identity. Whatever starts a renewal (tessera renew, D-Bus
 * Renew, the schedule, recovery), an enrolment or a Forget first claims the
 * identity's name here, under one lock; a second request for a claimed name
 * is refused at once (renewal-running), and recovery never touches the
 * journal of a claimed name. Stopping the agent cancels the CA waits of
 * the claims held and waits for them to end.
 */
#ifndef TESSERA_AGENT_CLAIMS_H
#define TESSERA_AGENT_CLAIMS_H

#include "../common/transport.h"
#include "events.h"

#include <gio/gio.h>

enum claim_kind {
    CLAIM_RENEWAL,
    CLAIM_ENROLMENT,
    CLAIM_RECOVERY, /* a journal left by an interrupted renewal */
    CLAIM_FORGET,
};

struct agent_claims;

/* A claim taken or released is a renewal's change (events; NULL: none
 * told). */
struct agent_claims *agent_claims_new(struct agent_events *events);
/* After agent_claims_wait. */
void agent_claims_free(struct agent_claims *claims);
/* FALSE, with st saying what holds it, when name is claimed or the agent
 * is stopping. */
gboolean agent_claim_take(struct agent_claims *claims, const char *name,
                          enum claim_kind kind, struct tessera_status *st);
void agent_claim_release(struct agent_claims *claims, const char *name);
/* Whether name is claimed, and by what kind of work. */
gboolean agent_claim_held(struct agent_claims *claims, const char *name,
                          enum claim_kind *kind);
/* Cancelled when the agent stops: CA waits end on it. */
GCancellable *agent_claims_cancellable(struct agent_claims *claims);
/* No new claims from now on; the CA waits of those held end. */
void agent_claims_stop(struct agent_claims *claims);
/* Until no claim is held. */
void agent_claims_wait(struct agent_claims *claims);

struct agent;
/* work(agent, name) on the CA pool; the caller's claim of name is handed
 * over and released after it. */
void agent_claimed_job(struct agent *agent, const char *name,
                       void (*work)(struct agent *agent, const char *name));

#endif
