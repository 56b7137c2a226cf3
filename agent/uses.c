/* SPDX-License-Identifier: Apache-2.0 */
#include "uses.h"
#include "../common/errors.h"
#include "../common/keyspec.h"

#include <stdio.h>
#include <string.h>

struct kept {
    struct tessera_use use;
    gint64 opened;         /* monotonic us */
    gint64 closes;         /* monotonic us; the interval's end */
    uint32_t logged_count; /* of use.count, already in the log */
};

struct agent_uses {
    GMutex lock;
    struct kept ring[USES_KEPT];
    guint next, n;
};

struct agent_uses *
agent_uses_new(void)
{
    struct agent_uses *u = g_new0(struct agent_uses, 1);
    g_mutex_init(&u->lock);
    return u;
}

static void
kept_clear(struct kept *k)
{
    free(k->use.identity);
    free(k->use.token);
    free(k->use.program);
    memset(k, 0, sizeof(*k));
}

void
agent_uses_free(struct agent_uses *u)
{
    if (u == NULL)
        return;
    for (guint i = 0; i < USES_KEPT; i++)
        kept_clear(&u->ring[i]);
    g_mutex_clear(&u->lock);
    g_free(u);
}

/* One journal entry for count uses of k (count 1: the first). */
static void
log_entry(const struct kept *k, uint32_t count)
{
    const struct tessera_use *u = &k->use;
    char pid[16], n[16], key[16];
    snprintf(pid, sizeof(pid), "%u", u->pid);
    snprintf(n, sizeof(n), "%u", count);
    snprintf(key, sizeof(key), "%s", tessera_key_type_name(u->key_type));
    const char *outcome =
        u->outcome == TESSERA_OK ? "signed" : tessera_error_name(u->outcome);
    char *message =
        count == 1 ? g_strdup_printf("identity %s: %s by %s (pid %u)",
                                     u->identity, outcome, u->program, u->pid)
                   : g_strdup_printf(
                         "identity %s: %s %u more times by %s (last pid %u)",
                         u->identity, outcome, count, u->program, u->pid);
    /* MESSAGE: GLib's default writer drops INFO unless debugging, and
     * every use must reach the journal. */
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE", "%s",
                     message, "TESSERA_IDENTITY", "%s", u->identity,
                     "TESSERA_TOKEN", "%s", u->token, "TESSERA_KEY_TYPE", "%s",
                     key, "TESSERA_PROGRAM", "%s", u->program, "TESSERA_PID",
                     "%s", pid, "TESSERA_OUTCOME", "%s", outcome,
                     "TESSERA_COUNT", "%s", n);
    g_free(message);
}

static const char *
program_of(const struct agent_peer *peer)
{
    return peer->exe[0] ? peer->exe : "unknown";
}

/* One program's uses of one identity with one outcome, whatever its
 * process: a shell loop running openssl is one entry too. */
static gboolean
same_kind(const struct kept *k, const struct use *use)
{
    const struct tessera_use *u = &k->use;
    return u->identity != NULL && u->outcome == (uint32_t)use->outcome &&
           strcmp(u->identity, use->identity) == 0 &&
           strncmp(u->program, program_of(use->peer),
                   TESSERA_USE_PROGRAM_MAX) == 0;
}

/* Logs what k counted since its last entry once its interval is over. */
static void
flush_one(struct kept *k, gint64 now)
{
    if (k->use.count > k->logged_count && now >= k->closes) {
        log_entry(k, k->use.count - k->logged_count);
        k->logged_count = k->use.count;
    }
}

void
agent_uses_record(struct agent_uses *u, const struct use *use,
                  unsigned interval)
{
    gint64 now = g_get_monotonic_time();
    g_mutex_lock(&u->lock);
    for (guint i = 0; i < u->n; i++) {
        struct kept *k = &u->ring[(u->next + USES_KEPT - 1 - i) % USES_KEPT];
        flush_one(k, now);
        if (same_kind(k, use) && now < k->closes) {
            k->use.count++;
            k->use.last = g_get_real_time() / G_USEC_PER_SEC;
            k->use.pid = (uint32_t)use->peer->pid;
            g_mutex_unlock(&u->lock);
            return;
        }
    }
    struct kept *k = &u->ring[u->next];
    kept_clear(k);
    k->use = (struct tessera_use){
        .first = g_get_real_time() / G_USEC_PER_SEC,
        .count = 1,
        .identity = strdup(use->identity),
        .token = strdup(use->token),
        .key_type = use->key_type,
        .program = strndup(program_of(use->peer), TESSERA_USE_PROGRAM_MAX),
        .pid = (uint32_t)use->peer->pid,
        .outcome = (uint32_t)use->outcome,
    };
    k->use.last = k->use.first;
    k->opened = now;
    k->closes = now + (gint64)interval * G_USEC_PER_SEC;
    k->logged_count = 1;
    u->next = (u->next + 1) % USES_KEPT;
    u->n = MIN(u->n + 1, USES_KEPT);
    log_entry(k, 1);
    g_mutex_unlock(&u->lock);
}

void
agent_uses_flush(struct agent_uses *u)
{
    gint64 now = g_get_monotonic_time();
    g_mutex_lock(&u->lock);
    for (guint i = 0; i < u->n; i++)
        flush_one(&u->ring[i], now);
    g_mutex_unlock(&u->lock);
}

void
agent_uses_recent(struct agent_uses *u, const char *identity,
                  struct tessera_use_list *out)
{
    memset(out, 0, sizeof(*out));
    g_mutex_lock(&u->lock);
    out->items = calloc(USES_KEPT, sizeof(*out->items));
    for (guint i = 0; out->items != NULL && i < u->n; i++) {
        const struct tessera_use *k =
            &u->ring[(u->next + USES_KEPT - u->n + i) % USES_KEPT].use;
        if (identity != NULL && strcmp(k->identity, identity) != 0)
            continue;
        struct tessera_use *copy = &out->items[out->n++];
        *copy = *k;
        copy->identity = strdup(k->identity);
        copy->token = strdup(k->token);
        copy->program = strdup(k->program);
    }
    g_mutex_unlock(&u->lock);
}
