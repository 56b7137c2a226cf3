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

/* Where the system agent (tessera-agent --system) listens. */
#define TESSERA_SYSTEM_SOCKET "/run/tessera/agent.sock"

/*
 * The system agent's socket: $TESSERA_SYSTEM_SOCKET (tests, unusual
 * installs), else TESSERA_SYSTEM_SOCKET. False when it is too long.
 */
bool tessera_system_socket_path(char *buf, size_t size,
                                struct tessera_status *st);

/*
 * The socket a client uses: $TESSERA_SOCKET; else this user's agent's,
 * when that socket exists; else the system agent's. A process whose user
 * has no agent of its own (root's services: wpa_supplicant, VPN daemons)
 * thus reaches the machine's identities.
 */
bool tessera_client_socket_path(char *buf, size_t size,
                                struct tessera_status *st);

/*
 * Connects to the socket at path, no more: nothing is checked or sent.
 * Returns the descriptor, or -1 with st saying whether an agent runs there
 * (TESSERA_ERR_UNREACHABLE either way).
 */
int tessera_socket_connect(const char *path, struct tessera_status *st);

struct tessera_reply {
    uint8_t *body;
    size_t len;
    struct tessera_reader reader; /* positioned after the type byte */
};

/* Wipes (a reply may carry a CSR or a key id; cheap) and frees. */
void tessera_reply_clear(struct tessera_reply *reply);

/* How one request on one connection ended. */
enum tessera_outcome {
    TESSERA_ANSWERED,    /* with the expected reply */
    TESSERA_FAILED,      /* an ERROR, or an unexpected reply: st says */
    TESSERA_LOST_UNSENT, /* the connection broke before the request left */
    TESSERA_LOST_SENT,   /* it broke after: the agent may have acted on it */
};

/*
 * Sends a request and reads its reply, polling for it for up to poll_us
 * first (see tessera_poll_readable). TESSERA_ANSWERED leaves the reply
 * positioned after its type byte; otherwise it is empty and st says why.
 */
/* Where the steps of a FOLLOW request go as they arrive. */
struct tessera_progress_sink {
    /* A step the agent told; NULL every TESSERA_PROGRESS_TICK_MS while
     * none comes, so that a terminal can animate. */
    void (*step)(const struct tessera_progress *p, void *data);
    void *data;
};
#define TESSERA_PROGRESS_TICK_MS 100
/*
 * The same for a FOLLOW request: the PROGRESS frames before the reply go
 * to sink as they come. A malformed one loses the connection (what
 * follows it cannot be trusted).
 */
enum tessera_outcome tessera_exchange_following(
    int fd, const struct tessera_writer *req, enum tessera_msg expect,
    const struct tessera_progress_sink *sink, struct tessera_reply *reply,
    struct tessera_status *st);
enum tessera_outcome tessera_exchange(int fd, const struct tessera_writer *req,
                                      enum tessera_msg expect, unsigned poll_us,
                                      struct tessera_reply *reply,
                                      struct tessera_status *st);

#endif
