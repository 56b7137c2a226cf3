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

#include <glib.h>

struct agent;
struct agent_identity;

/*
 * Subscribes to the events it keeps track of: signatures that failed and
 * renewals that ended (the last error, the backoff) and enrolment records
 * written or removed (the schedule). Before any front end subscribes.
 */
void agent_renewals_init(struct agent *agent);
void agent_renewals_finish(struct agent *agent);
/* Once a second, off the main loop: recovery of interrupted renewals and
 * enrolments, the end of grace periods, and the renewals that are due. */
void agent_renewal_tick(struct agent *agent);
/* Fills the summary's renewal fields: state, next time, the last failed
 * attempt's reason. */
void agent_renewal_describe(struct agent *agent,
                            const struct agent_identity *id,
                            struct tessera_identity_summary *s);
/* What is kept in memory about NAME (failures, last error, pending) goes:
 * it was forgotten. */
void agent_renewal_forget(struct agent *agent, const char *name);
/* NAME is an enrolment the CA keeps pending, asked again at next_try
 * (0: no longer): what list and D-Bus show for its key. */
void agent_renewal_note_pending(struct agent *agent, const char *name,
                                gint64 next_try);
/*
 * Why the identity's certificate will not be replaced by itself, or NULL
 * when its renewal is scheduled and healthy: not enrolled, its CA profile
 * gone from agent.conf, failing attempt after attempt, or waiting for its
 * token or PIN. What expiry warnings are for.
 */
char *agent_renewal_at_risk(struct agent *agent,
                            const struct agent_identity *id);
/* The last thing about NAME that failed (a signature, a renewal, a due
 * renewal waiting for its PIN), or NULL; cleared by a renewal. */
char *agent_renewal_last_error(struct agent *agent, const char *name);

#endif
