/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The socket server (docs/protocol.md). The main loop accepts; a worker
 * thread serves a connection while it is active (a signature never waits
 * for another thread) and parks it in an epoll set when it goes quiet, so
 * idle connections hold no thread. Only the peers credentials.h allows are
 * served.
 */
#ifndef TESSERA_AGENT_SERVER_H
#define TESSERA_AGENT_SERVER_H

#include "../common/errors.h"

struct agent;
struct agent_server;

/* On the socket the service manager passed, else on path (its directory
 * made 0700, and refused when it is not the user's alone, or when another
 * agent serves it; a system agent's 0755 and root's, the socket 0666).
 * Clients are accepted after agent_server_serve, once the main loop runs. */
struct agent_server *agent_server_start(struct agent *agent, const char *path,
                                        struct tessera_status *st);
/* In the process that went to the background: clients' SO_PEERCRED names
 * it, not its parent that made the socket. */
void agent_server_adopt(struct agent_server *server);
/* Starts serving: the idle connections' epoll set, the workers and the
 * idle thread, made after the agent went to the background (a fork keeps
 * no thread), and says in the log where it listens. */
void agent_server_serve(struct agent_server *server);
void agent_server_stop(struct agent_server *server);

#endif
