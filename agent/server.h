/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The socket server (docs/protocol.md). The main loop accepts; a worker
 * thread serves a connection while it is active (a signature never waits
 * for another thread) and parks it in an epoll set when it goes quiet, so
 * idle connections hold no thread. Only peers with the agent's own uid
 * are served.
 */
#ifndef TESSERA_AGENT_SERVER_H
#define TESSERA_AGENT_SERVER_H

#include "../common/errors.h"

struct agent;
struct agent_server;

/* On the socket the service manager passed, else on path (its directory
 * made 0700, and refused when it is not the user's alone). */
struct agent_server *agent_server_start(struct agent *agent, const char *path,
                                        struct tessera_status *st);
void agent_server_stop(struct agent_server *server);

#endif
