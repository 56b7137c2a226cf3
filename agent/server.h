/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The socket server (docs/protocol.md). The main loop accepts; each
 * connection gets a thread that reads a request, does the work and writes
 * the reply, so a signature never waits for another thread. Only the
 * peers peers.h allows are served.
 */
#ifndef TESSERA_AGENT_SERVER_H
#define TESSERA_AGENT_SERVER_H

#include "../common/errors.h"

struct agent;
struct agent_server;

/* On the socket the service manager passed, else on path (its directory
 * made 0700, and refused when it is not the user's alone; a system
 * agent's 0755 and root's, the socket 0666). */
struct agent_server *agent_server_start(struct agent *agent, const char *path,
                                        struct tessera_status *st);
void agent_server_stop(struct agent_server *server);

#endif
