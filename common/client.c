/* SPDX-License-Identifier: Apache-2.0 */
#include "client.h"
#include "errors.h"

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

/*
 * Signatures with one identity take about the same time each (the
 * token's), so a moving average of the last ones says whether a poll can
 * catch the next reply and for how long to try. Names share slots by hash;
 * a collision only blurs an estimate.
 */
#define LATENCY_SLOTS 32

/* A connection of the pool: empty (fd -1, not busy), idle, or taken by a
 * caller (busy; fd -1 while that caller connects). */
struct slot {
    int fd;
    bool busy;
    uint64_t idle_since_us;
};

struct tessera_client {
    pthread_mutex_t lock; /* the slots and the identity cache */
    pthread_cond_t slot_freed;
    struct tessera_client *next; /* in the list the fork handlers walk */
    char *socket_path;           /* NULL: from the environment */
    uid_t *agent_uids;           /* NULL: this uid and root */
    size_t n_agent_uids;
    unsigned idle_seconds, reply_timeout_seconds, sign_poll_us;
    unsigned identity_cache_ms;
    size_t n_slots;
    struct slot *slots;
    /* The last identity read, as its encoded reply. */
    char *cached_name;
    uint8_t *cached_reply;
    size_t cached_len;
    uint64_t cached_at_us;
    _Atomic unsigned latency_us[LATENCY_SLOTS]; /* moving average per name */
};

/* --- fork: a child starts with no connections and free locks */

/*
 * A child must not use its parent's connections (their frames would
 * interleave with the parent's), and must not find a lock that a thread of
 * the parent held at the fork: that thread does not exist in the child.
 * So every client's lock is taken around fork(), and the child closes its
 * copies of the connections (which leaves the parent's open).
 */
static pthread_mutex_t clients_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tessera_client *clients;
static pthread_once_t fork_handlers_once = PTHREAD_ONCE_INIT;

static void
before_fork(void)
{
    pthread_mutex_lock(&clients_lock);
    for (struct tessera_client *c = clients; c != NULL; c = c->next)
        pthread_mutex_lock(&c->lock);
}

static void
after_fork_in_parent(void)
{
    for (struct tessera_client *c = clients; c != NULL; c = c->next)
        pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&clients_lock);
}

static void
after_fork_in_child(void)
{
    for (struct tessera_client *c = clients; c != NULL; c = c->next) {
        for (size_t i = 0; i < c->n_slots; i++) {
            if (c->slots[i].fd >= 0)
                close(c->slots[i].fd);
            c->slots[i] = (struct slot){.fd = -1};
        }
        /* Waiters it may record were the parent's threads. */
        pthread_cond_init(&c->slot_freed, NULL);
        pthread_mutex_unlock(&c->lock);
    }
    pthread_mutex_unlock(&clients_lock);
}

static void
install_fork_handlers(void)
{
    pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
}

/* --- the pool */

/* Connections a library's client keeps open at most; signing threads
 * beyond this wait for one. */
#define LIBRARY_MAX_CONNECTIONS 8
/* An idle connection older than this is closed at the next call. */
#define LIBRARY_IDLE_SECONDS 10
/* A signature on a slow smartcard takes about a second; one that waits for
 * the user's PIN takes up to the agent's prompt-seconds (at most 300). */
#define LIBRARY_REPLY_TIMEOUT_SECONDS 330
/* Covers a SoftHSM or HSM signature up to ECDSA P-384, so the reply finds
 * this thread running; a smartcard's or TPM's is slept through. */
#define LIBRARY_POLL_US 2000

static unsigned
poll_us_from_environment(void)
{
    const char *text = getenv("TESSERA_POLL_US");
    char *end;
    if (text == NULL || text[0] == '\0')
        return LIBRARY_POLL_US;
    unsigned long us = strtoul(text, &end, 10);
    return *end == '\0' && us <= TESSERA_POLL_US_MAX ? (unsigned)us
                                                     : LIBRARY_POLL_US;
}

void
tessera_client_library_options(struct tessera_client_options *o)
{
    *o = (struct tessera_client_options){
        .max_connections = LIBRARY_MAX_CONNECTIONS,
        .idle_seconds = LIBRARY_IDLE_SECONDS,
        .reply_timeout_seconds = LIBRARY_REPLY_TIMEOUT_SECONDS,
        .sign_poll_us = poll_us_from_environment(),
    };
}

struct tessera_client *
tessera_client_new(const struct tessera_client_options *o)
{
    struct tessera_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->n_slots = o->max_connections > 0 ? o->max_connections : 1;
    c->slots = calloc(c->n_slots, sizeof(*c->slots));
    c->socket_path = o->socket_path ? strdup(o->socket_path) : NULL;
    c->n_agent_uids = o->agent_uids ? o->n_agent_uids : 0;
    c->agent_uids =
        o->agent_uids ? calloc(c->n_agent_uids + 1, sizeof(uid_t)) : NULL;
    if (c->slots == NULL || (o->socket_path && !c->socket_path) ||
        (o->agent_uids && !c->agent_uids)) {
        free(c->slots);
        free(c->socket_path);
        free(c->agent_uids);
        free(c);
        return NULL;
    }
    if (c->agent_uids != NULL)
        memcpy(c->agent_uids, o->agent_uids, c->n_agent_uids * sizeof(uid_t));
    for (size_t i = 0; i < c->n_slots; i++)
        c->slots[i].fd = -1;
    c->idle_seconds = o->idle_seconds;
    c->reply_timeout_seconds = o->reply_timeout_seconds;
    c->sign_poll_us = o->sign_poll_us;
    c->identity_cache_ms = o->identity_cache_ms;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->slot_freed, NULL);
    pthread_once(&fork_handlers_once, install_fork_handlers);
    pthread_mutex_lock(&clients_lock);
    c->next = clients;
    clients = c;
    pthread_mutex_unlock(&clients_lock);
    return c;
}

void
tessera_client_free(struct tessera_client *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&clients_lock);
    for (struct tessera_client **p = &clients; *p != NULL; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    pthread_mutex_unlock(&clients_lock);
    for (size_t i = 0; i < c->n_slots; i++) {
        if (c->slots[i].fd >= 0)
            close(c->slots[i].fd);
    }
    pthread_cond_destroy(&c->slot_freed);
    pthread_mutex_destroy(&c->lock);
    free(c->slots);
    free(c->socket_path);
    free(c->agent_uids);
    free(c->cached_name);
    free(c->cached_reply);
    free(c);
}

static int
open_connection(struct tessera_client *c, struct tessera_status *st)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (c->socket_path != NULL) {
        if (strlen(c->socket_path) >= sizeof(path)) {
            tessera_status_set(st, TESSERA_ERR_UNREACHABLE,
                               "the socket path %s is too long",
                               c->socket_path);
            return -1;
        }
        strcpy(path, c->socket_path);
    } else if (!tessera_client_socket_path(path, sizeof(path), st)) {
        return -1;
    }
    int fd = tessera_agent_connect(path, c->agent_uids, c->n_agent_uids, st);
    if (fd >= 0 && c->reply_timeout_seconds > 0) {
        struct timeval tv = {.tv_sec = c->reply_timeout_seconds};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    return fd;
}

/* An idle connection the agent has not closed or written to. */
static bool
still_open(int fd)
{
    uint8_t byte;
    return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
           (errno == EAGAIN || errno == EWOULDBLOCK);
}

static void
close_slot(struct slot *s)
{
    close(s->fd);
    s->fd = -1;
}

/*
 * Closes the idle connections that are too old, and returns the most
 * recently used of the others (warm in the agent's caches) that the agent
 * has not closed meanwhile (one look per call, mostly), or -1. Called with
 * the lock held.
 */
static int
freshest_idle(struct tessera_client *c, uint64_t now_us)
{
    for (;;) {
        int best = -1;
        for (size_t i = 0; i < c->n_slots; i++) {
            struct slot *s = &c->slots[i];
            if (s->busy || s->fd < 0)
                continue;
            if (now_us - s->idle_since_us > c->idle_seconds * 1000000ull)
                close_slot(s);
            else if (best < 0 ||
                     s->idle_since_us > c->slots[best].idle_since_us)
                best = (int)i;
        }
        if (best < 0 || still_open(c->slots[best].fd))
            return best;
        close_slot(&c->slots[best]);
    }
}

static int
empty_slot(const struct tessera_client *c)
{
    for (size_t i = 0; i < c->n_slots; i++) {
        if (!c->slots[i].busy && c->slots[i].fd < 0)
            return (int)i;
    }
    return -1;
}

/* A connection for one caller: an idle one (reused), a new one, or the
 * first another caller frees. The slot index, or -1 with st. */
static int
acquire(struct tessera_client *c, bool *reused, struct tessera_status *st)
{
    int i;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        i = freshest_idle(c, tessera_monotonic_us());
        *reused = i >= 0;
        if (i < 0)
            i = empty_slot(c);
        if (i >= 0)
            break;
        pthread_cond_wait(&c->slot_freed, &c->lock);
    }
    c->slots[i].busy = true;
    pthread_mutex_unlock(&c->lock);
    if (*reused)
        return i;
    /* Connecting can take a while (an agent starting): not under the lock. */
    int fd = open_connection(c, st);
    pthread_mutex_lock(&c->lock);
    if (fd >= 0) {
        c->slots[i].fd = fd;
    } else {
        c->slots[i].busy = false;
        pthread_cond_signal(&c->slot_freed);
    }
    pthread_mutex_unlock(&c->lock);
    return fd >= 0 ? i : -1;
}

/* Gives a connection back: to the idle ones, or closed when it broke. */
static void
release(struct tessera_client *c, int i, bool keep)
{
    pthread_mutex_lock(&c->lock);
    struct slot *s = &c->slots[i];
    if (keep && c->idle_seconds > 0)
        s->idle_since_us = tessera_monotonic_us();
    else
        close_slot(s);
    s->busy = false;
    pthread_cond_signal(&c->slot_freed);
    pthread_mutex_unlock(&c->lock);
}

/* A run of exchanges on one connection. */
typedef enum tessera_outcome (*session_fn)(int fd, void *arg,
                                           struct tessera_status *st);

/*
 * Runs a session on a pooled connection. A connection that was idle in the
 * pool may have been closed by the agent since (it restarted, or closed it
 * as idle): the session then runs once more on a new one, if what it sent
 * cannot have been acted on or acting twice is harmless (resendable).
 */
static int
run_attempts(struct tessera_client *c, bool resendable, session_fn session,
             void *arg, struct tessera_status *st)
{
    for (int attempt = 0;; attempt++) {
        bool reused;
        int i = acquire(c, &reused, st);
        if (i < 0)
            return -1;
        /* The descriptor is this caller's while the slot is busy. */
        enum tessera_outcome o = session(c->slots[i].fd, arg, st);
        release(c, i, o == TESSERA_ANSWERED || o == TESSERA_FAILED);
        if (o == TESSERA_ANSWERED)
            return 0;
        if (o == TESSERA_FAILED || attempt > 0 || !reused ||
            (o == TESSERA_LOST_SENT && !resendable))
            return -1;
    }
}

/*
 * The host program's errno is not ours to change: Python, for one, reports
 * a failed key load as the errno it finds (ENOENT from our connect) instead
 * of the error the provider put in OpenSSL's queue.
 */
static int
run(struct tessera_client *c, bool resendable, session_fn session, void *arg,
    struct tessera_status *st)
{
    int saved_errno = errno;
    int rc = run_attempts(c, resendable, session, arg, st);
    errno = saved_errno;
    return rc;
}

/* Requests that act: sent twice, each would act twice (a PIN tried twice,
 * two keys made). */
static bool
resendable(enum tessera_msg type)
{
    switch (type) {
    case TESSERA_MSG_UNLOCK:
    case TESSERA_MSG_KEYGEN:
    case TESSERA_MSG_KEYGEN_SANS:
    case TESSERA_MSG_IMPORT:
    case TESSERA_MSG_IMPORT_INTO:
    case TESSERA_MSG_FORGET:
    case TESSERA_MSG_ENROLL:
    case TESSERA_MSG_RENEW:
    case TESSERA_MSG_FOLLOW:
        return false;
    default:
        return true;
    }
}

struct single_request {
    const struct tessera_writer *req;
    enum tessera_msg expect;
    unsigned poll_us;
    const struct tessera_progress_sink *sink; /* a FOLLOW request's */
    struct tessera_reply *reply;
};

static enum tessera_outcome
single_exchange(int fd, void *arg, struct tessera_status *st)
{
    struct single_request *r = arg;
    if (r->sink != NULL)
        return tessera_exchange_following(fd, r->req, r->expect, r->sink,
                                          r->reply, st);
    return tessera_exchange(fd, r->req, r->expect, r->poll_us, r->reply, st);
}

/*
 * One request, one reply of type expect: 0 with the reply positioned after
 * its type byte, or -1 with st. The caller clears the reply either way.
 */
static int
call_following(struct tessera_client *c, const struct tessera_writer *req,
               enum tessera_msg expect, unsigned poll_us,
               const struct tessera_progress_sink *sink,
               struct tessera_reply *reply, struct tessera_status *st)
{
    struct single_request r = {req, expect, poll_us, sink, reply};
    memset(reply, 0, sizeof(*reply));
    return run(c, req->len > 0 && resendable(req->data[0]), single_exchange, &r,
               st);
}

static int
call(struct tessera_client *c, const struct tessera_writer *req,
     enum tessera_msg expect, unsigned poll_us, struct tessera_reply *reply,
     struct tessera_status *st)
{
    return call_following(c, req, expect, poll_us, NULL, reply, st);
}

/* A call whose reply is one byte string of at most max bytes; with a
 * sink, req is a FOLLOW request. */
static int
call_for_blob(struct tessera_client *c, struct tessera_writer *req,
              enum tessera_msg expect, unsigned poll_us,
              const struct tessera_progress_sink *sink, size_t max,
              const char *what, struct tessera_blob *out,
              struct tessera_status *st)
{
    struct tessera_reply reply;
    int rc = call_following(c, req, expect, poll_us, sink, &reply, st);
    memset(out, 0, sizeof(*out));
    if (rc == 0 && !tessera_decode_blob_reply(&reply.reader, max, out)) {
        tessera_status_set(st, TESSERA_ERR_PROTOCOL,
                           "the agent sent a malformed %s", what);
        rc = -1;
    }
    tessera_reply_clear(&reply);
    tessera_writer_clear(req);
    return rc;
}

static int
call_for_ok(struct tessera_client *c, struct tessera_writer *req,
            struct tessera_status *st)
{
    struct tessera_reply reply;
    int rc = call(c, req, TESSERA_MSG_OK, 0, &reply, st);
    if (rc == 0 && !tessera_decode_ok(&reply.reader)) {
        tessera_status_set(st, TESSERA_ERR_PROTOCOL,
                           "the agent sent a malformed OK");
        rc = -1;
    }
    tessera_reply_clear(&reply);
    tessera_writer_clear(req);
    return rc;
}

/* --- lists, gathered from their pages on one connection */

/* What differs between LIST and TOKENS. */
struct list_kind {
    const char *what; /* "identities" */
    enum tessera_msg expect;
    void (*encode)(struct tessera_writer *w, uint32_t start);
    /* Decodes a page, appending its entries to the list. */
    bool (*take_page)(struct tessera_reader *r, uint32_t *total, void *list);
    size_t (*length)(const void *list);
    void (*clear)(void *list);
};

struct list_session {
    const struct list_kind *kind;
    void *list;
};

/*
 * Asks for pages until the list is whole. The pages come from one snapshot
 * in the agent (docs/protocol.md), so the total is the same on each and
 * every page but the last of an empty list holds something.
 */
static enum tessera_outcome
fetch_pages(int fd, void *arg, struct tessera_status *st)
{
    struct list_session *ls = arg;
    const struct list_kind *kind = ls->kind;
    uint32_t total = 0;
    enum tessera_outcome o = TESSERA_ANSWERED;
    do {
        struct tessera_writer w;
        struct tessera_reply reply;
        uint32_t start = (uint32_t)kind->length(ls->list), page_total = 0;
        tessera_writer_init(&w);
        kind->encode(&w, start);
        o = tessera_exchange(fd, &w, kind->expect, 0, &reply, st);
        tessera_writer_clear(&w);
        if (o == TESSERA_ANSWERED &&
            (!kind->take_page(&reply.reader, &page_total, ls->list) ||
             (start > 0 && page_total != total) ||
             kind->length(ls->list) > page_total ||
             (kind->length(ls->list) == start && start < page_total))) {
            tessera_status_set(st, TESSERA_ERR_PROTOCOL,
                               "the agent sent a malformed list of %s",
                               kind->what);
            o = TESSERA_FAILED;
        }
        total = page_total;
        tessera_reply_clear(&reply);
    } while (o == TESSERA_ANSWERED && kind->length(ls->list) < total);
    if (o != TESSERA_ANSWERED)
        kind->clear(ls->list);
    return o;
}

static bool
take_identity_page(struct tessera_reader *r, uint32_t *total, void *list)
{
    return tessera_decode_list_reply(r, total, list);
}

static bool
take_token_page(struct tessera_reader *r, uint32_t *total, void *list)
{
    return tessera_decode_tokens_reply(r, total, list);
}

static size_t
identity_list_length(const void *list)
{
    return ((const struct tessera_identity_list *)list)->n;
}

static size_t
token_list_length(const void *list)
{
    return ((const struct tessera_token_list *)list)->n;
}

static void
clear_identity_list(void *list)
{
    tessera_identity_list_clear(list);
}

static void
clear_token_list(void *list)
{
    tessera_token_list_clear(list);
}

int
tessera_client_list(struct tessera_client *c, struct tessera_identity_list *out,
                    struct tessera_status *st)
{
    static const struct list_kind kind = {
        "identities",       TESSERA_MSG_LIST_REPLY, tessera_encode_list,
        take_identity_page, identity_list_length,   clear_identity_list,
    };
    struct list_session ls = {&kind, out};
    memset(out, 0, sizeof(*out));
    return run(c, true, fetch_pages, &ls, st);
}

int
tessera_client_tokens(struct tessera_client *c, struct tessera_token_list *out,
                      struct tessera_status *st)
{
    static const struct list_kind kind = {
        "tokens",        TESSERA_MSG_TOKENS_REPLY, tessera_encode_tokens,
        take_token_page, token_list_length,        clear_token_list,
    };
    struct list_session ls = {&kind, out};
    memset(out, 0, sizeof(*out));
    return run(c, true, fetch_pages, &ls, st);
}

/* --- identities, kept a moment for the loads that follow */

/* A copy of the identity last read for name, if it is recent. */
static bool
cached_identity(struct tessera_client *c, const char *name,
                struct tessera_identity *out)
{
    bool hit = false;
    pthread_mutex_lock(&c->lock);
    if (c->cached_name != NULL && strcmp(c->cached_name, name) == 0 &&
        tessera_monotonic_us() - c->cached_at_us <
            c->identity_cache_ms * 1000ull) {
        struct tessera_reader r;
        tessera_reader_init(&r, c->cached_reply, c->cached_len);
        hit = tessera_get_u8(&r) == TESSERA_MSG_IDENTITY_REPLY &&
              tessera_decode_identity(&r, out);
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

static void
remember_identity(struct tessera_client *c, const char *name,
                  const struct tessera_identity *id)
{
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_identity(&w, id);
    char *copy = strdup(name);
    pthread_mutex_lock(&c->lock);
    free(c->cached_name);
    free(c->cached_reply);
    c->cached_name = NULL;
    c->cached_reply = NULL;
    if (!w.failed && copy != NULL) {
        c->cached_name = copy;
        c->cached_reply = w.data; /* the writer's buffer, kept */
        c->cached_len = w.len;
        c->cached_at_us = tessera_monotonic_us();
        w.data = NULL;
        copy = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    free(copy);
    tessera_writer_clear(&w);
}

int
tessera_client_get_identity(struct tessera_client *c, const char *name,
                            struct tessera_identity *out,
                            struct tessera_status *st)
{
    struct tessera_writer w;
    struct tessera_reply reply;
    memset(out, 0, sizeof(*out));
    if (c->identity_cache_ms > 0 && cached_identity(c, name, out))
        return 0;
    tessera_writer_init(&w);
    tessera_encode_name_request(&w, TESSERA_MSG_GET_IDENTITY, name);
    int rc = call(c, &w, TESSERA_MSG_IDENTITY_REPLY, 0, &reply, st);
    tessera_writer_clear(&w);
    if (rc == 0 && !tessera_decode_identity(&reply.reader, out)) {
        tessera_status_set(st, TESSERA_ERR_PROTOCOL,
                           "the agent sent a malformed identity");
        rc = -1;
    }
    tessera_reply_clear(&reply);
    if (rc == 0 && c->identity_cache_ms > 0)
        remember_identity(c, name, out);
    return rc;
}

/* --- signing, polling for replies as long as they are likely to come */

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

int
tessera_client_sign(struct tessera_client *c,
                    const struct tessera_sign_request *req,
                    struct tessera_blob *signature, struct tessera_status *st)
{
    struct tessera_writer w;
    _Atomic unsigned *latency =
        &c->latency_us[name_hash(req->name) % LATENCY_SLOTS];
    tessera_writer_init(&w);
    tessera_encode_sign(&w, req);
    uint64_t start = tessera_monotonic_us();
    int rc = call_for_blob(c, &w, TESSERA_MSG_SIGN_REPLY,
                           sign_poll_us(c->sign_poll_us, latency), NULL,
                           TESSERA_SIGNATURE_MAX, "signature", signature, st);
    if (rc == 0)
        record_latency(latency, tessera_monotonic_us() - start);
    return rc;
}

/* --- the control requests */

int
tessera_client_unlock(struct tessera_client *c,
                      const struct tessera_unlock_request *req,
                      struct tessera_status *st)
{
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_unlock(&w, req);
    return call_for_ok(c, &w, st); /* the writer wipes the PIN it holds */
}

int
tessera_client_lock(struct tessera_client *c, const char *token,
                    struct tessera_status *st)
{
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_name_request(&w, TESSERA_MSG_LOCK, token);
    return call_for_ok(c, &w, st);
}

/* A FOLLOW request with a sink: its frame starts with the wrapper. */
static void
begin_request(struct tessera_writer *w,
              const struct tessera_progress_sink *sink)
{
    tessera_writer_init(w);
    if (sink != NULL)
        tessera_encode_follow(w);
}

int
tessera_client_update_env(struct tessera_client *c,
                          const struct tessera_env_update *env,
                          struct tessera_status *st)
{
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_update_env(&w, env);
    return call_for_ok(c, &w, st);
}

int
tessera_client_log(struct tessera_client *c, const char *name,
                   struct tessera_use_list *uses, struct tessera_status *st)
{
    struct tessera_writer w;
    struct tessera_reply reply;
    tessera_writer_init(&w);
    tessera_encode_name_request(&w, TESSERA_MSG_LOG, name);
    int rc = call(c, &w, TESSERA_MSG_LOG_REPLY, 0, &reply, st);
    if (rc == 0 && !tessera_decode_log_reply(&reply.reader, uses)) {
        tessera_status_set(st, TESSERA_ERR_PROTOCOL,
                           "the agent sent a malformed LOG reply");
        rc = -1;
    }
    tessera_reply_clear(&reply);
    tessera_writer_clear(&w);
    return rc;
}

int
tessera_client_keygen(struct tessera_client *c,
                      const struct tessera_keygen_sans_request *req,
                      const struct tessera_progress_sink *sink,
                      struct tessera_blob *csr_der, struct tessera_status *st)
{
    struct tessera_writer w;
    begin_request(&w, sink);
    tessera_encode_keygen_sans(&w, req);
    return call_for_blob(c, &w, TESSERA_MSG_KEYGEN_REPLY, 0, sink,
                         TESSERA_DER_MAX, "CSR", csr_der, st);
}

int
tessera_client_import(struct tessera_client *c,
                      const struct tessera_import_request *req,
                      struct tessera_status *st)
{
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_import(&w, req);
    return call_for_ok(c, &w, st);
}

int
tessera_client_export(struct tessera_client *c,
                      const struct tessera_export_request *req,
                      struct tessera_status *st)
{
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_export(&w, req);
    return call_for_ok(c, &w, st);
}

int
tessera_client_forget(struct tessera_client *c,
                      const struct tessera_forget_request *req,
                      struct tessera_status *st)
{
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_forget(&w, req);
    return call_for_ok(c, &w, st);
}

int
tessera_client_enroll(struct tessera_client *c,
                      const struct tessera_enroll_request *req,
                      const struct tessera_progress_sink *sink,
                      struct tessera_blob *leaf, struct tessera_status *st)
{
    struct tessera_writer w;
    begin_request(&w, sink);
    tessera_encode_enroll(&w, req);
    return call_for_blob(c, &w, TESSERA_MSG_ENROLL_REPLY, 0, sink,
                         TESSERA_DER_MAX, "certificate", leaf, st);
}

int
tessera_client_renew(struct tessera_client *c, const char *name,
                     const struct tessera_progress_sink *sink,
                     struct tessera_blob *leaf, struct tessera_status *st)
{
    struct tessera_writer w;
    begin_request(&w, sink);
    tessera_encode_name_request(&w, TESSERA_MSG_RENEW, name);
    return call_for_blob(c, &w, TESSERA_MSG_RENEW_REPLY, 0, sink,
                         TESSERA_DER_MAX, "certificate", leaf, st);
}
