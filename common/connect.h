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
 * The agent's executable exports a symbol of this name (agent/meson.build)
 * so that code loaded into it can tell: tessera-pkcs11.so, registered with
 * p11-kit, may be loaded by an agent that loads every registered module.
 */
#define TESSERA_AGENT_MARKER "tessera_agent_marker"

/* Whether this process is a Tessera agent (it exports the marker). */
bool tessera_inside_agent(void);

/*
 * Connects to the agent at path, checks who serves it and exchanges HELLO.
 * agent_uids: who may serve it (and own its directory); NULL: this
 * process's effective uid, and root (a system agent). Returns the
 * descriptor, or -1 with st: TESSERA_ERR_UNREACHABLE (no agent, or this
 * process is the agent: an agent never calls itself over its socket),
 * TESSERA_ERR_UNTRUSTED (another user's socket or directory, named),
 * TESSERA_ERR_VERSION, or the agent's refusal.
 */
int tessera_agent_connect(const char *path, const uid_t *agent_uids,
                          size_t n_agent_uids, struct tessera_status *st);

#endif
