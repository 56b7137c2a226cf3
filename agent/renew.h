/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One renewal of one identity, whoever asked for it: the next key, the CA
 * through the profile it was enrolled with, the switch, each step
 * journaled first (docs/architecture.md, Renewal).
 */
#ifndef TESSERA_AGENT_RENEW_H
#define TESSERA_AGENT_RENEW_H

#include "../common/transport.h"

struct agent;

/* Claims NAME (renewal-running when it is claimed) and renews it now; on
 * success the new leaf's DER. client_fd: a client whose hang-up cancels
 * while the CA says pending, or -1. */
int agent_renew(struct agent *agent, const char *name, int client_fd,
                struct tessera_blob *leaf, struct tessera_status *st);
/* The same for a caller that holds NAME's claim already. */
int agent_renew_claimed(struct agent *agent, const char *name, int client_fd,
                        struct tessera_blob *leaf, struct tessera_status *st);

#endif
