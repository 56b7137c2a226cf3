/* SPDX-License-Identifier: Apache-2.0 */
/* Frames over a stream UNIX socket; common/client.h speaks them to the agent.
 */
#ifndef TESSERA_TRANSPORT_H
#define TESSERA_TRANSPORT_H

#include "errors.h"
#include "messages.h"

#include <stdarg.h>

/*
 * Reads one frame body into a fresh allocation. Returns 0; or -1 with errno
 * EPROTO for a length outside 1..TESSERA_FRAME_MAX, ECONNRESET when the peer
 * closed, or the error of the failing read.
 */
int tessera_read_frame(int fd, uint8_t **body, size_t *len);

/*
 * Polls fd for up to poll_us microseconds before the caller blocks in a
 * read. On virtual machines waking a thread that sleeps on an idle vCPU
 * costs more than a token signature (docs/performance.md); a peer that
 * answers within the bound finds this side running. Yields the CPU on each
 * try so that runnable threads (the agent's, other clients) are not starved.
 */
void tessera_poll_readable(int fd, unsigned poll_us);

uint64_t tessera_monotonic_us(void);

/* Upper bound of any poll_us setting. */
#define TESSERA_POLL_US_MAX 10000

/* Writes header and body in one call; never raises SIGPIPE. */
int tessera_write_frame(int fd, const uint8_t *body, size_t len);

/*
 * The socket path: $TESSERA_SOCKET, else $XDG_RUNTIME_DIR/tessera/agent.sock.
 * Returns false (with the reason in st) when neither is set or it is too long.
 */
bool tessera_socket_path(char *buf, size_t size, struct tessera_status *st);

/*
 * Connects to the socket at path, no more: nothing is checked or sent.
 * Returns the descriptor, or -1 with st saying whether an agent runs there
 * (TESSERA_ERR_UNREACHABLE either way).
 */
int tessera_socket_connect(const char *path, struct tessera_status *st);

#endif
