/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The program at the other end of a connection: the SO_PEERCRED pid, its
 * executable (/proc/PID/exe) and its start time, read once when it
 * connects. What a prompt names and a policy checks; a guard against
 * mistakes and casual misuse, not against code of the same user that can
 * ptrace the program it names (README, "Who may use an identity").
 */
#ifndef TESSERA_AGENT_PEER_H
#define TESSERA_AGENT_PEER_H

#include <glib.h>
#include <sys/types.h>

struct agent_peer {
    pid_t pid;          /* 0: the agent itself (a renewal, a CSR) */
    guint64 start_time; /* clock ticks after boot, /proc/PID/stat */
    char exe[4096];     /* "" when it could not be read */
};

/* The peer of the connected socket fd. */
void agent_peer_of_socket(int fd, struct agent_peer *out);
/* The agent's own work. */
void agent_peer_self(struct agent_peer *out);
/* How messages name it: "/usr/bin/curl (pid 4242)". */
void agent_peer_describe(const struct agent_peer *p, char *buf, size_t size);

#endif
