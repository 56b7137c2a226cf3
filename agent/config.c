/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent.conf, a GKeyFile:
 *
 *   [agent]
 *   modules=/usr/lib/softhsm/libsofthsm2.so;   (default: p11-kit's list)
 *   max-sessions=8
 *   poll-us=200     (0 to 10000; see docs/performance.md)
 *   slot-poll-seconds=2   (0: off; see watch.c)
 *
 *   [token Work Card]
 *   pin-source=prompt|file|none   (file when a pin-file is given)
 *   pin-file=/etc/tessera/work-card.pin
 *   idle-lock=900  lock-on-suspend=true
 *
 *   [identity corp-wifi]
 *   cert-file=/etc/ssl/certs/corp-wifi.pem     (kept current by the agent)
 *   chain-file=/etc/ssl/certs/corp-wifi-chain.pem
 *   post-renew-command=systemctl reload wpa_supplicant
 *
 *   [ca corp]                                   (tessera enroll --ca corp)
 *   protocol=local                              (see agent/enroll/)
 */
#include "config.h"
#include "../common/transport.h"

#include <string.h>

#define DEFAULT_MAX_SESSIONS 8
#define MAX_SESSIONS_LIMIT 64
/* A client's next request after a reply (a TLS handshake's next signature,
 * a loop) usually comes within this; see docs/performance.md. */
#define DEFAULT_POLL_US 200
/* Tokens are plugged in by hand: noticing within seconds is soon enough. */
#define DEFAULT_SLOT_POLL_SECONDS 2
/* Renewal policy (docs/architecture.md, Renewal). */
#define DEFAULT_AT_PERCENT 67
#define DEFAULT_JITTER_PERCENT 5
#define DEFAULT_FLOOR_SECONDS 86400
#define DEFAULT_GRACE_SECONDS (7 * 86400)
#define DEFAULT_RETRY_MIN 60
#define DEFAULT_RETRY_MAX (6 * 3600)

/* [agent] KEY, if present, as an integer in [min, max] into *out. */
static gboolean
read_bounded(GKeyFile *kf, const char *path, const char *key, gint min,
             gint max, unsigned *out, GError **error)
{
    GError *local = NULL;
    if (!g_key_file_has_key(kf, "agent", key, NULL))
        return TRUE;
    gint n = g_key_file_get_integer(kf, "agent", key, &local);
    if (local != NULL || n < min || n > max) {
        g_clear_error(&local);
        g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                    "%s: [agent] %s must be %d to %d", path, key, min, max);
        return FALSE;
    }
    *out = (unsigned)n;
    return TRUE;
}

/* KEY is absent, or a whole number of at least 0. */
static gboolean
absent_or_count(GKeyFile *kf, const char *group, const char *key)
{
    GError *error = NULL;
    if (!g_key_file_has_key(kf, group, key, NULL))
        return TRUE;
    gint64 n = g_key_file_get_int64(kf, group, key, &error);
    gboolean ok = error == NULL && n >= 0;
    g_clear_error(&error);
    return ok;
}

/* KEY is absent, or true or false. */
static gboolean
absent_or_boolean(GKeyFile *kf, const char *group, const char *key)
{
    GError *error = NULL;
    if (!g_key_file_has_key(kf, group, key, NULL))
        return TRUE;
    g_key_file_get_boolean(kf, group, key, &error);
    gboolean ok = error == NULL;
    g_clear_error(&error);
    return ok;
}

/* One [token LABEL] group: pin-source known (file with a pin-file),
 * idle-lock a number of seconds, lock-on-suspend a boolean. */
static gboolean
check_token_group(GKeyFile *kf, const char *group, const char *path,
                  GError **error)
{
    char *source = g_key_file_get_string(kf, group, "pin-source", NULL);
    const char *problem = NULL;
    if (source != NULL && strcmp(source, "prompt") != 0 &&
        strcmp(source, "file") != 0 && strcmp(source, "none") != 0)
        problem = "pin-source must be prompt, file or none";
    else if (source != NULL && strcmp(source, "file") == 0 &&
             !g_key_file_has_key(kf, group, "pin-file", NULL))
        problem = "pin-source=file needs a pin-file";
    else if (!absent_or_count(kf, group, "idle-lock"))
        problem = "idle-lock must be a number of seconds";
    else if (!absent_or_boolean(kf, group, "lock-on-suspend"))
        problem = "lock-on-suspend must be true or false";
    g_free(source);
    if (problem != NULL)
        g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                    "%s: [%s] %s", path, group, problem);
    return problem == NULL;
}

/* [agent] keys read elsewhere (dbus.c): expiring-days, notifications. */
static gboolean
check_agent_group(GKeyFile *kf, const char *path, GError **error)
{
    const char *problem = NULL;
    if (g_key_file_has_key(kf, "agent", "expiring-days", NULL)) {
        GError *local = NULL;
        gsize n = 0;
        gint *days = g_key_file_get_integer_list(kf, "agent", "expiring-days",
                                                 &n, &local);
        for (gsize i = 0; local == NULL && i < n; i++)
            if (days[i] < 1)
                problem = "expiring-days must be whole days, 1 or more";
        if (local != NULL)
            problem = "expiring-days must be whole days, 1 or more";
        g_clear_error(&local);
        g_free(days);
    }
    if (problem == NULL && !absent_or_boolean(kf, "agent", "notifications"))
        problem = "notifications must be true or false";
    if (problem != NULL)
        g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                    "%s: [agent] %s", path, problem);
    return problem == NULL;
}

/* Renewal policy: in [ca NAME] for its identities, or [identity NAME]. */
static const struct {
    const char *key;
    gint64 min, max;
} renewal_numbers[] = {
    {"renew-at-percent", 50, 95},           {"renew-jitter-percent", 0, 25},
    {"renew-floor-seconds", 0, 90 * 86400}, {"grace-seconds", 0, 365 * 86400},
    {"retry-min-seconds", 1, 86400},        {"retry-max-seconds", 1, 7 * 86400},
};

static gboolean
check_renewal_policy(GKeyFile *kf, const char *group, const char *path,
                     GError **error)
{
    for (size_t i = 0; i < G_N_ELEMENTS(renewal_numbers); i++) {
        const char *key = renewal_numbers[i].key;
        GError *local = NULL;
        if (!g_key_file_has_key(kf, group, key, NULL))
            continue;
        gint64 n = g_key_file_get_int64(kf, group, key, &local);
        if (local != NULL || n < renewal_numbers[i].min ||
            n > renewal_numbers[i].max) {
            g_clear_error(&local);
            g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                        "%s: [%s] %s must be %" G_GINT64_FORMAT
                        " to %" G_GINT64_FORMAT,
                        path, group, key, renewal_numbers[i].min,
                        renewal_numbers[i].max);
            return FALSE;
        }
    }
    if (!absent_or_boolean(kf, group, "rekey")) {
        g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                    "%s: [%s] rekey must be true or false", path, group);
        return FALSE;
    }
    return TRUE;
}

static gboolean
check_token_groups(GKeyFile *kf, const char *path, GError **error)
{
    gsize n = 0;
    char **groups = g_key_file_get_groups(kf, &n);
    gboolean ok = TRUE;
    for (gsize i = 0; ok && i < n; i++) {
        if (g_str_has_prefix(groups[i], "token "))
            ok = check_token_group(kf, groups[i], path, error);
        else if (g_str_has_prefix(groups[i], "ca ") ||
                 g_str_has_prefix(groups[i], "identity "))
            ok = check_renewal_policy(kf, groups[i], path, error);
    }
    g_strfreev(groups);
    return ok;
}

enum agent_pin_source
agent_pin_source(const struct agent_config *cfg, const char *label)
{
    char *source = agent_config_string(cfg, "token", label, "pin-source");
    char *file = agent_config_string(cfg, "token", label, "pin-file");
    enum agent_pin_source result =
        file != NULL ? AGENT_PIN_FILE : AGENT_PIN_PROMPT;
    if (source != NULL && strcmp(source, "prompt") == 0)
        result = AGENT_PIN_PROMPT;
    else if (source != NULL && strcmp(source, "none") == 0)
        result = AGENT_PIN_NONE;
    g_free(source);
    g_free(file);
    return result;
}

gboolean
agent_config_load(struct agent_config *cfg, const char *path, GError **error)
{
    GError *local = NULL;
    cfg->keyfile = g_key_file_new();
    cfg->path = g_strdup(path);
    cfg->max_sessions = DEFAULT_MAX_SESSIONS;
    cfg->poll_us = DEFAULT_POLL_US;
    cfg->slot_poll_seconds = DEFAULT_SLOT_POLL_SECONDS;
    if (!g_key_file_load_from_file(cfg->keyfile, path, G_KEY_FILE_NONE,
                                   &local)) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            g_clear_error(&local);
            return TRUE;
        }
        g_propagate_prefixed_error(error, local, "%s: ", path);
        return FALSE;
    }
    if (cfg->modules == NULL)
        cfg->modules = g_key_file_get_string_list(cfg->keyfile, "agent",
                                                  "modules", NULL, NULL);
    return read_bounded(cfg->keyfile, path, "max-sessions", 1,
                        MAX_SESSIONS_LIMIT, &cfg->max_sessions, error) &&
           read_bounded(cfg->keyfile, path, "poll-us", 0, TESSERA_POLL_US_MAX,
                        &cfg->poll_us, error) &&
           read_bounded(cfg->keyfile, path, "slot-poll-seconds", 0, 3600,
                        &cfg->slot_poll_seconds, error) &&
           check_agent_group(cfg->keyfile, path, error) &&
           check_token_groups(cfg->keyfile, path, error);
}

void
agent_config_clear(struct agent_config *cfg)
{
    g_strfreev(cfg->modules);
    g_free(cfg->socket_path);
    g_free(cfg->state_dir);
    g_free(cfg->path);
    if (cfg->keyfile != NULL)
        g_key_file_unref(cfg->keyfile);
    memset(cfg, 0, sizeof(*cfg));
}

char *
agent_config_string(const struct agent_config *cfg, const char *kind,
                    const char *name, const char *key)
{
    char *group = g_strdup_printf("%s %s", kind, name);
    char *value = g_key_file_get_string(cfg->keyfile, group, key, NULL);
    g_free(group);
    return value;
}

gboolean
agent_unlock_allowed(const struct agent_config *cfg, const char *label,
                     struct tessera_status *st)
{
    switch (agent_pin_source(cfg, label)) {
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
    default:
        return TRUE;
    }
}

static gint64
policy_number(GKeyFile *kf, const char *identity_group, const char *ca_group,
              const char *key, gint64 fallback)
{
    const char *groups[] = {identity_group, ca_group};
    for (size_t i = 0; i < G_N_ELEMENTS(groups); i++)
        if (g_key_file_has_key(kf, groups[i], key, NULL))
            return g_key_file_get_int64(kf, groups[i], key, NULL);
    return fallback;
}

/* Checked at start, so read without further checks here. */
struct renewal_policy
agent_config_renewal_policy(const struct agent_config *cfg, const char *name,
                            const char *ca)
{
    GKeyFile *kf = cfg->keyfile;
    char *ig = g_strdup_printf("identity %s", name);
    char *cg = g_strdup_printf("ca %s", ca);
    struct renewal_policy p = {
        .at_percent =
            policy_number(kf, ig, cg, "renew-at-percent", DEFAULT_AT_PERCENT),
        .jitter_percent = policy_number(kf, ig, cg, "renew-jitter-percent",
                                        DEFAULT_JITTER_PERCENT),
        .floor_seconds = policy_number(kf, ig, cg, "renew-floor-seconds",
                                       DEFAULT_FLOOR_SECONDS),
        .grace_seconds =
            policy_number(kf, ig, cg, "grace-seconds", DEFAULT_GRACE_SECONDS),
        .retry_min =
            policy_number(kf, ig, cg, "retry-min-seconds", DEFAULT_RETRY_MIN),
        .retry_max =
            policy_number(kf, ig, cg, "retry-max-seconds", DEFAULT_RETRY_MAX),
        .rekey = TRUE,
    };
    const char *groups[] = {ig, cg};
    for (size_t i = 0; i < G_N_ELEMENTS(groups); i++)
        if (g_key_file_has_key(kf, groups[i], "rekey", NULL)) {
            p.rekey = g_key_file_get_boolean(kf, groups[i], "rekey", NULL);
            break;
        }
    g_free(ig);
    g_free(cg);
    return p;
}
