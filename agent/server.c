/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The socket server. The main loop accepts. A connection with a request
 * waiting is served by a worker thread of a pool, which reads a request,
 * does the work and writes the reply, and waits for the next one on the
 * same connection: a client that keeps signing keeps its thread, so a
 * signature never waits for another thread. A connection quiet for
 * LINGER_MS is parked in an epoll set and its thread goes back to the
 * pool; the idle thread hands it to a worker again when it becomes
 * readable, and closes it when it has been parked for
 * idle-connection-seconds. Idle connections cost a descriptor and a few
 * hundred bytes, no thread. Only the peers credentials.c allows
 * are served, and each client process may hold MAX_CONNECTIONS_PER_PROCESS.
 * Malformed input gets an ERROR reply and, where the stream cannot be
 * trusted any more, a closed connection; the agent goes on serving.
 */
#include "server.h"
#include "../common/errors.h"
#include "../common/transport.h"
#include "agent.h"
#include "control.h"
#include "events.h"
#include "credentials.h"
#include "ratelog.h"
#include "peer.h"
#include "registry.h"
#include "renewals.h"
#include "session.h"
#include "signer.h"
#include "uses.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* One program's pool is 8 (common/client.c); this bounds a runaway one
 * without letting it lock others out. */
#define MAX_CONNECTIONS_PER_PROCESS 128
/* A client signing at least this often keeps its thread: its requests are
 * never handed from thread to thread, which costs a wake-up (tens of
 * microseconds on a virtual machine, docs/performance.md). */
#define LINGER_MS 1000
/* A request that starts must arrive whole within this; a peer that stalls
 * mid-frame would otherwise hold a worker. */
#define FRAME_TIMEOUT_SECONDS 10

struct agent_server {
    struct agent *agent;
    char *path; /* NULL when the service manager owns the socket */
    int listen_fd;
    guint source;
    uid_t uid;
    int epoll_fd; /* the parked connections, and wake_fd */
    int wake_fd;  /* an eventfd: written to stop the idle thread */
    GThread *idle_thread;
    GThreadPool *workers;
    GMutex lock;
    GQueue connections;      /* struct connection *; under lock */
    GHashTable *per_process; /* pid -> connections it holds; under lock */
    gboolean stopping;       /* under lock */
    guint progress_subscription;
};

struct connection {
    struct agent_server *server;
    int fd;
    pid_t pid;
    GList link; /* in server->connections */
    /* In the epoll set with no thread (under lock), since idle_since_us. */
    gboolean parked, in_epoll;
    gint64 idle_since_us;
    gboolean greeted;
    struct agent_peer peer; /* read when it connected */
    /* The registry snapshots a LIST and a TOKENS are paging through (only
     * the thread serving the connection touches them). */
    struct agent_registry *listing, *token_listing;
};

/* What the dispatcher tells the connection loop. */
enum verdict { KEEP_OPEN, CLOSE };

/* The connection whose FOLLOW request this thread is working on: the
 * steps published on this thread meanwhile are its. */
static GPrivate following;

static void reply_error(struct tessera_writer *out, int code, const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));

static void
reply_error(struct tessera_writer *out, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    tessera_writer_clear(out);
    tessera_encode_error(out, (uint32_t)code, message);
    g_free(message);
}

static void
reply_status(struct tessera_writer *out, const struct tessera_status *st)
{
    reply_error(out, st->code, "%s", st->message);
}

/* The reply of an operation that succeeded (rc 0) or says why not. */
static void
reply_done(struct tessera_writer *out, int rc, const struct tessera_status *st)
{
    if (rc == 0)
        tessera_encode_ok(out);
    else
        reply_status(out, st);
}

/* Likewise for an operation whose result is one byte string. */
static void
reply_blob(struct tessera_writer *out, enum tessera_msg type, int rc,
           struct tessera_blob *blob, const struct tessera_status *st)
{
    if (rc == 0)
        tessera_encode_blob_reply(out, type, blob->data, blob->len);
    else
        reply_status(out, st);
    tessera_blob_clear(blob);
}

static enum verdict
handle_hello(struct connection *c, struct tessera_reader *r,
             struct tessera_writer *out)
{
    uint32_t version;
    if (!tessera_decode_hello(r, &version)) {
        reply_error(out, TESSERA_ERR_PROTOCOL, "malformed HELLO");
        return CLOSE;
    }
    if (version != TESSERA_PROTOCOL_VERSION) {
        reply_error(out, TESSERA_ERR_VERSION,
                    "this agent speaks protocol %u, the client %u",
                    TESSERA_PROTOCOL_VERSION, version);
        return CLOSE;
    }
    c->greeted = TRUE;
    tessera_encode_hello_reply(out, TESSERA_PROTOCOL_VERSION, TESSERA_VERSION);
    return KEEP_OPEN;
}

/*
 * The snapshot a page of LIST or TOKENS (what) is read from, and the
 * length of its list (entries_of) in *total. Start 0 takes the current
 * registry and keeps it for the pages that follow on this connection, so
 * that a list in pages is one consistent picture however tokens come and
 * go meanwhile. NULL, with the error replied, for a later page without a
 * first or a start beyond the end.
 */
static struct agent_registry *
page_snapshot(struct agent *agent, const char *what,
              struct agent_registry **pinned,
              guint (*entries_of)(const struct agent_registry *reg),
              uint32_t start, guint *total, struct tessera_writer *out)
{
    if (start == 0) {
        if (*pinned != NULL)
            agent_registry_unref(*pinned);
        *pinned = agent_registry_get(agent);
    }
    if (*pinned == NULL) {
        reply_error(out, TESSERA_ERR_PROTOCOL,
                    "%s from %u without a %s from 0 on this connection", what,
                    start, what);
        return NULL;
    }
    *total = entries_of(*pinned);
    if (start > *total) {
        reply_error(out, TESSERA_ERR_INVALID,
                    "%s from %u, but there are only %u entries", what, start,
                    *total);
        return NULL;
    }
    return *pinned;
}

/* After a page up to end of total: the last one lets the snapshot go. */
static void
page_sent(struct agent_registry **pinned, uint32_t end, guint total)
{
    if (end >= total) {
        agent_registry_unref(*pinned);
        *pinned = NULL;
    }
}

static void
handle_list(struct connection *c, struct tessera_reader *r,
            struct tessera_writer *out)
{
    struct agent *agent = c->server->agent;
    uint32_t start;
    if (!tessera_decode_list(r, &start)) {
        reply_error(out, TESSERA_ERR_PROTOCOL, "malformed LIST request");
        return;
    }
    guint total;
    struct agent_registry *reg =
        page_snapshot(agent, "LIST", &c->listing, agent_registry_n_identities,
                      start, &total, out);
    if (reg == NULL)
        return;
    struct tessera_page page;
    tessera_begin_list_reply(out, total, &page);
    gboolean room = TRUE;
    for (guint i = start; i < total && room; i++) {
        struct agent_identity *id = agent_registry_identity(reg, i);
        struct tessera_identity_summary s;
        agent_identity_summary(id, &s);
        agent_renewal_describe(agent, id, &s);
        room = tessera_add_list_entry(out, &page, &s);
        tessera_identity_summary_clear(&s);
    }
    page_sent(&c->listing, start + page.count, total);
}

static void
handle_get_identity(struct agent *agent, struct tessera_reader *r,
                    struct tessera_writer *out)
{
    char *name;
    if (!tessera_decode_name_request(r, &name)) {
        reply_error(out, TESSERA_ERR_PROTOCOL,
                    "malformed GET_IDENTITY request");
        return;
    }
    struct agent_identity *id = agent_identity_find(agent, name);
    if (id == NULL) {
        reply_error(out, TESSERA_ERR_NO_IDENTITY,
                    "no identity named \"%s\"; `tessera list` shows the "
                    "identities the agent has",
                    name);
    } else {
        struct tessera_identity export;
        agent_identity_export(id, &export);
        tessera_encode_identity(out, &export);
        tessera_identity_clear(&export);
    }
    agent_identity_unref(id);
    free(name);
}

static void
handle_sign(struct connection *c, struct tessera_reader *r,
            struct tessera_writer *out)
{
    struct tessera_sign_request req;
    struct tessera_blob sig = {0};
    struct tessera_status st = {0};
    if (!tessera_decode_sign(r, &req)) {
        reply_error(out, TESSERA_ERR_PROTOCOL, "malformed SIGN request");
        return;
    }
    int rc = agent_sign(c->server->agent, &req, &c->peer, &sig, &st);
    reply_blob(out, TESSERA_MSG_SIGN_REPLY, rc, &sig, &st);
    tessera_sign_request_clear(&req);
}

static void
handle_tokens(struct connection *c, struct tessera_reader *r,
              struct tessera_writer *out)
{
    uint32_t start;
    if (!tessera_decode_tokens(r, &start)) {
        reply_error(out, TESSERA_ERR_PROTOCOL, "malformed TOKENS request");
        return;
    }
    guint total;
    struct agent_registry *reg =
        page_snapshot(c->server->agent, "TOKENS", &c->token_listing,
                      agent_registry_n_tokens, start, &total, out);
    if (reg == NULL)
        return;
    struct tessera_page page;
    tessera_begin_tokens_reply(out, total, &page);
    gboolean room = TRUE;
    for (guint i = start; i < total && room; i++) {
        struct tessera_token_info info;
        token_info(agent_registry_token(reg, i), &info);
        room = tessera_add_tokens_entry(out, &page, &info);
        tessera_token_info_clear(&info);
    }
    page_sent(&c->token_listing, start + page.count, total);
}

static void
handle_unlock(struct agent *agent, struct tessera_reader *r,
              struct tessera_writer *out)
{
    struct tessera_unlock_request req;
    struct tessera_status st = {0};
    if (!tessera_decode_unlock(r, &req)) {
        reply_error(out, TESSERA_ERR_PROTOCOL, "malformed UNLOCK request");
        return;
    }
    struct agent_token *token = agent_token_find(agent, req.token, &st);
    int rc = token ? control_unlock(agent, token, req.pin.data, req.pin.len,
                                    req.force != 0, &st)
                   : -1;
    if (token != NULL)
        token_unref(token);
    tessera_unlock_request_clear(&req);
    reply_done(out, rc, &st);
}

static void
handle_lock(struct agent *agent, struct tessera_reader *r,
            struct tessera_writer *out)
{
    char *spec;
    struct tessera_status st = {0};
    if (!tessera_decode_name_request(r, &spec)) {
        reply_error(out, TESSERA_ERR_PROTOCOL, "malformed LOCK request");
        return;
    }
    struct agent_token *token = NULL;
    int rc = -1;
    /* "": every token. */
    if (spec[0] == '\0' || (token = agent_token_find(agent, spec, &st)) != NULL)
        rc = control_lock(agent, token, &st);
    if (token != NULL)
        token_unref(token);
    free(spec);
    reply_done(out, rc, &st);
}

/* KEYGEN, or KEYGEN_SANS with its names. */
static void
handle_keygen(struct agent *agent, uint8_t type, struct tessera_reader *r,
              struct tessera_writer *out)
{
    struct tessera_keygen_sans_request req = {0};
    struct tessera_blob csr = {0};
    struct tessera_status st = {0};
    if (type == TESSERA_MSG_KEYGEN ? !tessera_decode_keygen(r, &req.key)
                                   : !tessera_decode_keygen_sans(r, &req)) {
        reply_error(out, TESSERA_ERR_PROTOCOL, "malformed %s request",
                    type == TESSERA_MSG_KEYGEN ? "KEYGEN" : "KEYGEN_SANS");
        return;
    }
    int rc = control_keygen(agent, &req, &csr, &st);
    reply_blob(out, TESSERA_MSG_KEYGEN_REPLY, rc, &csr, &st);
    tessera_keygen_sans_request_clear(&req);
}

static void
handle_enroll(struct agent *agent, int client_fd, struct tessera_reader *r,
              struct tessera_writer *out)
{
    struct tessera_enroll_request req;
    struct tessera_blob leaf = {0};
    struct tessera_status st = {0};
    if (!tessera_decode_enroll(r, &req)) {
        reply_error(out, TESSERA_ERR_PROTOCOL, "malformed ENROLL request");
        return;
    }
    int rc = control_enroll(agent, &req, client_fd, &leaf, &st);
    reply_blob(out, TESSERA_MSG_ENROLL_REPLY, rc, &leaf, &st);
    tessera_enroll_request_clear(&req);
}

static void
handle_renew(struct agent *agent, int client_fd, struct tessera_reader *r,
             struct tessera_writer *out)
{
    char *name = NULL;
    struct tessera_blob leaf = {0};
    struct tessera_status st = {0};
    if (!tessera_decode_name_request(r, &name)) {
        reply_error(out, TESSERA_ERR_PROTOCOL, "malformed RENEW request");
        return;
    }
    int rc = control_renew(agent, name, client_fd, &leaf, &st);
    reply_blob(out, TESSERA_MSG_RENEW_REPLY, rc, &leaf, &st);
    tessera_blob_clear(&leaf);
    free(name);
}

/* IMPORT, or IMPORT_INTO with --replace and --ca. */
static void
handle_import(struct agent *agent, uint8_t type, struct tessera_reader *r,
              struct tessera_writer *out)
{
    struct tessera_import_request req;
    struct tessera_status st = {0};
    if (type == TESSERA_MSG_IMPORT ? !tessera_decode_import(r, &req)
                                   : !tessera_decode_import_into(r, &req)) {
        reply_error(out, TESSERA_ERR_PROTOCOL, "malformed %s request",
                    type == TESSERA_MSG_IMPORT ? "IMPORT" : "IMPORT_INTO");
        return;
    }
    reply_done(out, control_import(agent, &req, &st), &st);
    tessera_import_request_clear(&req);
}

static void
handle_export(struct agent *agent, struct tessera_reader *r,
              struct tessera_writer *out)
{
    struct tessera_export_request req;
    struct tessera_status st = {0};
    if (!tessera_decode_export(r, &req)) {
        reply_error(out, TESSERA_ERR_PROTOCOL, "malformed EXPORT request");
        return;
    }
    reply_done(out, control_export(agent, &req, &st), &st);
    tessera_export_request_clear(&req);
}

static void
handle_forget(struct agent *agent, struct tessera_reader *r,
              struct tessera_writer *out)
{
    struct tessera_forget_request req = {0};
    struct tessera_status st = {0};
    if (!tessera_decode_forget(r, &req)) {
        reply_error(out, TESSERA_ERR_PROTOCOL, "malformed FORGET request");
        return;
    }
    int rc =
        control_forget(agent, req.name,
                       req.delete_keys ? FORGET_KEYS : FORGET_CERTIFICATE, &st);
    reply_done(out, rc, &st);
    free(req.name);
}

/* Written as they happen, on the thread doing the work, which is the
 * connection's: in order, and before its reply. A client that went away
 * is found out by the reply's write. */
static void
on_progress(const struct agent_event *event, gpointer data)
{
    (void)data;
    struct connection *c = g_private_get(&following);
    if (event->kind != AGENT_EVENT_PROGRESS || c == NULL)
        return;
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_progress(&w, event->progress);
    if (!w.failed)
        (void)tessera_write_frame(c->fd, w.data, w.len);
    tessera_writer_clear(&w);
}

static void
handle_follow(struct connection *c, struct tessera_reader *r,
              struct tessera_writer *out)
{
    struct agent *agent = c->server->agent;
    uint8_t wrapped;
    if (!tessera_decode_follow(r, &wrapped)) {
        reply_error(out, TESSERA_ERR_PROTOCOL,
                    "FOLLOW wraps a KEYGEN, KEYGEN_SANS, ENROLL or RENEW "
                    "request");
        return;
    }
    g_private_set(&following, c);
    if (wrapped == TESSERA_MSG_KEYGEN || wrapped == TESSERA_MSG_KEYGEN_SANS)
        handle_keygen(agent, wrapped, r, out);
    else if (wrapped == TESSERA_MSG_ENROLL)
        handle_enroll(agent, c->fd, r, out);
    else
        handle_renew(agent, c->fd, r, out);
    g_private_set(&following, NULL);
}

static void
handle_update_env(struct agent *agent, struct tessera_reader *r,
                  struct tessera_writer *out)
{
    struct tessera_env_update update;
    if (!tessera_decode_update_env(r, &update)) {
        reply_error(out, TESSERA_ERR_PROTOCOL, "malformed UPDATE_ENV request");
        return;
    }
    struct session_env env;
    g_strlcpy(env.display, update.display, sizeof(env.display));
    g_strlcpy(env.wayland_display, update.wayland_display,
              sizeof(env.wayland_display));
    g_strlcpy(env.dbus_address, update.dbus_address, sizeof(env.dbus_address));
    g_strlcpy(env.tty, update.tty, sizeof(env.tty));
    g_strlcpy(env.term, update.term, sizeof(env.term));
    tessera_env_update_clear(&update);
    agent_session_set(agent->session, &env);
    tessera_encode_ok(out);
}

static void
handle_log(struct agent *agent, struct tessera_reader *r,
           struct tessera_writer *out)
{
    char *name;
    if (!tessera_decode_name_request(r, &name)) {
        reply_error(out, TESSERA_ERR_PROTOCOL, "malformed LOG request");
        return;
    }
    struct tessera_use_list uses;
    agent_uses_recent(agent->uses, name[0] ? name : NULL, &uses);
    tessera_encode_log_reply(out, &uses);
    tessera_use_list_clear(&uses);
    free(name);
}

static enum verdict
dispatch(struct connection *c, const uint8_t *body, size_t len,
         struct tessera_writer *out)
{
    struct agent *agent = c->server->agent;
    struct tessera_reader r;
    tessera_reader_init(&r, body, len);
    uint8_t type = tessera_get_u8(&r);
    if (type == TESSERA_MSG_HELLO)
        return handle_hello(c, &r, out);
    if (!c->greeted) {
        reply_error(out, TESSERA_ERR_PROTOCOL,
                    "the first message must be HELLO");
        return CLOSE;
    }
    switch (type) {
    case TESSERA_MSG_LIST:
        handle_list(c, &r, out);
        break;
    case TESSERA_MSG_GET_IDENTITY:
        handle_get_identity(agent, &r, out);
        break;
    case TESSERA_MSG_SIGN:
        handle_sign(c, &r, out);
        break;
    case TESSERA_MSG_TOKENS:
        handle_tokens(c, &r, out);
        break;
    case TESSERA_MSG_UNLOCK:
        handle_unlock(agent, &r, out);
        break;
    case TESSERA_MSG_LOCK:
        handle_lock(agent, &r, out);
        break;
    case TESSERA_MSG_KEYGEN:
    case TESSERA_MSG_KEYGEN_SANS:
        handle_keygen(agent, type, &r, out);
        break;
    case TESSERA_MSG_IMPORT:
    case TESSERA_MSG_IMPORT_INTO:
        handle_import(agent, type, &r, out);
        break;
    case TESSERA_MSG_FORGET:
        handle_forget(agent, &r, out);
        break;
    case TESSERA_MSG_EXPORT:
        handle_export(agent, &r, out);
        break;
    case TESSERA_MSG_ENROLL:
        handle_enroll(agent, c->fd, &r, out);
        break;
    case TESSERA_MSG_RENEW:
        handle_renew(agent, c->fd, &r, out);
        break;
    case TESSERA_MSG_FOLLOW:
        handle_follow(c, &r, out);
        break;
    case TESSERA_MSG_UPDATE_ENV:
        handle_update_env(agent, &r, out);
        break;
    case TESSERA_MSG_LOG:
        handle_log(agent, &r, out);
        break;
    default:
        reply_error(out, TESSERA_ERR_PROTOCOL, "unknown message type 0x%02x",
                    type);
    }
    if (out->failed)
        reply_error(out, TESSERA_ERR_INTERNAL, "the reply did not fit a frame");
    return KEEP_OPEN;
}

static void
send_refusal(int fd, int code, const char *message)
{
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_error(&w, (uint32_t)code, message);
    tessera_write_frame(fd, w.data, w.len);
    tessera_writer_clear(&w);
}

static void
process_count_add(struct agent_server *server, pid_t pid, int delta)
{
    gpointer key = GINT_TO_POINTER(pid);
    int n = GPOINTER_TO_INT(g_hash_table_lookup(server->per_process, key));
    if (n + delta > 0)
        g_hash_table_insert(server->per_process, key,
                            GINT_TO_POINTER(n + delta));
    else
        g_hash_table_remove(server->per_process, key);
}

/* Forgets and closes c; called with the lock held. */
static void
drop_connection(struct agent_server *server, struct connection *c)
{
    g_queue_unlink(&server->connections, &c->link);
    process_count_add(server, c->pid, -1);
    close(c->fd); /* which takes it out of the epoll set */
    g_clear_pointer(&c->listing, agent_registry_unref);
    g_clear_pointer(&c->token_listing, agent_registry_unref);
    g_free(c);
}

static void
finish_connection(struct connection *c)
{
    struct agent_server *server = c->server;
    g_mutex_lock(&server->lock);
    drop_connection(server, c);
    g_mutex_unlock(&server->lock);
}

/*
 * Puts c in the epoll set until it becomes readable (once: EPOLLONESHOT,
 * so that one worker at a time has it). FALSE when the server is stopping
 * or the set refused it: the caller closes it.
 */
static gboolean
park_connection(struct connection *c)
{
    struct agent_server *server = c->server;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT,
                             .data.ptr = c};
    g_mutex_lock(&server->lock);
    int op = c->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    gboolean ok =
        !server->stopping && epoll_ctl(server->epoll_fd, op, c->fd, &ev) == 0;
    if (ok) {
        c->in_epoll = c->parked = TRUE;
        c->idle_since_us = g_get_monotonic_time();
    }
    g_mutex_unlock(&server->lock);
    return ok;
}

/* Whether a request (or the end of the connection) arrives within
 * LINGER_MS, after polling for poll_us first. */
static gboolean
await_request(int fd, unsigned poll_us)
{
    tessera_poll_readable(fd, poll_us);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    while ((n = poll(&p, 1, LINGER_MS)) < 0 && errno == EINTR)
        ;
    return n != 0;
}

/* Serves c until it goes quiet (parked again) or ends (closed). */
static void
serve_connection(gpointer data, gpointer user_data)
{
    struct connection *c = data;
    (void)user_data;
    /* A reload's poll-us is for the requests that come after it. */
    struct agent_config *cfg = agent_config_get(c->server->agent);
    unsigned poll_us = cfg->agent.poll_us;
    agent_config_unref(cfg);
    for (;;) {
        if (!await_request(c->fd, poll_us)) {
            if (park_connection(c))
                goto done;
            break;
        }
        uint8_t *body;
        size_t len;
        if (tessera_read_frame(c->fd, &body, &len) < 0) {
            if (errno == EPROTO)
                send_refusal(c->fd, TESSERA_ERR_PROTOCOL,
                             "frame length out of bounds; closing");
            break;
        }
        struct tessera_writer out;
        tessera_writer_init(&out);
        enum verdict v = dispatch(c, body, len, &out);
        /* The request may have carried a PIN. */
        OPENSSL_cleanse(body, len);
        free(body);
        int rc = tessera_write_frame(c->fd, out.data, out.len);
        tessera_writer_clear(&out);
        if (rc < 0 || v == CLOSE)
            break;
    }
    finish_connection(c);
done:
    /* OpenSSL frees a thread's own state (its error queue) when the thread
     * exits; a pool's thread may never exit, so it is freed here. */
    OPENSSL_thread_stop();
}

/* Closes the connections parked for longer than the configuration's
 * idle-connection-seconds; called with the lock held. */
static void
close_idle(struct agent_server *server, gint64 now_us)
{
    struct agent_config *cfg = agent_config_get(server->agent);
    gint64 limit_us =
        (gint64)cfg->agent.idle_connection_seconds * G_USEC_PER_SEC;
    agent_config_unref(cfg);
    if (limit_us == 0)
        return;
    for (GList *l = server->connections.head; l != NULL;) {
        struct connection *c = l->data;
        l = l->next;
        if (c->parked && now_us - c->idle_since_us >= limit_us)
            drop_connection(server, c);
    }
}

/* The peer's pid when credentials.c allows it; 0 when not, and it is told why
 * and how to be allowed; so is the log. */
static pid_t
allowed_peer_pid(struct agent_server *server, int fd)
{
    struct agent_credentials peer;
    struct tessera_status st = {0};
    if (!agent_credentials_read(fd, &peer))
        return 0;
    struct agent_config *cfg = agent_config_get(server->agent);
    gboolean ok = agent_credentials_allowed(cfg, server->agent->system,
                                            server->uid, &peer, &st);
    agent_config_unref(cfg);
    pid_t pid = ok ? peer.pid : 0;
    agent_credentials_clear(&peer);
    if (!ok) {
        g_warning("refused a connection: %s", st.message);
        send_refusal(fd, st.code, st.message);
    }
    return pid;
}

/*
 * The idle thread: hands each parked connection that becomes readable to
 * a worker, and once a second closes those idle for too long. Only it
 * unparks, so a parked connection is never served twice.
 */
static gpointer
idle_main(gpointer data)
{
    struct agent_server *server = data;
    struct epoll_event events[64];
    for (;;) {
        int n =
            epoll_wait(server->epoll_fd, events, G_N_ELEMENTS(events), 1000);
        g_mutex_lock(&server->lock);
        for (int i = 0; i < n; i++) {
            struct connection *c = events[i].data.ptr;
            if (c == NULL) {
                g_mutex_unlock(&server->lock);
                return NULL;
            }
            c->parked = FALSE;
            g_thread_pool_push(server->workers, c, NULL);
        }
        close_idle(server, g_get_monotonic_time());
        g_mutex_unlock(&server->lock);
    }
}

/* Whether the client's first request is there already (it mostly is: it
 * sends HELLO as it connects); such a connection goes to a worker at once
 * rather than through the epoll set. */
static gboolean
request_waiting(int fd)
{
    uint8_t byte;
    return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) >= 0 ||
           (errno != EAGAIN && errno != EWOULDBLOCK);
}

static gboolean
on_incoming(gint fd, GIOCondition condition, gpointer data)
{
    struct agent_server *server = data;
    (void)condition;
    int client = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (client < 0)
        return G_SOURCE_CONTINUE;
    pid_t pid = allowed_peer_pid(server, client);
    if (pid == 0) {
        close(client);
        return G_SOURCE_CONTINUE;
    }
    g_mutex_lock(&server->lock);
    int held = GPOINTER_TO_INT(
        g_hash_table_lookup(server->per_process, GINT_TO_POINTER(pid)));
    if (held >= MAX_CONNECTIONS_PER_PROCESS) {
        g_mutex_unlock(&server->lock);
        ratelog_message("refused a connection: process %d has %d connections "
                        "open already",
                        (int)pid, held);
        send_refusal(client, TESSERA_ERR_BUSY,
                     "this process has " G_STRINGIFY(
                         MAX_CONNECTIONS_PER_PROCESS) " connections to the "
                                                      "agent already");
        close(client);
        return G_SOURCE_CONTINUE;
    }
    struct timeval tv = {.tv_sec = FRAME_TIMEOUT_SECONDS};
    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct connection *c = g_new0(struct connection, 1);
    c->server = server;
    agent_peer_of_socket(client, &c->peer);
    c->fd = client;
    c->pid = pid;
    c->link.data = c;
    g_queue_push_tail_link(&server->connections, &c->link);
    process_count_add(server, pid, 1);
    g_mutex_unlock(&server->lock);
    if (request_waiting(client))
        g_thread_pool_push(server->workers, c, NULL);
    else if (!park_connection(c))
        finish_connection(c);
    return G_SOURCE_CONTINUE;
}

/*
 * The socket's directory must be private to the user: created 0700 when
 * missing, and refused when someone else owns it or could enter it. The
 * system agent's is open to all (0755) but writable by root alone: who is
 * served is decided per connection (credentials.c).
 */
static gboolean
prepare_directory(const char *path, gboolean system, struct tessera_status *st)
{
    char *dir = g_path_get_dirname(path);
    struct stat sb;
    gboolean ok = FALSE;
    mode_t refused = system ? 0022 : 0077;
    if (g_mkdir_with_parents(dir, system ? 0755 : 0700) != 0 ||
        lstat(dir, &sb) != 0)
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "cannot create socket directory %s: %s", dir,
                           g_strerror(errno));
    else if (!S_ISDIR(sb.st_mode) || sb.st_uid != getuid())
        tessera_status_set(
            st, TESSERA_ERR_UNTRUSTED,
            "socket directory %s is not a directory owned by uid %u", dir,
            (unsigned)getuid());
    else if (sb.st_mode & refused)
        tessera_status_set(
            st, TESSERA_ERR_UNTRUSTED,
            "socket directory %s is open to other users (mode %03o); "
            "it must be %s",
            dir, sb.st_mode & 0777, system ? "0755 or stricter" : "0700");
    else
        ok = TRUE;
    g_free(dir);
    return ok;
}

static gboolean
clear_stale_socket(const char *path, struct tessera_status *st)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return TRUE;
    if (!S_ISSOCK(sb.st_mode)) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "%s exists and is not a socket", path);
        return FALSE;
    }
    struct tessera_status ignored = {0};
    int fd = tessera_socket_connect(path, &ignored);
    if (fd >= 0) {
        close(fd);
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "another agent is already serving %s", path);
        return FALSE;
    }
    unlink(path);
    return TRUE;
}

static int
listen_on(const char *path, gboolean system, struct tessera_status *st)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "socket path %s is too long", path);
        return -1;
    }
    if (!prepare_directory(path, system, st) || !clear_stale_socket(path, st))
        return -1;
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    mode_t old = umask(0177);
    int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&addr, sizeof(addr));
    umask(old);
    if (rc == 0)
        rc = chmod(path, system ? 0666 : 0600);
    if (rc == 0)
        rc = listen(fd, 64);
    if (rc < 0) {
        tessera_status_set(st, TESSERA_ERR_INTERNAL, "cannot listen on %s: %s",
                           path, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

#define SD_LISTEN_FDS_START 3

/*
 * The listening socket a service manager passed (systemd socket activation,
 * or systemd-socket-activate): LISTEN_PID is this process and LISTEN_FDS 1,
 * fd 3, a listening UNIX stream socket; the protocol of sd_listen_fds(3),
 * read here without libsystemd. -1 when none was passed.
 */
static int
activation_socket(struct tessera_status *st)
{
    const char *pid = g_getenv("LISTEN_PID"), *fds = g_getenv("LISTEN_FDS");
    if (pid == NULL || fds == NULL ||
        g_ascii_strtoull(pid, NULL, 10) != (guint64)getpid())
        return -1;
    int fd = SD_LISTEN_FDS_START, type = 0, listening = 0;
    socklen_t len = sizeof(int);
    struct sockaddr_un addr;
    socklen_t addr_len = sizeof(addr);
    gboolean ok =
        strcmp(fds, "1") == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
        type == SOCK_STREAM &&
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 &&
        listening &&
        getsockname(fd, (struct sockaddr *)&addr, &addr_len) == 0 &&
        addr.sun_family == AF_UNIX;
    /* Not for the programs the agent starts (post-renew commands). */
    g_unsetenv("LISTEN_PID");
    g_unsetenv("LISTEN_FDS");
    g_unsetenv("LISTEN_FDNAMES");
    if (!ok) {
        tessera_status_set(
            st, TESSERA_ERR_INVALID,
            "the service manager passed LISTEN_FDS=%s; expected one "
            "listening UNIX stream socket",
            fds);
        return -2;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

/*
 * Each connection is a descriptor: the soft limit (1024 by default) would
 * refuse clients long before memory runs short, and the hard limit is what
 * the administrator allows.
 */
static void
raise_descriptor_limit(void)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
            g_message("cannot raise the descriptor limit: %s",
                      g_strerror(errno));
    }
}

struct agent_server *
agent_server_start(struct agent *agent, const char *path,
                   struct tessera_status *st)
{
    int fd = activation_socket(st);
    gboolean activated = fd >= 0;
    if (fd == -1)
        fd = listen_on(path, agent->system, st);
    if (fd < 0)
        return NULL;
    raise_descriptor_limit();
    struct agent_server *server = g_new0(struct agent_server, 1);
    server->agent = agent;
    server->path = activated ? NULL : g_strdup(path);
    server->listen_fd = fd;
    server->uid = getuid();
    g_mutex_init(&server->lock);
    g_queue_init(&server->connections);
    server->per_process = g_hash_table_new(NULL, NULL);
    server->epoll_fd = server->wake_fd = -1;
    return server;
}

void
agent_server_adopt(struct agent_server *server)
{
    /* Linux takes a listening socket's peer credentials at listen(). */
    if (server->path != NULL && listen(server->listen_fd, 64) < 0)
        g_warning("cannot listen on %s again: %s", server->path,
                  g_strerror(errno));
}

void
agent_server_serve(struct agent_server *server)
{
    struct agent *agent = server->agent;
    server->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    server->wake_fd = eventfd(0, EFD_CLOEXEC);
    struct epoll_event wake = {.events = EPOLLIN, .data.ptr = NULL};
    if (server->epoll_fd < 0 || server->wake_fd < 0 ||
        epoll_ctl(server->epoll_fd, EPOLL_CTL_ADD, server->wake_fd, &wake) < 0)
        g_error("cannot make the idle connections' epoll set: %s",
                g_strerror(errno));
    /* Unbounded: a thread per active connection, as many as clients
     * signing at once; idle ones have none. */
    server->workers =
        g_thread_pool_new(serve_connection, server, -1, FALSE, NULL);
    server->idle_thread = g_thread_new("tessera-idle", idle_main, server);
    server->progress_subscription =
        agent_events_subscribe(agent->events, on_progress, server);
    server->source =
        g_unix_fd_add(server->listen_fd, G_IO_IN, on_incoming, server);
    if (server->path == NULL)
        g_message("listening on the socket the service manager passed");
    else
        g_message("listening on %s", server->path);
}

/* What agent_server_serve started, in reverse. */
static void
stop_serving(struct agent_server *server)
{
    g_source_remove(server->source);
    uint64_t one = 1;
    if (write(server->wake_fd, &one, sizeof(one)) != sizeof(one))
        g_error("cannot stop the idle thread: %s", g_strerror(errno));
    g_thread_join(server->idle_thread);
    /*
     * No new connections now, and none unparked. Close the parked ones;
     * wake every worker waiting for a request and wait for it. Only
     * reading is shut: a renewal or enrolment that the stop ended (rolled
     * back, or finished) still tells its client how.
     */
    g_mutex_lock(&server->lock);
    server->stopping = TRUE;
    for (GList *l = server->connections.head; l != NULL;) {
        struct connection *c = l->data;
        l = l->next;
        if (c->parked)
            drop_connection(server, c);
        else
            shutdown(c->fd, SHUT_RD);
    }
    g_mutex_unlock(&server->lock);
    agent_events_unsubscribe(server->agent->events,
                             server->progress_subscription);
    g_thread_pool_free(server->workers, FALSE, TRUE);
    close(server->epoll_fd);
    close(server->wake_fd);
}

void
agent_server_stop(struct agent_server *server)
{
    if (server == NULL)
        return;
    if (server->idle_thread != NULL)
        stop_serving(server);
    close(server->listen_fd);
    if (server->path != NULL)
        unlink(server->path);
    g_hash_table_unref(server->per_process);
    g_mutex_clear(&server->lock);
    g_free(server->path);
    g_free(server);
}
