/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent.conf into struct agent_config (config.h has the keys). Each kind
 * of group has a table of its keys; a key is read by its kind of value
 * into its place in the group's struct, so that one rule says what every
 * number, boolean and choice may be and how a wrong one is named.
 */
#include "config.h"
#include "../common/keyspec.h"
#include "../common/ownership.h"
#include "../common/transport.h"

#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAX_SESSIONS 8
#define MAX_SESSIONS_LIMIT 64
/* A client's next request after a reply (a TLS handshake's next signature,
 * a loop) usually comes within this; see docs/performance.md. */
#define DEFAULT_POLL_US 200
/* Above the client pool's 10 s, so that the pool closes its own first. */
#define DEFAULT_IDLE_CONNECTION_SECONDS 60
/* Tokens are plugged in by hand: noticing within seconds is soon enough. */
#define DEFAULT_SLOT_POLL_SECONDS 2
/* Seconds for one exchange with a CA, and between asks while pending. */
#define DEFAULT_COMMAND_TIMEOUT 60
#define DEFAULT_RETRY_SECONDS 30
/* Long enough to find the terminal and the card; a client waits this long
 * at most for a PIN or a confirmation. */
#define DEFAULT_PROMPT_SECONDS 60
/* A confirmed program is asked again after this. */
#define DEFAULT_CONFIRM_SECONDS 600
/* A program signing many times a second is logged once per interval. */
#define DEFAULT_LOG_INTERVAL_SECONDS 10

/* Renewal policy (docs/architecture.md, Renewal). */
static const gint64 policy_defaults[POLICY_NUMBERS] = {
    [POLICY_AT_PERCENT] = 67,       [POLICY_JITTER_PERCENT] = 5,
    [POLICY_FLOOR_SECONDS] = 86400, [POLICY_GRACE_SECONDS] = 7 * 86400,
    [POLICY_RETRY_MIN] = 60,        [POLICY_RETRY_MAX] = 6 * 3600,
};

static const guint default_expiring_days[] = {14, 7, 3, 1};

/* --- what may be written */

enum value_kind {
    VALUE_STRING,      /* not empty */
    VALUE_STRING_LIST, /* modules, allow-users, allow-groups */
    VALUE_BOOLEAN,
    VALUE_NUMBER,     /* in [min, max], a gint64 */
    VALUE_COUNT,      /* in [min, max], an unsigned */
    VALUE_DAYS,       /* whole days, 1 or more, a list */
    VALUE_PIN_SOURCE, /* prompt, file, none, empty */
    VALUE_PROTOCOL,   /* local, exec, acme, scep */
    VALUE_KEY_SPEC,   /* ec-p256 ... ed25519 */
    VALUE_POLICY,     /* a renewal policy number; min, max as for a number */
    VALUE_REKEY,      /* the renewal policy's boolean */
};

#define ALL_PROTOCOLS 0u
#define ONLY(p) (1u << (p))

struct key_rule {
    const char *key;
    enum value_kind kind;
    size_t offset; /* in the group's struct; for a policy value, its number */
    gint64 min, max;
    const char *range;  /* how the range is said; NULL: "MIN to MAX" */
    unsigned protocols; /* [ca]: those that read it; ALL_PROTOCOLS */
};

#define AGENT_KEY(k, kind, field, min, max, range)                             \
    {                                                                          \
        k, kind, offsetof(struct config_agent, field), min, max, range,        \
            ALL_PROTOCOLS                                                      \
    }
static const struct key_rule agent_keys[] = {
    AGENT_KEY("modules", VALUE_STRING_LIST, modules, 0, 0, NULL),
    AGENT_KEY("max-sessions", VALUE_COUNT, max_sessions, 1, MAX_SESSIONS_LIMIT,
              NULL),
    AGENT_KEY("poll-us", VALUE_COUNT, poll_us, 0, TESSERA_POLL_US_MAX, NULL),
    AGENT_KEY("slot-poll-seconds", VALUE_COUNT, slot_poll_seconds, 0, 3600,
              NULL),
    AGENT_KEY("expiring-days", VALUE_DAYS, expiring_days, 0, 0, NULL),
    AGENT_KEY("notifications", VALUE_BOOLEAN, notifications, 0, 0, NULL),
    AGENT_KEY("allow-root", VALUE_BOOLEAN, allow_root, 0, 0, NULL),
    AGENT_KEY("allow-users", VALUE_STRING_LIST, allow_users, 0, 0, NULL),
    AGENT_KEY("allow-groups", VALUE_STRING_LIST, allow_groups, 0, 0, NULL),
    AGENT_KEY("idle-connection-seconds", VALUE_COUNT, idle_connection_seconds,
              0, 86400, NULL),
    AGENT_KEY("pinentry", VALUE_STRING, pinentry, 0, 0, NULL),
    AGENT_KEY("prompt-seconds", VALUE_COUNT, prompt_seconds, 5, 300, NULL),
    AGENT_KEY("log-interval-seconds", VALUE_COUNT, log_interval_seconds, 0,
              3600, NULL),
};

#define TOKEN_KEY(k, kind, field, min, max, range)                             \
    {                                                                          \
        k, kind, offsetof(struct config_token, field), min, max, range,        \
            ALL_PROTOCOLS                                                      \
    }
static const struct key_rule token_keys[] = {
    TOKEN_KEY("pin-source", VALUE_PIN_SOURCE, pin_source, 0, 0, NULL),
    TOKEN_KEY("pin-file", VALUE_STRING, pin_file, 0, 0, NULL),
    TOKEN_KEY("idle-lock", VALUE_NUMBER, idle_lock, 0, G_MAXINT32,
              "a number of seconds"),
    TOKEN_KEY("lock-on-suspend", VALUE_BOOLEAN, lock_on_suspend, 0, 0, NULL),
};

#define IDENTITY_KEY(k, field)                                                 \
    {                                                                          \
        k, VALUE_STRING, offsetof(struct config_identity, field), 0, 0, NULL,  \
            ALL_PROTOCOLS                                                      \
    }
static const struct key_rule identity_keys[] = {
    IDENTITY_KEY("cert-file", cert_file),
    IDENTITY_KEY("chain-file", chain_file),
    IDENTITY_KEY("post-renew-command", post_renew_command),
    {"allow-programs", VALUE_STRING_LIST,
     offsetof(struct config_identity, allow_programs), 0, 0, NULL,
     ALL_PROTOCOLS},
    {"confirm", VALUE_BOOLEAN, offsetof(struct config_identity, confirm), 0, 0,
     NULL, ALL_PROTOCOLS},
    {"confirm-seconds", VALUE_NUMBER,
     offsetof(struct config_identity, confirm_seconds), 0, 86400,
     "a number of seconds", ALL_PROTOCOLS},
};

#define CA_KEY(k, kind, field, min, max, protocols)                            \
    {                                                                          \
        k, kind, offsetof(struct config_ca, field), min, max, NULL, protocols  \
    }
static const struct key_rule ca_keys[] = {
    CA_KEY("protocol", VALUE_PROTOCOL, protocol, 0, 0, ALL_PROTOCOLS),
    CA_KEY("key", VALUE_KEY_SPEC, key, 0, 0, ALL_PROTOCOLS),
    CA_KEY("trust", VALUE_STRING, trust, 0, 0, ALL_PROTOCOLS),
    CA_KEY("require-client-auth", VALUE_BOOLEAN, require_client_auth, 0, 0,
           ALL_PROTOCOLS),
    CA_KEY("retry-seconds", VALUE_NUMBER, retry_seconds, 1, 86400,
           ALL_PROTOCOLS),
    CA_KEY("ca-cert", VALUE_STRING, ca_cert, 0, 0, ONLY(CONFIG_LOCAL)),
    CA_KEY("ca-key", VALUE_STRING, ca_key, 0, 0, ONLY(CONFIG_LOCAL)),
    CA_KEY("validity-days", VALUE_NUMBER, validity_days, 1, 3650,
           ONLY(CONFIG_LOCAL)),
    CA_KEY("validity-seconds", VALUE_NUMBER, validity_seconds, 10,
           3650L * 86400, ONLY(CONFIG_LOCAL)),
    CA_KEY("command", VALUE_STRING, command, 0, 0, ONLY(CONFIG_EXEC)),
    CA_KEY("command-timeout", VALUE_NUMBER, command_timeout, 1, 3600,
           ONLY(CONFIG_EXEC) | ONLY(CONFIG_ACME) | ONLY(CONFIG_SCEP)),
    CA_KEY("url", VALUE_STRING, url, 0, 0,
           ONLY(CONFIG_ACME) | ONLY(CONFIG_SCEP)),
    CA_KEY("tls-ca", VALUE_STRING, tls_ca, 0, 0,
           ONLY(CONFIG_ACME) | ONLY(CONFIG_SCEP)),
    CA_KEY("account-key", VALUE_STRING, account_key, 0, 0, ONLY(CONFIG_ACME)),
    CA_KEY("contact", VALUE_STRING, contact, 0, 0, ONLY(CONFIG_ACME)),
    CA_KEY("eab-kid", VALUE_STRING, eab_kid, 0, 0, ONLY(CONFIG_ACME)),
    CA_KEY("eab-hmac-key-file", VALUE_STRING, eab_hmac_key_file, 0, 0,
           ONLY(CONFIG_ACME)),
    CA_KEY("challenge", VALUE_STRING, challenge, 0, 0, ONLY(CONFIG_SCEP)),
    CA_KEY("challenge-file", VALUE_STRING, challenge_file, 0, 0,
           ONLY(CONFIG_SCEP)),
};

/* In [identity NAME] and [ca NAME]: when it renews. */
static const struct key_rule policy_keys[] = {
    {"renew-at-percent", VALUE_POLICY, POLICY_AT_PERCENT, 50, 95, NULL, 0},
    {"renew-jitter-percent", VALUE_POLICY, POLICY_JITTER_PERCENT, 0, 25, NULL,
     0},
    {"renew-floor-seconds", VALUE_POLICY, POLICY_FLOOR_SECONDS, 0, 90 * 86400,
     NULL, 0},
    {"grace-seconds", VALUE_POLICY, POLICY_GRACE_SECONDS, 0, 365 * 86400, NULL,
     0},
    {"retry-min-seconds", VALUE_POLICY, POLICY_RETRY_MIN, 1, 86400, NULL, 0},
    {"retry-max-seconds", VALUE_POLICY, POLICY_RETRY_MAX, 1, 7 * 86400, NULL,
     0},
    {"rekey", VALUE_REKEY, 0, 0, 0, NULL, 0},
};

static const char *const protocol_names[] = {
    [CONFIG_LOCAL] = "local",
    [CONFIG_EXEC] = "exec",
    [CONFIG_ACME] = "acme",
    [CONFIG_SCEP] = "scep",
};

static const char *const pin_source_names[] = {
    [AGENT_PIN_PROMPT] = "prompt",
    [AGENT_PIN_FILE] = "file",
    [AGENT_PIN_NONE] = "none",
    [AGENT_PIN_EMPTY] = "empty",
};

/* The kinds of group. */
enum group_kind { GROUP_AGENT, GROUP_TOKEN, GROUP_IDENTITY, GROUP_CA };
static const struct {
    const char *word;
    const char *shape; /* how the group is written */
    const struct key_rule *keys;
    size_t n_keys;
    gboolean policy; /* takes the renewal policy's keys too */
} group_kinds[] = {
    [GROUP_AGENT] = {"agent", "[agent]", agent_keys, G_N_ELEMENTS(agent_keys),
                     FALSE},
    [GROUP_TOKEN] = {"token", "[token LABEL]", token_keys,
                     G_N_ELEMENTS(token_keys), FALSE},
    [GROUP_IDENTITY] = {"identity", "[identity NAME]", identity_keys,
                        G_N_ELEMENTS(identity_keys), TRUE},
    [GROUP_CA] = {"ca", "[ca NAME]", ca_keys, G_N_ELEMENTS(ca_keys), TRUE},
};

const char *
agent_config_protocol_name(enum config_protocol protocol)
{
    return protocol_names[protocol];
}

/* --- near misses */

/* Edits (insert, delete, change, swap two neighbours) from a to b. */
static gsize
distance(const char *a, const char *b)
{
    gsize n = strlen(a), m = strlen(b);
    gsize *d = g_new(gsize, (n + 1) * (m + 1));
#define D(i, j) d[(i) * (m + 1) + (j)]
    for (gsize i = 0; i <= n; i++)
        D(i, 0) = i;
    for (gsize j = 0; j <= m; j++)
        D(0, j) = j;
    for (gsize i = 1; i <= n; i++)
        for (gsize j = 1; j <= m; j++) {
            gsize cost = g_ascii_tolower(a[i - 1]) != g_ascii_tolower(b[j - 1]);
            gsize best = MIN(MIN(D(i - 1, j) + 1, D(i, j - 1) + 1),
                             D(i - 1, j - 1) + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                best = MIN(best, D(i - 2, j - 2) + 1);
            D(i, j) = best;
        }
    gsize result = D(n, m);
#undef D
    g_free(d);
    return result;
}

/* The closest of candidates to word when it is a near miss, or NULL. */
static const char *
nearest(const char *word, const char *const *candidates, gsize n)
{
    const char *best = NULL;
    gsize best_distance = MAX(1, strlen(word) / 3) + 1;
    for (gsize i = 0; i < n; i++) {
        gsize d = distance(word, candidates[i]);
        if (d < best_distance) {
            best = candidates[i];
            best_distance = d;
        }
    }
    return best;
}

/* --- reading one group */

struct reader {
    const char *path;
    GKeyFile *kf;
    const char *group;
    struct tessera_status *st;
};

static gboolean fail(struct reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "FILE: [GROUP] what is wrong"; always FALSE. */
static gboolean
fail(struct reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *problem = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    tessera_status_set(r->st, TESSERA_ERR_INVALID, "%s: [%s] %s", r->path,
                       r->group, problem);
    g_free(problem);
    return FALSE;
}

static gboolean
read_choice(struct reader *r, const char *key, const char *const *names,
            gsize n, int *out)
{
    char *value = g_key_file_get_string(r->kf, r->group, key, NULL);
    gboolean ok = FALSE;
    for (gsize i = 0; value != NULL && i < n; i++)
        if (strcmp(value, names[i]) == 0) {
            *out = (int)i;
            ok = TRUE;
        }
    if (!ok) {
        GString *choices = g_string_new(NULL);
        for (gsize i = 0; i < n; i++)
            g_string_append_printf(choices, "%s%s", names[i],
                                   i + 2 < n   ? ", "
                                   : i + 1 < n ? " or "
                                               : "");
        const char *near = value ? nearest(value, names, n) : NULL;
        fail(r, "%s must be %s, not \"%s\"%s%s%s", key, choices->str,
             value ? value : "", near ? " (did you mean " : "",
             near ? near : "", near ? "?)" : "");
        g_string_free(choices, TRUE);
    }
    g_free(value);
    return ok;
}

static gboolean
read_number(struct reader *r, const struct key_rule *rule, gint64 *out)
{
    GError *error = NULL;
    gint64 n = g_key_file_get_int64(r->kf, r->group, rule->key, &error);
    gboolean ok = error == NULL && n >= rule->min && n <= rule->max;
    g_clear_error(&error);
    if (ok)
        *out = n;
    else if (rule->range != NULL)
        fail(r, "%s must be %s", rule->key, rule->range);
    else
        fail(r, "%s must be %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
             rule->key, rule->min, rule->max);
    return ok;
}

static gboolean
read_boolean(struct reader *r, const char *key, gboolean *out)
{
    GError *error = NULL;
    gboolean value = g_key_file_get_boolean(r->kf, r->group, key, &error);
    gboolean ok = error == NULL;
    g_clear_error(&error);
    if (ok)
        *out = value;
    else
        fail(r, "%s must be true or false", key);
    return ok;
}

static gboolean
read_days(struct reader *r, const char *key, GArray **out)
{
    GError *error = NULL;
    gsize n = 0;
    gint *days = g_key_file_get_integer_list(r->kf, r->group, key, &n, &error);
    gboolean ok = error == NULL && n > 0;
    for (gsize i = 0; ok && i < n; i++)
        ok = days[i] >= 1;
    g_clear_error(&error);
    if (ok) {
        g_array_set_size(*out, 0);
        for (gsize i = 0; i < n; i++)
            g_array_append_val(*out, (guint){(guint)days[i]});
    } else {
        fail(r, "%s must be whole days, 1 or more", key);
    }
    g_free(days);
    return ok;
}

static gboolean
read_string(struct reader *r, const char *key, char **out)
{
    char *value = g_key_file_get_string(r->kf, r->group, key, NULL);
    if (value == NULL || value[0] == '\0') {
        g_free(value);
        return fail(r, "%s is empty", key);
    }
    g_free(*out);
    *out = value;
    return TRUE;
}

static gboolean
read_key_spec(struct reader *r, const char *key, char **out)
{
    struct tessera_keyspec spec;
    if (!read_string(r, key, out))
        return FALSE;
    if (tessera_keyspec_parse(*out, &spec))
        return TRUE;
    return fail(r,
                "%s must be ec-p256, ec-p384, rsa2048, rsa3072, rsa4096 or "
                "ed25519, not \"%s\"",
                key, *out);
}

/* One value into its place in the group's struct (base), or its policy. */
static gboolean
read_value(struct reader *r, const struct key_rule *rule, void *base,
           struct config_policy *policy)
{
    char *field = (char *)base + rule->offset;
    gint64 n;
    switch (rule->kind) {
    case VALUE_STRING:
        return read_string(r, rule->key, (char **)field);
    case VALUE_STRING_LIST:
        g_strfreev(*(char ***)field);
        *(char ***)field =
            g_key_file_get_string_list(r->kf, r->group, rule->key, NULL, NULL);
        return TRUE;
    case VALUE_BOOLEAN:
        return read_boolean(r, rule->key, (gboolean *)field);
    case VALUE_NUMBER:
        return read_number(r, rule, (gint64 *)field);
    case VALUE_COUNT:
        if (!read_number(r, rule, &n))
            return FALSE;
        *(unsigned *)field = (unsigned)n;
        return TRUE;
    case VALUE_DAYS:
        return read_days(r, rule->key, (GArray **)field);
    case VALUE_PIN_SOURCE:
        return read_choice(r, rule->key, pin_source_names,
                           G_N_ELEMENTS(pin_source_names), (int *)field);
    case VALUE_PROTOCOL:
        return read_choice(r, rule->key, protocol_names,
                           G_N_ELEMENTS(protocol_names), (int *)field);
    case VALUE_KEY_SPEC:
        return read_key_spec(r, rule->key, (char **)field);
    case VALUE_POLICY:
        if (!read_number(r, rule, &n))
            return FALSE;
        policy->number[rule->offset] = n;
        policy->numbers_set |= 1u << rule->offset;
        return TRUE;
    case VALUE_REKEY:
        policy->rekey_set = TRUE;
        return read_boolean(r, rule->key, &policy->rekey);
    }
    return FALSE;
}

static const struct key_rule *
find_rule(const struct key_rule *rules, gsize n, const char *key)
{
    for (gsize i = 0; i < n; i++)
        if (strcmp(rules[i].key, key) == 0)
            return &rules[i];
    return NULL;
}

/* The keys of a kind of group, for "did you mean". */
static GPtrArray *
known_keys(enum group_kind kind)
{
    GPtrArray *keys = g_ptr_array_new();
    for (gsize i = 0; i < group_kinds[kind].n_keys; i++)
        g_ptr_array_add(keys, (char *)group_kinds[kind].keys[i].key);
    for (gsize i = 0; group_kinds[kind].policy && i < G_N_ELEMENTS(policy_keys);
         i++)
        g_ptr_array_add(keys, (char *)policy_keys[i].key);
    return keys;
}

static gboolean
unknown_key(struct reader *r, enum group_kind kind, const char *key)
{
    GPtrArray *keys = known_keys(kind);
    const char *near =
        nearest(key, (const char *const *)keys->pdata, keys->len);
    fail(r, "unknown key \"%s\"%s%s%s", key, near ? "; did you mean \"" : "",
         near ? near : "", near ? "\"?" : "");
    g_ptr_array_unref(keys);
    return FALSE;
}

/* Says which protocols do read a key that this profile's does not. */
static gboolean
not_for_protocol(struct reader *r, const struct key_rule *rule,
                 enum config_protocol protocol)
{
    GString *which = g_string_new(NULL);
    for (gsize p = 0; p < G_N_ELEMENTS(protocol_names); p++)
        if (rule->protocols & ONLY(p))
            g_string_append_printf(which, "%s%s", which->len ? ", " : "",
                                   protocol_names[p]);
    fail(r, "%s is not a key of %s profiles (it is one of %s)", rule->key,
         protocol_names[protocol], which->str);
    g_string_free(which, TRUE);
    return FALSE;
}

/*
 * Every key of the group, in the file's order, into base (and policy).
 * protocol: a [ca] group's, or -1 when it has none (yet) or is not one.
 */
static gboolean
read_group(struct reader *r, enum group_kind kind, void *base,
           struct config_policy *policy, int protocol)
{
    gsize n = 0;
    char **keys = g_key_file_get_keys(r->kf, r->group, &n, NULL);
    gboolean ok = TRUE;
    for (gsize i = 0; ok && i < n; i++) {
        const struct key_rule *rule = find_rule(
            group_kinds[kind].keys, group_kinds[kind].n_keys, keys[i]);
        if (rule == NULL && group_kinds[kind].policy)
            rule = find_rule(policy_keys, G_N_ELEMENTS(policy_keys), keys[i]);
        if (rule == NULL)
            ok = unknown_key(r, kind, keys[i]);
        else if (protocol >= 0 && rule->protocols != ALL_PROTOCOLS &&
                 !(rule->protocols & ONLY(protocol)))
            ok = not_for_protocol(r, rule, (enum config_protocol)protocol);
        else
            ok = read_value(r, rule, base, policy);
    }
    g_strfreev(keys);
    return ok;
}

/* --- the groups' structs */

static void
token_free(struct config_token *t)
{
    g_free(t->label);
    g_free(t->pin_file);
    g_free(t);
}

static void
identity_free(struct config_identity *id)
{
    g_free(id->name);
    g_free(id->cert_file);
    g_free(id->chain_file);
    g_free(id->post_renew_command);
    g_strfreev(id->allow_programs);
    g_free(id);
}

static void
ca_free(struct config_ca *ca)
{
    char *strings[] = {ca->name,    ca->key,       ca->trust,
                       ca->ca_cert, ca->ca_key,    ca->command,
                       ca->url,     ca->tls_ca,    ca->account_key,
                       ca->contact, ca->challenge, ca->challenge_file};
    g_free(ca->eab_kid);
    g_free(ca->eab_hmac_key_file);
    for (gsize i = 0; i < G_N_ELEMENTS(strings); i++)
        g_free(strings[i]);
    g_free(ca);
}

static struct agent_config *
config_new(const char *path)
{
    struct agent_config *cfg = g_new0(struct agent_config, 1);
    cfg->refcount = 1;
    cfg->path = g_strdup(path);
    cfg->keyfile = g_key_file_new();
    cfg->agent.max_sessions = DEFAULT_MAX_SESSIONS;
    cfg->agent.poll_us = DEFAULT_POLL_US;
    cfg->agent.idle_connection_seconds = DEFAULT_IDLE_CONNECTION_SECONDS;
    cfg->agent.slot_poll_seconds = DEFAULT_SLOT_POLL_SECONDS;
    cfg->agent.expiring_days = g_array_new(FALSE, FALSE, sizeof(guint));
    g_array_append_vals(cfg->agent.expiring_days, default_expiring_days,
                        G_N_ELEMENTS(default_expiring_days));
    cfg->agent.notifications = TRUE;
    cfg->agent.allow_root = TRUE;
    cfg->agent.prompt_seconds = DEFAULT_PROMPT_SECONDS;
    cfg->agent.log_interval_seconds = DEFAULT_LOG_INTERVAL_SECONDS;
    cfg->tokens = g_ptr_array_new_with_free_func((GDestroyNotify)token_free);
    cfg->identities =
        g_ptr_array_new_with_free_func((GDestroyNotify)identity_free);
    cfg->cas = g_ptr_array_new_with_free_func((GDestroyNotify)ca_free);
    return cfg;
}

struct agent_config *
agent_config_ref(struct agent_config *cfg)
{
    g_atomic_int_inc(&cfg->refcount);
    return cfg;
}

void
agent_config_unref(struct agent_config *cfg)
{
    if (cfg == NULL || !g_atomic_int_dec_and_test(&cfg->refcount))
        return;
    g_strfreev(cfg->agent.modules);
    g_strfreev(cfg->agent.allow_users);
    g_strfreev(cfg->agent.allow_groups);
    g_free(cfg->agent.pinentry);
    g_array_unref(cfg->agent.expiring_days);
    g_ptr_array_unref(cfg->tokens);
    g_ptr_array_unref(cfg->identities);
    g_ptr_array_unref(cfg->cas);
    g_key_file_unref(cfg->keyfile);
    g_free(cfg->path);
    g_free(cfg);
}

/* --- checks across keys */

static gint
descending(gconstpointer a, gconstpointer b)
{
    guint x = *(const guint *)a, y = *(const guint *)b;
    return (x < y) - (x > y);
}

static gboolean
read_agent(struct reader *r, struct agent_config *cfg)
{
    if (!read_group(r, GROUP_AGENT, &cfg->agent, NULL, -1))
        return FALSE;
    g_array_sort(cfg->agent.expiring_days, descending);
    return TRUE;
}

static gboolean
read_token(struct reader *r, struct agent_config *cfg, const char *label)
{
    struct config_token *t = g_new0(struct config_token, 1);
    t->label = g_strdup(label);
    g_ptr_array_add(cfg->tokens, t);
    gboolean source_set =
        g_key_file_has_key(r->kf, r->group, "pin-source", NULL);
    if (!read_group(r, GROUP_TOKEN, t, NULL, -1))
        return FALSE;
    if (!source_set)
        t->pin_source = t->pin_file != NULL ? AGENT_PIN_FILE : AGENT_PIN_PROMPT;
    if (t->pin_source == AGENT_PIN_FILE && t->pin_file == NULL)
        return fail(r, "pin-source=file needs a pin-file");
    return TRUE;
}

static gboolean
read_identity(struct reader *r, struct agent_config *cfg, const char *name)
{
    struct config_identity *id = g_new0(struct config_identity, 1);
    id->name = g_strdup(name);
    id->confirm_seconds = DEFAULT_CONFIRM_SECONDS;
    g_ptr_array_add(cfg->identities, id);
    return read_group(r, GROUP_IDENTITY, id, &id->policy, -1);
}

/* What the profile's protocol cannot do without. */
static gboolean
profile_complete(struct reader *r, const struct config_ca *ca)
{
    struct tessera_keyspec spec;
    switch (ca->protocol) {
    case CONFIG_LOCAL:
        if (ca->ca_cert == NULL || ca->ca_key == NULL)
            return fail(r, "needs ca-cert= and ca-key= (protocol=local)");
        return TRUE;
    case CONFIG_EXEC:
        if (ca->command == NULL)
            return fail(r, "needs command= (protocol=exec)");
        break;
    case CONFIG_ACME:
        if (ca->url == NULL || !g_str_has_prefix(ca->url, "https://"))
            return fail(r, "needs url=https://... (protocol=acme: the "
                           "directory URL)");
        if ((ca->eab_kid == NULL) != (ca->eab_hmac_key_file == NULL))
            return fail(r, "needs both eab-kid= and eab-hmac-key-file= (the "
                           "external account binding the CA gave)");
        break;
    case CONFIG_SCEP:
        if (ca->url == NULL || (!g_str_has_prefix(ca->url, "http://") &&
                                !g_str_has_prefix(ca->url, "https://")))
            return fail(r, "needs url=http://.../scep (protocol=scep)");
        if (ca->key != NULL && tessera_keyspec_parse(ca->key, &spec) &&
            spec.type != TESSERA_KEY_RSA)
            return fail(r, "key must be an RSA key (rsa2048, rsa3072 or "
                           "rsa4096): SCEP encrypts its replies to the key");
        break;
    }
    if (ca->trust == NULL)
        return fail(r, "needs trust= (the CA certificates its chains must "
                       "lead to)");
    return TRUE;
}

static gboolean
read_ca(struct reader *r, struct agent_config *cfg, const char *name)
{
    struct config_ca *ca = g_new0(struct config_ca, 1);
    ca->name = g_strdup(name);
    ca->command_timeout = DEFAULT_COMMAND_TIMEOUT;
    ca->retry_seconds = DEFAULT_RETRY_SECONDS;
    g_ptr_array_add(cfg->cas, ca);
    /* The protocol first: it says which other keys belong. */
    gboolean has_protocol =
        g_key_file_has_key(r->kf, r->group, "protocol", NULL);
    if (has_protocol && !read_value(r, &ca_keys[0], ca, NULL))
        return FALSE;
    if (!read_group(r, GROUP_CA, ca, &ca->policy,
                    has_protocol ? (int)ca->protocol : -1))
        return FALSE;
    if (!has_protocol)
        return fail(r, "needs protocol= (local, exec, acme or scep)");
    return profile_complete(r, ca);
}

/* "token Work Card" is kind token, name "Work Card"; FALSE if unknown. */
static gboolean
group_kind_of(struct reader *r, enum group_kind *kind, const char **name)
{
    const char *space = strchr(r->group, ' ');
    char *word = space ? g_strndup(r->group, (gsize)(space - r->group))
                       : g_strdup(r->group);
    *name = space ? space + 1 : "";
    gboolean found = FALSE;
    for (gsize k = 0; !found && k < G_N_ELEMENTS(group_kinds); k++)
        if (strcmp(word, group_kinds[k].word) == 0) {
            *kind = (enum group_kind)k;
            found = TRUE;
        }
    if (!found) {
        const char *words[G_N_ELEMENTS(group_kinds)];
        for (gsize k = 0; k < G_N_ELEMENTS(group_kinds); k++)
            words[k] = group_kinds[k].word;
        const char *near = nearest(word, words, G_N_ELEMENTS(words));
        tessera_status_set(r->st, TESSERA_ERR_INVALID,
                           "%s: unknown group [%s]; the groups are [agent], "
                           "[token LABEL], [identity NAME] and [ca NAME]%s%s%s"
                           "%s%s",
                           r->path, r->group, near ? "; did you mean [" : "",
                           near ? near : "", near && space ? " " : "",
                           near ? *name : "", near ? "]?" : "");
    } else if ((*kind == GROUP_AGENT) != (space == NULL) ||
               (space != NULL && (*name)[0] == '\0')) {
        tessera_status_set(r->st, TESSERA_ERR_INVALID,
                           "%s: [%s] is not how the group is written: %s",
                           r->path, r->group, group_kinds[*kind].shape);
        found = FALSE;
    }
    g_free(word);
    return found;
}

static gboolean
read_groups(struct agent_config *cfg, struct tessera_status *st)
{
    gsize n = 0;
    char **groups = g_key_file_get_groups(cfg->keyfile, &n);
    struct reader r = {cfg->path, cfg->keyfile, NULL, st};
    gboolean ok = TRUE;
    for (gsize i = 0; ok && i < n; i++) {
        enum group_kind kind;
        const char *name;
        r.group = groups[i];
        ok = group_kind_of(&r, &kind, &name);
        if (ok && kind == GROUP_AGENT)
            ok = read_agent(&r, cfg);
        else if (ok && kind == GROUP_TOKEN)
            ok = read_token(&r, cfg, name);
        else if (ok && kind == GROUP_IDENTITY)
            ok = read_identity(&r, cfg, name);
        else if (ok)
            ok = read_ca(&r, cfg, name);
    }
    g_strfreev(groups);
    return ok;
}

struct agent_config *
agent_config_parse(const char *path, const char *text, gsize len,
                   struct tessera_status *st)
{
    struct agent_config *cfg = config_new(path);
    GError *error = NULL;
    gboolean ok = g_key_file_load_from_data(cfg->keyfile, text, len,
                                            G_KEY_FILE_KEEP_COMMENTS, &error);
    if (!ok) {
        tessera_status_set(st, TESSERA_ERR_INVALID, "%s: %s", path,
                           error->message);
        g_error_free(error);
    }
    if (ok && read_groups(cfg, st))
        return cfg;
    agent_config_unref(cfg);
    return NULL;
}

/* What is wrong with the file at path, a clause, or NULL when nothing. */
static char *
file_untrusted(const char *path, const struct stat *sb, const uid_t *uids,
               size_t n_uids)
{
    char owner[128];
    if (!S_ISREG(sb->st_mode))
        return g_strdup_printf("%s is not a regular file", path);
    if (!tessera_uid_in(sb->st_uid, uids, n_uids)) {
        tessera_describe_uid(sb->st_uid, owner, sizeof(owner));
        return g_strdup_printf("the file %s belongs to uid %s", path, owner);
    }
    if (sb->st_mode & (S_IWGRP | S_IWOTH))
        return g_strdup_printf("the file %s is writable by %s (mode %04o)",
                               path,
                               (sb->st_mode & S_IWOTH) ? "others" : "its group",
                               (unsigned)(sb->st_mode & 07777));
    return NULL;
}

/*
 * agent.conf names the programs the agent runs (exec CAs, post-renew
 * commands) and where PINs come from: it and its directory, where they
 * exist, must be changeable by this user or root alone.
 */
static gboolean
location_trusted(const char *path, struct tessera_status *st)
{
    const uid_t uids[] = {geteuid(), 0};
    char *dir = g_path_get_dirname(path);
    struct stat sb;
    struct tessera_status why = {0};
    char *problem = NULL;
    if (stat(dir, &sb) == 0 &&
        !tessera_directory_trusted(&sb, dir, uids, G_N_ELEMENTS(uids), &why))
        problem = g_strdup(why.message);
    else if (stat(path, &sb) == 0)
        problem = file_untrusted(path, &sb, uids, G_N_ELEMENTS(uids));
    if (problem != NULL)
        tessera_status_set(st, TESSERA_ERR_UNTRUSTED,
                           "refusing the configuration %s: %s; it must be "
                           "yours (or root's) and writable by nobody else",
                           path, problem);
    gboolean trusted = problem == NULL;
    g_free(problem);
    g_free(dir);
    return trusted;
}

struct agent_config *
agent_config_load(const char *path, struct tessera_status *st)
{
    if (!location_trusted(path, st))
        return NULL;
    char *text = NULL;
    gsize len = 0;
    GError *error = NULL;
    if (!g_file_get_contents(path, &text, &len, &error)) {
        gboolean missing =
            g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
        if (!missing)
            tessera_status_set(st, TESSERA_ERR_INVALID, "%s: %s", path,
                               error->message);
        g_error_free(error);
        return missing ? config_new(path) : NULL;
    }
    struct agent_config *cfg = agent_config_parse(path, text, len, st);
    g_free(text);
    return cfg;
}

struct agent_config *
agent_config_without_identity(struct agent_config *cfg, const char *name)
{
    char *group = g_strdup_printf("identity %s", name);
    GKeyFile *kf = g_key_file_new();
    gsize len;
    char *text = g_key_file_to_data(cfg->keyfile, &len, NULL);
    g_key_file_load_from_data(kf, text, len, G_KEY_FILE_KEEP_COMMENTS, NULL);
    g_key_file_remove_group(kf, group, NULL);
    char *rest = g_key_file_to_data(kf, &len, NULL);
    struct tessera_status st = {0};
    /* What was in force less one group: it parses as it did. */
    struct agent_config *out = agent_config_parse(cfg->path, rest, len, &st);
    g_free(rest);
    g_free(text);
    g_key_file_free(kf);
    g_free(group);
    return out != NULL ? out : agent_config_ref(cfg);
}

/* --- asking it */

/* The group of items named name: each group's struct starts with its
 * name (config.h). */
static gconstpointer
named(const GPtrArray *items, const char *name)
{
    for (guint i = 0; i < items->len; i++) {
        char *const *group_name = g_ptr_array_index(items, i);
        if (strcmp(*group_name, name) == 0)
            return group_name;
    }
    return NULL;
}

const struct config_token *
agent_config_token(const struct agent_config *cfg, const char *label)
{
    static const struct config_token defaults = {.pin_source =
                                                     AGENT_PIN_PROMPT};
    const struct config_token *t = named(cfg->tokens, label);
    return t != NULL ? t : &defaults;
}

const struct config_identity *
agent_config_identity(const struct agent_config *cfg, const char *name)
{
    return named(cfg->identities, name);
}

const struct config_ca *
agent_config_ca(const struct agent_config *cfg, const char *name)
{
    return named(cfg->cas, name);
}

gboolean
agent_unlock_allowed(const struct agent_config *cfg, const char *label,
                     struct tessera_status *st)
{
    switch (agent_config_token(cfg, label)->pin_source) {
    case AGENT_PIN_FILE:
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "token \"%s\" takes its PIN from its pin-file "
                           "(pin-source=file in agent.conf)",
                           label);
        return FALSE;
    case AGENT_PIN_NONE:
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "token \"%s\" is never unlocked (pin-source=none "
                           "in agent.conf)",
                           label);
        return FALSE;
    case AGENT_PIN_EMPTY:
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "token \"%s\" is unlocked with the empty PIN "
                           "(pin-source=empty in agent.conf)",
                           label);
        return FALSE;
    default:
        return TRUE;
    }
}

struct renewal_policy
agent_config_renewal_policy(const struct agent_config *cfg, const char *name,
                            const char *ca)
{
    const struct config_identity *id = agent_config_identity(cfg, name);
    const struct config_ca *profile = ca ? agent_config_ca(cfg, ca) : NULL;
    const struct config_policy *layers[] = {id ? &id->policy : NULL,
                                            profile ? &profile->policy : NULL};
    gint64 number[POLICY_NUMBERS];
    gboolean rekey = TRUE;
    memcpy(number, policy_defaults, sizeof(number));
    /* From the last layer up, so that the first one that sets a value wins. */
    for (gsize l = G_N_ELEMENTS(layers); l-- > 0;) {
        if (layers[l] == NULL)
            continue;
        for (int k = 0; k < POLICY_NUMBERS; k++)
            if (layers[l]->numbers_set & (1u << k))
                number[k] = layers[l]->number[k];
        if (layers[l]->rekey_set)
            rekey = layers[l]->rekey;
    }
    return (struct renewal_policy){
        .at_percent = number[POLICY_AT_PERCENT],
        .jitter_percent = number[POLICY_JITTER_PERCENT],
        .floor_seconds = number[POLICY_FLOOR_SECONDS],
        .grace_seconds = number[POLICY_GRACE_SECONDS],
        .retry_min = number[POLICY_RETRY_MIN],
        .retry_max = number[POLICY_RETRY_MAX],
        .rekey = rekey,
    };
}
