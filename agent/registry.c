/* SPDX-License-Identifier: Apache-2.0 */
#include "registry.h"
#include "../common/p11uri.h"
#include "agent.h"
#include "config.h"
#include "naming.h"

#include <string.h>

/* An immutable view of tokens and identities; replaced, never changed. */
struct agent_registry {
    gint refcount;
    GPtrArray *tokens;     /* struct agent_token * */
    GPtrArray *identities; /* struct agent_identity *, in discovery order */
    GPtrArray *unlisted;   /* NAME~next, NAME~old, ACME account keys */
    GHashTable *by_name;   /* name -> struct agent_identity *, both kinds */
};

/* What the agent holds: the current snapshot and the rescan lock. */
struct registry_keeper {
    GMutex lock; /* current */
    struct agent_registry *current;
    GMutex rescan_lock; /* one rescan, or one renewal step, at a time */
    gint stopping;      /* atomic, set under rescan_lock: no more rescans */
};

static struct agent_registry *
registry_new(GPtrArray *tokens)
{
    struct agent_registry *reg = g_new0(struct agent_registry, 1);
    reg->refcount = 1;
    reg->tokens = tokens;
    reg->identities =
        g_ptr_array_new_with_free_func((GDestroyNotify)agent_identity_unref);
    reg->unlisted =
        g_ptr_array_new_with_free_func((GDestroyNotify)agent_identity_unref);
    reg->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    return reg;
}

void
agent_registry_init(struct agent *agent)
{
    struct registry_keeper *k = g_new0(struct registry_keeper, 1);
    g_mutex_init(&k->lock);
    g_mutex_init(&k->rescan_lock);
    k->current = registry_new(
        g_ptr_array_new_with_free_func((GDestroyNotify)token_unref));
    agent->registry = k;
}

void
agent_registry_stop(struct agent *agent)
{
    struct registry_keeper *k = agent->registry;
    if (k == NULL)
        return;
    g_mutex_lock(&k->rescan_lock);
    g_atomic_int_set(&k->stopping, 1);
    g_mutex_unlock(&k->rescan_lock);
}

void
agent_registry_finish(struct agent *agent)
{
    struct registry_keeper *k = agent->registry;
    if (k == NULL)
        return;
    agent_registry_unref(k->current);
    g_mutex_clear(&k->lock);
    g_mutex_clear(&k->rescan_lock);
    g_free(k);
    agent->registry = NULL;
}

struct agent_registry *
agent_registry_get(struct agent *agent)
{
    struct registry_keeper *k = agent->registry;
    g_mutex_lock(&k->lock);
    struct agent_registry *reg = k->current;
    g_atomic_int_inc(&reg->refcount);
    g_mutex_unlock(&k->lock);
    return reg;
}

void
agent_registry_unref(struct agent_registry *reg)
{
    if (reg == NULL || !g_atomic_int_dec_and_test(&reg->refcount))
        return;
    g_hash_table_unref(reg->by_name);
    g_ptr_array_unref(reg->identities);
    g_ptr_array_unref(reg->unlisted);
    g_ptr_array_unref(reg->tokens);
    g_free(reg);
}

guint
agent_registry_n_identities(const struct agent_registry *reg)
{
    return reg->identities->len;
}

struct agent_identity *
agent_registry_identity(const struct agent_registry *reg, guint i)
{
    return g_ptr_array_index(reg->identities, i);
}

guint
agent_registry_n_tokens(const struct agent_registry *reg)
{
    return reg->tokens->len;
}

struct agent_token *
agent_registry_token(const struct agent_registry *reg, guint i)
{
    return g_ptr_array_index(reg->tokens, i);
}

struct agent_identity *
agent_registry_lookup(const struct agent_registry *reg, const char *name)
{
    return g_hash_table_lookup(reg->by_name, name);
}

struct agent_token *
agent_registry_find_token(const struct agent_registry *reg, const char *spec,
                          struct tessera_status *st)
{
    struct tessera_p11uri uri;
    gboolean by_uri = g_str_has_prefix(spec, "pkcs11:");
    char err[256];
    if (by_uri && !tessera_p11uri_parse(spec, &uri, err, sizeof(err))) {
        tessera_status_set(st, TESSERA_ERR_INVALID, "%s", err);
        return NULL;
    }
    struct agent_token *found = NULL;
    guint matches = 0;
    for (guint i = 0; i < reg->tokens->len; i++) {
        struct agent_token *t = g_ptr_array_index(reg->tokens, i);
        gboolean match =
            spec[0] == '\0' ||
            (by_uri ? tessera_p11uri_match_token(
                          &uri, token_label(t), token_manufacturer(t),
                          token_model(t), token_serial(t))
                    : strcmp(spec, token_label(t)) == 0);
        if (match && matches++ == 0)
            found = t;
    }
    if (by_uri)
        tessera_p11uri_clear(&uri);
    if (matches == 1)
        return found;
    if (matches == 0)
        tessera_status_set(st, TESSERA_ERR_NO_TOKEN,
                           "no token matches \"%s\"; `tessera tokens` lists "
                           "them",
                           spec);
    else
        tessera_status_set(st, TESSERA_ERR_NO_TOKEN,
                           "%u tokens match \"%s\"; name one by its label or "
                           "a pkcs11: URI",
                           matches, spec);
    return NULL;
}

struct agent_identity *
agent_identity_find(struct agent *agent, const char *name)
{
    struct agent_registry *reg = agent_registry_get(agent);
    struct agent_identity *id = agent_registry_lookup(reg, name);
    if (id != NULL)
        agent_identity_ref(id);
    agent_registry_unref(reg);
    return id;
}

struct agent_token *
agent_token_find(struct agent *agent, const char *spec,
                 struct tessera_status *st)
{
    struct agent_registry *reg = agent_registry_get(agent);
    struct agent_token *t = agent_registry_find_token(reg, spec, st);
    if (t != NULL)
        token_ref(t);
    agent_registry_unref(reg);
    return t;
}

GBytes *
agent_leaf_of(struct agent *agent, const char *name)
{
    struct agent_identity *id = agent_identity_find(agent, name);
    GBytes *leaf = id ? agent_identity_leaf(id) : NULL;
    if (leaf != NULL)
        g_bytes_ref(leaf);
    agent_identity_unref(id);
    return leaf;
}

void
agent_leaf_copy(struct agent *agent, const char *name, struct tessera_blob *out)
{
    GBytes *leaf = agent_leaf_of(agent, name);
    if (leaf == NULL)
        return;
    gsize len;
    const void *der = g_bytes_get_data(leaf, &len);
    tessera_blob_copy(out, (struct tessera_bytes){der, len});
    g_bytes_unref(leaf);
}

/* --- building snapshots */

static void
add_identity(struct agent_registry *reg, struct agent_identity *id)
{
    const char *name = agent_identity_name(id);
    /* Two tokens may carry the same label: later ones get a suffix. */
    if (g_hash_table_contains(reg->by_name, name)) {
        char *base = g_strdup(name);
        for (int n = 2;; n++) {
            char *nth = naming_nth(base, n);
            gboolean unused = !g_hash_table_contains(reg->by_name, nth);
            if (unused)
                agent_identity_rename(id, nth);
            g_free(nth);
            if (unused)
                break;
        }
        g_free(base);
        name = agent_identity_name(id);
    }
    g_ptr_array_add(naming_is_unlisted(name) ? reg->unlisted : reg->identities,
                    id);
    g_hash_table_insert(reg->by_name, (char *)name, id);
}

/* An absent token's identities stay listed, so clients hear "not present"
 * rather than "no such identity". */
static void
keep_identities(struct agent_registry *reg, const struct agent_registry *old,
                const struct agent_token *token)
{
    GPtrArray *kinds[] = {old ? old->identities : NULL,
                          old ? old->unlisted : NULL};
    for (size_t k = 0; k < G_N_ELEMENTS(kinds) && kinds[k] != NULL; k++)
        for (guint i = 0; i < kinds[k]->len; i++) {
            struct agent_identity *id = g_ptr_array_index(kinds[k], i);
            /* Shared with the old snapshot: never renamed, never doubled. */
            if (agent_identity_token(id) == token &&
                !g_hash_table_contains(reg->by_name, agent_identity_name(id)))
                add_identity(reg, agent_identity_ref(id));
        }
}

static GPtrArray *
read_keys(struct agent *agent, struct agent_token *token, GPtrArray *key_ids)
{
    return agent_identities_read(token, key_ids, agent->state);
}

/* One login from the token's pin-file, or with the empty PIN, if its PIN
 * comes from there; nobody asked, so a failure is logged. */
static gboolean
login_unattended(const struct agent_config *cfg, struct agent_token *token)
{
    const struct config_token *c = agent_config_token(cfg, token_label(token));
    struct tessera_status st = {0};
    int rc;
    if (c->pin_source == AGENT_PIN_FILE)
        rc = token_login_from_file(token, c->pin_file, &st);
    else if (c->pin_source == AGENT_PIN_EMPTY)
        rc = token_login(token, (const uint8_t *)"", 0, FALSE, &st);
    else
        return FALSE;
    if (rc == 0)
        return TRUE;
    g_warning("%s", st.message);
    return FALSE;
}

gboolean
agent_registry_login_from_files(struct agent *agent)
{
    struct agent_config *cfg = agent_config_get(agent);
    struct agent_registry *reg = agent_registry_get(agent);
    gboolean any = FALSE;
    for (guint i = 0; i < reg->tokens->len; i++) {
        struct agent_token *t = g_ptr_array_index(reg->tokens, i);
        if (token_present(t) && !token_logged_in(t))
            any = login_unattended(cfg, t) || any;
    }
    agent_registry_unref(reg);
    agent_config_unref(cfg);
    return any;
}

static void
scan_token(struct agent *agent, const struct agent_config *cfg,
           struct agent_registry *reg, const struct agent_registry *old,
           struct agent_token *token)
{
    /* A returning headless token logs in again from its file, once. */
    if (token_check_presence(token))
        login_unattended(cfg, token);
    if (!token_present(token)) {
        keep_identities(reg, old, token);
        return;
    }
    GPtrArray *found = read_keys(agent, token, NULL);
    for (guint i = 0; found != NULL && i < found->len; i++)
        add_identity(reg, agent_identity_ref(g_ptr_array_index(found, i)));
    if (found != NULL)
        g_ptr_array_unref(found);
}

/* Under rescan_lock: reg becomes the agent's registry. */
static void
publish(struct agent *agent, struct agent_registry *reg)
{
    struct registry_keeper *k = agent->registry;
    g_mutex_lock(&k->lock);
    struct agent_registry *old = k->current;
    k->current = reg;
    g_mutex_unlock(&k->lock);
    agent_registry_unref(old);
    agent_events_publish(agent->events, AGENT_EVENT_REGISTRY_CHANGED, NULL,
                         NULL);
}

static gboolean
refreshed(const struct agent_identity *id, const struct agent_token *token,
          GPtrArray *key_ids)
{
    for (guint i = 0; agent_identity_token(id) == token && i < key_ids->len;
         i++)
        if (g_bytes_equal(agent_identity_key_id(id),
                          g_ptr_array_index(key_ids, i)))
            return TRUE;
    return FALSE;
}

/* Under rescan_lock: a snapshot in which only key_ids were read again. */
static void
refresh_keys(struct agent *agent, struct agent_token *token, GPtrArray *key_ids)
{
    GPtrArray *fresh = read_keys(agent, token, key_ids);
    if (fresh == NULL)
        return;
    struct agent_registry *old = agent->registry->current;
    struct agent_registry *reg = registry_new(g_ptr_array_ref(old->tokens));
    GPtrArray *kinds[] = {old->identities, old->unlisted};
    /* The list keeps its order: a name read again takes its old place (a
     * renewed NAME, now another key), the names that are new go last. */
    for (size_t k = 0; k < G_N_ELEMENTS(kinds); k++)
        for (guint i = 0; i < kinds[k]->len; i++) {
            struct agent_identity *id = g_ptr_array_index(kinds[k], i);
            if (!refreshed(id, token, key_ids)) {
                add_identity(reg, agent_identity_ref(id));
                continue;
            }
            for (guint f = 0; f < fresh->len; f++) {
                struct agent_identity *now = g_ptr_array_index(fresh, f);
                if (strcmp(agent_identity_name(now), agent_identity_name(id)) ==
                    0) {
                    add_identity(reg, g_ptr_array_steal_index(fresh, f));
                    break;
                }
            }
        }
    for (guint i = 0; i < fresh->len; i++)
        add_identity(reg, agent_identity_ref(g_ptr_array_index(fresh, i)));
    g_ptr_array_unref(fresh);
    publish(agent, reg);
}

void
agent_registry_change_begin(struct agent *agent)
{
    g_mutex_lock(&agent->registry->rescan_lock);
}

void
agent_registry_change_end(struct agent *agent, struct agent_token *token,
                          GPtrArray *key_ids)
{
    if (key_ids != NULL)
        refresh_keys(agent, token, key_ids);
    g_mutex_unlock(&agent->registry->rescan_lock);
}

void
agent_rescan(struct agent *agent)
{
    struct registry_keeper *k = agent->registry;
    g_mutex_lock(&k->rescan_lock);
    if (g_atomic_int_get(&k->stopping)) {
        g_mutex_unlock(&k->rescan_lock);
        return;
    }
    struct agent_registry *old = k->current;
    struct agent_config *cfg = agent_config_get(agent);
    GPtrArray *tokens = tokens_merge(agent->modules, cfg->agent.max_sessions,
                                     agent->events, old->tokens);
    struct agent_registry *reg = registry_new(tokens);
    for (guint i = 0; i < tokens->len; i++)
        scan_token(agent, cfg, reg, old, g_ptr_array_index(tokens, i));
    agent_config_unref(cfg);
    g_info("%u identities on %u tokens", reg->identities->len, tokens->len);
    publish(agent, reg);
    g_mutex_unlock(&k->rescan_lock);
}
