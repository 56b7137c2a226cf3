/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Renewal: every enrolled identity ($XDG_STATE_HOME/tessera/enrolled/NAME.conf)
 * renews itself before it expires, through the CA profile it was enrolled
 * with, with a fresh key on the token unless rekey=false.
 *
 * When: renew-at-percent of the lifetime (67), moved by up to
 * renew-jitter-percent (5) so that a fleet spreads out, earlier if the CA's
 * renewal information (RFC 9773) says so, never later than
 * renew-floor-seconds (one day, at most a tenth of the lifetime) before
 * expiry. Failures back off from retry-min-seconds doubling up to
 * retry-max-seconds, jittered; a rejection waits the longest; an absent or
 * locked token defers without counting as a failure.
 *
 * How, crash-safe: the next key is made as NAME~next, the CA certifies it,
 * the certificate is stored beside it, then the switch relabels the current
 * key NAME~old and the next one NAME (under the rescan lock, so the registry
 * never shows the half-way state), and after grace-seconds (a week) NAME~old
 * is destroyed. Each step is written to $XDG_STATE_HOME/tessera/renewals/
 * NAME.journal (write, fsync, rename) before its side effect; after a
 * crash, the agent rolls back a renewal that had not got its certificate
 * and finishes one that had (the chain is kept beside the journal).
 */
#include "agent.h"
#include "../common/errors.h"
#include "enroll/enroll.h"
#include "schedule.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_AT_PERCENT 67
#define DEFAULT_JITTER_PERCENT 5
#define DEFAULT_FLOOR_SECONDS 86400
#define DEFAULT_GRACE_SECONDS (7 * 86400)
#define DEFAULT_RETRY_MIN 60
#define DEFAULT_RETRY_MAX (6 * 3600)
#define RENEW_TIMEOUT_SECONDS 300

/* In memory, per identity: where its renewal stands. */
struct renewal {
    enum tessera_renewal_state state;
    gint64 retry_at; /* seconds since the epoch; 0: by the certificate */
    guint failures;
    char *last_error;
    gboolean running;
    /* The schedule as last worked out, for the certificate ending at
     * due_for: the once-a-second look reads no file while it holds. */
    gint64 due, looked_at;
    guint64 due_for;
};

/* How long a worked-out schedule holds before the records are read again
 * (a Forget, an edited record). */
#define RECHECK_SECONDS 60

struct agent_renewals {
    GMutex lock;
    GHashTable *by_name; /* name -> struct renewal * */
    guint running;       /* threads renewing */
    GCond finished;
};

/* What `tessera enroll` recorded. */
struct enrolment {
    char *ca, *key_spec, *subject;
    char **sans;
    gsize n_sans;
    gint64 renew_after; /* the CA's advice, 0 if none */
};

/* ---- small helpers ---- */

static gint64
now_seconds(void)
{
    return g_get_real_time() / G_USEC_PER_SEC;
}

static char *
state_path(const struct agent *agent, const char *dir, const char *name,
           const char *suffix)
{
    char *file = g_strconcat(name, suffix, NULL);
    char *path = g_build_filename(agent->config.state_dir, dir, file, NULL);
    g_free(file);
    return path;
}

static GBytes *
bytes_of_hex(const char *hex)
{
    gsize len = hex ? strlen(hex) : 0;
    if (len == 0 || len % 2 != 0 || len > 2 * TESSERA_KEY_ID_MAX)
        return NULL;
    guint8 *out = g_malloc(len / 2);
    for (gsize i = 0; i < len / 2; i++) {
        int hi = g_ascii_xdigit_value(hex[2 * i]);
        int lo = g_ascii_xdigit_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            g_free(out);
            return NULL;
        }
        out[i] = (guint8)(hi << 4 | lo);
    }
    return g_bytes_new_take(out, len / 2);
}

/*
 * A test-only crash point: TESSERA_TEST_CRASH_AT=NAME:STEP kills the agent
 * with SIGKILL when the renewal of NAME reaches STEP, as a power cut would.
 */
static void
crash_point(const char *name, const char *step)
{
    const char *at = g_getenv("TESSERA_TEST_CRASH_AT");
    if (at == NULL)
        return;
    char *here = g_strdup_printf("%s:%s", name, step);
    if (strcmp(at, here) == 0) {
        g_message("TESSERA_TEST_CRASH_AT=%s: killing the agent", here);
        kill(getpid(), SIGKILL);
    }
    g_free(here);
}

/* ---- policy and the enrolment record ---- */

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

/* Checked at start by config.c, so read without further checks here. */
static struct renewal_policy
policy_of(const struct agent *agent, const char *name, const char *ca)
{
    GKeyFile *kf = agent->config.keyfile;
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

static void
enrolment_clear(struct enrolment *e)
{
    g_free(e->ca);
    g_free(e->key_spec);
    g_free(e->subject);
    g_strfreev(e->sans);
    *e = (struct enrolment){0};
}

static gboolean
read_enrolment(const struct agent *agent, const char *name,
               struct enrolment *out)
{
    char *path = state_path(agent, "enrolled", name, ".conf");
    GKeyFile *kf = g_key_file_new();
    *out = (struct enrolment){0};
    gboolean ok = g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL);
    if (ok) {
        out->ca = g_key_file_get_string(kf, "enrolment", "ca", NULL);
        out->key_spec = g_key_file_get_string(kf, "enrolment", "key", NULL);
        out->subject = g_key_file_get_string(kf, "enrolment", "subject", NULL);
        out->sans = g_key_file_get_string_list(kf, "enrolment", "san",
                                               &out->n_sans, NULL);
        out->renew_after =
            g_key_file_get_int64(kf, "enrolment", "renew-after", NULL);
        ok = out->ca != NULL && out->key_spec != NULL && out->subject != NULL;
    }
    if (!ok)
        enrolment_clear(out);
    g_key_file_free(kf);
    g_free(path);
    return ok;
}

/* After a renewal: the CA's new advice replaces the old, or goes. */
static void
record_renewal(struct agent *agent, const char *name, gint64 renew_after)
{
    char *path = state_path(agent, "enrolled", name, ".conf");
    GKeyFile *kf = g_key_file_new();
    GError *error = NULL;
    if (g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL)) {
        if (renew_after > 0)
            g_key_file_set_int64(kf, "enrolment", "renew-after", renew_after);
        else
            g_key_file_remove_key(kf, "enrolment", "renew-after", NULL);
        g_key_file_set_int64(kf, "enrolment", "renewed-at", now_seconds());
        gsize len;
        char *data = g_key_file_to_data(kf, &len, NULL);
        if (!agent_write_file_atomic(path, data, len, 0600, &error)) {
            g_warning("identity %s: %s", name, error->message);
            g_error_free(error);
        }
        g_free(data);
    }
    g_key_file_free(kf);
    g_free(path);
}

/* ---- the in-memory state ---- */

static struct renewal *
renewal_of(struct agent_renewals *r, const char *name)
{
    struct renewal *state = g_hash_table_lookup(r->by_name, name);
    if (state == NULL) {
        state = g_new0(struct renewal, 1);
        state->state = TESSERA_RENEWAL_SCHEDULED;
        g_hash_table_insert(r->by_name, g_strdup(name), state);
    }
    return state;
}

static void
renewal_free(struct renewal *state)
{
    g_free(state->last_error);
    g_free(state);
}

/* Moves NAME to state, saying so in the log when it changes; TRUE then. */
static gboolean
set_state(struct agent *agent, const char *name,
          enum tessera_renewal_state new_state)
{
    struct agent_renewals *r = agent->renewals;
    g_mutex_lock(&r->lock);
    struct renewal *state = renewal_of(r, name);
    gboolean changed = state->state != new_state;
    state->state = new_state;
    g_mutex_unlock(&r->lock);
    if (changed && (new_state == TESSERA_RENEWAL_WAITING_TOKEN ||
                    new_state == TESSERA_RENEWAL_WAITING_PIN))
        g_message("identity %s is due for renewal: %s", name,
                  tessera_renewal_state_name(new_state));
    if (changed)
        agent_dbus_changed(agent);
    return changed;
}

/*
 * An attempt that met an absent or locked token waits for it: no failure
 * counted, no backoff, and the next look says so.
 */
static gboolean
token_waits(const struct tessera_status *st)
{
    return st != NULL && (st->code == TESSERA_ERR_TOKEN_ABSENT ||
                          st->code == TESSERA_ERR_TOKEN_LOCKED);
}

static void
record_outcome(struct agent *agent, const char *name,
               const struct renewal_policy *p, const struct tessera_status *st)
{
    struct agent_renewals *r = agent->renewals;
    g_mutex_lock(&r->lock);
    struct renewal *state = renewal_of(r, name);
    g_clear_pointer(&state->last_error, g_free);
    state->looked_at = 0; /* work the schedule out again */
    if (token_waits(st)) {
        state->retry_at = 0;
        state->state = TESSERA_RENEWAL_SCHEDULED; /* the next look decides */
    } else if (st == NULL) {
        state->failures = 0;
        state->retry_at = 0;
        state->state = TESSERA_RENEWAL_SCHEDULED;
    } else {
        state->failures++;
        state->last_error = g_strdup(st->message);
        state->retry_at =
            now_seconds() + renewal_backoff(p, state->failures,
                                            st->code == TESSERA_ERR_CA_REJECTED,
                                            g_random_int());
        state->state = st->code == TESSERA_ERR_CA_TIMEOUT
                           ? TESSERA_RENEWAL_PENDING
                           : TESSERA_RENEWAL_FAILING;
    }
    g_mutex_unlock(&r->lock);
    agent_dbus_changed(agent);
}

/* ---- the journal ---- */

struct journal {
    char *name, *phase, *ca;
    char *token_serial, *token_label;
    GBytes *old_id, *new_id;
    gboolean rekey;
    gint64 grace_until;
};

static void
journal_clear(struct journal *j)
{
    g_free(j->name);
    g_free(j->phase);
    g_free(j->ca);
    g_free(j->token_serial);
    g_free(j->token_label);
    if (j->old_id)
        g_bytes_unref(j->old_id);
    if (j->new_id)
        g_bytes_unref(j->new_id);
    *j = (struct journal){0};
}

static gboolean
journal_write(struct agent *agent, struct journal *j, const char *phase,
              struct tessera_status *st)
{
    GKeyFile *kf = g_key_file_new();
    char *old_hex = agent_hex(j->old_id), *new_hex = agent_hex(j->new_id);
    g_free(j->phase);
    j->phase = g_strdup(phase);
    g_key_file_set_string(kf, "renewal", "phase", phase);
    g_key_file_set_string(kf, "renewal", "ca", j->ca);
    g_key_file_set_string(kf, "renewal", "token-serial", j->token_serial);
    g_key_file_set_string(kf, "renewal", "token-label", j->token_label);
    g_key_file_set_string(kf, "renewal", "old-key-id", old_hex);
    g_key_file_set_string(kf, "renewal", "new-key-id", new_hex);
    g_key_file_set_boolean(kf, "renewal", "rekey", j->rekey);
    g_key_file_set_int64(kf, "renewal", "grace-until", j->grace_until);
    gsize len;
    char *data = g_key_file_to_data(kf, &len, NULL);
    char *path = state_path(agent, "renewals", j->name, ".journal");
    GError *error = NULL;
    gboolean ok = agent_write_file_atomic(path, data, len, 0600, &error);
    if (!ok) {
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "cannot write the renewal journal: %s",
                           error->message);
        g_error_free(error);
    }
    g_free(path);
    g_free(data);
    g_free(old_hex);
    g_free(new_hex);
    g_key_file_free(kf);
    return ok;
}

static gboolean
journal_read(const struct agent *agent, const char *name, struct journal *j)
{
    char *path = state_path(agent, "renewals", name, ".journal");
    GKeyFile *kf = g_key_file_new();
    *j = (struct journal){.name = g_strdup(name)};
    gboolean ok = g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL);
    if (ok) {
        char *old_hex =
            g_key_file_get_string(kf, "renewal", "old-key-id", NULL);
        char *new_hex =
            g_key_file_get_string(kf, "renewal", "new-key-id", NULL);
        j->phase = g_key_file_get_string(kf, "renewal", "phase", NULL);
        j->ca = g_key_file_get_string(kf, "renewal", "ca", NULL);
        j->token_serial =
            g_key_file_get_string(kf, "renewal", "token-serial", NULL);
        j->token_label =
            g_key_file_get_string(kf, "renewal", "token-label", NULL);
        j->old_id = bytes_of_hex(old_hex);
        j->new_id = bytes_of_hex(new_hex);
        j->rekey = g_key_file_get_boolean(kf, "renewal", "rekey", NULL);
        j->grace_until =
            g_key_file_get_int64(kf, "renewal", "grace-until", NULL);
        ok = j->phase && j->ca && j->token_serial && j->token_label &&
             j->old_id && j->new_id;
        g_free(old_hex);
        g_free(new_hex);
    }
    if (!ok)
        journal_clear(j);
    g_key_file_free(kf);
    g_free(path);
    return ok;
}

static void
journal_remove(struct agent *agent, const char *name)
{
    char *journal = state_path(agent, "renewals", name, ".journal");
    char *chain = state_path(agent, "renewals", name, ".chain");
    unlink(chain);
    unlink(journal);
    g_free(chain);
    g_free(journal);
}

/* The issued chain, kept beside the journal until the switch is done. */
static gboolean
save_chain(struct agent *agent, const char *name, GPtrArray *chain,
           struct tessera_status *st)
{
    char *pem = agent_certificates_pem(chain, 0, chain->len);
    char *path = state_path(agent, "renewals", name, ".chain");
    GError *error = NULL;
    gboolean ok = pem != NULL &&
                  agent_write_file_atomic(path, pem, strlen(pem), 0600, &error);
    if (!ok)
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "cannot keep the issued chain: %s",
                           error ? error->message : "not PEM");
    g_clear_error(&error);
    g_free(path);
    g_free(pem);
    return ok;
}

static GPtrArray *
load_chain(struct agent *agent, const char *name)
{
    char *path = state_path(agent, "renewals", name, ".chain");
    char *pem = NULL;
    gsize len = 0;
    GPtrArray *chain =
        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    if (!g_file_get_contents(path, &pem, &len, NULL) ||
        !enroll_parse_pem_chain(pem, len, chain) || chain->len == 0)
        g_clear_pointer(&chain, g_ptr_array_unref);
    g_free(pem);
    g_free(path);
    return chain;
}

/* ---- the token side ---- */

static struct agent_token *
journal_token(struct agent *agent, const struct journal *j)
{
    struct agent_registry *reg = agent_registry_get(agent);
    struct agent_token *found = NULL;
    for (guint i = 0; found == NULL && i < reg->tokens->len; i++) {
        struct agent_token *t = g_ptr_array_index(reg->tokens, i);
        if (g_strcmp0(t->serial, j->token_serial) == 0 &&
            g_strcmp0(t->label, j->token_label) == 0)
            found = agent_token_ref(t);
    }
    agent_registry_unref(reg);
    return found;
}

static gboolean
token_ready(struct agent_token *t)
{
    g_mutex_lock(&t->lock);
    gboolean ready = t->logged_in;
    g_mutex_unlock(&t->lock);
    return ready && g_atomic_int_get(&t->present);
}

static int
store_chain(struct agent *agent, struct agent_token *token, GBytes *key_id,
            const char *label, GPtrArray *chain, struct tessera_status *st)
{
    struct tessera_blob certs[TESSERA_CHAIN_MAX];
    size_t n = MIN(chain->len, TESSERA_CHAIN_MAX);
    for (size_t i = 0; i < n; i++) {
        gsize len;
        const void *der = g_bytes_get_data(g_ptr_array_index(chain, i), &len);
        certs[i] = (struct tessera_blob){(void *)der, len};
    }
    /* Again after a crash: whatever certificate was stored goes first. */
    agent_destroy_key_objects(token, key_id, TRUE);
    return agent_store_certificates(agent, token, key_id, label, certs, n, st);
}

/*
 * The switch: NAME~old for the current key, NAME for the next. Idempotent,
 * so that recovery can run it again from the top.
 */
static int
switch_keys(struct agent *agent, struct agent_token *token,
            const struct journal *j, GPtrArray *chain,
            struct tessera_status *st)
{
    char *old_label = g_strconcat(j->name, AGENT_OLD_SUFFIX, NULL);
    char *next_label = g_strconcat(j->name, AGENT_NEXT_SUFFIX, NULL);
    int rc = 0;
    CK_RV rv = CKR_OK;
    g_mutex_lock(&agent->rescan_lock);
    if (!j->rekey) {
        rc = store_chain(agent, token, j->new_id, j->name, chain, st);
    } else {
        rc = store_chain(agent, token, j->new_id, next_label, chain, st);
        crash_point(j->name, "stored");
        if (rc == 0)
            rv = agent_relabel_key_objects(token, j->old_id, old_label);
        crash_point(j->name, "switched-old");
        if (rc == 0 && rv == CKR_OK)
            rv = agent_relabel_key_objects(token, j->new_id, j->name);
        if (rv != CKR_OK) {
            agent_token_fail(token, rv, "relabel the renewed keys", st);
            rc = -1;
        }
    }
    g_mutex_unlock(&agent->rescan_lock);
    agent_rescan(agent);
    g_free(old_label);
    g_free(next_label);
    return rc;
}

/* Makes the switch and opens the grace period. */
static int
finish(struct agent *agent, struct agent_token *token, struct journal *j,
       struct tessera_status *st)
{
    GPtrArray *chain = load_chain(agent, j->name);
    int rc = -1;
    if (chain == NULL)
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "the issued chain of %s is lost", j->name);
    else if (journal_write(agent, j, "switching", st) &&
             (crash_point(j->name, "switching"), TRUE) &&
             switch_keys(agent, token, j, chain, st) == 0) {
        crash_point(j->name, "switched");
        struct renewal_policy p = policy_of(agent, j->name, j->ca);
        j->grace_until = now_seconds() + (j->rekey ? p.grace_seconds : 0);
        rc = journal_write(agent, j, "grace", st) ? 0 : -1;
        crash_point(j->name, "grace");
    }
    if (chain != NULL)
        g_ptr_array_unref(chain);
    return rc;
}

/* Before the CA answered: nothing of the attempt stays. */
static void
roll_back(struct agent *agent, struct agent_token *token,
          const struct journal *j)
{
    if (j->rekey)
        agent_destroy_key_objects(token, j->new_id, FALSE);
    journal_remove(agent, j->name);
    agent_rescan(agent);
}

/* The grace period is over (or a new renewal supersedes it). */
static void
end_grace(struct agent *agent, struct agent_token *token,
          const struct journal *j)
{
    if (j->rekey && !agent_destroy_key_objects(token, j->old_id, FALSE)) {
        g_warning("identity %s: could not delete its previous key yet",
                  j->name);
        return;
    }
    char *chain = agent_chain_path(agent, token, j->old_id);
    if (j->rekey)
        unlink(chain);
    g_free(chain);
    journal_remove(agent, j->name);
    if (j->rekey)
        g_message("identity %s: deleted the key its renewal replaced", j->name);
    agent_rescan(agent);
}

/*
 * A journal found at a look: an interrupted renewal rolled back or
 * finished, an ended grace period closed. TRUE when nothing is left to do.
 */
static gboolean
recover(struct agent *agent, const char *name)
{
    struct journal j;
    if (!journal_read(agent, name, &j))
        return TRUE;
    struct agent_token *token = journal_token(agent, &j);
    gboolean done = FALSE;
    if (token != NULL && token_ready(token)) {
        struct tessera_status st = {0};
        if (strcmp(j.phase, "generating") == 0 ||
            strcmp(j.phase, "requesting") == 0) {
            g_message("identity %s: rolling back a renewal that was "
                      "interrupted before the CA answered",
                      name);
            roll_back(agent, token, &j);
            done = TRUE;
        } else if (strcmp(j.phase, "issued") == 0 ||
                   strcmp(j.phase, "switching") == 0) {
            g_message("identity %s: finishing a renewal that was "
                      "interrupted after the CA issued",
                      name);
            if (finish(agent, token, &j, &st) < 0)
                g_warning("identity %s: %s", name, st.message);
        } else if (strcmp(j.phase, "grace") == 0 &&
                   now_seconds() >= j.grace_until) {
            end_grace(agent, token, &j);
            done = TRUE;
        }
    }
    if (token != NULL)
        agent_token_unref(token);
    journal_clear(&j);
    return done;
}

/* ---- one renewal ---- */

static struct agent_identity *
current_identity(struct agent *agent, const char *name,
                 struct tessera_status *st)
{
    struct agent_registry *reg = agent_registry_get(agent);
    struct agent_identity *id = g_hash_table_lookup(reg->by_name, name);
    if (id != NULL)
        agent_identity_ref(id);
    agent_registry_unref(reg);
    if (id == NULL)
        tessera_status_set(st, TESSERA_ERR_NO_IDENTITY,
                           "no identity named \"%s\"", name);
    else if (!g_atomic_int_get(&id->token->present))
        tessera_status_set(st, TESSERA_ERR_TOKEN_ABSENT,
                           "token \"%s\" is not present", id->token->label);
    else if (!token_ready(id->token))
        tessera_status_set(st, TESSERA_ERR_TOKEN_LOCKED,
                           "token \"%s\" is locked: run `tessera unlock`",
                           id->token->label);
    if (st->code != TESSERA_OK && id != NULL)
        g_clear_pointer(&id, agent_identity_unref);
    return id;
}

/* A previous renewal's journal must be done with before the next starts. */
static gboolean
previous_renewal_settled(struct agent *agent, const char *name,
                         struct agent_token *token, struct tessera_status *st)
{
    struct journal j;
    if (!journal_read(agent, name, &j))
        return TRUE;
    gboolean settled = strcmp(j.phase, "grace") == 0;
    if (settled) /* renewed again within the grace period */
        end_grace(agent, token, &j);
    else
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "an interrupted renewal of %s is being recovered",
                           name);
    journal_clear(&j);
    return settled;
}

/* Key, CSR and the CA's answer, journaled; the chain kept. */
static int
request(struct agent *agent, struct agent_identity *id, struct journal *j,
        const struct enrolment *e, int client_fd, struct enroll_result *result,
        struct tessera_status *st)
{
    struct tessera_keyspec spec;
    char *next_name = g_strconcat(id->name, AGENT_NEXT_SUFFIX, NULL);
    const char *key_name = j->rekey ? next_name : id->name;
    X509_EXTENSION *san = NULL;
    struct tessera_blob csr = {0};
    int rc = -1;
    if (!tessera_keyspec_parse(e->key_spec, &spec)) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "the enrolment record names an unknown key type %s",
                           e->key_spec);
        goto out;
    }
    if (!journal_write(agent, j, "generating", st))
        goto out;
    crash_point(id->name, "generating");
    if (j->rekey) {
        CK_RV rv = agent_generate_key(id->token, next_name, &spec, j->new_id);
        if (rv != CKR_OK) {
            agent_token_fail(id->token, rv, "generate the next key", st);
            goto out;
        }
        agent_rescan(agent);
    }
    crash_point(id->name, "generated");
    if (!journal_write(agent, j, "requesting", st))
        goto out;
    crash_point(id->name, "requesting");
    if (e->n_sans > 0 &&
        (san = agent_san_extension(e->sans, e->n_sans, st)) == NULL)
        goto out;
    if (agent_make_csr(agent, key_name, e->subject, san, &csr, st) < 0)
        goto out;
    struct agent_certify_request req = {
        .ca = e->ca,
        .token = id->token->label,
        .key_name = key_name,
        .renewing = id->name,
        .csr = {csr.data, csr.len},
        .timeout_seconds = RENEW_TIMEOUT_SECONDS,
        .client_fd = client_fd,
    };
    if (agent_certify(agent, &req, result, st) == 0 &&
        save_chain(agent, id->name, result->chain, st) &&
        journal_write(agent, j, "issued", st))
        rc = 0;
    crash_point(id->name, "issued");
out:
    tessera_blob_clear(&csr);
    X509_EXTENSION_free(san);
    g_free(next_name);
    return rc;
}

int
agent_renew(struct agent *agent, const char *name, int client_fd,
            struct tessera_blob *leaf, struct tessera_status *st)
{
    struct enrolment e;
    if (!read_enrolment(agent, name, &e)) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "identity %s was not enrolled with `tessera "
                           "enroll`: no CA to renew it with",
                           name);
        return -1;
    }
    struct agent_identity *id = current_identity(agent, name, st);
    struct renewal_policy p = policy_of(agent, name, e.ca);
    GPtrArray *chain =
        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    struct enroll_result result = {.chain = chain};
    struct journal j = {0};
    int rc = -1;
    if (id == NULL || !previous_renewal_settled(agent, name, id->token, st))
        goto out;
    j = (struct journal){
        .name = g_strdup(name),
        .ca = g_strdup(e.ca),
        .token_serial = g_strdup(id->token->serial),
        .token_label = g_strdup(id->token->label),
        .old_id = g_bytes_ref(id->key_id),
        .new_id = p.rekey ? agent_new_key_id() : g_bytes_ref(id->key_id),
        .rekey = p.rekey,
    };
    g_message("renewing %s with CA %s (%s)", name, e.ca,
              p.rekey ? "new key" : "same key");
    set_state(agent, name, TESSERA_RENEWAL_RENEWING);
    if (request(agent, id, &j, &e, client_fd, &result, st) < 0) {
        roll_back(agent, id->token, &j);
        goto out;
    }
    if (finish(agent, id->token, &j, st) < 0)
        goto out; /* the journal stays: the next look finishes it */
    record_renewal(agent, name, result.renew_after);
    agent_publish_certificate(agent, name);
    gsize len;
    const void *der = g_bytes_get_data(g_ptr_array_index(chain, 0), &len);
    tessera_blob_copy(leaf, (struct tessera_bytes){der, len});
    rc = 0;
out:
    if (rc == 0)
        g_message("renewed %s with CA %s", name, e.ca);
    else if (token_waits(st))
        g_message("renewal of %s waits for its token: %s", name, st->message);
    else
        g_message("renewal of %s with CA %s failed: %s", name,
                  e.ca ? e.ca : "?", st->message);
    record_outcome(agent, name, &p, rc == 0 ? NULL : st);
    agent_dbus_renewal_done(agent, name, rc == 0 ? NULL : st->message);
    journal_clear(&j);
    g_ptr_array_unref(chain);
    if (id != NULL)
        agent_identity_unref(id);
    enrolment_clear(&e);
    return rc;
}

/* ---- the schedule ---- */

struct renewal_job {
    struct agent *agent;
    char *name;
};

static void
renewal_job_free(gpointer data)
{
    struct renewal_job *job = data;
    g_free(job->name);
    g_free(job);
}

static void
run_renewal(gpointer data)
{
    struct renewal_job *job = data;
    struct agent_renewals *r = job->agent->renewals;
    struct tessera_status st = {0};
    struct tessera_blob leaf = {0};
    agent_renew(job->agent, job->name, -1, &leaf, &st);
    tessera_blob_clear(&leaf);
    g_mutex_lock(&r->lock);
    renewal_of(r, job->name)->running = FALSE;
    r->running--;
    g_cond_broadcast(&r->finished);
    g_mutex_unlock(&r->lock);
}

/* When NAME renews next, and whether a renewal of it runs. */
static gint64
next_attempt(struct agent *agent, const struct agent_identity *id,
             const struct enrolment *e, gboolean *running)
{
    struct renewal_policy p = policy_of(agent, id->name, e->ca);
    gint64 t = renewal_time(id->name, (gint64)id->not_before,
                            (gint64)id->not_after, e->renew_after, &p);
    struct agent_renewals *r = agent->renewals;
    g_mutex_lock(&r->lock);
    struct renewal *state = renewal_of(r, id->name);
    if (state->retry_at > 0)
        t = state->retry_at;
    *running = state->running;
    g_mutex_unlock(&r->lock);
    return t;
}

/*
 * When NAME renews next (G_MAXINT64: nothing renews it) and whether a
 * renewal of it runs. The records are read again only once a minute, or
 * when the certificate or an outcome changed: the look asks every second
 * and every list and D-Bus sync asks for every identity.
 */
static gint64
schedule_of(struct agent *agent, const struct agent_identity *id,
            gboolean *running)
{
    struct agent_renewals *r = agent->renewals;
    gint64 now = now_seconds(), due = G_MAXINT64;
    g_mutex_lock(&r->lock);
    struct renewal *state = renewal_of(r, id->name);
    gboolean fresh = state->due_for == id->not_after &&
                     now - state->looked_at < RECHECK_SECONDS;
    *running = state->running;
    if (fresh)
        due = state->due;
    g_mutex_unlock(&r->lock);
    if (!fresh) {
        struct enrolment e;
        if (id->certs->len > 0 && read_enrolment(agent, id->name, &e)) {
            due = next_attempt(agent, id, &e, running);
            enrolment_clear(&e);
        }
        g_mutex_lock(&r->lock);
        state = renewal_of(r, id->name);
        state->due = due;
        state->due_for = id->not_after;
        state->looked_at = now;
        g_mutex_unlock(&r->lock);
    }
    return due;
}

static void
consider(struct agent *agent, struct agent_identity *id)
{
    gboolean running;
    if (schedule_of(agent, id, &running) > now_seconds() || running)
        return;
    if (!g_atomic_int_get(&id->token->present)) {
        set_state(agent, id->name, TESSERA_RENEWAL_WAITING_TOKEN);
        return;
    }
    if (!token_ready(id->token)) {
        if (set_state(agent, id->name, TESSERA_RENEWAL_WAITING_PIN)) {
            struct tessera_status st = {0};
            tessera_status_set(&st, TESSERA_ERR_TOKEN_LOCKED,
                               "identity %s is due for renewal: unlock token "
                               "\"%s\"",
                               id->name, id->token->label);
            agent_dbus_identity_failed(agent, id->name, &st);
        }
        return;
    }
    struct agent_renewals *r = agent->renewals;
    g_mutex_lock(&r->lock);
    struct renewal *state = renewal_of(r, id->name);
    gboolean start = !state->running && !g_atomic_int_get(&agent->stopping);
    if (start) {
        state->running = TRUE;
        r->running++;
    }
    g_mutex_unlock(&r->lock);
    if (start) {
        struct renewal_job *job = g_new0(struct renewal_job, 1);
        job->agent = agent;
        job->name = g_strdup(id->name);
        agent_run_in_thread(run_renewal, job, renewal_job_free);
    }
}

/* Journals left by earlier renewals: interrupted ones and grace periods. */
static void
recover_all(struct agent *agent)
{
    char *dir = g_build_filename(agent->config.state_dir, "renewals", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *file;
    while (d != NULL && (file = g_dir_read_name(d)) != NULL) {
        if (!g_str_has_suffix(file, ".journal"))
            continue;
        char *name = g_strndup(file, strlen(file) - strlen(".journal"));
        struct agent_renewals *r = agent->renewals;
        g_mutex_lock(&r->lock);
        gboolean running = renewal_of(r, name)->running;
        g_mutex_unlock(&r->lock);
        if (!running)
            recover(agent, name);
        g_free(name);
    }
    if (d != NULL)
        g_dir_close(d);
    g_free(dir);
}

void
agent_renewal_tick(struct agent *agent)
{
    recover_all(agent);
    struct agent_registry *reg = agent_registry_get(agent);
    for (guint i = 0; i < reg->identities->len; i++)
        consider(agent, g_ptr_array_index(reg->identities, i));
    agent_registry_unref(reg);
}

void
agent_renewal_reschedule(struct agent *agent, const char *name)
{
    struct agent_renewals *r = agent->renewals;
    if (r == NULL)
        return;
    g_mutex_lock(&r->lock);
    renewal_of(r, name)->looked_at = 0;
    g_mutex_unlock(&r->lock);
    agent_dbus_changed(agent);
}

void
agent_renewal_describe(struct agent *agent, const struct agent_identity *id,
                       struct tessera_identity_summary *s)
{
    gboolean running;
    gint64 due =
        agent->renewals ? schedule_of(agent, id, &running) : G_MAXINT64;
    if (due == G_MAXINT64) {
        s->renewal_state = TESSERA_RENEWAL_NONE;
        return;
    }
    s->next_renewal = (uint64_t)MAX(due, 0);
    struct agent_renewals *r = agent->renewals;
    g_mutex_lock(&r->lock);
    struct renewal *state = renewal_of(r, id->name);
    s->renewal_state = running ? TESSERA_RENEWAL_RENEWING : state->state;
    s->renewal_error = strdup(state->last_error ? state->last_error : "");
    g_mutex_unlock(&r->lock);
}

void
agent_renewals_init(struct agent *agent)
{
    struct agent_renewals *r = g_new0(struct agent_renewals, 1);
    g_mutex_init(&r->lock);
    g_cond_init(&r->finished);
    r->by_name = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify)renewal_free);
    agent->renewals = r;
}

void
agent_renewals_finish(struct agent *agent)
{
    struct agent_renewals *r = agent->renewals;
    if (r == NULL)
        return;
    /* A renewal in flight ends within its CA's command-timeout. */
    g_mutex_lock(&r->lock);
    while (r->running > 0)
        g_cond_wait(&r->finished, &r->lock);
    g_mutex_unlock(&r->lock);
    g_hash_table_unref(r->by_name);
    g_cond_clear(&r->finished);
    g_mutex_clear(&r->lock);
    g_free(r);
    agent->renewals = NULL;
}
