/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A connection to the agent, checked before anything is sent: the socket's
 * directory must belong to a trusted uid and be writable by no one else,
 * and the peer (SO_PEERCRED) must be a trusted uid; only then HELLO. A PIN
 * therefore never reaches another user who got to the socket's path first.
 * The client library (client.h) pools these connections.
 */
#ifndef TESSERA_CONNECT_H
#define TESSERA_CONNECT_H

#include "transport.h"

#include <sys/types.h>

/*
 * Connects to the agent at path, checks who serves it and exchanges HELLO.
 * agent_uids: who may serve it (and own its directory); NULL: this
 * process's effective uid, and root (a system agent). Returns the
 * descriptor, or -1 with st: TESSERA_ERR_UNREACHABLE (no agent),
 * TESSERA_ERR_UNTRUSTED (another user's socket or directory, named),
 * TESSERA_ERR_VERSION, or the agent's refusal.
 */
int tessera_agent_connect(const char *path, const uid_t *agent_uids,
                          size_t n_agent_uids, struct tessera_status *st);

#endif
