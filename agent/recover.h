/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Recovery: a journal found on disk is brought as far as it can go now,
 * by the step (steps.h) that recovery_decide names.
 */
#ifndef TESSERA_AGENT_RECOVER_H
#define TESSERA_AGENT_RECOVER_H

#include "../common/transport.h"
#include "recovery.h"

struct agent;

/*
 * Before a renewal or enrolment of NAME, whose claim the caller holds: the
 * journal NAME's last one left is brought to its end, a grace period ended
 * early, an enrolment the CA kept pending given up (its key goes). *done says
 * what was done (RECOVERY_NOTHING without a journal); -1 with st when that
 * failed, must wait for a token, or the journal is not acted on.
 */
int agent_recover_first(struct agent *agent, const char *name,
                        enum recovery_action *done, struct tessera_status *st);
/* From the once-a-second look: NAME's journal as far as it can go now.
 * NAME is claimed only when there is something to do, and left alone
 * while another holds it. */
int agent_recover(struct agent *agent, const char *name,
                  struct tessera_status *st);

#endif
