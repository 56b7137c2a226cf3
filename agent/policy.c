/* SPDX-License-Identifier: Apache-2.0 */
#include "policy.h"
#include "prompt.h"

#include <string.h>

struct agent_policy {
    GMutex lock;
    /* "identity pid start-time" -> monotonic expiry (gint64 *) */
    GHashTable *confirmed;
};

struct agent_policy *
agent_policy_new(void)
{
    struct agent_policy *p = g_new0(struct agent_policy, 1);
    g_mutex_init(&p->lock);
    p->confirmed =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return p;
}

void
agent_policy_free(struct agent_policy *p)
{
    if (p == NULL)
        return;
    g_hash_table_unref(p->confirmed);
    g_mutex_clear(&p->lock);
    g_free(p);
}

static gboolean
program_listed(char *const *programs, const char *exe)
{
    for (; *programs != NULL; programs++)
        if (exe[0] != '\0' && strcmp(*programs, exe) == 0)
            return TRUE;
    return FALSE;
}

static char *
confirmation_key(const char *identity, const struct agent_peer *peer)
{
    return g_strdup_printf("%s %d %" G_GUINT64_FORMAT, identity, (int)peer->pid,
                           peer->start_time);
}

/* Drops expired confirmations; under lock. */
static void
forget_expired(struct agent_policy *p, gint64 now)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, p->confirmed);
    while (g_hash_table_iter_next(&it, NULL, &value))
        if (*(gint64 *)value <= now)
            g_hash_table_iter_remove(&it);
}

static gboolean
still_confirmed(struct agent_policy *p, const char *key)
{
    gint64 now = g_get_monotonic_time();
    g_mutex_lock(&p->lock);
    forget_expired(p, now);
    gboolean yes = g_hash_table_contains(p->confirmed, key);
    g_mutex_unlock(&p->lock);
    return yes;
}

static void
remember(struct agent_policy *p, char *key, gint64 seconds)
{
    gint64 *until = g_new(gint64, 1);
    *until = g_get_monotonic_time() + seconds * G_USEC_PER_SEC;
    g_mutex_lock(&p->lock);
    g_hash_table_replace(p->confirmed, key, until);
    g_mutex_unlock(&p->lock);
}

gboolean
policy_allows(struct agent *agent, const char *identity,
              const struct agent_peer *peer, struct tessera_status *st)
{
    if (peer->pid == 0)
        return TRUE;
    struct agent_config *cfg = agent_config_get(agent);
    const struct config_identity *rules = agent_config_identity(cfg, identity);
    gboolean allowed = TRUE, confirm = rules != NULL && rules->confirm;
    gint64 confirm_seconds = rules ? rules->confirm_seconds : 0;
    if (rules != NULL && rules->allow_programs != NULL &&
        !program_listed(rules->allow_programs, peer->exe)) {
        char described[4200];
        agent_peer_describe(peer, described, sizeof(described));
        tessera_status_set(st, TESSERA_ERR_PROGRAM_REFUSED,
                           "%s may not use identity %s: it is not in the "
                           "identity's allow-programs (agent.conf)",
                           described, identity);
        allowed = FALSE;
    }
    agent_config_unref(cfg);
    if (!allowed || !confirm)
        return allowed;
    char *key = confirmation_key(identity, peer);
    if (still_confirmed(agent->policy, key)) {
        g_free(key);
        return TRUE;
    }
    if (!prompt_confirm(agent, identity, peer, st)) {
        g_free(key);
        return FALSE;
    }
    remember(agent->policy, key, confirm_seconds);
    return TRUE;
}
