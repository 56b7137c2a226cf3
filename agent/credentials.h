/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who the agent serves, decided on the credentials the kernel recorded
 * when the peer connected (SO_PEERCRED, SO_PEERGROUPS), never on anything
 * the peer says. A user's agent serves its user, and root unless
 * allow-root=false (root can read the agent's memory anyway, as with
 * ssh-agent). The system agent serves root, and the users and groups of
 * allow-users= and allow-groups= in [agent].
 */
#ifndef TESSERA_AGENT_CREDENTIALS_H
#define TESSERA_AGENT_CREDENTIALS_H

#include "config.h"

#include <glib.h>
#include <sys/types.h>

struct agent_credentials {
    uid_t uid;
    gid_t gid; /* primary */
    pid_t pid;
    gid_t *groups; /* supplementary, as at connect */
    size_t n_groups;
};

/* The credentials of the process connected on fd. FALSE (and a cleared
 * peer) when the kernel does not say who it is; no supplementary groups
 * when it cannot say those (Linux before 4.13). */
gboolean agent_credentials_read(int fd, struct agent_credentials *peer);
void agent_credentials_clear(struct agent_credentials *peer);

/*
 * Whether the agent of uid self (system: the system agent) serves peer
 * under cfg. When not, st (TESSERA_ERR_DENIED) names the peer and says how
 * to allow it, for the peer and the log.
 */
gboolean agent_credentials_allowed(const struct agent_config *cfg,
                                   gboolean system, uid_t self,
                                   const struct agent_credentials *peer,
                                   struct tessera_status *st);

#endif
