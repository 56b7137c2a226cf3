/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who may use an identity ([identity NAME] in agent.conf): allow-programs
 * names the executables that may sign with it (the peer's /proc/PID/exe),
 * and confirm=true has the user confirm each new client process through
 * pinentry, remembered for that process (pid and start time) for
 * confirm-seconds. The agent's own work (renewals, CSRs) is not asked.
 * A guard against mistakes and casual misuse: code of the same user that
 * can ptrace a permitted program can sign through it.
 */
#ifndef TESSERA_AGENT_POLICY_H
#define TESSERA_AGENT_POLICY_H

#include "../common/errors.h"
#include "agent.h"
#include "peer.h"

#include <glib.h>

struct agent_policy;

struct agent_policy *agent_policy_new(void);
void agent_policy_free(struct agent_policy *policy);

/* Whether peer may sign with identity now; FALSE with st
 * (TESSERA_ERR_PROGRAM_REFUSED, _NOT_CONFIRMED, a prompt's) naming both. */
gboolean policy_allows(struct agent *agent, const char *identity,
                       const struct agent_peer *peer,
                       struct tessera_status *st);

#endif
