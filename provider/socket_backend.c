/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The provider's path to the agent: a small pool of connections, so threads
 * sign in parallel without sharing a socket, and one signature costs one
 * round trip. Connections are made on first use, never at provider load.
 */
#include "provider.h"
#include "../common/errors.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define POOL_SIZE 8
/* Covers a SoftHSM or HSM signature up to ECDSA P-384, so the reply finds
 * this thread running; a smartcard's or TPM's is slept through. */
#define DEFAULT_POLL_US 2000
/*
 * Signatures with one identity take about the same time each (the token's),
 * so a moving average of the last ones says whether a poll can catch the
 * next reply and for how long to try. Names share slots by hash; a
 * collision only blurs an estimate.
 */
#define LATENCY_SLOTS 32
/* A signature on a slow smartcard takes about a second; this is far above. */
#define REPLY_TIMEOUT_SECONDS 60

/*
 * A program loads a certificate and a key as two loads of one name (openssl
 * s_client's -cert and -key, SSL_CTX_use_* in most programs). A renewal
 * switching keys between the two would give it a new key for an old
 * certificate, so a name's identity is kept this long for the loads that
 * follow; signing then finds the right key by its hash either way.
 */
#define IDENTITY_CACHE_US (2 * 1000 * 1000)

struct socket_backend {
    pthread_mutex_t lock;
    /* The last identity read, as its encoded reply (under lock). */
    char *cached_name;
    uint8_t *cached_reply;
    size_t cached_len;
    uint64_t cached_at_us;
    pid_t owner; /* idle connections belong to this process only */
    int idle[POOL_SIZE];
    size_t n_idle;
    unsigned poll_us; /* TESSERA_POLL_US, see tessera_poll_readable */
    _Atomic unsigned latency_us[LATENCY_SLOTS]; /* moving average per name */
};

static unsigned
poll_us_from_environment(void)
{
    const char *text = getenv("TESSERA_POLL_US");
    char *end;
    if (text == NULL || text[0] == '\0')
        return DEFAULT_POLL_US;
    unsigned long us = strtoul(text, &end, 10);
    return *end == '\0' && us <= TESSERA_POLL_US_MAX ? (unsigned)us
                                                     : DEFAULT_POLL_US;
}

void *
tessera_socket_backend_new(void)
{
    struct socket_backend *sb = calloc(1, sizeof(*sb));
    if (sb == NULL)
        return NULL;
    pthread_mutex_init(&sb->lock, NULL);
    sb->owner = getpid();
    sb->poll_us = poll_us_from_environment();
    return sb;
}

static void
socket_backend_destroy(void *backend)
{
    struct socket_backend *sb = backend;
    if (sb == NULL)
        return;
    for (size_t i = 0; i < sb->n_idle; i++)
        close(sb->idle[i]);
    pthread_mutex_destroy(&sb->lock);
    free(sb->cached_name);
    free(sb->cached_reply);
    free(sb);
}

/*
 * A forked child inherits the parent's idle sockets; using one would
 * interleave frames with the parent's, so the child closes its copies and
 * starts afresh.
 */
static void
drop_inherited(struct socket_backend *sb)
{
    pid_t self = getpid();
    if (sb->owner == self)
        return;
    for (size_t i = 0; i < sb->n_idle; i++)
        close(sb->idle[i]);
    sb->n_idle = 0;
    sb->owner = self;
}

static int
open_connection(struct tessera_status *st)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (!tessera_socket_path(path, sizeof(path), st))
        return -1;
    int fd = tessera_connect(path, st);
    if (fd >= 0) {
        struct timeval tv = {.tv_sec = REPLY_TIMEOUT_SECONDS};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    return fd;
}

static int
acquire(struct socket_backend *sb, bool *pooled, struct tessera_status *st)
{
    int fd = -1;
    pthread_mutex_lock(&sb->lock);
    drop_inherited(sb);
    if (sb->n_idle > 0)
        fd = sb->idle[--sb->n_idle];
    pthread_mutex_unlock(&sb->lock);
    *pooled = fd >= 0;
    return fd >= 0 ? fd : open_connection(st);
}

static void
release(struct socket_backend *sb, int fd)
{
    pthread_mutex_lock(&sb->lock);
    if (sb->owner == getpid() && sb->n_idle < POOL_SIZE) {
        sb->idle[sb->n_idle++] = fd;
        fd = -1;
    }
    pthread_mutex_unlock(&sb->lock);
    if (fd >= 0)
        close(fd);
}

/*
 * Every request is idempotent, so a pooled connection that turns out to be
 * dead (the agent restarted) is replaced and the request sent once more.
 */
static int
call_agent(struct socket_backend *sb, const struct tessera_writer *req,
           enum tessera_msg expect, unsigned poll_us,
           struct tessera_reply *reply, struct tessera_status *st)
{
    memset(reply, 0, sizeof(*reply));
    for (;;) {
        bool pooled;
        int fd = acquire(sb, &pooled, st);
        if (fd < 0)
            return -1;
        if (tessera_call(fd, req, expect, poll_us, reply, st) == 0) {
            release(sb, fd);
            return 0;
        }
        if (!st->io_failed) {
            release(sb, fd);
            return -1;
        }
        close(fd);
        if (!pooled)
            return -1;
        tessera_reply_clear(reply);
    }
}

/*
 * The host program's errno is not ours to change: Python, for one, reports
 * a failed key load as the errno it finds (ENOENT from our connect) instead
 * of the error we put in OpenSSL's queue.
 */
static int
call(struct socket_backend *sb, const struct tessera_writer *req,
     enum tessera_msg expect, unsigned poll_us, struct tessera_reply *reply,
     struct tessera_status *st)
{
    int saved_errno = errno;
    int rc = call_agent(sb, req, expect, poll_us, reply, st);
    errno = saved_errno;
    return rc;
}

static int
socket_list(void *backend,
            int (*found)(const struct tessera_identity_summary *s, void *arg),
            void *arg, struct tessera_status *st)
{
    struct socket_backend *sb = backend;
    uint32_t start = 0;
    for (;;) {
        struct tessera_writer w;
        struct tessera_reply reply;
        tessera_writer_init(&w);
        tessera_encode_list(&w, start);
        int rc = call(sb, &w, TESSERA_MSG_LIST_REPLY, sb->poll_us, &reply, st);
        tessera_writer_clear(&w);
        if (rc < 0) {
            tessera_reply_clear(&reply);
            return -1;
        }
        uint32_t total;
        struct tessera_identity_list page;
        bool malformed = !tessera_decode_list_reply(&reply.reader, &total,
                                                    &page) ||
                         start + page.n > total ||
                         (page.n == 0 && start < total);
        for (size_t i = 0; i < page.n && rc == 0; i++)
            rc = found(&page.items[i], arg);
        uint32_t count = (uint32_t)page.n;
        tessera_identity_list_clear(&page);
        tessera_reply_clear(&reply);
        if (malformed) {
            tessera_status_set(st, TESSERA_ERR_PROTOCOL,
                               "the agent sent a malformed identity list");
            return -1;
        }
        start += count;
        if (rc != 0 || count == 0 || start >= total)
            return 0;
    }
}

/* A copy of the identity last read for name, if it is recent. */
static bool
cached_identity(struct socket_backend *sb, const char *name,
                struct tessera_identity *out)
{
    bool hit = false;
    pthread_mutex_lock(&sb->lock);
    if (sb->cached_name != NULL && strcmp(sb->cached_name, name) == 0 &&
        tessera_monotonic_us() - sb->cached_at_us < IDENTITY_CACHE_US) {
        struct tessera_reader r;
        tessera_reader_init(&r, sb->cached_reply, sb->cached_len);
        hit = tessera_get_u8(&r) == TESSERA_MSG_IDENTITY_REPLY &&
              tessera_decode_identity(&r, out);
    }
    pthread_mutex_unlock(&sb->lock);
    return hit;
}

static void
remember_identity(struct socket_backend *sb, const char *name,
                  const struct tessera_identity *id)
{
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_identity(&w, id);
    char *copy = strdup(name);
    pthread_mutex_lock(&sb->lock);
    free(sb->cached_name);
    free(sb->cached_reply);
    sb->cached_name = NULL;
    sb->cached_reply = NULL;
    if (!w.failed && copy != NULL) {
        sb->cached_name = copy;
        sb->cached_reply = w.data; /* the writer's buffer, kept */
        sb->cached_len = w.len;
        sb->cached_at_us = tessera_monotonic_us();
        w.data = NULL;
        copy = NULL;
    }
    pthread_mutex_unlock(&sb->lock);
    free(copy);
    tessera_writer_clear(&w);
}

static int
socket_get_identity(void *backend, const char *name,
                    struct tessera_identity *out, struct tessera_status *st)
{
    struct socket_backend *sb = backend;
    struct tessera_writer w;
    struct tessera_reply reply;
    if (cached_identity(sb, name, out))
        return 0;
    tessera_writer_init(&w);
    tessera_encode_name_request(&w, TESSERA_MSG_GET_IDENTITY, name);
    int rc = call(sb, &w, TESSERA_MSG_IDENTITY_REPLY, sb->poll_us, &reply, st);
    tessera_writer_clear(&w);
    if (rc == 0 && !tessera_decode_identity(&reply.reader, out)) {
        tessera_status_set(st, TESSERA_ERR_PROTOCOL,
                           "the agent sent a malformed identity");
        rc = -1;
    }
    tessera_reply_clear(&reply);
    if (rc == 0)
        remember_identity(sb, name, out);
    return rc;
}

/* FNV-1a: spreads identity names over the latency slots. */
static uint32_t
name_hash(const char *name)
{
    uint32_t h = 2166136261u;
    for (; *name != '\0'; name++)
        h = (h ^ (uint8_t)*name) * 16777619u;
    return h;
}

/* Twice the expected time, if that fits the bound; else sleep at once. */
static unsigned
sign_poll_us(unsigned bound, _Atomic unsigned *latency)
{
    unsigned expected = atomic_load_explicit(latency, memory_order_relaxed);
    if (expected == 0)
        return bound; /* no history: try */
    return expected <= bound / 2 ? 2 * expected : 0;
}

static void
record_latency(_Atomic unsigned *latency, uint64_t took_us)
{
    unsigned took = took_us > UINT_MAX / 4 ? UINT_MAX / 4 : (unsigned)took_us;
    unsigned old = atomic_load_explicit(latency, memory_order_relaxed);
    atomic_store_explicit(latency, old == 0 ? took : (3 * old + took) / 4,
                          memory_order_relaxed);
}

static int
socket_sign(void *backend, const struct tessera_sign_request *req,
            struct tessera_blob *signature, struct tessera_status *st)
{
    struct tessera_writer w;
    struct tessera_reply reply;
    tessera_writer_init(&w);
    tessera_encode_sign(&w, req);
    struct socket_backend *sb = backend;
    _Atomic unsigned *latency =
        &sb->latency_us[name_hash(req->name) % LATENCY_SLOTS];
    uint64_t start = tessera_monotonic_us();
    int rc = call(sb, &w, TESSERA_MSG_SIGN_REPLY,
                  sign_poll_us(sb->poll_us, latency), &reply, st);
    if (rc == 0)
        record_latency(latency, tessera_monotonic_us() - start);
    tessera_writer_clear(&w);
    if (rc == 0 && !tessera_decode_blob_reply(
                       &reply.reader, TESSERA_SIGNATURE_MAX, signature)) {
        tessera_status_set(st, TESSERA_ERR_PROTOCOL,
                           "the agent sent a malformed signature");
        rc = -1;
    }
    tessera_reply_clear(&reply);
    return rc;
}

const struct tessera_backend_ops tessera_socket_backend_ops = {
    .list = socket_list,
    .get_identity = socket_get_identity,
    .sign = socket_sign,
    .destroy = socket_backend_destroy,
};
