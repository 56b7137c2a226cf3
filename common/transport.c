/* SPDX-License-Identifier: Apache-2.0 */
#include "transport.h"
#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int
read_full(int fd, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t got = recv(fd, p, n, 0);
        if (got == 0) {
            errno = ECONNRESET;
            return -1;
        }
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

uint64_t
tessera_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * Whether every runnable thread has a CPU, per the kernel's count of
 * runnable threads in /proc/loadavg (the caller included), read at most
 * every few milliseconds. Polling pays only then: on a busy machine the
 * poller takes the CPU the peer needs to answer.
 */
static bool
cpu_to_spare(uint64_t now_us)
{
    static _Atomic uint64_t checked_us;
    static _Atomic bool spare;
    if (now_us - atomic_load_explicit(&checked_us, memory_order_relaxed) < 5000)
        return atomic_load_explicit(&spare, memory_order_relaxed);
    char text[128] = "";
    int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
    if (fd >= 0)
        close(fd);
    unsigned running = 0;
    bool ok = got > 0 && sscanf(text, "%*s %*s %*s %u/", &running) == 1 &&
              running <= (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    atomic_store_explicit(&spare, ok, memory_order_relaxed);
    atomic_store_explicit(&checked_us, now_us, memory_order_relaxed);
    return ok;
}

void
tessera_poll_readable(int fd, unsigned poll_us)
{
    if (poll_us == 0)
        return;
    uint64_t start = tessera_monotonic_us(), deadline = start + poll_us;
    if (!cpu_to_spare(start))
        return;
    uint8_t byte;
    /* Data, end of file and errors all end the wait: the read handles them. */
    while (recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
           (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) &&
           tessera_monotonic_us() < deadline)
        sched_yield();
}

int
tessera_read_frame(int fd, uint8_t **body, size_t *len)
{
    uint8_t header[4];
    *body = NULL;
    *len = 0;
    if (read_full(fd, header, sizeof(header)) < 0)
        return -1;
    uint32_t n = tessera_load_be32(header);
    if (!tessera_frame_length_valid(n)) {
        errno = EPROTO;
        return -1;
    }
    uint8_t *buf = malloc(n);
    if (buf == NULL)
        return -1;
    if (read_full(fd, buf, n) < 0) {
        int saved = errno;
        free(buf);
        errno = saved;
        return -1;
    }
    *body = buf;
    *len = n;
    return 0;
}

int
tessera_write_frame(int fd, const uint8_t *body, size_t len)
{
    uint8_t header[4];
    if (!tessera_frame_length_valid((uint32_t)len) || len > TESSERA_FRAME_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    tessera_store_be32(header, (uint32_t)len);
    struct iovec iov[2] = {{header, sizeof(header)}, {(void *)body, len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    size_t left = sizeof(header) + len;
    while (left > 0) {
        ssize_t sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        left -= (size_t)sent;
        /* Advance the iovecs past what went out. */
        while (sent > 0 && msg.msg_iovlen > 0) {
            size_t take = (size_t)sent < msg.msg_iov->iov_len
                              ? (size_t)sent
                              : msg.msg_iov->iov_len;
            msg.msg_iov->iov_base = (uint8_t *)msg.msg_iov->iov_base + take;
            msg.msg_iov->iov_len -= take;
            sent -= (ssize_t)take;
            if (msg.msg_iov->iov_len == 0) {
                msg.msg_iov++;
                msg.msg_iovlen--;
            }
        }
    }
    return 0;
}

/* snprintf's answer checked against size and what sun_path holds. */
static bool
path_fits(int n, size_t size, struct tessera_status *st)
{
    if (n >= 0 && (size_t)n < size &&
        (size_t)n < sizeof(((struct sockaddr_un *)0)->sun_path))
        return true;
    tessera_status_set(st, TESSERA_ERR_UNREACHABLE,
                       "the agent socket path is too long");
    return false;
}

bool
tessera_socket_path(char *buf, size_t size, struct tessera_status *st)
{
    const char *env = getenv("TESSERA_SOCKET");
    if (env != NULL && env[0] != '\0')
        return path_fits(snprintf(buf, size, "%s", env), size, st);
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    if (runtime == NULL || runtime[0] == '\0') {
        tessera_status_set(st, TESSERA_ERR_UNREACHABLE,
                           "neither TESSERA_SOCKET nor XDG_RUNTIME_DIR is "
                           "set, so the agent's socket cannot be found");
        return false;
    }
    return path_fits(snprintf(buf, size, "%s/tessera/agent.sock", runtime),
                     size, st);
}

bool
tessera_system_socket_path(char *buf, size_t size, struct tessera_status *st)
{
    const char *env = getenv("TESSERA_SYSTEM_SOCKET");
    return path_fits(
        snprintf(buf, size, "%s",
                 env != NULL && env[0] != '\0' ? env : TESSERA_SYSTEM_SOCKET),
        size, st);
}

bool
tessera_client_socket_path(char *buf, size_t size, struct tessera_status *st)
{
    struct stat sb;
    const char *env = getenv("TESSERA_SOCKET");
    char system[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct tessera_status why = {0};
    bool user = tessera_socket_path(buf, size, &why);
    /* Named, or there: the user's own agent, even when it is not running
     * (a stale socket is for the user to see, not to route around). */
    if (user && ((env != NULL && env[0] != '\0') || lstat(buf, &sb) == 0))
        return true;
    /* A socket that cannot be seen may be another user's: say so. */
    if (user && errno != ENOENT)
        return true;
    if (!tessera_system_socket_path(system, sizeof(system), st))
        return false;
    /* With neither agent there, "not running" is about the user's. */
    if (user && lstat(system, &sb) != 0)
        return true;
    return path_fits(snprintf(buf, size, "%s", system), size, st);
}

int
tessera_socket_connect(const char *path, struct tessera_status *st)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        tessera_status_set(st, TESSERA_ERR_UNREACHABLE,
                           "the agent socket path is too long");
        return -1;
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        tessera_status_set(st, TESSERA_ERR_UNREACHABLE,
                           "cannot create a socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
        return fd;
    int err = errno;
    close(fd);
    if (err == ENOENT || err == ECONNREFUSED)
        tessera_status_set(
            st, TESSERA_ERR_UNREACHABLE,
            "the Tessera agent is not running (%s at %s); start it with "
            "`tessera-agent` or `systemctl --user start tessera-agent.socket`",
            err == ENOENT ? "no socket" : "nobody listens", path);
    else
        tessera_status_set(st, TESSERA_ERR_UNREACHABLE,
                           "cannot connect to the Tessera agent at %s: %s",
                           path, strerror(err));
    return -1;
}

void
tessera_reply_clear(struct tessera_reply *reply)
{
    if (reply->body != NULL)
        OPENSSL_cleanse(reply->body, reply->len);
    free(reply->body);
    memset(reply, 0, sizeof(*reply));
}

/* Ticks the sink until the socket has something to read. */
static void
wait_ticking(int fd, const struct tessera_progress_sink *sink)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    while ((n = poll(&p, 1, TESSERA_PROGRESS_TICK_MS)) == 0 ||
           (n < 0 && errno == EINTR))
        sink->step(NULL, sink->data);
}

/* A PROGRESS frame given to the sink; false when it is malformed. */
static bool
pass_progress(struct tessera_reply *reply,
              const struct tessera_progress_sink *sink,
              struct tessera_status *st)
{
    struct tessera_progress p;
    bool ok = tessera_decode_progress(&reply->reader, &p);
    if (ok)
        sink->step(&p, sink->data);
    else
        tessera_status_set(st, TESSERA_ERR_PROTOCOL,
                           "the agent sent a malformed PROGRESS frame");
    free(p.message);
    tessera_reply_clear(reply);
    return ok;
}

static enum tessera_outcome
exchange(int fd, const struct tessera_writer *req, enum tessera_msg expect,
         unsigned poll_us, const struct tessera_progress_sink *sink,
         struct tessera_reply *reply, struct tessera_status *st)
{
    memset(reply, 0, sizeof(*reply));
    if (req->failed) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "the request does not fit in one frame");
        return TESSERA_FAILED;
    }
    /* A refused peer (too many clients) finds the agent's reason waiting
     * even when its own write already failed: read it regardless. */
    bool sent = tessera_write_frame(fd, req->data, req->len) == 0;
    int write_errno = errno;
    if (sent)
        tessera_poll_readable(fd, poll_us);
    uint8_t type;
    do {
        if (sent && sink != NULL)
            wait_ticking(fd, sink);
        if (tessera_read_frame(fd, &reply->body, &reply->len) < 0) {
            tessera_status_set(st, TESSERA_ERR_UNREACHABLE,
                               "lost the connection to the Tessera agent: %s",
                               strerror(sent ? errno : write_errno));
            return sent ? TESSERA_LOST_SENT : TESSERA_LOST_UNSENT;
        }
        tessera_reader_init(&reply->reader, reply->body, reply->len);
        type = tessera_get_u8(&reply->reader);
        if (type == TESSERA_MSG_PROGRESS && sink != NULL &&
            !pass_progress(reply, sink, st))
            return TESSERA_LOST_SENT;
    } while (type == TESSERA_MSG_PROGRESS && sink != NULL);
    if (type == expect)
        return TESSERA_ANSWERED;
    struct tessera_error_reply err = {0};
    if (type == TESSERA_MSG_ERROR &&
        tessera_decode_error(&reply->reader, &err)) {
        tessera_status_set(st, (int)err.code, "%s", err.message);
        free(err.message);
    } else {
        tessera_status_set(st, TESSERA_ERR_PROTOCOL,
                           "the agent sent an unexpected reply (type 0x%02x)",
                           type);
    }
    tessera_reply_clear(reply);
    return TESSERA_FAILED;
}

enum tessera_outcome
tessera_exchange(int fd, const struct tessera_writer *req,
                 enum tessera_msg expect, unsigned poll_us,
                 struct tessera_reply *reply, struct tessera_status *st)
{
    return exchange(fd, req, expect, poll_us, NULL, reply, st);
}

enum tessera_outcome
tessera_exchange_following(int fd, const struct tessera_writer *req,
                           enum tessera_msg expect,
                           const struct tessera_progress_sink *sink,
                           struct tessera_reply *reply,
                           struct tessera_status *st)
{
    return exchange(fd, req, expect, 0, sink, reply, st);
}
