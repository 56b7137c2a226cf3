/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The renewals of every identity: their policy, what `tessera list` and
 * D-Bus show (state, next time, last error), the backoff after failures,
 * and the once-a-second look that recovers journals and starts the
 * renewals that are due, on the CA pool.
 */
#ifndef TESSERA_AGENT_RENEWALS_H
#define TESSERA_AGENT_RENEWALS_H

#include "../common/messages.h"
#include "../common/transport.h"
#include "schedule.h"

struct agent;
struct agent_identity;

void agent_renewals_init(struct agent *agent);
void agent_renewals_finish(struct agent *agent);
/* Once a second, off the main loop: recovery of interrupted renewals and
 * enrolments, the end of grace periods, and the renewals that are due. */
void agent_renewal_tick(struct agent *agent);
/* [identity NAME], else the [ca CA] it was enrolled with, else defaults. */
struct renewal_policy agent_renewal_policy(struct agent *agent,
                                           const char *name, const char *ca);
/* How an attempt ended: st NULL when it succeeded. */
void agent_renewal_outcome(struct agent *agent, const char *name,
                           const struct renewal_policy *policy,
                           const struct tessera_status *st);
/* NAME's enrolment record was written or removed: work its schedule out
 * again. */
void agent_renewal_reschedule(struct agent *agent, const char *name);
/* Fills the summary's renewal fields. */
void agent_renewal_describe(struct agent *agent,
                            const struct agent_identity *id,
                            struct tessera_identity_summary *s);

#endif
